package dev

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crossfaas/crossfaas/internal/dev/phone"
	"github.com/crossfaas/crossfaas/internal/offline/faces/facetest"
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
		sample, err := facetest.Decode(filepath.Join(faceTestdata, "pigo-sample.jpg"))
		if err != nil {
			photosErr = err
			return
		}
		video, err := facetest.Decode(filepath.Join(faceTestdata, "go-video-001.png"))
		if err != nil {
			photosErr = err
			return
		}
		testPhotos = photos{
			person:        facetest.JPEG(sample, 90),
			personVariant: facetest.JPEG(facetest.Scaled(facetest.Cropped(sample, image.Rect(20, 10, 310, 380)), 0.8), 60),
			personPNG:     facetest.PNG(facetest.Scaled(sample, 0.5)),
			otherMan:      facetest.PNG(facetest.Scaled(facetest.Cropped(video, image.Rect(75, 0, 150, 103)), 4)),
			landscape:     facetest.JPEG(facetest.Landscape(640, 480), 85),
		}
	})
	if photosErr != nil {
		t.Fatal(photosErr)
	}
	return testPhotos
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

// start runs a system on free ports with a fresh data directory and
// biographies from a fake Wikipedia (--wikipedia), closed at the end of the
// test.
func start(t testing.TB, edit func(*Options)) *System {
	t.Helper()
	opts := Options{
		Port:         -1,
		DataDir:      t.TempDir(),
		RetryDelays:  []time.Duration{10 * time.Millisecond, 20 * time.Millisecond},
		Wikipedia:    true,
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
