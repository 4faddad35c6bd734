package proxy

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crossfaas/crossfaas/federation"
	"github.com/crossfaas/crossfaas/internal/googleauthfake"
)

// The private link of the tests: the proxy's role in account 123456789012
// and the caller service account that alone may invoke the labeler.
const (
	proxyRole     = "arn:aws:sts::123456789012:assumed-role/crossfaas-test-proxy"
	callerAccount = "crossfaas-test-caller@test-project-123.iam.gserviceaccount.com"
)

// lambdaIdentity holds the sentinel role credentials Lambda would give the
// proxy: no log line or response may contain them.
var lambdaIdentity = googleauthfake.AWSIdentity{
	AccessKeyID:     "ASIAPROXYSENTINEL001",
	SecretAccessKey: "proxy-sentinel-secret-9f3a71",
	SessionToken:    "proxy-sentinel-session-2e7b05",
	ARN:             proxyRole + "/crossfaas-test-proxy",
}

// testClock is a settable clock.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// startGoogle starts the fakes of Google's STS, IAM Credentials and issuer
// for the private link; edit, if not nil, changes their configuration.
func startGoogle(t testing.TB, edit func(*googleauthfake.Config)) *googleauthfake.Google {
	t.Helper()
	cfg := googleauthfake.Config{
		Identities:     []googleauthfake.AWSIdentity{lambdaIdentity},
		AllowedRole:    proxyRole,
		ServiceAccount: callerAccount,
	}
	if edit != nil {
		edit(&cfg)
	}
	g, err := googleauthfake.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Close)
	return g
}

// newPrivateLabeler starts a labeler answering reply behind g's Cloud Run
// front, which admits ID tokens of invoker for the labeler's own URL.
func newPrivateLabeler(t testing.TB, g *googleauthfake.Google, invoker string, reply http.HandlerFunc) *fakeLabeler {
	t.Helper()
	return newFakeLabelerBehind(t, func(url string, next http.Handler) http.Handler {
		return g.Front(url, invoker, next)
	}, reply)
}

// newPrivateHandler returns a Handler for the labeler at labelerURL that
// authenticates through g with the sentinel role credentials; edit, if not
// nil, changes the token source's options.
func newPrivateHandler(t testing.TB, g *googleauthfake.Google, labelerURL string, logs io.Writer, edit func(*federation.Options)) *Handler {
	t.Helper()
	u, err := ParseLabelerURL(labelerURL)
	if err != nil {
		t.Fatal(err)
	}
	opts := federation.Options{
		Config:   g.CredentialConfig(),
		Audience: Audience(u),
		Credentials: func(context.Context) (federation.AWSCredentials, error) {
			return federation.AWSCredentials{AccessKeyID: lambdaIdentity.AccessKeyID, SecretAccessKey: lambdaIdentity.SecretAccessKey, SessionToken: lambdaIdentity.SessionToken}, nil
		},
		Region: "us-east-1",
		Client: NewClient(),
	}
	if edit != nil {
		edit(&opts)
	}
	tokens, err := federation.NewSource(opts)
	if err != nil {
		t.Fatal(err)
	}
	var logger *slog.Logger
	if logs != nil {
		logger = slog.New(slog.NewJSONHandler(logs, nil))
	}
	return New(Config{LabelerURL: u}, NewAuthenticatedClient(tokens), logger)
}

// assertNoSecret fails the test if text holds a role credential or a token
// or signature g saw or made.
func assertNoSecret(t testing.TB, g *googleauthfake.Google, what, text string) {
	t.Helper()
	for _, s := range append([]string{lambdaIdentity.SecretAccessKey, lambdaIdentity.SessionToken}, g.Sensitive()...) {
		if s != "" && strings.Contains(text, s) {
			t.Errorf("%s holds a secret (%.12s…): %.300s", what, s, text)
		}
	}
}

func TestPrivateLabelerTwoHundredCallsOneExchange(t *testing.T) {
	g := startGoogle(t, nil)
	labeler := newPrivateLabeler(t, g, callerAccount, jsonReply(200, labelsJSON))
	var logs bytes.Buffer
	h := newPrivateHandler(t, g, labeler.URL, &logs, nil)
	var bodies strings.Builder
	for i := range 200 {
		resp := handle(t, h, detect("imageUri=gs://b/o.jpg"))
		if resp.StatusCode != 200 || resp.Body != labelsJSON {
			t.Fatalf("call %d: %d %s (front: %v)", i, resp.StatusCode, resp.Body, g.Rejections())
		}
		bodies.WriteString(resp.Body)
	}
	if n := g.Exchanges(); n != 1 {
		t.Errorf("200 calls made %d token exchanges, want 1", n)
	}
	if n := len(labeler.calls()); n != 200 {
		t.Errorf("the labeler served %d calls, want 200", n)
	}
	if n := labeler.newConn.Load(); n != 1 {
		t.Errorf("200 calls opened %d connections to the labeler, want 1", n)
	}
	assertNoSecret(t, g, "the logs", logs.String())
	assertNoSecret(t, g, "the responses", bodies.String())
}

