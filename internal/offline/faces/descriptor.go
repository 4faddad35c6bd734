package faces

import (
	"math"
)

// The face descriptor is the classical one of Ahonen, Hadid and
// Pietikäinen (2004): the face square is resampled to a fixed size,
// histogram-equalized, each pixel gets a uniform LBP(8, 1) code, and the
// codes are counted per cell of a grid; faces are compared with the
// chi-square distance between those histograms.
//
// The constants below were chosen on the package's test images (see
// calibration_test.go): a 7 x 7 grid of 14-pixel cells and a crop 10%
// larger than pigo's square kept the distances between transformed copies
// of the same face lowest relative to those between different people.
const (
	grid      = 7
	cellSide  = 14
	faceSide  = grid * cellSide // 98 px
	cropScale = 1.1             // of pigo's square side, around its center
	lbpRadius = 1

	// uniformBins is the number of uniform LBP codes for 8 neighbours (58)
	// plus one bin shared by all the others.
	uniformBins = 59
	// descriptorLen is the number of histogram bins of a descriptor.
	descriptorLen = grid * grid * uniformBins
	// descriptorVersion changes whenever a change above makes stored
	// descriptors incomparable with new ones.
	descriptorVersion = 1
)

// A cell's counts are stored as bytes: it must not hold more than 255 pixels.
var _ [255 - cellSide*cellSide]struct{}

// descriptor holds, for each cell of the grid (row-major) and each uniform
// LBP bin, how many of the cell's pixels have that code.
type descriptor []uint8

// uniformIndex maps an 8-bit LBP code to its histogram bin: uniform codes
// (at most two 0/1 transitions around the circle) get bins 0-57 in code
// order, the others share bin 58.
var uniformIndex = func() [256]uint8 {
	var t [256]uint8
	next := uint8(0)
	for code := range 256 {
		transitions := 0
		for b := range 8 {
			if (code>>b)&1 != (code>>((b+1)%8))&1 {
				transitions++
			}
		}
		if transitions <= 2 {
			t[code] = next
			next++
		} else {
			t[code] = uniformBins - 1
		}
	}
	return t
}()

// Probe jitter: pigo's square moves by a few percent of its side between
// two photos of the same face, so the image being searched is described
// with its crop shifted by -jitterShift, 0 and +jitterShift of the face's
// side in x and y, and scaled by 1-jitterScale, 1 and 1+jitterScale (27
// crops); the best-aligned one is the fair comparison. Indexed faces keep
// the canonical crop only.
const (
	jitterShift = 0.04
	jitterScale = 0.05
)

// probeJitter lists the crop variations as {dx, dy, scale}.
var probeJitter = func() [][3]float64 {
	var j [][3]float64
	for _, dx := range []float64{-jitterShift, 0, jitterShift} {
		for _, dy := range []float64{-jitterShift, 0, jitterShift} {
			for _, ds := range []float64{1 - jitterScale, 1, 1 + jitterScale} {
				j = append(j, [3]float64{dx, dy, ds})
			}
		}
	}
	return j
}()

// facePatch cuts the neighbourhood of f out of g, at no more than twice the
// descriptor's resolution, so the descriptors of a large face in a large
// photo are computed from a small image. It returns the patch and f in the
// patch's coordinates.
func facePatch(g *gray, f face) (*gray, face) {
	// Room for the largest jittered crop, plus 5% of the side for the LBP
	// border and the resampling filter.
	half := f.side * (cropScale*(1+jitterScale)/2 + jitterShift + 0.05)
	region := rectF{x: f.cx - half, y: f.cy - half, w: 2 * half, h: 2 * half}
	scale := 1.0 // source pixels per patch pixel
	if limit := 2.0 * faceSide / (f.side * cropScale); limit < 1 {
		scale = 1 / limit
	}
	n := max(1, int(math.Ceil(region.w/scale)))
	region.w, region.h = float64(n)*scale, float64(n)*scale
	patch := g.resize(region, n, n)
	return patch, face{
		cx:      (f.cx - region.x) / scale,
		cy:      (f.cy - region.y) / scale,
		side:    f.side / scale,
		quality: f.quality,
	}
}

// indexDescriptor is the descriptor stored for face f of g.
func indexDescriptor(g *gray, f face) descriptor {
	patch, pf := facePatch(g, f)
	return describe(patch, pf, 0, 0, 1)
}

// probeDescriptors are the descriptors of face f of g searched for: one
// per crop of probeJitter.
func probeDescriptors(g *gray, f face) []descriptor {
	patch, pf := facePatch(g, f)
	out := make([]descriptor, len(probeJitter))
	for i, j := range probeJitter {
		out[i] = describe(patch, pf, j[0], j[1], j[2])
	}
	return out
}

// distance is the chi-square distance between an indexed descriptor and
// the best-aligned of a probe's descriptors.
func distance(probes []descriptor, indexed descriptor) float64 {
	best := math.Inf(1)
	for _, p := range probes {
		best = min(best, chiSquare(p, indexed))
	}
	return best
}

// describe computes the descriptor of face f of g, its crop moved by
// (dx, dy) and scaled by ds relative to the face's side (0, 0, 1 for the
// canonical crop).
func describe(g *gray, f face, dx, dy, ds float64) descriptor {
	side := f.side * cropScale * ds
	cx := f.cx + dx*f.side
	cy := f.cy + dy*f.side
	n := faceSide + 2*lbpRadius
	px := side / faceSide // source pixels per crop pixel
	crop := g.resize(rectF{
		x: cx - side/2 - lbpRadius*px,
		y: cy - side/2 - lbpRadius*px,
		w: float64(n) * px,
		h: float64(n) * px,
	}, n, n)
	equalize(crop)
	return lbpHistograms(crop)
}

