package labels

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/draw"
	"image/gif"
	"image/jpeg"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/crossfaas/crossfaas/functions/labeler"
	"github.com/crossfaas/crossfaas/internal/egress"
	"github.com/crossfaas/crossfaas/internal/offline/faces/facetest"
)

// The face photo of the faces package's tests (see its testdata/README.md).
const facePhoto = "../faces/testdata/pigo-sample.jpg"

var (
	red  = color.RGBA{0xc8, 0x1e, 0x1e, 0xff}
	blue = color.RGBA{0x1e, 0x3c, 0xc8, 0xff}
)

// twoColors is a w x h image whose left 70% is red and the rest blue.
func twoColors(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.Draw(img, img.Bounds(), image.NewUniform(blue), image.Point{}, draw.Src)
	draw.Draw(img, image.Rect(0, 0, w*7/10, h), image.NewUniform(red), image.Point{}, draw.Src)
	return img
}

// twoFaces puts the face photo twice, side by side.
func twoFaces(t testing.TB, photo []byte) []byte {
	t.Helper()
	face, err := jpeg.Decode(bytes.NewReader(photo))
	if err != nil {
		t.Fatal(err)
	}
	b := face.Bounds()
	img := image.NewRGBA(image.Rect(0, 0, 2*b.Dx()+40, b.Dy()+40))
	draw.Draw(img, img.Bounds(), image.NewUniform(color.White), image.Point{}, draw.Src)
	draw.Draw(img, b.Add(image.Pt(10, 20)), face, b.Min, draw.Src)
	draw.Draw(img, b.Add(image.Pt(b.Dx()+30, 20)), face, b.Min, draw.Src)
	return facetest.JPEG(img, 90)
}

// bombPNG is a valid PNG header declaring w x h pixels, without the pixels.
func bombPNG(t testing.TB, w, h uint32) []byte {
	t.Helper()
	data := facetest.PNG(image.NewGray(image.Rect(0, 0, 1, 1)))
	// The IHDR chunk follows the 8-byte signature: length, type, data, CRC.
	ihdr := data[8+8 : 8+8+13]
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	binary.BigEndian.PutUint32(data[8+8+13:], crc32.ChecksumIEEE(data[8+4:8+8+13]))
	return data
}

// server serves files by path with their content types.
type file struct {
	contentType string
	body        []byte
}

