package federation_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/crossfaas/crossfaas/federation"
	"github.com/crossfaas/crossfaas/internal/googleauthfake"
)

// service is a private service behind g's front that answers firstStatus
// to its first request that passes (0: no special first answer) and 200
// with the request body after.
type service struct {
	*httptest.Server
	passed atomic.Int32
}

func newService(t *testing.T, g *googleauthfake.Google, firstStatus int) *service {
	t.Helper()
	s := &service{}
	s.Server = httptest.NewServer(g.Front(testAudience, testAccount, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.passed.Add(1) == 1 && firstStatus != 0 {
			w.WriteHeader(firstStatus)
			return
		}
		io.Copy(w, r.Body)
	})))
	t.Cleanup(s.Close)
	return s
}

func TestTransportAuthenticates(t *testing.T) {
	g := startGoogle(t, nil)
	svc := newService(t, g, 0)
	client := &http.Client{Transport: &federation.Transport{Source: newSource(t, g, nil)}}
	for range 3 {
		resp, err := client.Post(svc.URL, "text/plain", strings.NewReader("image bytes"))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(body) != "image bytes" {
			t.Fatalf("POST through the transport = %d %q, want 200 echoing the body (front: %v)", resp.StatusCode, body, g.Rejections())
		}
	}
	if g.Exchanges() != 1 {
		t.Errorf("3 requests made %d exchanges, want 1", g.Exchanges())
	}
}

func TestTransportRetriesOnceOn401(t *testing.T) {
	tests := []struct {
		name          string
		first         int
		wantStatus    int
		wantExchanges int
		wantPassed    int32
	}{
		{name: "401 gets a new token and one retry", first: 401, wantStatus: 200, wantExchanges: 2, wantPassed: 2},
		{name: "403 is not retried", first: 403, wantStatus: 403, wantExchanges: 1, wantPassed: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := startGoogle(t, nil)
			svc := newService(t, g, tt.first)
			client := &http.Client{Transport: &federation.Transport{Source: newSource(t, g, nil)}}
			resp, err := client.Post(svc.URL, "text/plain", strings.NewReader("replayed body"))
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.wantStatus || g.Exchanges() != tt.wantExchanges || svc.passed.Load() != tt.wantPassed {
				t.Errorf("status %d, exchanges %d, requests %d; want %d, %d, %d",
					resp.StatusCode, g.Exchanges(), svc.passed.Load(), tt.wantStatus, tt.wantExchanges, tt.wantPassed)
			}
			if tt.wantStatus == 200 && string(body) != "replayed body" {
				t.Errorf("the retried request's body = %q, want it replayed", body)
			}
		})
	}
}

func TestTransportFailsWithTheExchangeError(t *testing.T) {
	g := startGoogle(t, nil)
	svc := newService(t, g, 0)
	g.StopSTS()
	client := &http.Client{Transport: &federation.Transport{Source: newSource(t, g, nil)}}
	_, err := client.Get(svc.URL)
	var fedErr *federation.Error
	if !errors.As(err, &fedErr) || fedErr.Step != federation.StepTokenExchange {
		t.Fatalf("GET with STS down: error = %v, want a *federation.Error of the token exchange", err)
	}
	if svc.passed.Load() != 0 || len(g.Rejections()) != 0 {
		t.Error("the request reached the service without a token")
	}
}

// BenchmarkTransportCachedToken measures what the token costs a request
// once it is cached: the Source lookup, the request clone and the header,
// through Transport to a base that answers at once, against the same base
// called directly. Reported: ns/op of each and their difference, and the
// exchanges made (1 for the whole run).
//
//	go test -run '^$' -bench TransportCachedToken ./federation/
func BenchmarkTransportCachedToken(b *testing.B) {
	g := startGoogle(b, nil)
	src := newSource(b, g, nil)
	ok := &http.Response{StatusCode: 200, Body: http.NoBody}
	base := roundTripper(func(*http.Request) (*http.Response, error) { return ok, nil })
	authed := &federation.Transport{Source: src, Base: base}
	req, _ := http.NewRequest(http.MethodGet, testAudience+"/?imageUri=gs%3A%2F%2Fb%2Fo.jpg", nil)
	if _, err := authed.RoundTrip(req); err != nil {
		b.Fatal(err)
	}
	measure := func(rt http.RoundTripper) float64 {
		start := time.Now()
		for range b.N {
			if _, err := rt.RoundTrip(req); err != nil {
				b.Fatal(err)
			}
		}
		return float64(time.Since(start).Nanoseconds()) / float64(b.N)
	}
	b.ResetTimer()
	direct := measure(base)
	withToken := measure(authed)
	b.ReportMetric(direct, "direct-ns/op")
	b.ReportMetric(withToken, "token-ns/op")
	b.ReportMetric(withToken-direct, "token-overhead-ns/op")
	b.ReportMetric(float64(g.Exchanges()), "exchanges")
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
