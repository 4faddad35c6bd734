// Estimating, from an image's header, the memory its decoding takes.

package inspector

import (
	"image"
	"image/color"

	"github.com/crossfaas/crossfaas/functions/labeler/imageformat"
)

// decodeBytes estimates the bytes that decoding an image of format with
// header cfg allocates, from what Go's decoders do:
//
//   - the image itself, by colour model: 8 bytes a pixel for 16-bit RGBA,
//     2 for 16-bit grey, 1 for grey and paletted images (GIF decodes its
//     first frame only), 4 for RGBA; a JPEG's Y'CbCr planes by their
//     subsampling; a CMYK JPEG decodes to Y'CbCr and black first, then
//     converts (8);
//   - a progressive JPEG's coefficients: 4 bytes a sample of every
//     component, kept until the last scan;
//   - an interlaced PNG's passes, the largest half the image, beside it;
//   - a lossless WebP's ARGB words and their transforms (8 more).
func decodeBytes(format string, cfg image.Config, data []byte) int64 {
	px := int64(cfg.Width) * int64(cfg.Height)
	perPixel := 4.0
	switch m := cfg.ColorModel; {
	case m == color.RGBA64Model || m == color.NRGBA64Model:
		perPixel = 8
	case m == color.Gray16Model:
		perPixel = 2
	case m == color.GrayModel || m == color.AlphaModel:
		perPixel = 1
	case m == color.CMYKModel:
		perPixel = 8
	case m == color.NYCbCrAModel:
		perPixel = 4
	case m == color.YCbCrModel:
		perPixel = 3
	default:
		if _, ok := m.(color.Palette); ok {
			perPixel = 1
		}
	}
	switch format {
	case imageformat.JPEG:
		if f, ok := jpegFrame(data); ok {
			if m := cfg.ColorModel; m == color.YCbCrModel || m == color.GrayModel {
				perPixel = f.samples
			}
			if f.progressive {
				perPixel += 4 * f.samples
			}
		}
	case imageformat.PNG:
		if len(data) > 28 && data[28] == 1 { // IHDR's interlace method: Adam7
			perPixel *= 1.5
		}
	case imageformat.WebP:
		if cfg.ColorModel == color.NRGBAModel { // lossless (VP8L)
			perPixel += 8
		}
	}
	return int64(float64(px) * perPixel)
}

// frame is what a JPEG's start-of-frame says of its decoding.
type frame struct {
	progressive bool
	// samples is the number of samples a pixel, all components together:
	// 3 for 4:4:4, 1.5 for 4:2:0, 1 for greyscale.
	samples float64
}

// jpegFrame reads the start-of-frame segment of a JPEG, walking its
// segments from the start; ok is false when there is none.
func jpegFrame(data []byte) (frame, bool) {
	i := 2 // after SOI
	for i+4 <= len(data) {
		if data[i] != 0xFF {
			return frame{}, false
		}
		marker := data[i+1]
		if marker == 0xFF { // fill byte
			i++
			continue
		}
		n := int(data[i+2])<<8 | int(data[i+3])
		if n < 2 || i+2+n > len(data) {
			return frame{}, false
		}
		seg := data[i+4 : i+2+n]
		switch marker {
		case 0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF:
			// precision, height, width, component count, then 3 bytes
			// a component: id, sampling (h<<4 | v), table.
			if len(seg) < 6 {
				return frame{}, false
			}
			count := int(seg[5])
			if count == 0 || len(seg) < 6+3*count {
				return frame{}, false
			}
			var hmax, vmax int
			for c := range count {
				s := seg[6+3*c+1]
				hmax, vmax = max(hmax, int(s>>4)), max(vmax, int(s&15))
			}
			if hmax == 0 || vmax == 0 {
				return frame{}, false
			}
			f := frame{progressive: marker == 0xC2 || marker == 0xC6 || marker == 0xCA || marker == 0xCE}
			for c := range count {
				s := seg[6+3*c+1]
				f.samples += float64(int(s>>4)*int(s&15)) / float64(hmax*vmax)
			}
			return f, true
		case 0xD9, 0xDA: // end of image, start of scan: no frame before
			return frame{}, false
		}
		i += 2 + n
	}
	return frame{}, false
}
