package dev

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/jpeg"
	"image/png"
	"io"
	"log/slog"
	"math"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crossfaas/crossfaas/internal/dev/phone"
)

// faceTestdata holds the face photos of the offline engine's tests.
const faceTestdata = "../offline/faces/testdata"

// photos are the pictures the tests text, encoded as a phone would send them.
type photos struct {
	person        []byte // a sharp frontal face (JPEG)
	personVariant []byte // the same face cropped, scaled 0.8x, JPEG q60
	personPNG     []byte // the same face at half size, PNG
	otherMan      []byte // another man's face (PNG)
	landscape     []byte // a photo without a face (JPEG)
}

var (
	photosOnce sync.Once
	testPhotos photos
	photosErr  error
)

func loadPhotos(t testing.TB) photos {
	t.Helper()
	photosOnce.Do(func() {
		sample, err := readImage(filepath.Join(faceTestdata, "pigo-sample.jpg"))
		if err != nil {
			photosErr = err
			return
		}
		video, err := readImage(filepath.Join(faceTestdata, "go-video-001.png"))
		if err != nil {
			photosErr = err
			return
		}
		testPhotos = photos{
			person:        encodeJPEG(sample, 90),
			personVariant: encodeJPEG(scaled(cropped(sample, image.Rect(20, 10, 310, 380)), 0.8), 60),
			personPNG:     encodePNG(scaled(sample, 0.5)),
			otherMan:      encodePNG(scaled(cropped(video, image.Rect(75, 0, 150, 103)), 4)),
			landscape:     encodeJPEG(landscape(640, 480), 85),
		}
	})
	if photosErr != nil {
		t.Fatal(photosErr)
	}
	return testPhotos
}

func readImage(path string) (image.Image, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	img, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("decode %s: %w", path, err)
	}
	return img, nil
}

// scaled resizes img by factor f, bilinearly.
func scaled(img image.Image, f float64) image.Image {
	b := img.Bounds()
	src := image.NewRGBA(b)
	draw.Draw(src, b, img, b.Min, draw.Src)
	w, h := int(float64(b.Dx())*f), int(float64(b.Dy())*f)
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	at := func(x, y, c int) float64 {
		x = min(max(x, 0), b.Dx()-1)
		y = min(max(y, 0), b.Dy()-1)
		return float64(src.Pix[src.PixOffset(b.Min.X+x, b.Min.Y+y)+c])
	}
	for y := range h {
		for x := range w {
			sx, sy := (float64(x)+0.5)/f-0.5, (float64(y)+0.5)/f-0.5
			x0, y0 := int(math.Floor(sx)), int(math.Floor(sy))
			fx, fy := sx-float64(x0), sy-float64(y0)
			for c := range 4 {
				v := (1-fx)*(1-fy)*at(x0, y0, c) + fx*(1-fy)*at(x0+1, y0, c) +
					(1-fx)*fy*at(x0, y0+1, c) + fx*fy*at(x0+1, y0+1, c)
				dst.Pix[dst.PixOffset(x, y)+c] = uint8(math.Round(v))
			}
		}
	}
	return dst
}

func cropped(img image.Image, r image.Rectangle) image.Image {
	dst := image.NewRGBA(image.Rect(0, 0, r.Dx(), r.Dy()))
	draw.Draw(dst, dst.Bounds(), img, r.Min, draw.Src)
	return dst
}

// landscape draws a sky, a sun and hills: a photo without a face.
func landscape(w, h int) image.Image {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			fx, fy := float64(x)/float64(w), float64(y)/float64(h)
			hill := 0.55 + 0.08*math.Sin(fx*9) + 0.04*math.Sin(fx*23+1)
			var c color.RGBA
			switch {
			case fy > hill:
				n := (x*7 + y*13) % 40
				c = color.RGBA{uint8(40 + n), uint8(110 + n), uint8(30 + n/2), 255}
			case math.Hypot(fx-0.75, fy-0.2) < 0.06:
				c = color.RGBA{255, 236, 150, 255}
			default:
				c = color.RGBA{uint8(90 + 100*fy), uint8(150 + 80*fy), 235, 255}
			}
			img.SetRGBA(x, y, c)
		}
	}
	return img
}

