package inspector

import (
	"bytes"
	"image"
	"image/jpeg"
	"image/png"
	"runtime"
	"testing"

	"golang.org/x/image/webp"
)

// TestDecodeBytes: the estimate from each header, against what Go's
// decoders allocate.
func TestDecodeBytes(t *testing.T) {
	const w, h = 4000, 3000
	const px = w * h
	tests := []struct {
		name   string
		format string
		data   []byte
		want   int64
	}{
		{"8-bit RGB PNG", "png", pngHeader(w, h, 8, 2, 0), px * 4},
		{"16-bit RGBA PNG", "png", pngHeader(w, h, 16, 6, 0), px * 8},
		{"16-bit grey PNG", "png", pngHeader(w, h, 16, 0, 0), px * 2},
		{"8-bit grey PNG", "png", pngHeader(w, h, 8, 0, 0), px},
		{"interlaced 16-bit PNG", "png", pngHeader(w, h, 16, 6, 1), px * 12},
		{"baseline 4:2:0 JPEG", "jpeg", jpegHeader(w, h, false, 0x22), px * 3 / 2},
		{"baseline 4:4:4 JPEG", "jpeg", jpegHeader(w, h, false, 0x11), px * 3},
		{"progressive 4:2:0 JPEG", "jpeg", jpegHeader(w, h, true, 0x22), px * 15 / 2},
		{"progressive 4:4:4 JPEG", "jpeg", jpegHeader(w, h, true, 0x11), px * 15},
		{"lossy WebP", "webp", smallWebP, 0},
	}
	for _, tt := range tests {
		var cfg image.Config
		var err error
		switch tt.format {
		case "png":
			cfg, err = png.DecodeConfig(bytes.NewReader(tt.data))
		case "jpeg":
			cfg, err = jpeg.DecodeConfig(bytes.NewReader(tt.data))
		case "webp":
			cfg, err = webp.DecodeConfig(bytes.NewReader(tt.data))
			tt.want = int64(cfg.Width*cfg.Height) * 3 // Y'CbCr 4:2:0 with its planes rounded: at most 3
		}
		if err != nil {
			t.Fatalf("%s: DecodeConfig: %v", tt.name, err)
		}
		got := decodeBytes(tt.format, cfg, tt.data)
		if tt.format == "webp" {
			if got <= 0 || got > tt.want {
				t.Errorf("%s: decodeBytes = %d, want at most %d", tt.name, got, tt.want)
			}
			continue
		}
		if got != tt.want {
			t.Errorf("%s: decodeBytes = %d, want %d", tt.name, got, tt.want)
		}
	}
}

// TestDecodeBytesCoversTheDecoder: the estimate of real images is at
// least what decoding them allocates.
func TestDecodeBytesCoversTheDecoder(t *testing.T) {
	for name, data := range map[string][]byte{
		"png16":      png16(t, 600, 400),
		"jpeg":       testJPEG(t, 600, 400),
		"png8":       encoded(t, 600, 400)["png"],
		"gif":        encoded(t, 600, 400)["gif"],
		"bmp":        encoded(t, 600, 400)["bmp"],
		"small webp": smallWebP,
	} {
		facts, _, err := checkImage(data, false)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		d := decoders[facts.Format]
		cfg, _ := d.config(bytes.NewReader(data))
		est := decodeBytes(facts.Format, cfg, data)
		// The least of three decodings (other goroutines allocate too),
		// less a fixed 256 KiB for the decoders' own buffers (a zlib
		// window, row buffers, Huffman tables).
		used := uint64(1 << 62)
		for range 3 {
			before := heapAllocated()
			if _, err := d.decode(bytes.NewReader(data)); err != nil {
				t.Fatal(err)
			}
			used = min(used, heapAllocated()-before)
		}
		if used > uint64(est)+256<<10 {
			t.Errorf("%s: decoding allocated %d bytes, estimated %d", name, used, est)
		}
	}
}

// heapAllocated is the bytes allocated on the heap so far (cumulative).
func heapAllocated() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.TotalAlloc
}
