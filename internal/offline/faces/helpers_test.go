package faces

import (
	"bytes"
	"image"
	"image/color"
	"image/draw"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/crossfaas/crossfaas/internal/offline/faces/facetest"
)

// Test images (see testdata/README.md): one sharp frontal face, and a
// video frame of two other people whose faces are about 20 px.
const (
	samplePath = "pigo-sample.jpg"  // one face, ~240 px
	videoPath  = "go-video-001.png" // two people, 150x103
)

// readImage decodes testdata/name.
func readImage(t testing.TB, name string) image.Image {
	t.Helper()
	img, err := facetest.Decode(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// onCanvas pastes img at (x, y) on a w x h canvas of a muted green.
func onCanvas(img image.Image, w, h, x, y int) image.Image {
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.Draw(dst, dst.Bounds(), image.NewUniform(color.RGBA{90, 120, 90, 255}), image.Point{}, draw.Src)
	b := img.Bounds()
	draw.Draw(dst, b.Sub(b.Min).Add(image.Pt(x, y)), img, b.Min, draw.Src)
	return dst
}

// brightened scales every channel by 1.1 and adds add (clamped).
func brightened(img image.Image, add int) image.Image {
	b := img.Bounds()
	dst := image.NewRGBA(b)
	draw.Draw(dst, b, img, b.Min, draw.Src)
	for i := range dst.Pix {
		if i%4 != 3 {
			dst.Pix[i] = uint8(min(255, int(dst.Pix[i])*11/10+add))
		}
	}
	return dst
}

// reencoded round-trips img through JPEG at quality q.
func reencoded(t testing.TB, img image.Image, q int) image.Image {
	t.Helper()
	out, _, err := image.Decode(bytes.NewReader(facetest.JPEG(img, q)))
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// gradient is a smooth diagonal color ramp.
func gradient(w, h int) image.Image {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.SetRGBA(x, y, color.RGBA{uint8(x * 255 / w), uint8(y * 255 / h), 160, 255})
		}
	}
	return img
}

// noise is uniform random gray noise.
func noise(w, h int) image.Image {
	rng := rand.New(rand.NewPCG(3, 4))
	img := image.NewGray(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = uint8(rng.IntN(256))
	}
	return img
}