func TestPrivateLabelerTokenNearExpiryRefreshedOnceUnderConcurrentCalls(t *testing.T) {
	clk := &testClock{now: time.Now()}
	g := startGoogle(t, func(c *googleauthfake.Config) { c.Now = clk.Now })
	labeler := newPrivateLabeler(t, g, callerAccount, jsonReply(200, labelsJSON))
	h := newPrivateHandler(t, g, labeler.URL, nil, func(o *federation.Options) { o.Now = clk.Now })
	if resp := handle(t, h, detect("")); resp.StatusCode != 200 {
		t.Fatalf("first call: %d %s", resp.StatusCode, resp.Body)
	}
	clk.Advance(56 * time.Minute) // four minutes left: refresh due

	const callers = 20
	statuses := make([]int, callers)
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			resp, _ := h.Handle(ctx, detect("imageUri=gs://b/o.jpg"))
			statuses[i] = resp.StatusCode
		})
	}
	wg.Wait()
	for i, s := range statuses {
		if s != 200 {
			t.Errorf("concurrent call %d: status %d, want 200", i, s)
		}
	}
	// The refresh runs in the background; once it is done, more calls use
	// its token.
	for deadline := time.Now().Add(20 * time.Second); g.IDTokens() < 2; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the refresh never finished")
		}
	}
	for range callers {
		if resp := handle(t, h, detect("")); resp.StatusCode != 200 {
			t.Fatalf("call after the refresh: %d %s", resp.StatusCode, resp.Body)
		}
	}
	if n := g.Exchanges(); n != 2 {
		t.Errorf("token exchanges = %d, want 2: the first and one refresh shared by %d callers", n, callers)
	}
}

// An expired token is refused at the labeler with 401; the proxy drops it,
// gets a new one and retries once, so the caller never sees it. The token
// is fresh to the proxy and expired to Google because the Lambda's clock is
// ten minutes behind (AWS accepts signatures with up to 15).
func TestPrivateLabelerExpiredTokenIsRefusedThenReplaced(t *testing.T) {
	lambdaClock := &testClock{now: time.Now()}
	googleClock := &testClock{now: lambdaClock.Now().Add(10 * time.Minute)}
	g := startGoogle(t, func(c *googleauthfake.Config) { c.Now = googleClock.Now })
	labeler := newPrivateLabeler(t, g, callerAccount, jsonReply(200, labelsJSON))
	h := newPrivateHandler(t, g, labeler.URL, nil, func(o *federation.Options) { o.Now = lambdaClock.Now })
	if resp := handle(t, h, detect("")); resp.StatusCode != 200 {
		t.Fatalf("first call: %d %s", resp.StatusCode, resp.Body)
	}
	// 62 minutes on: the token has 8 minutes left by the Lambda's clock
	// (no refresh due), and expired 2 minutes ago by Google's.
	lambdaClock.Advance(62 * time.Minute)
	googleClock.Advance(62 * time.Minute)
	resp := handle(t, h, detect(""))
	if resp.StatusCode != 200 {
		t.Fatalf("call with an expired token: %d %s, want 200 after one retry", resp.StatusCode, resp.Body)
	}
	rejections := g.Rejections()
	if len(rejections) != 1 || !strings.HasPrefix(rejections[0], "401 token: expired") {
		t.Errorf("front rejections = %q, want one 401 for the expired token", rejections)
	}
	if g.Exchanges() != 2 || len(labeler.calls()) != 2 {
		t.Errorf("exchanges, labeler calls = %d, %d; want 2, 2", g.Exchanges(), len(labeler.calls()))
	}
}

