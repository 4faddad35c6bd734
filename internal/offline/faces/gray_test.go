package faces

import (
	"image"
	"image/color"
	"image/draw"
	"math/rand/v2"
	"testing"
)

func TestToGrayMatchesGrayModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	r := image.Rect(3, 5, 40, 30) // a non-zero origin on purpose
	nrgba := image.NewNRGBA(r)
	for i := range nrgba.Pix {
		nrgba.Pix[i] = uint8(rng.IntN(256))
	}
	rgba := image.NewRGBA(r)
	draw.Draw(rgba, r, nrgba, r.Min, draw.Src)
	gray := image.NewGray(r)
	draw.Draw(gray, r, nrgba, r.Min, draw.Src)
	paletted := image.NewPaletted(r, color.Palette{color.Black, color.White, color.RGBA{200, 30, 30, 255}})
	draw.Draw(paletted, r, nrgba, r.Min, draw.Src)
	ycbcr := image.NewYCbCr(r, image.YCbCrSubsampleRatio420)
	for i := range ycbcr.Y {
		ycbcr.Y[i] = uint8(rng.IntN(256))
	}

	tests := []struct {
		name string
		img  image.Image
	}{
		{"nrgba", nrgba},
		{"rgba", rgba},
		{"gray", gray},
		{"paletted (generic path)", paletted},
		{"ycbcr", ycbcr},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := toGray(tt.img)
			if g.w != r.Dx() || g.h != r.Dy() || g.origin != r.Min {
				t.Fatalf("toGray(%s) = %dx%d at %v, want %dx%d at %v", tt.name, g.w, g.h, g.origin, r.Dx(), r.Dy(), r.Min)
			}
			for y := range g.h {
				for x := range g.w {
					var want uint8
					if yc, ok := tt.img.(*image.YCbCr); ok {
						want = yc.Y[yc.YOffset(r.Min.X+x, r.Min.Y+y)] // luma as stored
					} else {
						want = color.GrayModel.Convert(tt.img.At(r.Min.X+x, r.Min.Y+y)).(color.Gray).Y
					}
					if got := g.pix[y*g.w+x]; got != want {
						t.Fatalf("toGray(%s) at (%d, %d) = %d, want %d", tt.name, x, y, got, want)
					}
				}
			}
		})
	}
}

func TestResizeAndShrink(t *testing.T) {
	flat := &gray{w: 50, h: 40, pix: make([]uint8, 50*40)}
	for i := range flat.pix {
		flat.pix[i] = 77
	}
	// A horizontal ramp 0..249 (x*5).
	ramp := &gray{w: 50, h: 40, pix: make([]uint8, 50*40)}
	for y := range 40 {
		for x := range 50 {
			ramp.pix[y*50+x] = uint8(x * 5)
		}
	}

	tests := []struct {
		name   string
		got    *gray
		w, h   int
		x, y   int
		want   uint8
		margin int
	}{
		{"flat shrunk", flat.resize(rectF{0, 0, 50, 40}, 7, 5), 7, 5, 3, 2, 77, 0},
		{"flat enlarged, reaching past the edges", flat.resize(rectF{-10, -10, 70, 60}, 140, 120), 140, 120, 0, 0, 77, 0},
		{"flat block-shrunk", flat.shrink(3), 16, 13, 15, 12, 77, 0},
		{"ramp identity", ramp.resize(rectF{0, 0, 50, 40}, 50, 40), 50, 40, 21, 7, 105, 0},
		{"ramp halved", ramp.resize(rectF{0, 0, 50, 40}, 25, 20), 25, 20, 10, 3, 102, 1}, // mean of x=20,21 ±filter
		{"ramp block-shrunk", ramp.shrink(2), 25, 20, 10, 3, 103, 0},                     // (100+105)/2 rounded
		{"ramp crop", ramp.resize(rectF{10, 0, 10, 10}, 10, 10), 10, 10, 0, 0, 50, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got.w != tt.w || tt.got.h != tt.h || len(tt.got.pix) != tt.w*tt.h {
				t.Fatalf("%s: %dx%d with %d pixels, want %dx%d", tt.name, tt.got.w, tt.got.h, len(tt.got.pix), tt.w, tt.h)
			}
			got := int(tt.got.pix[tt.y*tt.w+tt.x])
			if d := got - int(tt.want); d < -tt.margin || d > tt.margin {
				t.Errorf("%s at (%d, %d) = %d, want %d±%d", tt.name, tt.x, tt.y, got, tt.want, tt.margin)
			}
		})
	}
}

func TestEqualize(t *testing.T) {
	// Two gray levels become the extremes; a flat image is left alone.
	g := &gray{w: 4, h: 1, pix: []uint8{100, 100, 120, 120}}
	equalize(g)
	if want := []uint8{0, 0, 255, 255}; string(g.pix) != string(want) {
		t.Errorf("equalize({100, 100, 120, 120}) = %v, want %v", g.pix, want)
	}
	flat := &gray{w: 3, h: 1, pix: []uint8{9, 9, 9}}
	equalize(flat)
	if want := []uint8{9, 9, 9}; string(flat.pix) != string(want) {
		t.Errorf("equalize({9, 9, 9}) = %v, want %v", flat.pix, want)
	}
}

func TestUniformLBP(t *testing.T) {
	uniform := 0
	for code := range 256 {
		if uniformIndex[code] != uniformBins-1 {
			uniform++
		}
	}
	if uniform != 58 {
		t.Errorf("uniform LBP codes = %d, want 58", uniform)
	}
	for _, code := range []int{0x00, 0xff, 0x0f, 0x81, 0x38} {
		if uniformIndex[code] == uniformBins-1 {
			t.Errorf("uniformIndex[%#02x] = non-uniform bin, want a uniform one", code)
		}
	}
	for _, code := range []int{0x05, 0x55, 0xa5} {
		if uniformIndex[code] != uniformBins-1 {
			t.Errorf("uniformIndex[%#02x] = %d, want the non-uniform bin %d", code, uniformIndex[code], uniformBins-1)
		}
	}

	// A flat patch: every neighbour equals the center, so every pixel has
	// code 0xff; each cell's histogram is one full bin.
	flat := &gray{w: faceSide + 2*lbpRadius, h: faceSide + 2*lbpRadius}
	flat.pix = make([]uint8, flat.w*flat.h)
	for i := range flat.pix {
		flat.pix[i] = 128
	}
	d := lbpHistograms(flat)
	if len(d) != descriptorLen {
		t.Fatalf("lbpHistograms(flat) has %d bins, want %d", len(d), descriptorLen)
	}
	bin := int(uniformIndex[0xff])
	for cell := range grid * grid {
		if got := d[cell*uniformBins+bin]; int(got) != cellSide*cellSide {
			t.Fatalf("lbpHistograms(flat) cell %d bin 0xff = %d, want %d", cell, got, cellSide*cellSide)
		}
	}
	if got := chiSquare(d, d); got != 0 {
		t.Errorf("chiSquare(d, d) = %v, want 0", got)
	}
	other := make(descriptor, descriptorLen)
	for cell := range grid * grid {
		other[cell*uniformBins] = cellSide * cellSide // code 0x00's bin, never 0xff's
	}
	if got := chiSquare(d, other); got != 2 {
		t.Errorf("chiSquare(disjoint) = %v, want 2", got)
	}
}
