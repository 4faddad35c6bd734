package federation

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"runtime"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Token exchange values (RFC 8693), as Google's library sends them.
const (
	grantTypeTokenExchange = "urn:ietf:params:oauth:grant-type:token-exchange"
	tokenTypeAccessToken   = "urn:ietf:params:oauth:token-type:access_token"
	// ScopeCloudPlatform is the scope of the federated token: IAM
	// Credentials requires it of its callers.
	ScopeCloudPlatform = "https://www.googleapis.com/auth/cloud-platform"
)

// maxResponseBody bounds what is read of a token endpoint's answer.
const maxResponseBody = 64 << 10

// maxDescription bounds the service's own words kept in an Error.
const maxDescription = 300

// minSecretLen is the shortest text clean treats as a secret: anything
// shorter (an empty session token) would blank out ordinary words.
const minSecretLen = 8

// Steps of an exchange, as Error.Step names them.
const (
	StepCredentials   = "aws credentials"
	StepSubjectToken  = "subject token"
	StepTokenExchange = "token exchange"
	StepIDToken       = "generateIdToken"
)

// Error is a failed step of the exchange. It never holds a token, a
// subject token or a credential: only the step, the endpoint's host, the
// HTTP status and the service's error code and description.
type Error struct {
	// Step is one of the Step constants.
	Step string
	// Host is the endpoint's host; empty for steps without a request.
	Host string
	// Status is the HTTP status of the answer; 0 when there was none.
	Status int
	// Code and Description are the service's error, e.g. "invalid_grant"
	// and why, or "PERMISSION_DENIED" and the message.
	Code        string
	Description string
	// Err is the underlying failure when the service did not answer (a
	// connection or context error) or the step failed locally.
	Err error
	// RetryAt, when set, is when the Source will next try an exchange:
	// the error is a past failure handed out again during the pause after
	// it, and no request was made for it.
	RetryAt time.Time
}

// Error describes the failure, e.g. "federation: token exchange at
// sts.googleapis.com: HTTP 403 unauthorized_client: The given credential is
// rejected by the attribute condition."
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("federation: ")
	b.WriteString(e.Step)
	if e.Host != "" {
		b.WriteString(" at ")
		b.WriteString(e.Host)
	}
	if e.Status != 0 {
		fmt.Fprintf(&b, ": HTTP %d", e.Status)
	}
	if e.Code != "" {
		b.WriteString(" ")
		b.WriteString(e.Code)
	}
	if e.Description != "" {
		b.WriteString(": ")
		b.WriteString(e.Description)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	if !e.RetryAt.IsZero() {
		b.WriteString(" (no new exchange before ")
		b.WriteString(e.RetryAt.UTC().Format(time.RFC3339))
		b.WriteString(")")
	}
	return b.String()
}

// Unwrap returns the underlying failure.
func (e *Error) Unwrap() error { return e.Err }

// stsResponse is Google STS's answer to a token exchange.
type stsResponse struct {
	AccessToken     string `json:"access_token"`
	IssuedTokenType string `json:"issued_token_type"`
	TokenType       string `json:"token_type"`
	ExpiresIn       int    `json:"expires_in"`
}

