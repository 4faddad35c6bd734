package federation_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/crossfaas/crossfaas/federation"
	"github.com/crossfaas/crossfaas/internal/googleauthfake"
)

// outage is an http.RoundTripper in front of the fakes that counts the
// requests to STS and IAM Credentials and, while down, answers them as an
// overloaded Google does (503) without passing them on; iamDown fails IAM
// Credentials only.
type outage struct {
	sts, iam      string // hosts
	down, iamDown atomic.Bool
	toSTS, toIAM  atomic.Int32
	base          http.RoundTripper
}

func newOutage(g *googleauthfake.Google) *outage {
	return &outage{sts: strings.TrimPrefix(g.STSURL, "http://"), iam: strings.TrimPrefix(g.IAMURL, "http://"), base: http.DefaultTransport}
}

func (o *outage) RoundTrip(r *http.Request) (*http.Response, error) {
	down := o.down.Load()
	switch r.URL.Host {
	case o.sts:
		o.toSTS.Add(1)
	case o.iam:
		o.toIAM.Add(1)
		down = down || o.iamDown.Load()
	}
	if down {
		return &http.Response{
			StatusCode: http.StatusServiceUnavailable,
			Header:     http.Header{"Content-Type": {"application/json"}},
			Body:       io.NopCloser(strings.NewReader(`{"error":"temporarily_unavailable","error_description":"The service is currently unavailable."}`)),
			Request:    r,
		}, nil
	}
	return o.base.RoundTrip(r)
}

// While STS fails, neither concurrent nor later callers hammer it: one
// exchange per pause, the pause doubling up to its cap; once STS is back,
// the first call after the pause gets a token and the pause is over.
func TestFailedExchangesBackOff(t *testing.T) {
	clk := newClock()
	g := startGoogle(t, func(c *googleauthfake.Config) { c.Now = clk.Now })
	net := newOutage(g)
	s := newSource(t, g, func(o *federation.Options) {
		o.Now = clk.Now
		o.Client = &http.Client{Transport: net}
		o.MinBackoff, o.MaxBackoff = time.Second, 8*time.Second
	})
	net.down.Store(true)

	// 30 concurrent callers, then 100 more at the same instant: one
	// exchange.
	var wg sync.WaitGroup
	var failed atomic.Int32
	for range 30 {
		wg.Go(func() {
			if _, err := s.Token(context.Background()); err != nil {
				failed.Add(1)
			}
		})
	}
	wg.Wait()
	for range 100 {
		_, err := s.Token(context.Background())
		var fedErr *federation.Error
		if !errors.As(err, &fedErr) || fedErr.Status != 503 || fedErr.Step != federation.StepTokenExchange {
			t.Fatalf("Token() during the pause = %v, want the exchange's 503 again", err)
		}
		if fedErr.RetryAt.IsZero() || !strings.Contains(err.Error(), "no new exchange before") {
			t.Fatalf("Token() during the pause = %v, want it to say when the next exchange is", err)
		}
	}
	if failed.Load() != 30 || net.toSTS.Load() != 1 {
		t.Fatalf("30 concurrent then 100 sequential calls with STS failing: %d concurrent ones failed, %d requests to STS; want 30, 1", failed.Load(), net.toSTS.Load())
	}

	// The pauses: 1s, 2s, 4s, 8s, 8s (the cap). Just before each ends no
	// request goes out; once it has, one does.
	want := int32(1)
	for _, pause := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 8 * time.Second} {
		clk.Advance(pause - time.Millisecond)
		for range 10 {
			s.Token(context.Background())
		}
		if got := net.toSTS.Load(); got != want {
			t.Fatalf("%v into a %v pause: %d requests to STS, want %d", pause-time.Millisecond, pause, got, want)
		}
		clk.Advance(time.Millisecond)
		for range 10 {
			s.Token(context.Background())
		}
		want++
		if got := net.toSTS.Load(); got != want {
			t.Fatalf("at the end of a %v pause: %d requests to STS, want %d", pause, got, want)
		}
	}
	if n := net.toIAM.Load(); n != 0 {
		t.Errorf("%d requests reached IAM Credentials without a federated token, want none", n)
	}

	// STS is back: the call after the pause recovers, the next ones use the
	// cached token.
	net.down.Store(false)
	clk.Advance(8 * time.Second)
	for i := range 50 {
		if _, err := s.Token(context.Background()); err != nil {
			t.Fatalf("call %d after STS came back: %v", i, err)
		}
	}
	if got := net.toSTS.Load(); got != want+1 || g.Exchanges() != 1 || g.IDTokens() != 1 {
		t.Errorf("after recovery: %d requests to STS (want %d), %d exchanges, %d ID tokens (want 1, 1)", got, want+1, g.Exchanges(), g.IDTokens())
	}
}

// A failing IAM Credentials is paced like STS, and a failure after a
// success starts again from the shortest pause.
func TestBackoffRestartsAfterASuccess(t *testing.T) {
	clk := newClock()
	g := startGoogle(t, func(c *googleauthfake.Config) { c.Now = clk.Now })
	net := newOutage(g)
	s := newSource(t, g, func(o *federation.Options) {
		o.Now = clk.Now
		o.Client = &http.Client{Transport: net}
	})
	calls := func(n int) (failures int) {
		for range n {
			if _, err := s.Token(context.Background()); err != nil {
				failures++
			}
		}
		return failures
	}
	net.iamDown.Store(true)
	for _, pause := range []time.Duration{0, time.Second, 2 * time.Second} {
		clk.Advance(pause)
		if calls(10) != 10 {
			t.Fatal("Token() with IAM Credentials failing succeeded")
		}
	}
	if s, i := net.toSTS.Load(), net.toIAM.Load(); s != 3 || i != 3 {
		t.Fatalf("30 calls over 3 pauses with IAM Credentials failing: %d requests to STS, %d to IAM; want 3, 3", s, i)
	}
	net.iamDown.Store(false)
	clk.Advance(4 * time.Second)
	if calls(10) != 0 {
		t.Fatal("Token() after IAM Credentials came back failed")
	}
	// An hour on the token has expired and IAM Credentials fails again:
	// the pause is the shortest again, not the 8 seconds that would follow.
	clk.Advance(time.Hour)
	net.iamDown.Store(true)
	calls(10)
	clk.Advance(federation.DefaultMinBackoff)
	calls(10)
	if i := net.toIAM.Load(); i != 6 {
		t.Errorf("requests to IAM Credentials = %d, want 6: 3 failures, 1 success, 2 failures a shortest pause apart", i)
	}
}
