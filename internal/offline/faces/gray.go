package faces

import (
	"image"
	"image/color"
	"math"
)

// gray is an 8-bit luminance image with its top-left pixel at (0, 0);
// origin remembers where that pixel was in the source image.
type gray struct {
	w, h   int
	pix    []uint8 // row-major, len w*h
	origin image.Point
}

// rectF is a rectangle in pixel units of a gray image: pixel (x, y)
// covers [x, x+1) x [y, y+1).
type rectF struct{ x, y, w, h float64 }

// toGray converts img to luminance with the BT.601 weights of
// color.GrayModel (the ones pigo and JPEG use), reading the Y plane of JPEG
// images directly. Transparent pixels count as black, as in color.GrayModel.
func toGray(img image.Image) *gray {
	b := img.Bounds()
	g := &gray{w: b.Dx(), h: b.Dy(), pix: make([]uint8, b.Dx()*b.Dy()), origin: b.Min}
	switch src := img.(type) {
	case *image.YCbCr:
		for y := range g.h {
			i := src.YOffset(b.Min.X, b.Min.Y+y)
			copy(g.pix[y*g.w:(y+1)*g.w], src.Y[i:i+g.w])
		}
	case *image.Gray:
		for y := range g.h {
			i := src.PixOffset(b.Min.X, b.Min.Y+y)
			copy(g.pix[y*g.w:(y+1)*g.w], src.Pix[i:i+g.w])
		}
	case *image.RGBA:
		for y := range g.h {
			row := src.Pix[src.PixOffset(b.Min.X, b.Min.Y+y):]
			for x := range g.w {
				r, gg, bb := uint32(row[4*x]), uint32(row[4*x+1]), uint32(row[4*x+2])
				g.pix[y*g.w+x] = luma8(r*0x101, gg*0x101, bb*0x101)
			}
		}
	case *image.NRGBA:
		for y := range g.h {
			row := src.Pix[src.PixOffset(b.Min.X, b.Min.Y+y):]
			for x := range g.w {
				a := uint32(row[4*x+3]) * 0x101
				r := uint32(row[4*x]) * 0x101 * a / 0xffff
				gg := uint32(row[4*x+1]) * 0x101 * a / 0xffff
				bb := uint32(row[4*x+2]) * 0x101 * a / 0xffff
				g.pix[y*g.w+x] = luma8(r, gg, bb)
			}
		}
	default:
		for y := range g.h {
			for x := range g.w {
				g.pix[y*g.w+x] = color.GrayModel.Convert(img.At(b.Min.X+x, b.Min.Y+y)).(color.Gray).Y
			}
		}
	}
	return g
}

// luma8 is color.GrayModel's formula on 16-bit premultiplied components.
func luma8(r, g, b uint32) uint8 {
	return uint8((19595*r + 38470*g + 7471*b + 1<<15) >> 24)
}

// bytes returns the pixels as pigo wants them: row-major, stride w.
func (g *gray) bytes() []uint8 { return g.pix }

// resize resamples the area r of g to a dw x dh image with a separable
// triangle (bilinear) filter whose support widens when shrinking, so
// downscaling averages instead of aliasing. Parts of r outside g repeat
// the border.
func (g *gray) resize(r rectF, dw, dh int) *gray {
	xs := makeTaps(dw, r.x, r.w/float64(dw))
	ys := makeTaps(dh, r.y, r.h/float64(dh))
	lo, hi := xs.span()

	// Vertical pass into tmp (dh rows of the columns lo..hi), then horizontal.
	tw := hi - lo + 1
	tmp := make([]float32, dh*tw)
	for j := range dh {
		row := tmp[j*tw : (j+1)*tw]
		for k, wt := range ys.weights[j] {
			sy := min(max(ys.start[j]+k, 0), g.h-1)
			src := g.pix[sy*g.w:]
			for c := range tw {
				sx := min(max(lo+c, 0), g.w-1)
				row[c] += wt * float32(src[sx])
			}
		}
	}
	out := &gray{w: dw, h: dh, pix: make([]uint8, dw*dh)}
	for j := range dh {
		row := tmp[j*tw : (j+1)*tw]
		for i := range dw {
			var v float32
			base := xs.start[i] - lo
			for k, wt := range xs.weights[i] {
				v += wt * row[base+k]
			}
			out.pix[j*dw+i] = uint8(min(max(math.Round(float64(v)), 0), 255))
		}
	}
	return out
}

// shrink returns g reduced k times in each direction by averaging k x k
// blocks (the last partial row and column of blocks are dropped). It is
// much cheaper than resize for the first steps of a large reduction.
func (g *gray) shrink(k int) *gray {
	w, h := g.w/k, g.h/k
	out := &gray{w: w, h: h, pix: make([]uint8, w*h), origin: g.origin}
	sums := make([]int, w)
	area := k * k
	for y := range h {
		clear(sums)
		for yy := y * k; yy < (y+1)*k; yy++ {
			row := g.pix[yy*g.w : yy*g.w+w*k]
			for x := range w {
				s := 0
				for _, v := range row[x*k : (x+1)*k] {
					s += int(v)
				}
				sums[x] += s
			}
		}
		for x, s := range sums {
			out.pix[y*w+x] = uint8((s + area/2) / area)
		}
	}
	return out
}

// taps are the source pixels and weights of each destination pixel of a
// one-dimensional resampling: destination i reads source pixels start[i],
// start[i]+1, ... with weights[i].
type taps struct {
	start   []int
	weights [][]float32
}

// makeTaps computes the triangle-filter taps for n destination pixels
// covering the source interval [off, off+n*step).
func makeTaps(n int, off, step float64) taps {
	t := taps{start: make([]int, n), weights: make([][]float32, n)}
	radius := max(1, step)
	for i := range n {
		center := off + (float64(i)+0.5)*step - 0.5
		first := int(math.Ceil(center - radius))
		last := int(math.Floor(center + radius))
		w := make([]float32, 0, last-first+1)
		var sum float64
		for k := first; k <= last; k++ {
			v := 1 - math.Abs(float64(k)-center)/radius
			if v < 0 {
				v = 0
			}
			w = append(w, float32(v))
			sum += v
		}
		for k := range w {
			w[k] /= float32(sum)
		}
		t.start[i], t.weights[i] = first, w
	}
	return t
}

// span returns the first and last source pixel any tap reads.
func (t taps) span() (lo, hi int) {
	lo, hi = math.MaxInt, math.MinInt
	for i, s := range t.start {
		lo = min(lo, s)
		hi = max(hi, s+len(t.weights[i])-1)
	}
	return lo, hi
}