// exchangeToken trades a subject token for a federated access token at
// cfg's token_url. secrets are removed from the service's error text, as
// the subject token is.
func exchangeToken(ctx context.Context, client *http.Client, cfg CredentialConfig, subjectToken string, secrets ...string) (string, error) {
	form := url.Values{
		"audience":             {cfg.Audience},
		"grant_type":           {grantTypeTokenExchange},
		"requested_token_type": {tokenTypeAccessToken},
		"scope":                {ScopeCloudPlatform},
		"subject_token":        {subjectToken},
		"subject_token_type":   {cfg.SubjectTokenType},
	}
	body := form.Encode()
	endpoint := cfg.tokenURL()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(body))
	if err != nil {
		return "", &Error{Step: StepTokenExchange, Err: errors.New("token_url is not a valid URL")}
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("x-goog-api-client", apiClientHeader)

	status, answer, err := do(client, req)
	if err != nil {
		return "", &Error{Step: StepTokenExchange, Host: req.URL.Host, Err: err}
	}
	if status != http.StatusOK {
		e := &Error{Step: StepTokenExchange, Host: req.URL.Host, Status: status}
		var oauth struct {
			Error            string `json:"error"`
			ErrorDescription string `json:"error_description"`
		}
		if json.Unmarshal(answer, &oauth) == nil {
			secrets := append([]string{subjectToken}, secrets...)
			e.Code, e.Description = clean(oauth.Error, secrets...), clean(oauth.ErrorDescription, secrets...)
		}
		return "", e
	}
	var resp stsResponse
	if err := json.Unmarshal(answer, &resp); err != nil || resp.AccessToken == "" {
		return "", &Error{Step: StepTokenExchange, Host: req.URL.Host, Status: status, Description: "the answer holds no access_token"}
	}
	if resp.ExpiresIn <= 0 {
		return "", &Error{Step: StepTokenExchange, Host: req.URL.Host, Status: status, Description: "the answer has no valid expires_in"}
	}
	return resp.AccessToken, nil
}

// generateIDToken asks IAM Credentials for an ID token of cfg's service
// account with audience, authenticated by the federated token.
func generateIDToken(ctx context.Context, client *http.Client, cfg CredentialConfig, federated, audience string) (string, error) {
	endpoint, err := cfg.IDTokenURL()
	if err != nil {
		return "", &Error{Step: StepIDToken, Err: err}
	}
	payload, _ := json.Marshal(struct {
		Audience     string `json:"audience"`
		IncludeEmail bool   `json:"includeEmail"`
	}{audience, true}) // cannot fail
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(payload))
	if err != nil {
		return "", &Error{Step: StepIDToken, Err: errors.New("service_account_impersonation_url is not a valid URL")}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+federated)

	status, answer, err := do(client, req)
	if err != nil {
		return "", &Error{Step: StepIDToken, Host: req.URL.Host, Err: err}
	}
	if status != http.StatusOK {
		e := &Error{Step: StepIDToken, Host: req.URL.Host, Status: status}
		var google struct {
			Error struct {
				Message string `json:"message"`
				Status  string `json:"status"`
			} `json:"error"`
		}
		if json.Unmarshal(answer, &google) == nil {
			e.Code, e.Description = clean(google.Error.Status, federated), clean(google.Error.Message, federated)
		}
		return "", e
	}
	var resp struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal(answer, &resp); err != nil || resp.Token == "" {
		return "", &Error{Step: StepIDToken, Host: req.URL.Host, Status: status, Description: "the answer holds no token"}
	}
	return resp.Token, nil
}

// do sends req and returns the status and (bounded) body of the answer.
func do(client *http.Client, req *http.Request) (int, []byte, error) {
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBody))
	if err != nil {
		return 0, nil, fmt.Errorf("read the answer: %w", err)
	}
	return resp.StatusCode, body, nil
}

// clean bounds a service's error text and removes secrets from it, should
// the service ever echo what it was sent: each secret as it is, and as
// URL query and path encoding or the subject token's URL decoding would
// show it.
func clean(s string, secrets ...string) string {
	var forms []string
	for _, secret := range secrets {
		forms = append(forms, secret, url.QueryEscape(secret), url.PathEscape(secret))
		if decoded, err := url.QueryUnescape(secret); err == nil {
			forms = append(forms, decoded)
		}
	}
	// Longest first, so that a secret inside another goes with it.
	slices.SortFunc(forms, func(a, b string) int { return len(b) - len(a) })
	for _, form := range forms {
		if len(form) >= minSecretLen {
			s = strings.ReplaceAll(s, form, redacted)
		}
	}
	s = strings.ToValidUTF8(strings.TrimSpace(s), "?")
	if len(s) <= maxDescription {
		return s
	}
	n := maxDescription
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// apiClientHeader is the x-goog-api-client value: Google's library sends
// the same fields ("google-byoid-sdk source/aws ...") for its metrics.
var apiClientHeader = "gl-go/" + strings.TrimPrefix(runtime.Version(), "go") +
	" crossfaas-federation google-byoid-sdk source/aws sa-impersonation/false config-lifetime/false"
