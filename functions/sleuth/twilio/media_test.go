package twilio_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/crossfaas/crossfaas/functions/sleuth"
	"github.com/crossfaas/crossfaas/functions/sleuth/twilio"
)

const (
	accountSID = "AC0123456789abcdef0123456789abcdef"
	authToken  = "0123456789abcdef0123456789abcdef"
	mediaPath  = "/2010-04-01/Accounts/" + accountSID + "/Messages/MM0123456789abcdef0123456789abcdef/Media/"
)

// encode returns a real 8x8 image in format "jpeg", "png" or "gif".
func encode(t *testing.T, format string) []byte {
	t.Helper()
	img := image.NewPaletted(image.Rect(0, 0, 8, 8), []color.Color{color.White, color.Black})
	img.SetColorIndex(3, 3, 1)
	var buf bytes.Buffer
	var err error
	switch format {
	case "jpeg":
		err = jpeg.Encode(&buf, img, nil)
	case "png":
		err = png.Encode(&buf, img)
	case "gif":
		err = gif.Encode(&buf, img, nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// countingTransport counts the requests that reach the network.
type countingTransport struct{ n atomic.Int32 }

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return http.DefaultTransport.RoundTrip(r)
}

// mediaFakes are Twilio's API, its CDN and a host that is not Twilio's.
type mediaFakes struct {
	api, cdn, evil *httptest.Server
	transport      *countingTransport
	media          *twilio.Media

	mu       sync.Mutex
	apiAuth  []string // Authorization headers the API saw
	cdnAuth  []string // Authorization headers the CDN saw
	evilHits int
}

func newMediaFakes(t *testing.T) *mediaFakes {
	t.Helper()
	f := &mediaFakes{transport: &countingTransport{}}
	jpg, pngBytes, gifBytes := encode(t, "jpeg"), encode(t, "png"), encode(t, "gif")
	big := append(append([]byte(nil), jpg...), make([]byte, twilio.MaxMediaBytes)...)

	f.cdn = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.cdnAuth = append(f.cdnAuth, r.Header.Get("Authorization"))
		f.mu.Unlock()
		serveImage(w, r, strings.TrimPrefix(r.URL.Path, "/media/"), jpg, pngBytes, gifBytes, big)
	}))
	t.Cleanup(f.cdn.Close)
	f.evil = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.evilHits++
		f.mu.Unlock()
		w.Header().Set("Content-Type", "image/jpeg")
		w.Write(jpg)
	}))
	t.Cleanup(f.evil.Close)
	f.api = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.apiAuth = append(f.apiAuth, r.Header.Get("Authorization"))
		f.mu.Unlock()
		if sid, token, ok := r.BasicAuth(); !ok || sid != accountSID || token != authToken {
			http.Error(w, `{"code":20003,"message":"Authenticate","status":401}`, http.StatusUnauthorized)
			return
		}
		name, ok := strings.CutPrefix(r.URL.Path, mediaPath)
		name = unme(name)
		if !ok {
			http.NotFound(w, r)
			return
		}
		switch name {
		case "to-evil":
			http.Redirect(w, r, f.evil.URL+"/stolen.jpg", http.StatusTemporaryRedirect)
		case "to-internet":
			http.Redirect(w, r, "https://evil.example.com/x.jpg", http.StatusFound)
		case "to-http-twilio":
			http.Redirect(w, r, "http://media.twiliocdn.com/x.jpg", http.StatusFound)
		case "loop":
			http.Redirect(w, r, r.URL.Path, http.StatusFound)
		case "missing":
			http.Error(w, `{"code":20404,"status":404}`, http.StatusNotFound)
		case "direct-png":
			serveImage(w, r, "png", jpg, pngBytes, gifBytes, big)
		default:
			// Twilio's media redirect: a signed URL on its CDN.
			http.Redirect(w, r, f.cdn.URL+"/media/"+name+"?Expires=1&Signature=s3cr3t", http.StatusTemporaryRedirect)
		}
	}))
	t.Cleanup(f.api.Close)

	cdnHost := strings.TrimPrefix(f.cdn.URL, "http://")
	media, err := twilio.NewMedia(twilio.Config{
		AccountSID: accountSID, AuthToken: authToken, APIURL: f.api.URL, Transport: f.transport,
	}, []string{"api.twilio.com", "*.twiliocdn.com", cdnHost})
	if err != nil {
		t.Fatal(err)
	}
	f.media = media
	return f
}

