package dev

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// authorize gives req a valid ID token for sys's labeler, as the proxy
// would send it, when the labeler is private.
func authorize(t testing.TB, sys *System, req *http.Request) {
	t.Helper()
	if sys.link == nil {
		return
	}
	g := sys.link.Google()
	req.Header.Set("Authorization", "Bearer "+g.Mint(g.Claims(sys.LabelerURL)))
}

// countedLabeler wraps the labeler's handler to count the requests that
// reach it.
func countedLabeler(reached *atomic.Int32) func(*engines) {
	return func(e *engines) {
		inner := e.labeler
		e.labeler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			reached.Add(1)
			inner.ServeHTTP(w, r)
		})
	}
}

func TestLabelerIsPrivateByDefault(t *testing.T) {
	var reached atomic.Int32
	sys := start(t, func(o *Options) { o.editEngines = countedLabeler(&reached) })
	if sys.link == nil {
		t.Fatal("the local system has no private link by default")
	}
	g := sys.link.Google()
	claims := func(edit func(map[string]any)) string {
		c := g.Claims(sys.LabelerURL)
		edit(c)
		return g.Mint(c)
	}
	tests := []struct {
		name  string
		token string // "" sends no Authorization header
		want  int
	}{
		{name: "no token", want: http.StatusForbidden},
		{name: "expired token", token: claims(func(c map[string]any) { c["exp"] = time.Now().Add(-time.Minute).Unix() }), want: http.StatusUnauthorized},
		{name: "token for another audience", token: claims(func(c map[string]any) { c["aud"] = "http://127.0.0.1:1" }), want: http.StatusUnauthorized},
		{name: "token of another account", token: claims(func(c map[string]any) { c["email"] = "someone@example.com" }), want: http.StatusForbidden},
		{name: "valid token", token: claims(func(map[string]any) {}), want: http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := reached.Load()
			req, _ := http.NewRequest(http.MethodGet, sys.LabelerURL+"/", nil)
			if tt.token != "" {
				req.Header.Set("Authorization", "Bearer "+tt.token)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Errorf("GET labeler = %d %s, want %d", resp.StatusCode, body, tt.want)
			}
			if got := reached.Load() - before; tt.want != http.StatusOK && got != 0 {
				t.Errorf("a refused request reached the labeler (%d times)", got)
			}
		})
	}

	// The proxy gets its tokens through the local chain: one exchange for
	// many calls.
	for i := range 20 {
		resp, err := http.Get(sys.GatewayURL + "/detect")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /detect #%d = %d %s, want 200 through the private link (front: %v)", i, resp.StatusCode, body, g.Rejections())
		}
	}
	if n := g.Exchanges(); n != 1 {
		t.Errorf("20 calls through the proxy made %d token exchanges, want 1", n)
	}

	var banner bytes.Buffer
	sys.Banner(&banner)
	if !strings.Contains(banner.String(), "The labeler is private") || !strings.Contains(banner.String(), "--labeler-access public") {
		t.Errorf("banner does not explain the private labeler:\n%s", &banner)
	}
}

func TestLabelerAccessPublic(t *testing.T) {
	sys := start(t, func(o *Options) { o.LabelerAccess = LabelerPublic })
	if sys.link != nil {
		t.Fatal("a public labeler has a private link")
	}
	checkLabeled(t, mustRequest(t, sys.LabelerURL+"/"))
	checkLabeled(t, mustRequest(t, sys.GatewayURL+"/detect"))
	var banner bytes.Buffer
	sys.Banner(&banner)
	if !strings.Contains(banner.String(), "The labeler is public") {
		t.Errorf("banner does not say the labeler is public:\n%s", &banner)
	}
}

func TestLabelerAccessRejectsOtherValues(t *testing.T) {
	_, err := Run(context.Background(), Options{Port: -1, DataDir: t.TempDir(), Logger: testLogger(t), LabelerAccess: "open"})
	if err == nil || !strings.Contains(err.Error(), `labeler access "open"`) {
		t.Errorf("Run with LabelerAccess open = %v, want an error naming it", err)
	}
}

func mustRequest(t testing.TB, u string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}
