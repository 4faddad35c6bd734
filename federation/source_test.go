package federation_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crossfaas/crossfaas/federation"
	"github.com/crossfaas/crossfaas/internal/googleauthfake"
)

// callFront sends one request with tok to a server behind g's front for
// testAudience and testAccount, and returns the status.
func callFront(t *testing.T, g *googleauthfake.Google, tok federation.Token) int {
	t.Helper()
	srv := httptest.NewServer(g.Front(testAudience, testAccount, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" {
			t.Error("the service behind the front got the Authorization header")
		}
		w.WriteHeader(http.StatusNoContent)
	})))
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	tok.SetAuthHeader(req)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestTokenFromTheFakes(t *testing.T) {
	g := startGoogle(t, nil)
	s := newSource(t, g, nil)
	tok, err := s.Token(context.Background())
	if err != nil {
		t.Fatalf("Token() error = %v", err)
	}
	if got := callFront(t, g, tok); got != http.StatusNoContent {
		t.Errorf("the front answered %d to the token (%v), want it to pass", got, g.Rejections())
	}
	if left := time.Until(tok.Expiry()); left < 55*time.Minute || left > time.Hour {
		t.Errorf("token expires in %v, want about an hour (its exp claim)", left)
	}
	if g.Exchanges() != 1 || g.IDTokens() != 1 {
		t.Errorf("exchanges, ID tokens = %d, %d; want 1, 1", g.Exchanges(), g.IDTokens())
	}
}

func TestTwoHundredCallsMakeOneExchange(t *testing.T) {
	g := startGoogle(t, nil)
	s := newSource(t, g, nil)
	for i := range 200 {
		if _, err := s.Token(context.Background()); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if got := g.Exchanges(); got != 1 {
		t.Errorf("200 sequential calls made %d token exchanges, want 1", got)
	}
}

// waitFor waits, polling, until cond holds; it fails the test after a
// bound a loaded machine still meets.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
	}
}

func TestTokenNearExpiryIsRefreshedOnceUnderConcurrentCalls(t *testing.T) {
	clk := newClock()
	g := startGoogle(t, func(c *googleauthfake.Config) { c.Now = clk.Now })
	sts := newGate(g.STSURL)
	s := newSource(t, g, func(o *federation.Options) {
		o.Now = clk.Now
		o.Client = &http.Client{Transport: sts}
	})

	close(sts.release) // the first exchange goes through
	first, err := s.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	sts.release = make(chan struct{})
	<-sts.arrived

	// Four minutes before expiry: inside the five-minute refresh window.
	// While the refresh is held at STS, every caller gets the cached token
	// at once.
	clk.Advance(time.Hour - 4*time.Minute)
	const callers = 20
	var wg sync.WaitGroup
	got := make([]federation.Token, callers)
	errs := make([]error, callers)
	for i := range callers {
		wg.Go(func() {
			// Bounded, so that a caller kept waiting fails instead of hanging.
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			got[i], errs[i] = s.Token(ctx)
		})
	}
	wg.Wait()
	for i := range callers {
		if errs[i] != nil || got[i].Expiry() != first.Expiry() {
			t.Fatalf("caller %d during the refresh = %v, %v; want the cached token at once", i, got[i].Expiry(), errs[i])
		}
	}
	<-sts.arrived // the one refresh, held at STS
	close(sts.release)
	waitFor(t, "the refreshed token", func() bool {
		tok, err := s.Token(context.Background())
		return err == nil && tok.Expiry().After(first.Expiry())
	})

	for i := range callers {
		tok, err := s.Token(context.Background())
		if err != nil || !tok.Expiry().After(first.Expiry()) {
			t.Fatalf("call %d after the refresh = %v, %v; want the refreshed token", i, tok.Expiry(), err)
		}
	}
	if n := g.Exchanges(); n != 2 {
		t.Errorf("token exchanges = %d, want 2: the first and one shared refresh", n)
	}
	if n := len(sts.arrived); n != 0 {
		t.Errorf("%d more requests reached STS, want none", n)
	}
}

// Without a token that has 30 seconds left, callers wait for the new one.
func TestExpiredTokenWaitsForTheRefresh(t *testing.T) {
	clk := newClock()
	g := startGoogle(t, func(c *googleauthfake.Config) { c.Now = clk.Now })
	s := newSource(t, g, func(o *federation.Options) { o.Now = clk.Now })
	first, err := s.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Hour - 10*time.Second) // ten seconds left: too few to hand out
	tok, err := s.Token(context.Background())
	if err != nil || !tok.Expiry().After(first.Expiry()) {
		t.Errorf("Token() with 10 seconds left = %v, %v; want a new token", tok.Expiry(), err)
	}
	if g.Exchanges() != 2 {
		t.Errorf("exchanges = %d, want 2", g.Exchanges())
	}
}