func newServer(t *testing.T, files map[string]file) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/redirect":
			http.Redirect(w, r, "/two-colors.png", http.StatusFound)
			return
		case "/broken":
			http.Error(w, "boom", http.StatusInternalServerError)
			return
		case "/huge-declared":
			w.Header().Set("Content-Length", "104857600")
			w.Header().Set("Content-Type", "image/jpeg")
			w.WriteHeader(http.StatusOK)
			w.Write([]byte{0xff, 0xd8}) // the rest never comes
			return
		case "/huge-chunked":
			w.Header().Set("Content-Type", "image/png")
			chunk := make([]byte, 1<<20)
			for range MaxImageBytes>>20 + 2 {
				if _, err := w.Write(chunk); err != nil {
					return
				}
			}
			return
		case "/slow":
			select {
			case <-r.Context().Done():
			case <-time.After(10 * time.Second):
			}
			return
		}
		f, ok := files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", f.contentType)
		w.Write(f.body)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestAnnotate(t *testing.T) {
	photo, err := os.ReadFile(facePhoto)
	if err != nil {
		t.Fatal(err)
	}
	twoColorsPNG := facetest.PNG(twoColors(200, 100))
	var gifBuf bytes.Buffer
	paletted := image.NewPaletted(image.Rect(0, 0, 40, 20), color.Palette{red, blue})
	draw.Draw(paletted, paletted.Bounds(), twoColors(40, 20), image.Point{}, draw.Src)
	if err := gif.Encode(&gifBuf, paletted, nil); err != nil {
		t.Fatal(err)
	}
	half := image.NewNRGBA(image.Rect(0, 0, 64, 64))
	draw.Draw(half, image.Rect(0, 0, 64, 16), image.NewUniform(color.NRGBA{0, 0xff, 0, 0xff}), image.Point{}, draw.Src)
	halfPNG := facetest.PNG(half) // the rest is fully transparent
	twoFacesJPEG := twoFaces(t, photo)

	srv := newServer(t, map[string]file{
		"/two-colors.png": {"image/png", twoColorsPNG},
		"/face.jpg":       {"image/jpeg", photo},
		"/two-faces.jpg":  {"image/jpeg", twoFacesJPEG},
		"/anim.gif":       {"image/gif", gifBuf.Bytes()},
		"/sticker.png":    {"application/octet-stream", halfPNG},
	})
	e := New(srv.Client())

	tests := []struct {
		path       string
		wantFacts  labeler.ImageFacts
		wantLabels []labeler.Label
	}{
		{
			"/two-colors.png",
			labeler.ImageFacts{Format: "png", Width: 200, Height: 100, Bytes: len(twoColorsPNG), DominantColors: []string{"#c81e1e", "#1e3cc8"}, Faces: 0},
			[]labeler.Label{lbl("offline:format:png", 1), lbl("offline:faces:0", 1), lbl("offline:color:#c81e1e", 0.7), lbl("offline:color:#1e3cc8", 0.3)},
		},
		{
			"/redirect",
			labeler.ImageFacts{Format: "png", Width: 200, Height: 100, Bytes: len(twoColorsPNG), DominantColors: []string{"#c81e1e", "#1e3cc8"}, Faces: 0},
			[]labeler.Label{lbl("offline:format:png", 1), lbl("offline:faces:0", 1), lbl("offline:color:#c81e1e", 0.7), lbl("offline:color:#1e3cc8", 0.3)},
		},
		{
			"/anim.gif",
			labeler.ImageFacts{Format: "gif", Width: 40, Height: 20, Bytes: gifBuf.Len(), DominantColors: []string{"#c81e1e", "#1e3cc8"}, Faces: 0},
			[]labeler.Label{lbl("offline:format:gif", 1), lbl("offline:faces:0", 1), lbl("offline:color:#c81e1e", 0.7), lbl("offline:color:#1e3cc8", 0.3)},
		},
		{
			"/sticker.png", // transparent pixels do not count
			labeler.ImageFacts{Format: "png", Width: 64, Height: 64, Bytes: len(halfPNG), DominantColors: []string{"#00ff00"}, Faces: 0},
			[]labeler.Label{lbl("offline:format:png", 1), lbl("offline:faces:0", 1), lbl("offline:color:#00ff00", 1)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			uri := srv.URL + tt.path
			got, err := e.Annotate(context.Background(), uri)
			if err != nil {
				t.Fatalf("Annotate(%q) = %v", uri, err)
			}
			if got.Engine != labeler.EngineOffline || got.Note != Note || got.SafeSearch != nil {
				t.Errorf("Annotate(%q) = engine %q, note %q, safe search %v, want %q, %q, nil", uri, got.Engine, got.Note, got.SafeSearch, labeler.EngineOffline, Note)
			}
			if got.Facts == nil || !reflect.DeepEqual(*got.Facts, tt.wantFacts) {
				t.Errorf("Annotate(%q).Facts = %+v, want %+v", uri, got.Facts, tt.wantFacts)
			}
			if !labelsEqual(got.Labels, tt.wantLabels) {
				t.Errorf("Annotate(%q).Labels = %v, want %v", uri, got.Labels, tt.wantLabels)
			}
		})
	}

	// Photos: faces are counted, colors come from the JPEG's pixels.
	for _, tt := range []struct {
		path      string
		wantFaces int
		wantBytes int
	}{
		{"/face.jpg", 1, len(photo)},
		{"/two-faces.jpg", 2, len(twoFacesJPEG)},
	} {
		uri := srv.URL + tt.path
		got, err := e.Annotate(context.Background(), uri)
		if err != nil {
			t.Fatalf("Annotate(%q) = %v", uri, err)
		}
		f := got.Facts
		if f.Format != "jpeg" || f.Faces != tt.wantFaces || f.Bytes != tt.wantBytes || len(f.DominantColors) == 0 || len(f.DominantColors) > maxColors {
			t.Errorf("Annotate(%q).Facts = %+v, want jpeg, %d faces, %d bytes, 1-%d colors", uri, f, tt.wantFaces, tt.wantBytes, maxColors)
		}
		for _, l := range got.Labels {
			if !strings.HasPrefix(l.Description, LabelPrefix) {
				t.Errorf("Annotate(%q) label %q lacks the %q prefix", uri, l.Description, LabelPrefix)
			}
		}
	}
}

// lbl is a label.
func lbl(description string, score float32) labeler.Label {
	return labeler.Label{Description: description, Score: score}
}

// labelsEqual compares labels, scores to within 0.01.
func labelsEqual(got, want []labeler.Label) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if got[i].Description != want[i].Description || math.Abs(float64(got[i].Score-want[i].Score)) > 0.01 {
			return false
		}
	}
	return true
}

