// Package googleauthfake serves loopback fakes of the Google services behind
// workload identity federation from AWS, for the tests and for `crossfaas
// dev`:
//
//   - the Security Token Service token exchange (POST /v1/token);
//   - IAM Credentials generateIdToken
//     (POST /v1/projects/-/serviceAccounts/<email>:generateIdToken);
//   - an ID token issuer whose RS256 keys are published as a JWKS
//     (GET /oauth2/v3/certs), as https://www.googleapis.com/oauth2/v3/certs
//     publishes Google's;
//   - the check Cloud Run makes in front of a private service (Front).
//
// Each runs on a server of its own on 127.0.0.1, so one can be stopped
// while the others answer. The fakes check what the real services check:
// the exchange's form, the audience (the pool provider), the subject token's
// AWS Signature Version 4 against the fake AWS secret of its access key for
// the configured region and at the current time (with AWS's 15 minutes of
// skew), the session token, the pool provider's attribute condition (only
// sessions of one role), the federated token's scope and lifetime, the
// workloadIdentityUser binding on the one service account, and the ID
// token's signature, issuer, audience, expiry and email at the front. They
// answer in the services' own error formats (OAuth errors from STS, Google
// API errors from IAM Credentials, HTML pages from the front).
//
// The SigV4 check is written here from AWS's specification, independently
// of the aws-sdk-go-v2 signer the client uses, and Google's own library is
// run against the same fakes in the tests of package federation.
package googleauthfake

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/crossfaas/crossfaas/federation"
)

// Defaults of Config.
const (
	DefaultProjectNumber = "271828182845"
	DefaultPoolID        = "crossfaas-fake-pool"
	DefaultProviderID    = "aws-proxy"
	DefaultAWSRegion     = "us-east-1"
	// DefaultLifetime is the life of federated and ID tokens, as Google's.
	DefaultLifetime = time.Hour
)

// Issuer is the iss claim of the ID tokens, Google's.
const Issuer = "https://accounts.google.com"

// AWSIdentity is an AWS principal the fake knows: its credentials and the
// ARN that AWS STS GetCallerIdentity would answer for them.
type AWSIdentity struct {
	AccessKeyID     string
	SecretAccessKey string
	// SessionToken, when set, must come with the signed request.
	SessionToken string
	// ARN is the caller's ARN, for a Lambda
	// "arn:aws:sts::<account>:assumed-role/<role>/<session>".
	ARN string
}

// Config describes the Google project, pool and grants the fakes play.
type Config struct {
	// ProjectNumber, PoolID and ProviderID name the pool provider, the
	// exchange's audience. Empty means the defaults above.
	ProjectNumber string
	PoolID        string
	ProviderID    string
	// AWSRegion is the region whose STS endpoint subject tokens must be
	// signed for; empty means DefaultAWSRegion.
	AWSRegion string
	// Identities are the AWS principals whose signatures verify.
	Identities []AWSIdentity
	// AllowedRole is the assumed-role ARN, without session
	// ("arn:aws:sts::<account>:assumed-role/<role>"), whose sessions the
	// provider's attribute condition admits and whose principal set holds
	// roles/iam.workloadIdentityUser on ServiceAccount.
	AllowedRole string
	// AllowedRoles are more roles of the same kind, admitted and bound
	// like AllowedRole (the stack admits the proxy's and the upload
	// inspector's).
	AllowedRoles []string
	// ServiceAccount is the email of the account whose ID tokens may be
	// generated.
	ServiceAccount string
	// Now is the clock of every check and token; nil means time.Now.
	Now func() time.Time
	// Lifetime of federated and ID tokens; zero means DefaultLifetime.
	Lifetime time.Duration
	// Wrap, when set, wraps the handler of each server (STS, IAM
	// Credentials, the issuer): a test times the fakes with it.
	Wrap func(http.Handler) http.Handler
}

// Google is a running set of fakes. Its methods are safe for concurrent use.
type Google struct {
	// STSURL, IAMURL and IssuerURL are the roots of the three servers.
	STSURL, IAMURL, IssuerURL string

	cfg     Config
	servers []*http.Server
	sts     *http.Server
	keys    *signingKey

	mu         sync.Mutex
	federated  map[string]federatedToken
	exchanges  int
	idTokens   int
	sensitive  []string // every subject token signature, federated and ID token seen
	subjects   []string // the subject tokens received, in order
	rejections []string // why the front refused requests, in order
	requests   []Request
}

// Request is a request STS or IAM Credentials received, without its
// secrets: a client's requests can be compared with another's.
type Request struct {
	// Service is "sts" or "iamcredentials".
	Service string
	// Method, Path and ContentType are the request's.
	Method, Path, ContentType string
	// Form is an exchange's form without subject_token (see
	// SubjectTokens); Body is generateIdToken's JSON body.
	Form url.Values
	Body map[string]any
}

// federatedToken is what STS knows of an access token it issued.
type federatedToken struct {
	role    string // the principal's attribute.aws_role
	scopes  []string
	expires time.Time
}