func TestPrivateLabelerFailuresAre502JSON(t *testing.T) {
	tests := []struct {
		name           string
		invoker        string // the account the labeler admits; "" means the caller account
		source         func(*federation.Options)
		stopSTS        bool
		wantStatus     int
		wantError      string
		wantExchanges  int
		wantRejections []string // prefixes of the front's reasons
	}{
		{
			name: "sts down", stopSTS: true,
			wantStatus: 502, wantError: "Security Token Service did not grant the exchange (unreachable)",
		},
		{
			name: "wrong aws secret",
			source: func(o *federation.Options) {
				o.Credentials = func(context.Context) (federation.AWSCredentials, error) {
					return federation.AWSCredentials{AccessKeyID: lambdaIdentity.AccessKeyID, SecretAccessKey: "wrong", SessionToken: lambdaIdentity.SessionToken}, nil
				}
			},
			wantStatus: 502, wantError: "Security Token Service did not grant the exchange (HTTP 400)",
		},
		{
			name: "another service account",
			source: func(o *federation.Options) {
				o.Config.ServiceAccountImpersonationURL = strings.Replace(o.Config.ServiceAccountImpersonationURL, "crossfaas-test-caller", "crossfaas-test-intruder", 1)
			},
			wantStatus: 502, wantError: "IAM Credentials API did not issue an ID token (HTTP 403)", wantExchanges: 1,
		},
		{
			name:       "token for another audience",
			source:     func(o *federation.Options) { o.Audience = "https://another-service-xyz-uc.a.run.app" },
			wantStatus: 502, wantError: "refused the proxy's identity (HTTP 401)", wantExchanges: 2,
			wantRejections: []string{"401 token audience", "401 token audience"},
		},
		{
			name: "caller is not the invoker", invoker: "someone-else@test-project-123.iam.gserviceaccount.com",
			wantStatus: 502, wantError: "refused the proxy's identity (HTTP 403)", wantExchanges: 1,
			wantRejections: []string{"403 "},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := startGoogle(t, nil)
			invoker := callerAccount
			if tt.invoker != "" {
				invoker = tt.invoker
			}
			labeler := newPrivateLabeler(t, g, invoker, jsonReply(200, labelsJSON))
			var logs bytes.Buffer
			h := newPrivateHandler(t, g, labeler.URL, &logs, tt.source)
			if tt.stopSTS {
				g.StopSTS()
			}
			resp := handle(t, h, detect("imageUri=gs://b/o.jpg"))
			if resp.StatusCode != tt.wantStatus {
				t.Errorf("status = %d (%s), want %d", resp.StatusCode, resp.Body, tt.wantStatus)
			}
			if msg := errorMessage(t, resp); !strings.Contains(msg, tt.wantError) {
				t.Errorf("error = %q, want it to contain %q", msg, tt.wantError)
			}
			if n := len(labeler.calls()); n != 0 {
				t.Errorf("the labeler served %d calls, want none", n)
			}
			if n := g.Exchanges(); n != tt.wantExchanges {
				t.Errorf("token exchanges = %d, want %d", n, tt.wantExchanges)
			}
			rejections := g.Rejections()
			if len(rejections) != len(tt.wantRejections) {
				t.Errorf("front rejections = %q, want %d", rejections, len(tt.wantRejections))
			}
			for i := range min(len(rejections), len(tt.wantRejections)) {
				if !strings.HasPrefix(rejections[i], tt.wantRejections[i]) {
					t.Errorf("front rejection %d = %q, want %q…", i, rejections[i], tt.wantRejections[i])
				}
			}
			if !strings.Contains(logs.String(), `"status":502`) || !strings.Contains(logs.String(), `"reason":`) {
				t.Errorf("log = %s, want the 502 and its reason", &logs)
			}
			assertNoSecret(t, g, "the log", logs.String())
			assertNoSecret(t, g, "the response", resp.Body)
		})
	}
}

// A token fetch that outlives the invocation's budget ends in 504, like a
// slow labeler.
func TestPrivateLabelerSlowTokenExchangeIs504(t *testing.T) {
	g := startGoogle(t, nil)
	labeler := newPrivateLabeler(t, g, callerAccount, jsonReply(200, labelsJSON))
	release := make(chan struct{})
	defer close(release)
	slow := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		select {
		case <-r.Context().Done():
			return nil, r.Context().Err()
		case <-release:
			return http.DefaultTransport.RoundTrip(r)
		}
	})
	h := newPrivateHandler(t, g, labeler.URL, nil, func(o *federation.Options) { o.Client = &http.Client{Transport: slow} })
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	resp, err := h.Handle(ctx, detect(""))
	if err != nil || resp.StatusCode != http.StatusGatewayTimeout {
		t.Fatalf("Handle = %d %s, %v; want 504", resp.StatusCode, resp.Body, err)
	}
	if msg := errorMessage(t, resp); !strings.Contains(msg, "identity token") {
		t.Errorf("error = %q, want it to name the identity token", msg)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
