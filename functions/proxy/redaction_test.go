package proxy

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/crossfaas/crossfaas/federation"
)

// The failure paths of a private labeler leave no credential, session
// token, SigV4 signature or token in the log or the answer, even when
// Google's STS repeats the signed request in its error (as a proxy in
// front of it, or a future message format, could).
func TestPrivateLabelerFailureLogsHoldNoSecrets(t *testing.T) {
	g := startGoogle(t, nil)
	labeler := newPrivateLabeler(t, g, callerAccount, jsonReply(200, labelsJSON))
	var signatures []string
	echoing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		decoded, _ := url.QueryUnescape(r.PostForm.Get("subject_token"))
		_, sig, _ := strings.Cut(decoded, "Signature=")
		sig, _, _ = strings.Cut(sig, `"`)
		_, token, _ := strings.Cut(decoded, `"X-Amz-Security-Token","value":"`)
		token, _, _ = strings.Cut(token, `"`)
		signatures = append(signatures, sig)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusForbidden)
		json.NewEncoder(w).Encode(map[string]string{"error": "access_denied",
			"error_description": "refused session token " + token + " with signature " + sig + " in " + decoded})
	}))
	defer echoing.Close()

	var logs bytes.Buffer
	h := newPrivateHandler(t, g, labeler.URL, &logs, func(o *federation.Options) { o.Config.TokenURL = echoing.URL + "/v1/token" })
	var answers strings.Builder
	for range 3 { // the exchange's failure, then the same failure during the pause after it
		resp := handle(t, h, detect("imageUri=gs://b/o.jpg"))
		if resp.StatusCode != http.StatusBadGateway {
			t.Fatalf("status = %d (%s), want 502", resp.StatusCode, resp.Body)
		}
		answers.WriteString(resp.Body)
	}
	if len(signatures) != 1 || len(signatures[0]) != 64 {
		t.Fatalf("STS saw signatures %q, want one exchange, then the pause", signatures)
	}
	if !strings.Contains(logs.String(), "access_denied") || !strings.Contains(logs.String(), "[redacted]") {
		t.Errorf("log = %s, want STS's words with the secrets redacted", &logs)
	}
	secrets := []string{lambdaIdentity.SecretAccessKey, lambdaIdentity.SessionToken, signatures[0]}
	for what, text := range map[string]string{"the log": logs.String(), "the answers": answers.String()} {
		for _, s := range secrets {
			if strings.Contains(text, s) {
				t.Errorf("%s holds a secret (%.12s…): %.400s", what, s, text)
			}
		}
		assertNoSecret(t, g, what, text)
	}
}

// A private labeler's URL must be https (or loopback): its ID tokens never
// cross a network in clear, and the proxy refuses to start otherwise.
func TestClientForRefusesPlainHTTPToAPrivateLabeler(t *testing.T) {
	g := startGoogle(t, nil)
	creds := g.CredentialConfig()
	t.Setenv("AWS_REGION", "us-east-1")
	for _, raw := range []string{"http://labeler-abc-uc.a.run.app", "http://192.0.2.10:8080/"} {
		u, err := ParseLabelerURL(raw)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ClientFor(Config{LabelerURL: u, Credentials: &creds}); err == nil || !strings.Contains(err.Error(), "use https") {
			t.Errorf("ClientFor(private labeler %s) error = %v, want plain http refused", raw, err)
		}
	}
	u, _ := ParseLabelerURL("http://127.0.0.1:8080/")
	if _, err := ClientFor(Config{LabelerURL: u, Credentials: &creds}); err != nil {
		t.Errorf("ClientFor(private labeler on loopback) = %v, want it accepted (crossfaas dev)", err)
	}
}
