package googleauthfake

import (
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/crossfaas/crossfaas/federation"
)

// serveGenerateIDToken is IAM Credentials'
// projects.serviceAccounts.generateIdToken.
func (g *Google) serveGenerateIDToken(w http.ResponseWriter, r *http.Request) {
	email, ok := strings.CutSuffix(r.PathValue("resource"), ":generateIdToken")
	if !ok {
		writeGoogleError(w, http.StatusNotFound, "NOT_FOUND", "The requested URL was not found on this server.")
		return
	}
	bearer, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || bearer == "" {
		writeGoogleError(w, http.StatusUnauthorized, "UNAUTHENTICATED",
			"Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other valid authentication credential.")
		return
	}
	g.mu.Lock()
	tok, known := g.federated[bearer]
	g.mu.Unlock()
	if !known || !g.cfg.Now().Before(tok.expires) {
		writeGoogleError(w, http.StatusUnauthorized, "UNAUTHENTICATED",
			"Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.")
		return
	}
	if !slices.Contains(tok.scopes, federation.ScopeCloudPlatform) {
		writeGoogleError(w, http.StatusForbidden, "PERMISSION_DENIED", "Request had insufficient authentication scopes.")
		return
	}
	if r.PathValue("project") != "-" {
		writeGoogleError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "The project of a service account resource name must be the wildcard '-'.")
		return
	}
	// roles/iam.workloadIdentityUser on the account, granted to the
	// principal set of one role.
	if email != g.cfg.ServiceAccount || !g.allowedRole(tok.role) {
		writeGoogleError(w, http.StatusForbidden, "PERMISSION_DENIED",
			"Permission 'iam.serviceAccounts.getOpenIdToken' denied on resource (or it may not exist).")
		return
	}
	var body struct {
		Audience     string `json:"audience"`
		IncludeEmail bool   `json:"includeEmail"`
	}
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	raw, err := io.ReadAll(r.Body)
	var fields map[string]any
	if err != nil || json.Unmarshal(raw, &fields) != nil || json.Unmarshal(raw, &body) != nil {
		writeGoogleError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "Invalid JSON payload received.")
		return
	}
	g.record(Request{Service: "iamcredentials", Method: r.Method, Path: r.URL.Path, ContentType: r.Header.Get("Content-Type"), Body: fields})
	if body.Audience == "" {
		writeGoogleError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "The audience is required.")
		return
	}

	now := g.cfg.Now()
	claims := map[string]any{
		"aud": body.Audience,
		"azp": uniqueID(email),
		"exp": now.Add(g.cfg.Lifetime).Unix(),
		"iat": now.Unix(),
		"iss": Issuer,
		"sub": uniqueID(email),
	}
	if body.IncludeEmail {
		claims["email"] = email
		claims["email_verified"] = true
	}
	token := g.Mint(claims)
	g.mu.Lock()
	g.idTokens++
	g.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]string{"token": token})
}

// uniqueID is a stable stand-in for a service account's numeric id.
func uniqueID(email string) string {
	sum := hexSHA256(email)
	digits := make([]byte, 21)
	digits[0] = '1'
	for i := 1; i < len(digits); i++ {
		digits[i] = '0' + sum[i]%10
	}
	return string(digits)
}

// writeGoogleError writes an error as Google APIs do.
func writeGoogleError(w http.ResponseWriter, code int, status, message string) {
	writeJSON(w, code, map[string]any{"error": map[string]any{"code": code, "message": message, "status": status}})
}