// serveImage serves the CDN's objects by name.
func serveImage(w http.ResponseWriter, r *http.Request, name string, jpg, pngBytes, gifBytes, big []byte) {
	switch name {
	case "jpeg":
		w.Header().Set("Content-Type", "image/jpeg")
		w.Write(jpg)
	case "png":
		w.Header().Set("Content-Type", "image/png")
		w.Write(pngBytes)
	case "gif-as-jpeg": // declared JPEG by Twilio and the CDN, GIF bytes
		w.Header().Set("Content-Type", "image/jpeg")
		w.Write(gifBytes)
	case "gif":
		w.Header().Set("Content-Type", "image/gif")
		w.Write(gifBytes)
	case "html":
		w.Header().Set("Content-Type", "text/html")
		w.Write([]byte("<html>not an image</html>"))
	case "big":
		w.Header().Set("Content-Type", "image/jpeg")
		w.Header().Set("Content-Length", strconv.Itoa(len(big)))
		w.Write(big)
	case "big-chunked": // no Content-Length: the read limit must catch it
		w.Header().Set("Content-Type", "image/jpeg")
		for i := 0; i < len(big); i += 64 << 10 {
			w.Write(big[i:min(i+64<<10, len(big))])
			w.(http.Flusher).Flush()
		}
	case "exactly-max":
		w.Header().Set("Content-Type", "image/jpeg")
		w.Write(big[:twilio.MaxMediaBytes])
	case "unavailable":
		http.Error(w, "slow down", http.StatusServiceUnavailable)
	case "throttled":
		http.Error(w, "slow down", http.StatusTooManyRequests)
	case "timed-out":
		http.Error(w, "too slow", http.StatusRequestTimeout)
	case "expired":
		http.Error(w, "<Error><Code>AccessDenied</Code></Error>", http.StatusForbidden)
	default:
		http.NotFound(w, r)
	}
}

func TestFetch(t *testing.T) {
	tests := []struct {
		name        string
		url         func(f *mediaFakes) string
		contentType string
		wantType    string // sniffed type of the bytes returned
		wantErr     error  // a sleuth.ErrMedia* sentinel
		wantFailure bool   // an error that is not the user's
		wantNoFetch bool   // refused before any request
	}{
		{name: "jpeg via CDN redirect", url: viaAPI("jpeg"), contentType: "image/jpeg", wantType: "image/jpeg"},
		{name: "png via CDN redirect", url: viaAPI("png"), contentType: "image/png", wantType: "image/png"},
		{name: "png from the API itself", url: viaAPI("direct-png"), contentType: "image/png", wantType: "image/png"},
		{name: "declared type with parameters", url: viaAPI("jpeg"), contentType: "IMAGE/JPEG; charset=binary", wantType: "image/jpeg"},
		{name: "exactly 5 MiB", url: viaAPI("exactly-max"), contentType: "image/jpeg", wantType: "image/jpeg"},

		{name: "declared gif is not fetched", url: viaAPI("jpeg"), contentType: "image/gif", wantErr: sleuth.ErrMediaType, wantNoFetch: true},
		{name: "declared type missing", url: viaAPI("jpeg"), contentType: "", wantErr: sleuth.ErrMediaType, wantNoFetch: true},
		{name: "gif bytes declared jpeg", url: viaAPI("gif-as-jpeg"), contentType: "image/jpeg", wantErr: sleuth.ErrMediaType},
		{name: "served as gif", url: viaAPI("gif"), contentType: "image/jpeg", wantErr: sleuth.ErrMediaType},
		{name: "served as html", url: viaAPI("html"), contentType: "image/jpeg", wantErr: sleuth.ErrMediaType},
		{name: "too large by content-length", url: viaAPI("big"), contentType: "image/jpeg", wantErr: sleuth.ErrMediaTooLarge},
		{name: "too large without content-length", url: viaAPI("big-chunked"), contentType: "image/jpeg", wantErr: sleuth.ErrMediaTooLarge},

		{name: "not a Twilio URL", url: fixed("https://example.com/cat.jpg"), contentType: "image/jpeg", wantErr: sleuth.ErrMediaHost, wantNoFetch: true},
		{name: "look-alike host", url: fixed("https://api.twilio.com.evil.example/x.jpg"), contentType: "image/jpeg", wantErr: sleuth.ErrMediaHost, wantNoFetch: true},
		{name: "plain http to Twilio", url: fixed("http://api.twilio.com" + mediaPath + me("jpeg")), contentType: "image/jpeg", wantErr: sleuth.ErrMediaHost, wantNoFetch: true},
		{name: "credentials in URL", url: fixed("https://user:pw@api.twilio.com/x"), contentType: "image/jpeg", wantErr: sleuth.ErrMediaHost, wantNoFetch: true},
		{name: "relative URL", url: fixed("/2010-04-01/x"), contentType: "image/jpeg", wantErr: sleuth.ErrMediaHost, wantNoFetch: true},
		{name: "other loopback port", url: func(f *mediaFakes) string { return f.evil.URL + "/x.jpg" }, contentType: "image/jpeg", wantErr: sleuth.ErrMediaHost, wantNoFetch: true},
		{name: "media URL on the CDN, not the API", url: func(f *mediaFakes) string { return f.cdn.URL + "/media/jpeg" }, contentType: "image/jpeg", wantErr: sleuth.ErrMediaHost, wantNoFetch: true},
		{name: "redirect to a loopback host not allowed", url: viaAPI("to-evil"), contentType: "image/jpeg", wantErr: sleuth.ErrMediaHost},
		{name: "redirect to the internet", url: viaAPI("to-internet"), contentType: "image/jpeg", wantErr: sleuth.ErrMediaHost},
		{name: "redirect to Twilio's CDN over http", url: viaAPI("to-http-twilio"), contentType: "image/jpeg", wantErr: sleuth.ErrMediaHost},

		{name: "media gone: 404 from the API", url: viaAPI("missing"), contentType: "image/jpeg", wantErr: sleuth.ErrMediaUnavailable},
		{name: "expired CDN link: 403", url: viaAPI("expired"), contentType: "image/jpeg", wantErr: sleuth.ErrMediaUnavailable},
		{name: "CDN unavailable", url: viaAPI("unavailable"), contentType: "image/jpeg", wantFailure: true},
		{name: "CDN throttling: 429", url: viaAPI("throttled"), contentType: "image/jpeg", wantFailure: true},
		{name: "CDN request timeout: 408", url: viaAPI("timed-out"), contentType: "image/jpeg", wantFailure: true},
		{name: "redirect loop", url: viaAPI("loop"), contentType: "image/jpeg", wantFailure: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newMediaFakes(t)
			mediaURL := tt.url(f)
			got, err := f.media.Fetch(context.Background(), mediaURL, tt.contentType)
			switch {
			case tt.wantErr != nil:
				if !errors.Is(err, tt.wantErr) {
					t.Errorf("Fetch(%q, %q) error = %v, want %v", mediaURL, tt.contentType, err, tt.wantErr)
				}
			case tt.wantFailure:
				if err == nil || errors.Is(err, sleuth.ErrMediaRefused) {
					t.Errorf("Fetch(%q, %q) error = %v, want a failure that is not ErrMediaRefused", mediaURL, tt.contentType, err)
				}
			default:
				if err != nil {
					t.Fatalf("Fetch(%q, %q) error = %v", mediaURL, tt.contentType, err)
				}
				if sniffed := http.DetectContentType(got); sniffed != tt.wantType {
					t.Errorf("Fetch(%q, %q) returned %s (%d bytes), want %s", mediaURL, tt.contentType, sniffed, len(got), tt.wantType)
				}
			}
			if n := f.transport.n.Load(); tt.wantNoFetch && n != 0 {
				t.Errorf("Fetch(%q, %q) made %d requests, want 0", mediaURL, tt.contentType, n)
			}
			f.mu.Lock()
			defer f.mu.Unlock()
			if f.evilHits != 0 {
				t.Errorf("the non-Twilio host got %d requests, want 0", f.evilHits)
			}
			for _, auth := range f.cdnAuth {
				if auth != "" {
					t.Errorf("the CDN got Authorization %q, want none", auth)
				}
			}
		})
	}
}

