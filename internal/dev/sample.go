package dev

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"io"
	"math"
	"net/http"
	"strconv"
	"sync"
)

// samplePath is where the dev console serves the offline default image:
// the labeler labels it when a request names no image, as the cloud
// labeler labels its default gs:// image (which is out of reach offline).
const samplePath = "/_dev/sample.png"

// samplePNG is a 480x320 picture of a sky, a sun and hills, drawn once.
var samplePNG = sync.OnceValue(func() []byte {
	const w, h = 480, 320
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			fx, fy := float64(x)/w, float64(y)/h
			hill := 0.6 + 0.07*math.Sin(fx*8) + 0.03*math.Sin(fx*21+1)
			var c color.RGBA
			switch {
			case fy > hill:
				n := uint8((x*7 + y*13) % 30)
				c = color.RGBA{46 + n, 125 + n, 50 + n/2, 255}
			case math.Hypot((fx-0.76)*1.5, fy-0.22) < 0.09:
				c = color.RGBA{255, 214, 102, 255}
			default:
				c = color.RGBA{uint8(110 + 90*fy), uint8(170 + 60*fy), 240, 255}
			}
			img.SetRGBA(x, y, c)
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		panic("dev: encoding the sample image: " + err.Error()) // cannot happen with an RGBA image
	}
	return buf.Bytes()
})

// serveSample serves the sample image.
func serveSample(w http.ResponseWriter, r *http.Request) {
	data := samplePNG()
	w.Header().Set("Content-Type", "image/png")
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	w.Header().Set("Cache-Control", "public, max-age=3600")
	_, _ = w.Write(data)
}

// sampleTransport serves the sample image at url from memory, so the
// labeler's default image needs no connection (and no exception to the
// egress policy, which refuses loopback when dev listens beyond it); other
// requests go to next.
type sampleTransport struct {
	url  string
	next http.RoundTripper
}

func (t sampleTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method != http.MethodGet || req.URL.String() != t.url {
		return t.next.RoundTrip(req)
	}
	if req.Body != nil {
		req.Body.Close()
	}
	data := samplePNG()
	return &http.Response{
		Status:        "200 OK",
		StatusCode:    http.StatusOK,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        http.Header{"Content-Type": {"image/png"}, "Content-Length": {strconv.Itoa(len(data))}},
		Body:          io.NopCloser(bytes.NewReader(data)),
		ContentLength: int64(len(data)),
		Request:       req,
	}, nil
}