func TestExchangeFailures(t *testing.T) {
	other := proxyIdentity
	other.AccessKeyID, other.ARN = "ASIAOTHERROLE0000001", "arn:aws:sts::123456789012:assumed-role/crossfaas-test-proxy2/crossfaas-test-proxy2"
	tests := []struct {
		name       string
		google     func(*googleauthfake.Config)
		source     func(*federation.Options)
		stopSTS    bool
		wantStep   string
		wantStatus int
		wantText   string
	}{
		{
			name: "wrong aws secret",
			source: func(o *federation.Options) {
				w := proxyIdentity
				w.SecretAccessKey += "x"
				o.Credentials = credentialsOf(w)
			},
			wantStep: federation.StepTokenExchange, wantStatus: 400, wantText: "SignatureDoesNotMatch",
		},
		{
			name: "wrong session token",
			source: func(o *federation.Options) {
				w := proxyIdentity
				w.SessionToken = "stale"
				o.Credentials = credentialsOf(w)
			},
			wantStep: federation.StepTokenExchange, wantStatus: 400, wantText: "InvalidClientTokenId",
		},
		{
			name: "unknown access key",
			source: func(o *federation.Options) {
				w := proxyIdentity
				w.AccessKeyID = "ASIAUNKNOWN000000001"
				o.Credentials = credentialsOf(w)
			},
			wantStep: federation.StepTokenExchange, wantStatus: 400, wantText: "InvalidClientTokenId",
		},
		{
			name:     "signed for another region",
			source:   func(o *federation.Options) { o.Region = "eu-west-1" },
			wantStep: federation.StepTokenExchange, wantStatus: 400, wantText: "us-east-1",
		},
		{
			name:     "another role of the account",
			google:   func(c *googleauthfake.Config) { c.Identities = append(c.Identities, other) },
			source:   func(o *federation.Options) { o.Credentials = credentialsOf(other) },
			wantStep: federation.StepTokenExchange, wantStatus: 403, wantText: "attribute condition",
		},
		{
			name: "another pool provider",
			source: func(o *federation.Options) {
				o.Config.Audience = strings.Replace(o.Config.Audience, "/providers/", "/providers/x", 1)
			},
			wantStep: federation.StepTokenExchange, wantStatus: 400, wantText: "invalid_target",
		},
		{
			name: "another service account",
			source: func(o *federation.Options) {
				o.Config.ServiceAccountImpersonationURL = strings.Replace(o.Config.ServiceAccountImpersonationURL, "crossfaas-test-caller", "crossfaas-test-other", 1)
			},
			wantStep: federation.StepIDToken, wantStatus: 403, wantText: "getOpenIdToken",
		},
		{
			name:     "sts down",
			stopSTS:  true,
			wantStep: federation.StepTokenExchange, wantText: "dial tcp",
		},
		{
			name: "credentials missing",
			source: func(o *federation.Options) {
				o.Credentials = func(context.Context) (federation.AWSCredentials, error) {
					return federation.CredentialsFromEnv(func(string) string { return "" })
				}
			},
			wantStep: federation.StepCredentials, wantText: "AWS_ACCESS_KEY_ID is not set",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := startGoogle(t, tt.google)
			s := newSource(t, g, tt.source)
			if tt.stopSTS {
				g.StopSTS()
			}
			_, err := s.Token(context.Background())
			var fedErr *federation.Error
			if !errors.As(err, &fedErr) {
				t.Fatalf("Token() error = %v, want a *federation.Error", err)
			}
			if fedErr.Step != tt.wantStep || fedErr.Status != tt.wantStatus || !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("Token() error = %v (step %q, status %d); want step %q, status %d, mentioning %q",
					err, fedErr.Step, fedErr.Status, tt.wantStep, tt.wantStatus, tt.wantText)
			}
			assertNoSecret(t, g, "the error", err.Error())
			if n := g.IDTokens(); n != 0 {
				t.Errorf("IAM Credentials issued %d ID tokens, want none", n)
			}
		})
	}
}

func TestSignatureOutsideAWSClockSkewIsRefused(t *testing.T) {
	clk := newClock()
	g := startGoogle(t, nil) // real time
	s := newSource(t, g, func(o *federation.Options) { o.Now = clk.Now })
	clk.Advance(-16 * time.Minute)
	if _, err := s.Token(context.Background()); err == nil || !strings.Contains(err.Error(), "Signature expired") {
		t.Errorf("Token() signed 16 minutes ago: error = %v, want the signature refused as expired", err)
	}
	clk.Advance(2 * time.Minute) // 14 minutes: within AWS's tolerance
	if _, err := s.Token(context.Background()); err != nil {
		t.Errorf("Token() signed 14 minutes ago: error = %v, want a token", err)
	}
}

