// Package facetest makes the images the tests of the offline engines and of
// `crossfaas dev` send: the committed sample photos (internal/offline/faces/
// testdata, see its README) decoded, transformed as another program would
// (rescaled, cropped) and encoded as a phone would, and a generated scene
// without a face. It is for tests only.
package facetest

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/jpeg"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
)

// Decode reads and decodes the image file at path.
func Decode(path string) (image.Image, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	img, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("decode %s: %w", path, err)
	}
	return img, nil
}

// Scaled resizes img by factor f with bilinear interpolation (a different
// filter from the faces package's, as another program would use).
func Scaled(img image.Image, f float64) image.Image {
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

// Cropped returns the part r of img as a new image at the origin.
func Cropped(img image.Image, r image.Rectangle) image.Image {
	dst := image.NewRGBA(image.Rect(0, 0, r.Dx(), r.Dy()))
	draw.Draw(dst, dst.Bounds(), img, r.Min, draw.Src)
	return dst
}

// Landscape draws a w x h photo-like scene without a face: a sky gradient,
// a sun, rolling hills and grass texture. The same size gives the same
// pixels.
func Landscape(w, h int) image.Image {
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

// JPEG encodes img as JPEG at quality q. It panics if img cannot be
// encoded, which for a test's image is a bug in the test.
func JPEG(img image.Image, q int) []byte {
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: q}); err != nil {
		panic(fmt.Sprintf("facetest: encode JPEG: %v", err))
	}
	return buf.Bytes()
}

// PNG encodes img as PNG. It panics if img cannot be encoded, which for a
// test's image is a bug in the test.
func PNG(img image.Image) []byte {
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		panic(fmt.Sprintf("facetest: encode PNG: %v", err))
	}
	return buf.Bytes()
}
