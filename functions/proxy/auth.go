package proxy

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/crossfaas/crossfaas/federation"
)

// EnvCredentialConfig is the environment variable holding the credential
// configuration (Google's external account JSON for AWS, which holds no
// secret) through which the proxy authenticates to a private labeler. The
// stack sets it unless crossfaas:labelerAccess is public; without it the
// proxy calls the labeler without credentials.
const EnvCredentialConfig = "LABELER_CREDENTIAL_CONFIG"

// credentialConfigFromEnv reads EnvCredentialConfig: nil when it is unset
// or empty, an error naming the variable when it is not a valid
// configuration.
func credentialConfigFromEnv() (*federation.CredentialConfig, error) {
	raw := strings.TrimSpace(os.Getenv(EnvCredentialConfig))
	if raw == "" {
		return nil, nil
	}
	cfg, err := federation.ParseCredentialConfig([]byte(raw))
	if err != nil {
		return nil, fmt.Errorf("proxy config: %s: %w", EnvCredentialConfig, err)
	}
	return &cfg, nil
}

// Audience returns the audience of the proxy's ID tokens for the labeler
// at u: its URL without query or fragment, which is what Cloud Run (and the
// cloudfunctions.net URL of a 2nd gen function) accepts as aud.
func Audience(u *url.URL) string {
	return federation.AudienceOf(u)
}

// ClientFor returns the HTTP client for cfg's labeler: NewClient() for a
// public labeler (cfg.Credentials nil), or NewAuthenticatedClient of a
// federation.Source for cfg.Credentials that signs with the Lambda's role
// credentials (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN)
// for its region (AWS_REGION). It makes no request: the first labeler call
// fetches the first token.
func ClientFor(cfg Config) (*http.Client, error) {
	if cfg.Credentials == nil {
		return NewClient(), nil
	}
	if cfg.LabelerURL == nil {
		return nil, errors.New("proxy config: a credential configuration needs a labeler URL")
	}
	tokens, err := federation.NewSource(federation.Options{
		Config:   *cfg.Credentials,
		Audience: Audience(cfg.LabelerURL),
		// Google's endpoints get a pool of their own, kept apart from the
		// labeler's connections.
		Client: NewClient(),
	})
	if err != nil {
		return nil, fmt.Errorf("proxy config: %s: %w", EnvCredentialConfig, err)
	}
	return NewAuthenticatedClient(tokens), nil
}

// NewAuthenticatedClient returns a client like NewClient's whose requests
// carry an ID token from tokens ("Authorization: Bearer ..."), as a caller of
// a private Cloud Run service must; see federation.Transport.
func NewAuthenticatedClient(tokens *federation.Source) *http.Client {
	return federation.AuthenticatedClient(NewClient(), tokens)
}

// identityFailure words a failed token fetch: 504 when it ran out of the
// invocation's time, 502 otherwise. The caller learns which step failed;
// the log line gets the service's own words (never a token or credential).
func identityFailure(callCtx context.Context, fedErr *federation.Error) outcome {
	reason := "identity token: " + fedErr.Error()
	if federation.IsTimeout(fedErr) || errors.Is(callCtx.Err(), context.DeadlineExceeded) {
		return errorOutcome(http.StatusGatewayTimeout, "the proxy could not get an identity token for the labeler in time", reason)
	}
	var what string
	switch fedErr.Step {
	case federation.StepCredentials, federation.StepSubjectToken:
		what = "the function's AWS credentials could not be used"
	case federation.StepTokenExchange:
		what = "Google's Security Token Service did not grant the exchange"
	case federation.StepIDToken:
		what = "Google's IAM Credentials API did not issue an ID token"
	default:
		what = "the token exchange failed"
	}
	switch {
	case fedErr.Status != 0:
		what += fmt.Sprintf(" (HTTP %d)", fedErr.Status)
	case fedErr.Err != nil && fedErr.Host != "":
		what += " (unreachable)"
	}
	return errorOutcome(http.StatusBadGateway, "the proxy could not get an identity token for the labeler: "+what, reason)
}