func TestFailedRefreshHandsOutTheStillValidToken(t *testing.T) {
	clk := newClock()
	g := startGoogle(t, func(c *googleauthfake.Config) { c.Now = clk.Now })
	s := newSource(t, g, func(o *federation.Options) { o.Now = clk.Now })
	first, err := s.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	g.StopSTS()
	clk.Advance(time.Hour - 2*time.Minute) // refresh due, token valid for 2 more minutes
	tok, err := s.Token(context.Background())
	if err != nil || tok.Expiry() != first.Expiry() {
		t.Errorf("Token() with STS down and 2 minutes left = %v, %v; want the cached token", tok.Expiry(), err)
	}
	clk.Advance(100 * time.Second) // 20 seconds left: too little to hand out
	if _, err := s.Token(context.Background()); err == nil {
		t.Error("Token() with STS down and 20 seconds left succeeded, want the exchange's error")
	}
}

func TestTokenWaitsNoLongerThanItsContext(t *testing.T) {
	g := startGoogle(t, nil)
	sts := newGate(g.STSURL)
	s := newSource(t, g, func(o *federation.Options) { o.Client = &http.Client{Transport: sts} })

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { _, err := s.Token(ctx); done <- err }()
	<-sts.arrived
	cancel()
	err := <-done
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Token() after its context ended: error = %v, want context.Canceled", err)
	}
	// The exchange itself goes on, for the next caller.
	close(sts.release)
	if _, err := s.Token(context.Background()); err != nil {
		t.Fatalf("next Token() = %v", err)
	}
	if n := g.Exchanges(); n != 1 {
		t.Errorf("token exchanges = %d, want 1 (the abandoned caller's, reused)", n)
	}
	if !federation.IsTimeout(fmt.Errorf("wrapped: %w", &federation.Error{Err: context.DeadlineExceeded})) {
		t.Error("IsTimeout(deadline exceeded) = false")
	}
}

func TestInvalidate(t *testing.T) {
	g := startGoogle(t, nil)
	s := newSource(t, g, nil)
	tok, err := s.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	s.Invalidate(federation.Token{}) // not the cached one: no effect
	if _, err := s.Token(context.Background()); err != nil || g.Exchanges() != 1 {
		t.Fatalf("after invalidating another token: exchanges = %d (%v), want 1", g.Exchanges(), err)
	}
	s.Invalidate(tok)
	if _, err := s.Token(context.Background()); err != nil || g.Exchanges() != 2 {
		t.Errorf("after invalidating the cached token: exchanges = %d (%v), want 2", g.Exchanges(), err)
	}
}

func TestTokenNeverPrints(t *testing.T) {
	g := startGoogle(t, nil)
	tok, err := newSource(t, g, nil).Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("token", "tok", tok, "struct", struct{ T federation.Token }{tok})
	slog.New(slog.NewTextHandler(&logs, nil)).Info("token", "tok", tok)
	js, _ := json.Marshal(map[string]any{"tok": tok})
	printed := fmt.Sprintf("%v %s %+v %#v %q %x %d", tok, tok, tok, tok, tok, tok, tok) + string(js) + logs.String()
	assertNoSecret(t, g, "the printed token", printed)
	if !strings.Contains(printed, "[redacted]") {
		t.Errorf("printed token = %s, want [redacted]", printed)
	}
}

func TestNewSourceChecksItsOptions(t *testing.T) {
	g := startGoogle(t, nil)
	tests := []struct {
		name string
		edit func(*federation.Options)
		want string
	}{
		{"no audience", func(o *federation.Options) { o.Audience = "" }, "audience"},
		{"relative audience", func(o *federation.Options) { o.Audience = "/labeler" }, "audience"},
		{"bad region", func(o *federation.Options) { o.Region = "us-east-1.evil.example" }, "not an AWS region"},
		{"public plain http token url", func(o *federation.Options) { o.Config.TokenURL = "http://sts.googleapis.com/v1/token" }, "use https"},
		{"no service account", func(o *federation.Options) { o.Config.ServiceAccountImpersonationURL = "" }, "service account to impersonate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := federation.Options{Config: g.CredentialConfig(), Audience: testAudience, Region: "us-east-1"}
			tt.edit(&opts)
			if _, err := federation.NewSource(opts); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("NewSource() error = %v, want one mentioning %q", err, tt.want)
			}
		})
	}
	t.Run("region from the environment", func(t *testing.T) {
		t.Setenv("AWS_REGION", "")
		t.Setenv("AWS_DEFAULT_REGION", "")
		opts := federation.Options{Config: g.CredentialConfig(), Audience: testAudience}
		if _, err := federation.NewSource(opts); err == nil || !strings.Contains(err.Error(), "AWS_REGION") {
			t.Errorf("NewSource() without a region = %v, want an error naming AWS_REGION", err)
		}
		t.Setenv("AWS_DEFAULT_REGION", "eu-west-3")
		if _, err := federation.NewSource(opts); err != nil {
			t.Errorf("NewSource() with AWS_DEFAULT_REGION = %v", err)
		}
	})
}