func TestFetchSendsCredentialsToTheAPIOnly(t *testing.T) {
	f := newMediaFakes(t)
	if _, err := f.media.Fetch(context.Background(), f.api.URL+mediaPath+me("jpeg"), "image/jpeg"); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	want := "Basic " + basic(accountSID, authToken)
	if len(f.apiAuth) != 1 || f.apiAuth[0] != want {
		t.Errorf("API saw Authorization %q, want [%q]", f.apiAuth, want)
	}
	if len(f.cdnAuth) != 1 || f.cdnAuth[0] != "" {
		t.Errorf("CDN saw Authorization %q, want one request without", f.cdnAuth)
	}
}

func TestFetchHonoursContext(t *testing.T) {
	f := newMediaFakes(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := f.media.Fetch(ctx, f.api.URL+mediaPath+me("jpeg"), "image/jpeg")
	if !errors.Is(err, context.Canceled) || errors.Is(err, sleuth.ErrMediaRefused) {
		t.Errorf("Fetch(canceled) error = %v, want context.Canceled", err)
	}
}

// me returns the media SID that stands for a test's media name (at most
// 16 bytes): "ME" and the name's bytes in hex, padded with zeros.
func me(name string) string {
	b := make([]byte, 16)
	copy(b, name)
	return "ME" + hex.EncodeToString(b)
}

// unme returns the media name of a media SID of me, or sid itself.
func unme(sid string) string {
	b, err := hex.DecodeString(strings.TrimPrefix(sid, "ME"))
	if err != nil || !strings.HasPrefix(sid, "ME") {
		return sid
	}
	return strings.TrimRight(string(b), "\x00")
}

func viaAPI(name string) func(*mediaFakes) string {
	return func(f *mediaFakes) string { return f.api.URL + mediaPath + me(name) }
}

func fixed(u string) func(*mediaFakes) string { return func(*mediaFakes) string { return u } }
