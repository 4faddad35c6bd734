package federation_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crossfaas/crossfaas/federation"
	"github.com/crossfaas/crossfaas/internal/googleauthfake"
)

// The workload of the tests: the proxy role of account 123456789012, the
// caller service account, and the service the ID tokens are for.
const (
	testRole     = "arn:aws:sts::123456789012:assumed-role/crossfaas-test-proxy"
	testAccount  = "crossfaas-test-caller@test-project-123.iam.gserviceaccount.com"
	testAudience = "https://crossfaas-test-labeler-abc123-uc.a.run.app"
)

// proxyIdentity holds sentinel credentials: tests check they appear in no
// error, log or response.
var proxyIdentity = googleauthfake.AWSIdentity{
	AccessKeyID:     "ASIAFEDERATIONTEST01",
	SecretAccessKey: "sentinel-secret-access-key-7c1e",
	SessionToken:    "sentinel-session-token-4b2d",
	ARN:             testRole + "/crossfaas-test-proxy",
}

// clock is a settable clock for the client and the fakes.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Now()} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// startGoogle starts the fakes for the test workload; edit, if not nil,
// changes their configuration first.
func startGoogle(t testing.TB, edit func(*googleauthfake.Config)) *googleauthfake.Google {
	t.Helper()
	cfg := googleauthfake.Config{
		Identities:     []googleauthfake.AWSIdentity{proxyIdentity},
		AllowedRole:    testRole,
		ServiceAccount: testAccount,
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

// credentialsOf returns an Options.Credentials handing out id's
// credentials.
func credentialsOf(id googleauthfake.AWSIdentity) func(context.Context) (federation.AWSCredentials, error) {
	return func(context.Context) (federation.AWSCredentials, error) {
		return federation.AWSCredentials{AccessKeyID: id.AccessKeyID, SecretAccessKey: id.SecretAccessKey, SessionToken: id.SessionToken}, nil
	}
}

// newSource returns a Source for g signing as the proxy in us-east-1;
// edit, if not nil, changes its options first.
func newSource(t testing.TB, g *googleauthfake.Google, edit func(*federation.Options)) *federation.Source {
	t.Helper()
	opts := federation.Options{
		Config:      g.CredentialConfig(),
		Audience:    testAudience,
		Credentials: credentialsOf(proxyIdentity),
		Region:      "us-east-1",
	}
	if edit != nil {
		edit(&opts)
	}
	s, err := federation.NewSource(opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// sentinels are the secrets of the test identity.
func sentinels() []string {
	return []string{proxyIdentity.SecretAccessKey, proxyIdentity.SessionToken}
}

// assertNoSecret fails the test if text holds a sentinel or one of the
// secrets g saw or made.
func assertNoSecret(t testing.TB, g *googleauthfake.Google, what, text string) {
	t.Helper()
	for _, s := range append(sentinels(), g.Sensitive()...) {
		if s != "" && strings.Contains(text, s) {
			t.Errorf("%s holds a secret (%.12s…): %s", what, s, text)
		}
	}
}

// gate is an http.RoundTripper that holds requests to one host until
// released, and counts those it saw.
type gate struct {
	host    string
	arrived chan struct{}
	release chan struct{}
	base    http.RoundTripper
}

func newGate(rawURL string) *gate {
	host := strings.TrimPrefix(rawURL, "http://")
	return &gate{host: host, arrived: make(chan struct{}, 100), release: make(chan struct{}), base: http.DefaultTransport}
}

func (g *gate) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Host == g.host {
		g.arrived <- struct{}{}
		select {
		case <-g.release:
		case <-r.Context().Done():
			return nil, r.Context().Err()
		}
	}
	return g.base.RoundTrip(r)
}