// Start starts the three servers on 127.0.0.1 and returns when they
// listen. Close stops them.
func Start(cfg Config) (*Google, error) {
	if cfg.ProjectNumber == "" {
		cfg.ProjectNumber = DefaultProjectNumber
	}
	if cfg.PoolID == "" {
		cfg.PoolID = DefaultPoolID
	}
	if cfg.ProviderID == "" {
		cfg.ProviderID = DefaultProviderID
	}
	if cfg.AWSRegion == "" {
		cfg.AWSRegion = DefaultAWSRegion
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Lifetime <= 0 {
		cfg.Lifetime = DefaultLifetime
	}
	if cfg.ServiceAccount == "" || cfg.AllowedRole == "" {
		return nil, errors.New("googleauthfake: Config.ServiceAccount and Config.AllowedRole are required")
	}
	keys, err := processKey()
	if err != nil {
		return nil, err
	}
	g := &Google{cfg: cfg, keys: keys, federated: map[string]federatedToken{}}

	sts := http.NewServeMux()
	sts.HandleFunc("POST /v1/token", g.serveToken)
	iam := http.NewServeMux()
	iam.HandleFunc("POST /v1/projects/{project}/serviceAccounts/{resource}", g.serveGenerateIDToken)
	issuer := http.NewServeMux()
	issuer.HandleFunc("GET /oauth2/v3/certs", g.serveJWKS)

	urls := make([]string, 3)
	for i, h := range []http.Handler{sts, iam, issuer} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			g.Close()
			return nil, fmt.Errorf("googleauthfake: listen: %w", err)
		}
		if cfg.Wrap != nil {
			h = cfg.Wrap(h)
		}
		srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
		go srv.Serve(ln)
		g.servers = append(g.servers, srv)
		urls[i] = "http://" + ln.Addr().String()
	}
	g.STSURL, g.IAMURL, g.IssuerURL = urls[0], urls[1], urls[2]
	g.sts = g.servers[0]
	return g, nil
}

// allowedRole reports whether role (an assumed-role ARN without session)
// is one the provider admits and whose principal set may impersonate the
// service account.
func (g *Google) allowedRole(role string) bool {
	return role == g.cfg.AllowedRole || slices.Contains(g.cfg.AllowedRoles, role)
}

// Close stops the servers.
func (g *Google) Close() {
	for _, srv := range g.servers {
		srv.Close()
	}
}

// StopSTS stops the Security Token Service only: exchanges then fail to
// connect, as when Google's STS is unreachable.
func (g *Google) StopSTS() { g.sts.Close() }

// Audience returns the pool provider's name as the exchange's audience:
// "//iam.googleapis.com/projects/<number>/locations/global/workloadIdentityPools/<pool>/providers/<provider>".
func (g *Google) Audience() string {
	return "//iam.googleapis.com/projects/" + g.cfg.ProjectNumber + "/locations/global/workloadIdentityPools/" +
		g.cfg.PoolID + "/providers/" + g.cfg.ProviderID
}

// CredentialConfig returns the credential configuration a client of these
// fakes uses: gcloud's, with token_url and service_account_impersonation_url
// pointing at the fakes. The regional_cred_verification_url stays AWS's:
// the client only signs it, and the fake STS checks it.
func (g *Google) CredentialConfig() federation.CredentialConfig {
	c := federation.NewAWSCredentialConfig(g.Audience(), g.cfg.ServiceAccount)
	c.TokenURL = g.STSURL + "/v1/token"
	c.ServiceAccountImpersonationURL = strings.Replace(c.ServiceAccountImpersonationURL, federation.DefaultIAMCredentialsURL, g.IAMURL, 1)
	return c
}

// JWKSURL returns the URL of the issuer's keys.
func (g *Google) JWKSURL() string { return g.IssuerURL + "/oauth2/v3/certs" }

// Exchanges returns how many token exchanges STS granted.
func (g *Google) Exchanges() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.exchanges
}

// IDTokens returns how many ID tokens IAM Credentials issued.
func (g *Google) IDTokens() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.idTokens
}

// Sensitive returns every secret the fakes saw or made: the signatures of
// the subject tokens received, the federated tokens and the ID tokens
// issued. Tests search logs and responses for them.
func (g *Google) Sensitive() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]string(nil), g.sensitive...)
}

// SubjectTokens returns the subject tokens STS received, valid or not, in
// order, as sent (URL-encoded JSON).
func (g *Google) SubjectTokens() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]string(nil), g.subjects...)
}

// Requests returns the requests STS and IAM Credentials received, valid or
// not, in order.
func (g *Google) Requests() []Request {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]Request(nil), g.requests...)
}

// record keeps r for Requests.
func (g *Google) record(r Request) {
	g.mu.Lock()
	g.requests = append(g.requests, r)
	g.mu.Unlock()
}

// Rejections returns why the front refused requests, in order.
func (g *Google) Rejections() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]string(nil), g.rejections...)
}

// remember records a secret for Sensitive.
func (g *Google) remember(s string) {
	g.mu.Lock()
	g.sensitive = append(g.sensitive, s)
	g.mu.Unlock()
}

// randomToken returns a fresh opaque token with prefix.
func randomToken(prefix string) string {
	b := make([]byte, 24)
	rand.Read(b)
	return prefix + base64.RawURLEncoding.EncodeToString(b)
}
