package googleauthfake_test

import (
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/crossfaas/crossfaas/internal/googleauthfake"
)

const (
	serviceURL = "https://crossfaas-dev-labeler-abc123-uc.a.run.app"
	caller     = "crossfaas-dev-caller@test-project-123.iam.gserviceaccount.com"
)

func start(t *testing.T) *googleauthfake.Google {
	t.Helper()
	g, err := googleauthfake.Start(googleauthfake.Config{
		AllowedRole:    "arn:aws:sts::123456789012:assumed-role/crossfaas-dev-proxy",
		ServiceAccount: caller,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Close)
	return g
}

func TestFrontEnforcesWhatCloudRunEnforces(t *testing.T) {
	g := start(t)
	withClaims := func(edit func(map[string]any)) string {
		c := g.Claims(serviceURL)
		edit(c)
		return g.Mint(c)
	}
	valid := g.Mint(g.Claims(serviceURL))
	parts := strings.Split(valid, ".")
	tests := []struct {
		name   string
		header string // the Authorization header; "" sends none
		want   int
	}{
		{name: "valid token", header: "Bearer " + valid, want: http.StatusOK},
		{name: "audience with a trailing slash", header: "Bearer " + withClaims(func(c map[string]any) { c["aud"] = serviceURL + "/" }), want: http.StatusOK},
		{name: "no token", want: http.StatusForbidden},
		{name: "basic auth", header: "Basic dXNlcjpwdw==", want: http.StatusForbidden},
		{name: "empty bearer", header: "Bearer ", want: http.StatusForbidden},
		{name: "expired", header: "Bearer " + withClaims(func(c map[string]any) { c["exp"] = time.Now().Add(-time.Second).Unix() }), want: http.StatusUnauthorized},
		{name: "another audience", header: "Bearer " + withClaims(func(c map[string]any) { c["aud"] = "https://other-service-xyz-uc.a.run.app" }), want: http.StatusUnauthorized},
		{name: "another issuer", header: "Bearer " + withClaims(func(c map[string]any) { c["iss"] = "https://evil.example.com" }), want: http.StatusUnauthorized},
		{name: "another account", header: "Bearer " + withClaims(func(c map[string]any) { c["email"] = "someone@example.com" }), want: http.StatusForbidden},
		{name: "unverified email", header: "Bearer " + withClaims(func(c map[string]any) { c["email_verified"] = false }), want: http.StatusForbidden},
		{name: "no email", header: "Bearer " + withClaims(func(c map[string]any) { delete(c, "email") }), want: http.StatusForbidden},
		{name: "tampered payload", header: "Bearer " + parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"aud":"`+serviceURL+`","email":"`+caller+`","email_verified":true,"exp":9999999999,"iss":"https://accounts.google.com"}`)) + "." + parts[2], want: http.StatusUnauthorized},
		{name: "alg none", header: "Bearer " + base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none"}`)) + "." + parts[1] + ".", want: http.StatusUnauthorized},
		{name: "not a jwt", header: "Bearer ya29.an-access-token", want: http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var reached atomic.Int32
			srv := httptest.NewServer(g.Front(serviceURL, caller, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				reached.Add(1)
				if r.Header.Get("Authorization") != "" {
					t.Error("the service got the Authorization header")
				}
				io.WriteString(w, `{"labels":[]}`)
			})))
			defer srv.Close()
			req, _ := http.NewRequest(http.MethodGet, srv.URL+"/?imageUri=gs://b/o.jpg", nil)
			if tt.header != "" {
				req.Header.Set("Authorization", tt.header)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Errorf("status = %d, want %d (%s)", resp.StatusCode, tt.want, body)
			}
			if tt.want != http.StatusOK {
				if reached.Load() != 0 {
					t.Error("a refused request reached the service")
				}
				if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") || !strings.Contains(string(body), "Error: ") {
					t.Errorf("refusal = %s %q, want Google's HTML error page", ct, body)
				}
			}
		})
	}
}
