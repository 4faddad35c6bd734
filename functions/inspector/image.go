// Checking an object before anything is sent anywhere, and the blurred
// copy.

package inspector

import (
	"bytes"
	"fmt"
	"image"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"

	"github.com/disintegration/imaging"
	"golang.org/x/image/bmp"
	"golang.org/x/image/webp"

	"github.com/crossfaas/crossfaas/functions/labeler/imageformat"
)

// Blurred copies: at most blurSide pixels on the long side, made by
// shrinking the image by blurFactor, blurring what is left and enlarging it
// again, which blurs as strongly as a Gaussian of about blurFactor pixels
// on the output at a fraction of the cost (a 4000x3000 photo is never
// blurred at full size: that alone would need 48 MB and seconds of a
// 256 MB function's CPU).
const (
	blurSide    = 1024
	blurFactor  = 24
	blurQuality = 80
)

// decoders are the image decoders by format, called directly rather than
// through image.Decode's registry.
var decoders = map[string]struct {
	config func(io.Reader) (image.Config, error)
	decode func(io.Reader) (image.Image, error)
}{
	imageformat.JPEG: {jpeg.DecodeConfig, jpeg.Decode},
	imageformat.PNG:  {png.DecodeConfig, png.Decode},
	imageformat.GIF:  {gif.DecodeConfig, gif.Decode},
	imageformat.WebP: {webp.DecodeConfig, webp.Decode},
	imageformat.BMP:  {bmp.DecodeConfig, bmp.Decode},
}

// rejection is why an object is not an image the inspector takes.
type rejection struct{ reason string }

func (r *rejection) Error() string { return r.reason }

func reject(format string, args ...any) error { return &rejection{fmt.Sprintf(format, args...)} }

// checkSize refuses an empty object and one over max bytes.
func checkSize(size, max int64) error {
	switch {
	case size == 0:
		return reject("the object is empty (0 bytes)")
	case size > max:
		return reject("the object is %d bytes, over the limit of %s", size, sizeText(max))
	}
	return nil
}

// checkImage checks that data is a whole image of one of the five formats,
// at most MaxPixels, whose decoding fits MaxDecodeBytes (estimated from
// its header, before anything is decoded: a decompression bomb declares a
// huge image in a few bytes), decoding it all (a truncated or corrupt
// image fails here, before the labeler is asked). It returns the facts
// and, when keep is true, the decoded image (for the blurred copy);
// otherwise the decoded pixels are dropped at once.
func checkImage(data []byte, keep bool) (*ImageFacts, image.Image, error) {
	format := imageformat.Sniff(data)
	d, ok := decoders[format]
	if !ok {
		return nil, nil, reject("the object is not a JPEG, PNG, GIF, WebP or BMP image")
	}
	cfg, err := d.config(bytes.NewReader(data))
	if err != nil {
		return nil, nil, reject("the %s image's header is unreadable: %v", imageformat.Name(format), err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return nil, nil, reject("the %s image has no pixels", imageformat.Name(format))
	}
	if int64(cfg.Width)*int64(cfg.Height) > MaxPixels {
		return nil, nil, reject("the image is %dx%d pixels, over the limit of %d megapixels", cfg.Width, cfg.Height, MaxPixels/1_000_000)
	}
	if need := decodeBytes(format, cfg, data); need > MaxDecodeBytes {
		return nil, nil, reject("the %s image (%dx%d pixels) would take about %d MiB to decode, over the limit of %d MiB",
			imageformat.Name(format), cfg.Width, cfg.Height, need>>20, MaxDecodeBytes>>20)
	}
	img, err := d.decode(bytes.NewReader(data))
	if err != nil {
		// Go's decoders report a cut-off file as missing data ("short
		// Huffman data", "not enough pixel data", unexpected EOF).
		return nil, nil, reject("the %s image is truncated or corrupt: %v", imageformat.Name(format), err)
	}
	facts := &ImageFacts{Format: format, Width: cfg.Width, Height: cfg.Height}
	if !keep {
		return facts, nil, nil
	}
	return facts, img, nil
}

// blur returns a strongly blurred JPEG of img, at most blurSide pixels on
// its long side.
func blur(img image.Image) ([]byte, error) {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if long := max(w, h); long > blurSide {
		w, h = max(1, w*blurSide/long), max(1, h*blurSide/long)
	}
	small := imaging.Resize(img, max(1, w/blurFactor), max(1, h/blurFactor), imaging.Box)
	small = imaging.Blur(small, 1)
	out := imaging.Resize(small, w, h, imaging.Linear)
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, out, &jpeg.Options{Quality: blurQuality}); err != nil {
		return nil, fmt.Errorf("encode the blurred copy: %w", err)
	}
	return buf.Bytes(), nil
}

// sizeText words a byte count: "10 MiB", "512 KiB", "100 bytes".
func sizeText(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
