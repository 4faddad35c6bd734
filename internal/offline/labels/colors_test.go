package labels

import (
	"image"
	"image/color"
	"image/draw"
	"math"
	"testing"
)

func TestDominantColors(t *testing.T) {
	solid := image.NewRGBA(image.Rect(0, 0, 30, 30))
	draw.Draw(solid, solid.Bounds(), image.NewUniform(color.RGBA{0x12, 0x34, 0x56, 0xff}), image.Point{}, draw.Src)

	// Three stripes of 50%, 30% and 20%, with a 0.5% speck of white in the
	// red stripe that is too small to count.
	stripes := image.NewRGBA(image.Rect(0, 0, 100, 200))
	draw.Draw(stripes, image.Rect(0, 0, 100, 100), image.NewUniform(red), image.Point{}, draw.Src)
	draw.Draw(stripes, image.Rect(0, 100, 100, 160), image.NewUniform(blue), image.Point{}, draw.Src)
	draw.Draw(stripes, image.Rect(0, 160, 100, 200), image.NewUniform(color.RGBA{0x20, 0xa0, 0x20, 0xff}), image.Point{}, draw.Src)
	draw.Draw(stripes, image.Rect(0, 0, 10, 10), image.NewUniform(color.White), image.Point{}, draw.Src)

	// Shades of one red close together are one dominant color.
	// Columns of red 190-198, mean 194 (0xc2).
	shades := image.NewRGBA(image.Rect(0, 0, 90, 100))
	for x := range 90 {
		draw.Draw(shades, image.Rect(x, 0, x+1, 100), image.NewUniform(color.RGBA{uint8(190 + x/10), 0x1e, 0x1e, 0xff}), image.Point{}, draw.Src)
	}

	transparent := image.NewNRGBA(image.Rect(0, 0, 10, 10))

	// A large image is sampled, not read whole.
	large := twoColors(4000, 3000)

	tests := []struct {
		name       string
		img        image.Image
		wantHex    []string
		wantShares []float64
	}{
		{"solid", solid, []string{"#123456"}, []float64{1}},
		{"stripes", stripes, []string{"#c81e1e", "#1e3cc8", "#20a020"}, []float64{0.495, 0.3, 0.2}},
		{"shades", shades, []string{"#c21e1e"}, []float64{1}},
		{"transparent", transparent, nil, nil},
		{"empty", image.NewRGBA(image.Rectangle{}), nil, nil},
		{"large", large, []string{"#c81e1e", "#1e3cc8"}, []float64{0.7, 0.3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := dominantColors(tt.img)
			var hexes []string
			var shares []float64
			for _, s := range got {
				hexes = append(hexes, s.hex())
				shares = append(shares, s.share)
			}
			if len(hexes) != len(tt.wantHex) {
				t.Fatalf("dominantColors(%s) = %q, want %q", tt.name, hexes, tt.wantHex)
			}
			for i := range hexes {
				if hexes[i] != tt.wantHex[i] || math.Abs(shares[i]-tt.wantShares[i]) > 0.01 {
					t.Errorf("dominantColors(%s)[%d] = %q %.3f, want %q %.3f", tt.name, i, hexes[i], shares[i], tt.wantHex[i], tt.wantShares[i])
				}
			}
		})
	}
}

func TestDominantColorsAtMostFive(t *testing.T) {
	// A full hue wheel has no dominant color: the result is capped.
	img := image.NewRGBA(image.Rect(0, 0, 360, 50))
	for x := range 360 {
		r, g, b := hue(float64(x))
		draw.Draw(img, image.Rect(x, 0, x+1, 50), image.NewUniform(color.RGBA{r, g, b, 0xff}), image.Point{}, draw.Src)
	}
	got := dominantColors(img)
	if len(got) != maxColors {
		t.Fatalf("dominantColors(hue wheel) returned %d colors, want %d", len(got), maxColors)
	}
	sum := 0.0
	for i, s := range got {
		sum += s.share
		if i > 0 && s.share > got[i-1].share {
			t.Errorf("dominantColors(hue wheel) shares %v are not in decreasing order", got)
		}
	}
	if math.Abs(sum-1) > 0.01 {
		t.Errorf("dominantColors(hue wheel) shares sum to %.3f, want 1", sum)
	}
}

// hue returns the fully saturated color of hue h (degrees).
func hue(h float64) (r, g, b uint8) {
	c := func(n float64) uint8 {
		k := math.Mod(n+h/60, 6)
		return uint8(255 * (1 - max(0, min(k, 4-k, 1))))
	}
	return c(5), c(3), c(1)
}
