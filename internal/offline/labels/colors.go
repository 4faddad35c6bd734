package labels

import (
	"fmt"
	"image"
	"image/color"
	"math"
	"sort"
)

// Dominant color parameters: at most maxSamples pixels are read (on a
// regular grid), grouped into 16 levels per channel, and the occupied
// groups are clustered by weighted k-means into at most maxColors colors;
// clusters closer than mergeDistance (in 0-255 RGB units) are merged, as
// shades of one color, and colors covering less than minShare of the
// opaque pixels are dropped.
const (
	maxSamples    = 1 << 16
	levelsBits    = 4
	maxColors     = 5
	minShare      = 0.01
	mergeDistance = 32
	kmeansRounds  = 12
	opaqueAlpha   = 0x8000 // pixels less opaque than half are skipped
	binsPerColor  = 1 << (3 * levelsBits)
)

// swatch is a dominant color of an image and the share of the image's
// opaque pixels closest to it.
type swatch struct {
	rgb   color.RGBA
	share float64
}

// hex formats the color as "#rrggbb".
func (c swatch) hex() string {
	return fmt.Sprintf("#%02x%02x%02x", c.rgb.R, c.rgb.G, c.rgb.B)
}

// point is a color in RGB space with a weight (a number of pixels).
type point struct {
	r, g, b, w float64
}

func (p point) dist2(q point) float64 {
	dr, dg, db := p.r-q.r, p.g-q.g, p.b-q.b
	return dr*dr + dg*dg + db*db
}

// dominantColors returns up to maxColors colors of img, most common
// first. Transparent pixels are ignored; an image with no opaque pixel has
// no dominant color. The result is deterministic.
func dominantColors(img image.Image) []swatch {
	b := img.Bounds()
	if b.Empty() {
		return nil
	}
	step := max(1, int(math.Ceil(math.Sqrt(float64(b.Dx())*float64(b.Dy())/maxSamples))))

	// Group the sampled pixels by quantized color, keeping their mean.
	var bins [binsPerColor]point
	total := 0.0
	for y := b.Min.Y + step/2; y < b.Max.Y; y += step {
		for x := b.Min.X + step/2; x < b.Max.X; x += step {
			c := color.NRGBA64Model.Convert(img.At(x, y)).(color.NRGBA64)
			if c.A < opaqueAlpha {
				continue
			}
			r, g, bl := float64(c.R>>8), float64(c.G>>8), float64(c.B>>8)
			i := int(c.R>>(16-levelsBits))<<(2*levelsBits) | int(c.G>>(16-levelsBits))<<levelsBits | int(c.B>>(16-levelsBits))
			bins[i].r += r
			bins[i].g += g
			bins[i].b += bl
			bins[i].w++
			total++
		}
	}
	if total == 0 {
		return nil
	}
	var points []point
	for _, p := range bins {
		if p.w > 0 {
			points = append(points, point{p.r / p.w, p.g / p.w, p.b / p.w, p.w})
		}
	}

	centers := seedCenters(points, maxColors)
	assign := make([]int, len(points))
	for range kmeansRounds {
		for i, p := range points {
			best, bestD := 0, math.Inf(1)
			for k, c := range centers {
				if d := p.dist2(c); d < bestD {
					best, bestD = k, d
				}
			}
			assign[i] = best
		}
		next := make([]point, len(centers))
		for i, p := range points {
			n := &next[assign[i]]
			n.r += p.r * p.w
			n.g += p.g * p.w
			n.b += p.b * p.w
			n.w += p.w
		}
		for k := range next {
			if next[k].w > 0 {
				next[k] = point{next[k].r / next[k].w, next[k].g / next[k].w, next[k].b / next[k].w, next[k].w}
			}
		}
		centers = next
	}

	centers = mergeClose(centers)

	var out []swatch
	for _, c := range centers {
		if share := c.w / total; share >= minShare {
			out = append(out, swatch{
				rgb:   color.RGBA{channel(c.r), channel(c.g), channel(c.b), 0xff},
				share: share,
			})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].share > out[j].share })
	return out
}

// seedCenters picks up to k starting centers: the most common color, then
// repeatedly the color with the largest weight times squared distance to
// the centers so far (a deterministic k-means++), so distinct and common
// colors are seeded before shades of one.
func seedCenters(points []point, k int) []point {
	heaviest := 0
	for i, p := range points {
		if p.w > points[heaviest].w {
			heaviest = i
		}
	}
	centers := []point{points[heaviest]}
	nearest := make([]float64, len(points))
	for i, p := range points {
		nearest[i] = p.dist2(centers[0])
	}
	for len(centers) < k {
		best, bestScore := -1, 0.0
		for i, p := range points {
			if s := p.w * nearest[i]; s > bestScore {
				best, bestScore = i, s
			}
		}
		if best < 0 {
			break // every color is already a center
		}
		c := points[best]
		centers = append(centers, c)
		for i, p := range points {
			nearest[i] = min(nearest[i], p.dist2(c))
		}
	}
	return centers
}

// mergeClose merges the closest two clusters, as their weighted mean,
// while they are closer than mergeDistance. Empty clusters are dropped.
func mergeClose(centers []point) []point {
	var live []point
	for _, c := range centers {
		if c.w > 0 {
			live = append(live, c)
		}
	}
	for {
		bi, bj, bd := -1, -1, float64(mergeDistance*mergeDistance)
		for i := range live {
			for j := i + 1; j < len(live); j++ {
				if d := live[i].dist2(live[j]); d < bd {
					bi, bj, bd = i, j, d
				}
			}
		}
		if bi < 0 {
			return live
		}
		a, b := live[bi], live[bj]
		w := a.w + b.w
		live[bi] = point{(a.r*a.w + b.r*b.w) / w, (a.g*a.w + b.g*b.w) / w, (a.b*a.w + b.b*b.w) / w, w}
		live = append(live[:bj], live[bj+1:]...)
	}
}

// channel rounds a channel value to 8 bits.
func channel(v float64) uint8 {
	return uint8(min(max(math.Round(v), 0), 255))
}
