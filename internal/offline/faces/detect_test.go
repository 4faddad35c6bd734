package faces

import (
	"image"
	"testing"

	"github.com/crossfaas/crossfaas/internal/offline/faces/facetest"
)

func TestDetect(t *testing.T) {
	sample := readImage(t, samplePath)
	video := readImage(t, videoPath)
	// Where the faces are, checked by eye: the sample's face is centered
	// near (155, 205), ~240 px wide; the man on the right of the video
	// frame near (122, 27), ~20 px wide.
	sampleFace := image.Pt(155, 205)
	rightMan := image.Pt(122, 27)
	scale := func(p image.Point, f float64) image.Point {
		return image.Pt(int(float64(p.X)*f), int(float64(p.Y)*f))
	}
	canvas := onCanvas(sample, 1600, 1200, 700, 500)
	tests := []struct {
		name      string
		img       image.Image
		wantFaces int         // exact count
		wantAt    image.Point // the largest face's box contains it
		wantSide  [2]int      // min and max side of the largest face
	}{
		{"sample", sample, 1, sampleFace, [2]int{200, 290}},
		{"sample half size", facetest.Scaled(sample, 0.5), 1, scale(sampleFace, 0.5), [2]int{100, 145}},
		{"sample tiny", facetest.Scaled(sample, 0.12), 1, scale(sampleFace, 0.12), [2]int{20, 40}},
		{"sample jpeg q30", reencoded(t, sample, 30), 1, sampleFace, [2]int{200, 290}},
		{"sample on large canvas", canvas, 1, sampleFace.Add(image.Pt(700, 500)), [2]int{200, 290}},
		{"sample in a sub-image", canvas.(*image.RGBA).SubImage(image.Rect(600, 400, 1100, 1000)), 1, sampleFace.Add(image.Pt(700, 500)), [2]int{200, 290}},
		{"video frame", video, 1, rightMan, [2]int{15, 30}},
		{"video frame x4", facetest.Scaled(video, 4), 1, scale(rightMan, 4), [2]int{60, 100}},
		{"landscape", facetest.Landscape(640, 480), 0, image.Point{}, [2]int{}},
		{"gradient", gradient(800, 600), 0, image.Point{}, [2]int{}},
		{"noise", noise(300, 300), 0, image.Point{}, [2]int{}},
		{"smaller than a face", gradient(12, 12), 0, image.Point{}, [2]int{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Detect(tt.img)
			if len(got) != tt.wantFaces {
				t.Fatalf("Detect(%s) found %d faces %v, want %d", tt.name, len(got), got, tt.wantFaces)
			}
			if tt.wantFaces == 0 {
				return
			}
			largest := got[0]
			if !tt.wantAt.In(largest.Bounds) {
				t.Errorf("Detect(%s)[0].Bounds = %v, want it to contain %v", tt.name, largest.Bounds, tt.wantAt)
			}
			if side := largest.Bounds.Dx(); side < tt.wantSide[0] || side > tt.wantSide[1] {
				t.Errorf("Detect(%s)[0] side = %d, want %d-%d", tt.name, side, tt.wantSide[0], tt.wantSide[1])
			}
			if largest.Quality < minQuality {
				t.Errorf("Detect(%s)[0].Quality = %v, want at least %v", tt.name, largest.Quality, minQuality)
			}
		})
	}
}

func TestDetectOrdersLargestFirst(t *testing.T) {
	// Two copies of the face, the second one twice as large.
	sample := readImage(t, samplePath)
	small, large := facetest.Scaled(sample, 0.5), sample
	img := onCanvas(small, 560, 420, 20, 100)
	img = onCanvasOver(img, large, 220, 10)
	got := Detect(img)
	if len(got) != 2 {
		t.Fatalf("Detect(two faces) found %d faces %v, want 2", len(got), got)
	}
	if got[0].Bounds.Dx() <= got[1].Bounds.Dx() {
		t.Errorf("Detect(two faces) sides = %d, %d, want the largest first", got[0].Bounds.Dx(), got[1].Bounds.Dx())
	}
	if c := got[0].Bounds.Min.X + got[0].Bounds.Dx()/2; c < 220 {
		t.Errorf("Detect(two faces)[0] center x = %d, want the large face (x > 220)", c)
	}
}

// onCanvasOver pastes img at (x, y) over base.
func onCanvasOver(base, img image.Image, x, y int) image.Image {
	b := base.Bounds()
	dst := onCanvas(base, b.Dx(), b.Dy(), 0, 0).(*image.RGBA)
	ib := img.Bounds()
	for yy := range ib.Dy() {
		for xx := range ib.Dx() {
			dst.Set(x+xx, y+yy, img.At(ib.Min.X+xx, ib.Min.Y+yy))
		}
	}
	return dst
}

func TestCascadeUnpacks(t *testing.T) {
	if c := cascade(); c == nil {
		t.Fatal("cascade() = nil, want the unpacked facefinder")
	}
}