func encodeJPEG(img image.Image, q int) []byte {
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: q}); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

func encodePNG(img image.Image) []byte {
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

// fakeWikipedia serves page summaries for the people in bios (by title).
func fakeWikipedia(t testing.TB, bios map[string]string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		title, ok := strings.CutPrefix(r.URL.Path, "/api/rest_v1/page/summary/")
		extract, known := bios[title]
		if !ok || !known {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]string{"type": "standard", "title": title, "extract": extract})
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// testLogger logs to the test's output when -v, else nowhere.
func testLogger(t testing.TB) *slog.Logger {
	if !testing.Verbose() {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewJSONHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// start runs a system on free ports with a fresh data directory and a
// fake Wikipedia, closed at the end of the test.
func start(t testing.TB, edit func(*Options)) *System {
	t.Helper()
	opts := Options{
		Port:         -1,
		DataDir:      t.TempDir(),
		RetryDelays:  []time.Duration{10 * time.Millisecond, 20 * time.Millisecond},
		WikipediaURL: fakeWikipedia(t, map[string]string{"Sample_Person": "Sample Person is the face in pigo's sample photo."}),
		Logger:       testLogger(t),
	}
	if edit != nil {
		edit(&opts)
	}
	ctx, cancel := context.WithCancel(context.Background())
	sys, err := Run(ctx, opts)
	if err != nil {
		cancel()
		t.Fatalf("Run: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		if err := sys.Wait(); err != nil {
			t.Errorf("Wait after cancel: %v", err)
		}
	})
	return sys
}

// text sends body (and photo, if not nil) from the phone page, over HTTP,
// like the browser does, and returns the simulator's answer.
func text(t testing.TB, sys *System, body string, photo []byte, photoType string) phone.Result {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	mw.WriteField("body", body)
	if photo != nil {
		h := make(map[string][]string)
		h["Content-Disposition"] = []string{`form-data; name="media"; filename="photo"`}
		h["Content-Type"] = []string{photoType}
		w, _ := mw.CreatePart(h)
		w.Write(photo)
	}
	mw.Close()
	resp, err := http.Post(sys.PhoneURL+"/api/messages", mw.FormDataContentType(), &buf)
	if err != nil {
		t.Fatalf("texting %q: %v", body, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("texting %q: %s %s", body, resp.Status, raw)
	}
	var res phone.Result
	if err := json.Unmarshal(raw, &res); err != nil {
		t.Fatalf("texting %q: %v in %s", body, err, raw)
	}
	if res.Error != "" {
		t.Fatalf("texting %q: the webhook failed: %s", body, res.Error)
	}
	return res
}

// thread fetches the phone's thread over HTTP.
func thread(t testing.TB, sys *System) []phone.Entry {
	t.Helper()
	resp, err := http.Get(sys.PhoneURL + "/api/thread")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var entries []phone.Entry
	if err := json.NewDecoder(resp.Body).Decode(&entries); err != nil {
		t.Fatal(err)
	}
	return entries
}

// replies returns the SMS the phone received in answer to sid.
func replies(entries []phone.Entry, sid string) []phone.Entry {
	var out []phone.Entry
	for _, e := range entries {
		if e.Kind == "received" && e.InReplyTo == sid {
			out = append(out, e)
		}
	}
	return out
}

// awaitReply waits for the first SMS answering sid.
func awaitReply(t testing.TB, sys *System, sid string) string {
	t.Helper()
	deadline := time.After(15 * time.Second)
	for {
		changed := sys.Phone.Changed()
		if got := replies(sys.Phone.Thread(0), sid); len(got) > 0 {
			return got[0].Body
		}
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("no reply to %s within 15s; thread: %+v", sid, sys.Phone.Thread(0))
		}
	}
}
