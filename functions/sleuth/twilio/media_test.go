package twilio_test

import (
	"bytes"
	"context"
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
	mediaPath  = "/2010-04-01/Accounts/" + accountSID + "/Messages/MM0123/Media/"
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
		{name: "plain http to Twilio", url: fixed("http://api.twilio.com" + mediaPath + "jpeg"), contentType: "image/jpeg", wantErr: sleuth.ErrMediaHost, wantNoFetch: true},
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
	if _, err := f.media.Fetch(context.Background(), f.api.URL+mediaPath+"jpeg", "image/jpeg"); err != nil {
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
	_, err := f.media.Fetch(ctx, f.api.URL+mediaPath+"jpeg", "image/jpeg")
	if !errors.Is(err, context.Canceled) || errors.Is(err, sleuth.ErrMediaRefused) {
		t.Errorf("Fetch(canceled) error = %v, want context.Canceled", err)
	}
}

func TestDefaultHostsAllowTwilioOnly(t *testing.T) {
	transport := &countingTransport{}
	media, err := twilio.NewMedia(twilio.Config{AccountSID: accountSID, AuthToken: authToken, Transport: transport}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{
		"https://example.com/x.jpg",
		"https://twiliocdn.com.example.com/x.jpg",
		"https://api.twilio.com:8443/x.jpg",
		"http://api.twilio.com/x.jpg",
		"https://127.0.0.1/x.jpg",
		"ftp://api.twilio.com/x.jpg",
	} {
		if _, err := media.Fetch(context.Background(), u, "image/jpeg"); !errors.Is(err, sleuth.ErrMediaHost) {
			t.Errorf("Fetch(%q) error = %v, want %v", u, err, sleuth.ErrMediaHost)
		}
	}
	if n := transport.n.Load(); n != 0 {
		t.Errorf("refused URLs made %d requests, want 0", n)
	}
}

// handlerTransport serves every request with handler, in process: the real
// hosts' names without the network.
type handlerTransport struct {
	handler http.Handler
	mu      sync.Mutex
	urls    []string // the URLs requested, in order
}

func (h *handlerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	h.mu.Lock()
	h.urls = append(h.urls, r.URL.String())
	h.mu.Unlock()
	rec := httptest.NewRecorder()
	h.handler.ServeHTTP(rec, r)
	resp := rec.Result()
	resp.Request = r
	return resp, nil
}

func (h *handlerTransport) requested() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.urls...)
}

// With the default hosts, media is fetched wherever Twilio really redirects
// its media URLs: its S3 media bucket (accounts without HTTP auth on media)
// or mms.twiliocdn.com (with it); other buckets on the same S3 host are
// refused.
func TestDefaultHostsFollowTwilioRedirects(t *testing.T) {
	jpg := encode(t, "jpeg")
	const s3 = "https://s3-external-1.amazonaws.com"
	tests := []struct {
		name     string
		location string // where api.twilio.com redirects the media URL
		wantErr  error  // nil: the image is returned
	}{
		{name: "S3 media bucket", location: s3 + "/media.twiliocdn.com/" + accountSID + "/0123abcd"},
		{name: "mms.twiliocdn.com", location: "https://mms.twiliocdn.com/" + accountSID + "/0123abcd?Expires=1&Signature=x"},
		{name: "another S3 bucket", location: s3 + "/evil-bucket/x.jpg", wantErr: sleuth.ErrMediaHost},
		{name: "bucket look-alike", location: s3 + "/media.twiliocdn.com.evil/x.jpg", wantErr: sleuth.ErrMediaHost},
		{name: "dot segments out of the bucket", location: s3 + "/media.twiliocdn.com/../evil-bucket/x.jpg", wantErr: sleuth.ErrMediaHost},
		{name: "S3 over http", location: "http://s3-external-1.amazonaws.com/media.twiliocdn.com/x", wantErr: sleuth.ErrMediaHost},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			transport := &handlerTransport{handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				switch r.URL.Host {
				case "api.twilio.com":
					http.Redirect(w, r, tt.location, http.StatusTemporaryRedirect)
				default:
					if r.Header.Get("Authorization") != "" {
						t.Errorf("%s got credentials", r.URL.Host)
					}
					w.Header().Set("Content-Type", "image/jpeg")
					w.Write(jpg)
				}
			})}
			media, err := twilio.NewMedia(twilio.Config{AccountSID: accountSID, AuthToken: authToken, Transport: transport}, nil)
			if err != nil {
				t.Fatal(err)
			}
			mediaURL := "https://api.twilio.com" + mediaPath + "ME0123"
			got, err := media.Fetch(context.Background(), mediaURL, "image/jpeg")
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Errorf("Fetch(%q) redirected to %q: error = %v, want %v", mediaURL, tt.location, err, tt.wantErr)
				}
				if reqs := transport.requested(); len(reqs) != 1 {
					t.Errorf("requests = %q, want only the media URL", reqs)
				}
				return
			}
			if err != nil || !bytes.Equal(got, jpg) {
				t.Errorf("Fetch(%q) redirected to %q = %d bytes, %v, want the image", mediaURL, tt.location, len(got), err)
			}
		})
	}
}

func TestParseHosts(t *testing.T) {
	tests := []struct {
		in      string
		want    string
		wantErr bool
	}{
		{in: "", want: ""},
		{in: " api.twilio.com , *.twiliocdn.com ,", want: "api.twilio.com|*.twiliocdn.com"},
		{in: "127.0.0.1:4010", want: "127.0.0.1:4010"},
		{in: "https://api.twilio.com", wantErr: true},
		{in: "s3-external-1.amazonaws.com/media.twiliocdn.com/", want: "s3-external-1.amazonaws.com/media.twiliocdn.com/"},
		{in: "api.twilio.com/path", want: "api.twilio.com/path"},
		{in: "api.twilio.com/", wantErr: true},
		{in: "s3.amazonaws.com/bucket/../other", wantErr: true},
		{in: "s3.amazonaws.com//bucket", wantErr: true},
		{in: "s3.amazonaws.com/bucket?x", wantErr: true},
		{in: "*", wantErr: true},
		{in: "a.*.com", wantErr: true},
		{in: "user@host", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := twilio.ParseHosts(tt.in)
			if tt.wantErr {
				if err == nil {
					t.Errorf("ParseHosts(%q) = %q, want an error", tt.in, got)
				}
				return
			}
			if err != nil || strings.Join(got, "|") != tt.want {
				t.Errorf("ParseHosts(%q) = %q, %v, want %q", tt.in, strings.Join(got, "|"), err, tt.want)
			}
		})
	}
}

func TestNewMediaRejectsBadConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  twilio.Config
	}{
		{name: "no credentials", cfg: twilio.Config{}},
		{name: "http to a remote host", cfg: twilio.Config{AccountSID: accountSID, AuthToken: authToken, APIURL: "http://twilio.example.com"}},
		{name: "not a URL", cfg: twilio.Config{AccountSID: accountSID, AuthToken: authToken, APIURL: "api.twilio.com"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := twilio.NewMedia(tt.cfg, nil); err == nil {
				t.Errorf("NewMedia(%+v) error = nil", tt.cfg)
			}
			if _, err := twilio.NewSender(tt.cfg); err == nil {
				t.Errorf("NewSender(%+v) error = nil", tt.cfg)
			}
		})
	}
}

func viaAPI(name string) func(*mediaFakes) string {
	return func(f *mediaFakes) string { return f.api.URL + mediaPath + name }
}

func fixed(u string) func(*mediaFakes) string { return func(*mediaFakes) string { return u } }
