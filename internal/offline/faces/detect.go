package faces

import (
	_ "embed"
	"image"
	"math"
	"sort"
	"sync"

	pigo "github.com/esimov/pigo/core"
)

// facefinder is pigo's frontal-face cascade, copied from
// github.com/esimov/pigo@v1.4.6/cascade/facefinder (MIT licence, see
// facefinder.LICENSE): module cache paths do not exist at run time.
//
//go:embed facefinder
var facefinder []byte

// cascade is the unpacked classifier. Unpacking only reads the embedded
// bytes, so a failure means the file shipped with the package is corrupt:
// a build defect, like a regexp.MustCompile on a bad literal.
var cascade = sync.OnceValue(func() *pigo.Pigo {
	c, err := pigo.NewPigo().Unpack(facefinder)
	if err != nil {
		panic("faces: embedded facefinder cascade is corrupt: " + err.Error())
	}
	return c
})

// Detection parameters. pigo scans square windows from a minimum size (the
// larger of minFaceSide and minFaceFraction of the image's shorter side) up
// to the shorter side, moving them by shiftFactor of their size and growing
// them by scaleFactor; overlapping hits (IoU above clusterIoU) are merged
// and the merged score is the sum of their scores, so it grows with the
// number of windows that saw the face. minQuality was chosen on the test
// images: sharp frontal faces score 100-400, a face turned away a little
// 2-10, and the stray hits on landscapes, gradients, noise, text banners
// and cartoon masks 0-1.5. The minimum window size trades small faces for
// speed: starting at 1/12 instead of 1/16 of the side cuts the detection
// time by a third.
const (
	detectMaxSide    = 640 // images are scanned at most this large
	minFaceSide      = 20  // px in the scanned image
	minFaceFraction  = 1.0 / 12
	shiftFactor      = 0.1
	scaleFactor      = 1.1
	clusterIoU       = 0.2
	minQuality       = 5.0
	maxDecodedPixels = 50_000_000 // larger images are refused before decoding
)

// Detection is one face found in an image.
type Detection struct {
	// Bounds is the square around the face in the coordinates of the
	// image given to Detect (it may reach past the image's edges).
	Bounds image.Rectangle
	// Quality is pigo's clustered detection score; it is larger for sharp,
	// frontal faces seen by many scan windows. Detect drops faces below 5.
	Quality float32
}

// Detect finds the frontal faces in img with pigo's cascade and returns the
// confident ones, largest first (ties broken by quality). It returns nil
// when there is none. Images larger than 640 px on a side are scanned at
// that size; faces smaller than 1/12 of the scanned image's shorter side,
// or than 20 px there, are not reported. Detect is safe for concurrent use.
func Detect(img image.Image) []Detection {
	g := toGray(img)
	found := detectGray(g)
	if len(found) == 0 {
		return nil
	}
	out := make([]Detection, len(found))
	for i, f := range found {
		half := f.side / 2
		out[i] = Detection{
			Bounds: image.Rect(
				int(math.Round(f.cx-half)), int(math.Round(f.cy-half)),
				int(math.Round(f.cx+half)), int(math.Round(f.cy+half)),
			).Add(g.origin),
			Quality: f.quality,
		}
	}
	return out
}

// face is a detection in the coordinates of the gray image it was found
// in: the center and side of pigo's square.
type face struct {
	cx, cy, side float64
	quality      float32
}

// detectGray runs the cascade on g (downscaled to detectMaxSide) and
// returns the confident faces, largest first.
func detectGray(g *gray) []face {
	scan, scale := g, 1.0
	if long := max(g.w, g.h); long > detectMaxSide {
		factor := float64(long) / detectMaxSide
		// Block averaging first takes large photos most of the way down
		// cheaply; the filter then needs few taps.
		block := 1
		if k := int(factor / 2); k >= 2 {
			block = k
			scan = g.shrink(k)
			factor /= float64(k)
		}
		shrunk := scan
		scan = shrunk.resize(rectF{0, 0, float64(shrunk.w), float64(shrunk.h)},
			max(1, int(math.Round(float64(shrunk.w)/factor))),
			max(1, int(math.Round(float64(shrunk.h)/factor))),
		)
		// Rounding changes the factor slightly; use the real one (both
		// steps keep the top-left corner in place).
		scale = float64(block) * float64(shrunk.w) / float64(scan.w)
	}
	short := min(scan.w, scan.h)
	minSize := max(minFaceSide, int(float64(short)*minFaceFraction))
	if short < minSize {
		return nil
	}
	params := pigo.CascadeParams{
		MinSize:     minSize,
		MaxSize:     short,
		ShiftFactor: shiftFactor,
		ScaleFactor: scaleFactor,
		ImageParams: pigo.ImageParams{Pixels: scan.bytes(), Rows: scan.h, Cols: scan.w, Dim: scan.w},
	}
	hits := cascade().RunCascade(params, 0)
	var found []face
	for _, c := range cluster(hits) {
		if c.Q < minQuality {
			continue
		}
		found = append(found, face{
			cx:      (float64(c.Col) + 0.5) * scale,
			cy:      (float64(c.Row) + 0.5) * scale,
			side:    float64(c.Scale) * scale,
			quality: c.Q,
		})
	}
	sort.Slice(found, func(i, j int) bool {
		if found[i].side != found[j].side {
			return found[i].side > found[j].side
		}
		return found[i].quality > found[j].quality
	})
	return found
}

// cluster merges overlapping scan hits into one detection per face: the
// strongest remaining hit absorbs every other remaining hit whose square
// overlaps it with an IoU above clusterIoU; the merged square is their
// average and its score their sum. (pigo's ClusterDetections lets a hit
// join several clusters, which reports one face twice.)
func cluster(hits []pigo.Detection) []pigo.Detection {
	sort.Slice(hits, func(i, j int) bool { return hits[i].Q > hits[j].Q })
	used := make([]bool, len(hits))
	var out []pigo.Detection
	for i, seed := range hits {
		if used[i] {
			continue
		}
		var r, c, s, n int
		var q float32
		for j := i; j < len(hits); j++ {
			if used[j] || iou(seed, hits[j]) <= clusterIoU {
				continue
			}
			used[j] = true
			r, c, s, n = r+hits[j].Row, c+hits[j].Col, s+hits[j].Scale, n+1
			q += hits[j].Q
		}
		out = append(out, pigo.Detection{Row: r / n, Col: c / n, Scale: s / n, Q: q})
	}
	return out
}

// iou is the intersection over union of two detection squares.
func iou(a, b pigo.Detection) float64 {
	overlap := func(c1, s1, c2, s2 int) float64 {
		lo := max(float64(c1)-float64(s1)/2, float64(c2)-float64(s2)/2)
		hi := min(float64(c1)+float64(s1)/2, float64(c2)+float64(s2)/2)
		return max(0, hi-lo)
	}
	inter := overlap(a.Row, a.Scale, b.Row, b.Scale) * overlap(a.Col, a.Scale, b.Col, b.Scale)
	union := float64(a.Scale*a.Scale+b.Scale*b.Scale) - inter
	return inter / union
}
