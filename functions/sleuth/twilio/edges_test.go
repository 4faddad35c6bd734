package twilio_test

// The edges of what Media accepts, each pinned by a test that fails when
// the rule is loosened: the media URL's exact shape, and the size limit
// written out.

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/crossfaas/crossfaas/functions/sleuth"
	"github.com/crossfaas/crossfaas/functions/sleuth/twilio"
)

// TestFetchRefusesNonMediaURLs: the account's credentials go only to
// <API>/2010-04-01/Accounts/<this SID>/Messages/{SM,MM}.../Media/ME..., so any
// other URL on the API host is refused before a request is made.
func TestFetchRefusesNonMediaURLs(t *testing.T) {
	f := newMediaFakes(t)
	const (
		mm    = "MM0123456789abcdef0123456789abcdef"
		sm    = "SM0123456789abcdef0123456789abcdef"
		me    = "ME0123456789abcdef0123456789abcdef"
		other = "AC00000000000000000000000000000000"
	)
	accounts := "/2010-04-01/Accounts/"
	tests := []struct{ name, path string }{
		{"another account", accounts + other + "/Messages/" + mm + "/Media/" + me},
		{"Messages list", accounts + accountSID + "/Messages.json"},
		{"a message, not its media", accounts + accountSID + "/Messages/" + mm + ".json"},
		{"media sid as the message", accounts + accountSID + "/Messages/" + me + "/Media/" + me},
		{"call sid as the message", accounts + accountSID + "/Messages/CA0123456789abcdef0123456789abcdef/Media/" + me},
		{"message sid as the media", accounts + accountSID + "/Messages/" + mm + "/Media/" + sm},
		{"lower-case sm prefix", accounts + accountSID + "/Messages/sm0123456789abcdef0123456789abcdef/Media/" + me},
		{"short media sid", accounts + accountSID + "/Messages/" + mm + "/Media/ME0123"},
		{"media list", accounts + accountSID + "/Messages/" + mm + "/Media.json"},
		{"encoded dot segments", accounts + accountSID + "/Messages/" + mm + "/Media/%2e%2e/%2e%2e/%2e%2e/Calls.json"},
		{"encoded dot segments in the account", accounts + accountSID + "/%2e%2e/" + other + "/Messages/" + mm + "/Media/" + me},
		{"dot segments", accounts + other + "/../" + accountSID + "/Messages/" + mm + "/Media/" + me},
		{"encoded slash", accounts + accountSID + "/Messages/" + mm + "/Media%2F" + me},
		{"trailing path", accounts + accountSID + "/Messages/" + mm + "/Media/" + me + "/x"},
		{"query", accounts + accountSID + "/Messages/" + mm + "/Media/" + me + "?x=1"},
		{"other API", "/v1/Services"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := f.transport.n.Load()
			_, err := f.media.Fetch(context.Background(), f.api.URL+tt.path, "image/jpeg")
			if !errors.Is(err, sleuth.ErrMediaHost) {
				t.Errorf("Fetch(%q) error = %v, want %v", tt.path, err, sleuth.ErrMediaHost)
			}
			if n := f.transport.n.Load() - before; n != 0 {
				t.Errorf("Fetch(%q) made %d requests, want none", tt.path, n)
			}
		})
	}
	// The same shape with this account's SID is fetched, for a message
	// SID of either kind: Twilio gives MM to some messages with media and
	// SM to others.
	for _, msg := range []string{mm, sm} {
		before := f.transport.n.Load()
		if _, err := f.media.Fetch(context.Background(), f.api.URL+accounts+accountSID+"/Messages/"+msg+"/Media/"+me, "image/jpeg"); errors.Is(err, sleuth.ErrMediaHost) {
			t.Errorf("Fetch(this account's media of %s) error = %v, want no host refusal", msg, err)
		}
		if n := f.transport.n.Load() - before; n == 0 {
			t.Errorf("Fetch(this account's media of %s) made no request", msg)
		}
	}
}

// TestFetchSizeLimit pins the limit itself, written out: exactly 5 MiB is
// accepted and 5 MiB + 1 byte refused, with and without Content-Length.
func TestFetchSizeLimit(t *testing.T) {
	const fiveMiB = 5 * 1024 * 1024
	jpg := encode(t, "jpeg")
	sized := func(n int) []byte { return append(append([]byte(nil), jpg...), make([]byte, n-len(jpg))...) }
	for _, tt := range []struct {
		name          string
		size          int
		contentLength bool
		wantTooLarge  bool
	}{
		{"5 MiB with length", fiveMiB, true, false},
		{"5 MiB chunked", fiveMiB, false, false},
		{"5 MiB + 1 with length", fiveMiB + 1, true, true},
		{"5 MiB + 1 chunked", fiveMiB + 1, false, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			body := sized(tt.size)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "image/jpeg")
				if tt.contentLength {
					w.Header().Set("Content-Length", strconv.Itoa(len(body)))
					w.Write(body)
					return
				}
				for rest := body; len(rest) > 0; { // flushed pieces: no Content-Length
					n := min(len(rest), 1<<20)
					w.Write(rest[:n])
					w.(http.Flusher).Flush()
					rest = rest[n:]
				}
			}))
			t.Cleanup(srv.Close)
			media, err := twilio.NewMedia(twilio.Config{AccountSID: accountSID, AuthToken: authToken, APIURL: srv.URL}, []string{})
			if err != nil {
				t.Fatal(err)
			}
			got, err := media.Fetch(context.Background(), srv.URL+mediaPath+me("sized"), "image/jpeg")
			if tt.wantTooLarge {
				if !errors.Is(err, sleuth.ErrMediaTooLarge) {
					t.Errorf("Fetch(%d bytes) error = %v, want %v", tt.size, err, sleuth.ErrMediaTooLarge)
				}
				return
			}
			if err != nil || len(got) != tt.size {
				t.Errorf("Fetch(%d bytes) = %d bytes, %v, want the whole image", tt.size, len(got), err)
			}
		})
	}
}
