package twilio_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/crossfaas/crossfaas/functions/sleuth"
	"github.com/crossfaas/crossfaas/functions/sleuth/twilio"
)

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
		{name: "encoded dot segments out of the bucket", location: s3 + "/media.twiliocdn.com/%2e%2e/evil-bucket/x.jpg", wantErr: sleuth.ErrMediaHost},
		{name: "encoded upper-case dot segments", location: s3 + "/media.twiliocdn.com/%2E%2E/evil-bucket/x.jpg", wantErr: sleuth.ErrMediaHost},
		// *.twiliocdn.com is a subdomain, not a suffix of the name.
		{name: "look-alike host suffix", location: "https://eviltwiliocdn.com/" + accountSID + "/0123abcd", wantErr: sleuth.ErrMediaHost},
		{name: "look-alike host prefix", location: "https://mms.twiliocdn.com.evil.example/x.jpg", wantErr: sleuth.ErrMediaHost},
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
			mediaURL := "https://api.twilio.com" + mediaPath + me("ME0123")
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
