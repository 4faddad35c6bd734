package federation_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/crossfaas/crossfaas/federation"
)

// trap is the base transport of these tests: it passes requests to
// loopback hosts and records, without sending, any to another host (so a
// test that fails leaks nothing either).
type trap struct {
	mu      sync.Mutex
	refused []string // "<method> <url> <Authorization>" of each request kept from the network
}

func (tr *trap) RoundTrip(r *http.Request) (*http.Response, error) {
	if ip := net.ParseIP(r.URL.Hostname()); ip == nil || !ip.IsLoopback() {
		tr.mu.Lock()
		tr.refused = append(tr.refused, r.Method+" "+r.URL.String()+" "+r.Header.Get("Authorization"))
		tr.mu.Unlock()
		return nil, fmt.Errorf("trap: %s is not loopback", r.URL.Host)
	}
	return http.DefaultTransport.RoundTrip(r)
}

func (tr *trap) requests() []string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return append([]string(nil), tr.refused...)
}

// echoingSTS is a token endpoint that refuses every exchange and, in its
// error, repeats what it was sent: the subject token decoded (the signed
// request with its X-Amz-Security-Token and signature), the session token
// on its own and the signature alone.
func echoingSTS(t *testing.T) (*httptest.Server, *[]string) {
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		subject := r.PostForm.Get("subject_token")
		decoded, _ := url.QueryUnescape(subject)
		var req struct{ Headers []struct{ Key, Value string } }
		json.Unmarshal([]byte(decoded), &req)
		var token, signature string
		for _, h := range req.Headers {
			switch h.Key {
			case "X-Amz-Security-Token":
				token = h.Value
			case "Authorization":
				_, signature, _ = strings.Cut(h.Value, "Signature=")
			}
		}
		seen = append(seen, token, signature)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		json.NewEncoder(w).Encode(map[string]string{
			"error":             "invalid_grant " + signature,
			"error_description": "token " + token + " signature " + signature + " in " + decoded,
		})
	}))
	t.Cleanup(srv.Close)
	return srv, &seen
}

// No error shows the session token, the secret or the SigV4 signature,
// even when Google's answer repeats them; nor does a log line of it.
func TestErrorsHoldNoSecretsWhenTheServiceEchoesThem(t *testing.T) {
	g := startGoogle(t, nil)
	sts, seen := echoingSTS(t)
	s := newSource(t, g, func(o *federation.Options) { o.Config.TokenURL = sts.URL + "/v1/token" })
	_, err := s.Token(context.Background())
	if err == nil {
		t.Fatal("Token() against a refusing STS succeeded")
	}
	if len(*seen) != 2 || (*seen)[0] != proxyIdentity.SessionToken || len((*seen)[1]) != 64 {
		t.Fatalf("the echoing STS saw token and signature %q, want the session token and a signature", *seen)
	}
	var logs strings.Builder
	slog.New(slog.NewJSONHandler(&logs, nil)).Error("exchange failed", "error", err, "reason", err.Error())
	for _, text := range []string{err.Error(), fmt.Sprintf("%+v %#v", err, err), logs.String()} {
		for _, secret := range append(sentinels(), (*seen)[1], url.QueryEscape(proxyIdentity.SessionToken)) {
			if strings.Contains(text, secret) {
				t.Errorf("the error holds a secret (%.12s…): %s", secret, text)
			}
		}
	}
	if !strings.Contains(err.Error(), "[redacted]") || !strings.Contains(err.Error(), "invalid_grant") {
		t.Errorf("error = %v, want the service's words with the secrets [redacted]", err)
	}
}

// A bearer token never goes over plain http to a host that is not
// loopback: not to such an audience, not to such a URL, not after a
// redirect; nor do the exchange's tokens follow a redirect.
func TestNoTokenInClearOverANetwork(t *testing.T) {
	g := startGoogle(t, nil)

	for _, audience := range []string{"http://labeler.example.com", "http://10.0.0.7:8080/"} {
		if _, err := federation.NewSource(federation.Options{Config: g.CredentialConfig(), Audience: audience, Region: "us-east-1"}); err == nil || !strings.Contains(err.Error(), "use https") {
			t.Errorf("NewSource(audience %q) error = %v, want plain http refused", audience, err)
		}
	}

	net := &trap{}
	src := newSource(t, g, nil)
	client := &http.Client{Transport: &federation.Transport{Source: src, Base: net}}
	// A service on loopback that sends its caller on to plain http
	// elsewhere, as a hijacked or misconfigured front could.
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://198.51.100.7/collect", http.StatusTemporaryRedirect)
	}))
	defer redirector.Close()
	for _, target := range []string{"http://198.51.100.7/detect", redirector.URL + "/detect"} {
		resp, err := client.Get(target)
		if err == nil {
			resp.Body.Close()
			t.Errorf("GET %s through the transport succeeded (%d), want it refused", target, resp.StatusCode)
		} else if !strings.Contains(err.Error(), "not sending an ID token") {
			t.Errorf("GET %s error = %v, want the token withheld", target, err)
		}
	}
	if got := net.requests(); len(got) != 0 {
		t.Errorf("requests that left loopback: %q, want none", got)
	}

	// A token endpoint that redirects: neither the subject token nor the
	// federated token follows.
	for _, step := range []string{"sts", "iam"} {
		moved := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "http://198.51.100.7"+r.URL.Path, http.StatusTemporaryRedirect)
		}))
		defer moved.Close()
		s := newSource(t, g, func(o *federation.Options) {
			o.Client = &http.Client{Transport: net}
			if step == "sts" {
				o.Config.TokenURL = moved.URL + "/v1/token"
			} else {
				o.Config.ServiceAccountImpersonationURL = strings.Replace(o.Config.ServiceAccountImpersonationURL, g.IAMURL, moved.URL, 1)
			}
		})
		if _, err := s.Token(context.Background()); err == nil || !strings.Contains(err.Error(), "refused a redirect") {
			t.Errorf("%s redirecting: Token() error = %v, want the redirect refused", step, err)
		}
		if got := net.requests(); len(got) != 0 {
			t.Errorf("%s redirecting: requests that left loopback: %q, want none", step, got)
		}
	}
}