func TestAnnotateUnusableImages(t *testing.T) {
	photo, err := os.ReadFile(facePhoto)
	if err != nil {
		t.Fatal(err)
	}
	srv := newServer(t, map[string]file{
		"/page.html":     {"text/html", []byte("<html><body>not an image</body></html>")},
		"/truncated.jpg": {"image/jpeg", photo[:len(photo)/2]},
		"/bomb.png":      {"image/png", bombPNG(t, 20000, 20000)},
		"/empty.png":     {"image/png", nil},
		"/photo.bmp":     {"image/bmp", append([]byte("BM"), make([]byte, 60)...)},
	})
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close()
	e := New(srv.Client())

	tests := []struct {
		name    string
		uri     string
		wantMsg string // in the error
	}{
		{"gs", "gs://cloud-samples-data/vision/label/wakeupcat.jpg", "crossfaas dev --cloud"},
		{"empty uri", "", "imageUri is empty"},
		{"ftp", "ftp://example.com/a.jpg", "scheme"},
		{"relative", "/a.jpg", "absolute"},
		{"not found", srv.URL + "/missing.jpg", "404"},
		{"server error", srv.URL + "/broken", "500"},
		{"html page", srv.URL + "/page.html", `"text/html"`},
		{"bmp", srv.URL + "/photo.bmp", "not a JPEG, PNG, GIF, WebP or BMP"},
		{"empty body", srv.URL + "/empty.png", "not a JPEG, PNG, GIF, WebP or BMP"},
		{"truncated jpeg", srv.URL + "/truncated.jpg", "corrupt"},
		{"decompression bomb", srv.URL + "/bomb.png", "20000x20000"},
		{"declared too large", srv.URL + "/huge-declared", "10 MiB"},
		{"streamed too large", srv.URL + "/huge-chunked", "10 MiB"},
		{"connection refused", closedURL + "/a.jpg", "cannot fetch"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := e.Annotate(context.Background(), tt.uri)
			if !errors.Is(err, labeler.ErrUnusableImage) {
				t.Fatalf("Annotate(%q) = %+v, %v, want an error wrapping ErrUnusableImage", tt.uri, got, err)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("Annotate(%q) error = %q, want it to contain %q", tt.uri, err, tt.wantMsg)
			}
		})
	}
}

// TestAnnotateRefused: with an egress policy, a refused address is
// reported as a refusal, for the URL itself (after name resolution) and for
// a redirect.
func TestAnnotateRefused(t *testing.T) {
	srv := newServer(t, nil)
	port := srv.URL[strings.LastIndex(srv.URL, ":")+1:]
	redirecting := httptest.NewServer(http.RedirectHandler("http://0.0.0.0:"+port+"/a.png", http.StatusFound))
	t.Cleanup(redirecting.Close)
	tests := []struct {
		name   string
		policy egress.Policy
		uri    string
		want   string
	}{
		{"loopback beyond loopback", egress.Policy{}, srv.URL + "/a.png", "refused to fetch it: refused to connect to 127.0.0.1"},
		{"a name resolving to loopback", egress.Policy{}, "http://localhost:" + port + "/a.png", "refused to fetch it: refused to connect to"},
		{"unspecified address", egress.Policy{AllowPrivate: true}, "http://0.0.0.0:" + port + "/a.png", "refused to fetch it: refused to connect to 0.0.0.0"},
		{"redirect to a refused address", egress.Policy{AllowPrivate: true}, redirecting.URL + "/x", "refused to fetch it: refused to connect to 0.0.0.0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.policy.Client(5*time.Second)).Annotate(context.Background(), tt.uri)
			if !errors.Is(err, labeler.ErrUnusableImage) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Annotate(%q) = %v, want an ErrUnusableImage containing %q", tt.uri, err, tt.want)
			}
		})
	}
}

func TestAnnotateDeadline(t *testing.T) {
	srv := newServer(t, nil)
	e := New(srv.Client())
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := e.Annotate(ctx, srv.URL+"/slow")
	if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, labeler.ErrUnusableImage) {
		t.Errorf("Annotate(slow server, 50ms) = %v, want DeadlineExceeded and not ErrUnusableImage", err)
	}
}

func TestNewNilClient(t *testing.T) {
	if e := New(nil); e.client != http.DefaultClient {
		t.Errorf("New(nil).client = %p, want http.DefaultClient", e.client)
	}
}
