package faces

import (
	"bytes"
	"image"
	"image/color"
	"image/draw"
	"image/jpeg"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
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
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	img, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("decode %s: %v", name, err)
	}
	return img
}

// scaled resizes img by factor f with bilinear interpolation (a different
// filter from the package's, as another program would use).
func scaled(img image.Image, f float64) image.Image {
	b := img.Bounds()
	w, h := int(float64(b.Dx())*f), int(float64(b.Dy())*f)
	src := image.NewRGBA(b)
	draw.Draw(src, b, img, b.Min, draw.Src)
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	at := func(x, y, c int) float64 {
		x = min(max(x, 0), b.Dx()-1)
		y = min(max(y, 0), b.Dy()-1)
		return float64(src.Pix[src.PixOffset(b.Min.X+x, b.Min.Y+y)+c])
	}
	for y := range h {
		for x := range w {
			sx, sy := (float64(x)+0.5)/f-0.5, (float64(y)+0.5)/f-0.5
			x0, y0 := int(math.Floor(sx)), int(math.Floor(sy))
			fx, fy := sx-float64(x0), sy-float64(y0)
			for c := range 4 {
				v := (1-fx)*(1-fy)*at(x0, y0, c) + fx*(1-fy)*at(x0+1, y0, c) +
					(1-fx)*fy*at(x0, y0+1, c) + fx*fy*at(x0+1, y0+1, c)
				dst.Pix[dst.PixOffset(x, y)+c] = uint8(math.Round(v))
			}
		}
	}
	return dst
}

// cropped returns the part r of img as a new image at the origin.
func cropped(img image.Image, r image.Rectangle) image.Image {
	dst := image.NewRGBA(image.Rect(0, 0, r.Dx(), r.Dy()))
	draw.Draw(dst, dst.Bounds(), img, r.Min, draw.Src)
	return dst
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
	out, _, err := image.Decode(bytes.NewReader(jpegBytes(t, img, q)))
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// jpegBytes encodes img as JPEG at quality q.
func jpegBytes(t testing.TB, img image.Image, q int) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: q}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// pngBytes encodes img as PNG.
func pngBytes(t testing.TB, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// landscape draws a w x h photo-like scene without a face: a sky
// gradient, a sun, rolling hills and grass texture.
func landscape(w, h int) image.Image {
	rng := rand.New(rand.NewPCG(1, 2))
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	sunX, sunY, sunR := float64(w)*0.75, float64(h)*0.2, float64(h)*0.08
	for y := range h {
		for x := range w {
			fx, fy := float64(x)/float64(w), float64(y)/float64(h)
			hill := 0.55 + 0.08*math.Sin(fx*9) + 0.04*math.Sin(fx*23+1)
			var c color.RGBA
			switch {
			case fy > hill:
				n := rng.IntN(40)
				c = color.RGBA{uint8(40 + n), uint8(110 + n + int(60*(fy-hill))), uint8(30 + n/2), 255}
			case math.Hypot(float64(x)-sunX, float64(y)-sunY) < sunR:
				c = color.RGBA{255, 236, 150, 255}
			default:
				c = color.RGBA{uint8(90 + 100*fy), uint8(150 + 80*fy), 235, 255}
			}
			img.SetRGBA(x, y, c)
		}
	}
	return img
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