// equalize spreads g's gray levels over 0-255 by histogram equalization.
// LBP codes only depend on the order of gray levels, but the diagonal
// neighbours are interpolated, and equalized contrast makes that
// interpolation behave the same for faces lit differently.
func equalize(g *gray) {
	var hist [256]int
	for _, v := range g.pix {
		hist[v]++
	}
	total := len(g.pix)
	cdfMin := 0
	for _, c := range hist {
		if c > 0 {
			cdfMin = c
			break
		}
	}
	if total == cdfMin {
		return // a flat image has nothing to spread
	}
	var lut [256]uint8
	cdf := 0
	for v, c := range hist {
		cdf += c
		lut[v] = uint8(math.Round(float64(max(cdf-cdfMin, 0)) * 255 / float64(total-cdfMin)))
	}
	for i, v := range g.pix {
		g.pix[i] = lut[v]
	}
}

// lbpTap is where an LBP neighbour is read: bilinear weights of the four
// pixels from (x0, y0) to (x0+1, y0+1) relative to the center pixel.
type lbpTap struct {
	x0, y0             int
	w00, w10, w01, w11 float32
}

// lbpTaps places the 8 neighbours at angles 2πp/8 on a circle of lbpRadius.
var lbpTaps = func() [8]lbpTap {
	var taps [8]lbpTap
	for p := range 8 {
		a := 2 * math.Pi * float64(p) / 8
		x := lbpRadius * math.Cos(a)
		y := -lbpRadius * math.Sin(a)
		// cos and sin of multiples of π/2 are integers up to rounding.
		if math.Abs(x-math.Round(x)) < 1e-9 {
			x = math.Round(x)
		}
		if math.Abs(y-math.Round(y)) < 1e-9 {
			y = math.Round(y)
		}
		x0, y0 := math.Floor(x), math.Floor(y)
		fx, fy := float32(x-x0), float32(y-y0)
		taps[p] = lbpTap{
			x0: int(x0), y0: int(y0),
			w00: (1 - fx) * (1 - fy), w10: fx * (1 - fy),
			w01: (1 - fx) * fy, w11: fx * fy,
		}
	}
	return taps
}()

// lbpHistograms counts the uniform LBP codes of the pixels of g inside its
// lbpRadius border, per cell of the grid. A neighbour at least as bright as
// the center sets its bit.
func lbpHistograms(g *gray) descriptor {
	// Offsets of each neighbour's four interpolation pixels in g.pix; a
	// pixel of weight 0 (neighbours on the axes) may lie past the border,
	// so it points at the first one instead.
	var off [8][4]int
	for p, t := range lbpTaps {
		base := t.y0*g.w + t.x0
		off[p] = [4]int{base, base + 1, base + g.w, base + g.w + 1}
		for k, w := range [4]float32{t.w00, t.w10, t.w01, t.w11} {
			if w == 0 {
				off[p][k] = base
			}
		}
	}
	pix := g.pix
	d := make(descriptor, descriptorLen)
	for y := range faceSide {
		row := (y / cellSide) * grid * uniformBins
		for x := range faceSide {
			i := (y+lbpRadius)*g.w + x + lbpRadius
			c := float32(pix[i]) - 1e-3
			code := 0
			for p := range lbpTaps {
				t, o := &lbpTaps[p], &off[p]
				v := t.w00*float32(pix[i+o[0]]) + t.w10*float32(pix[i+o[1]]) +
					t.w01*float32(pix[i+o[2]]) + t.w11*float32(pix[i+o[3]])
				if v >= c {
					code |= 1 << p
				}
			}
			d[row+(x/cellSide)*uniformBins+int(uniformIndex[code])]++
		}
	}
	return d
}

// chiSquare returns the chi-square distance between the cell histograms of
// a and b, normalized per cell and averaged over cells: 0 for identical
// histograms, 2 for histograms with no bin in common.
func chiSquare(a, b descriptor) float64 {
	var sum float64
	for i := range a {
		s := int(a[i]) + int(b[i])
		if s > 0 {
			diff := int(a[i]) - int(b[i])
			sum += float64(diff*diff) / float64(s)
		}
	}
	return sum / (grid * grid * cellSide * cellSide)
}

// Similarity mapping. Chi-square distances measured on the test images
// (TestCalibration): 0.12-0.37 between rescaled (down to a 48 px face),
// cropped, moved, JPEG re-encoded (quality 30-75) and brightened copies of
// one face; 0.79-0.89 between different people. matchDistance, a little
// closer to the first group to keep false matches rare, is where the
// similarity is 85, the sleuth's default threshold (sleuth.EnvMatchThreshold).
const matchDistance = 0.5

// similarity maps a chi-square distance to Rekognition's 0-100 scale as
// 100·exp(−(d/d₀)²), with d₀ set so that matchDistance scores 85:
// d = 0 → 100, 0.36 → 91.9, 0.5 → 85, 0.79 → 66.7, 1.0 → 52.2, 1.5 → 23.2.
// Copies of a face thus score above 90, different people 60-67.
// The curve is flat near 0, so small alignment noise barely lowers a true
// match, and falls steeply past matchDistance.
func similarity(d float64) float64 {
	d0 := matchDistance / math.Sqrt(-math.Log(0.85))
	return 100 * math.Exp(-(d/d0)*(d/d0))
}
