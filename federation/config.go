// Package federation turns an AWS role's credentials into Google-signed ID
// tokens through workload identity federation, so that an AWS Lambda can call
// a private Cloud Run service (the labeler) with no Google key stored
// anywhere.
//
// It follows Google's credential configuration for AWS, the JSON that
// `gcloud iam workload-identity-pools create-cred-config --aws` writes
// (CredentialConfig), and makes the requests Google's own Go library
// (cloud.google.com/go/auth) makes for it, in the same shape:
//
//  1. a subject token: the URL-encoded JSON of an `sts:GetCallerIdentity`
//     request to AWS STS's regional endpoint, signed with the role's
//     credentials (AWS Signature Version 4, aws-sdk-go-v2's signer) and
//     carrying the x-goog-cloud-target-resource header, never sent to AWS
//     by us: Google's Security Token Service replays it to learn who we are;
//  2. a token exchange at the config's token_url (RFC 8693 form: audience,
//     grant_type, requested_token_type, scope cloud-platform, subject_token,
//     subject_token_type), which answers with a short-lived federated access
//     token if the pool provider's attribute condition admits the role;
//  3. IAM Credentials generateIdToken for the config's service account,
//     {"audience": <the service URL>, "includeEmail": true}, with the
//     federated token as bearer: the principal set must hold
//     roles/iam.workloadIdentityUser on the account.
//
// Why not Google's library itself: linking
// cloud.google.com/go/auth/credentials/externalaccount costs the proxy Lambda
// 1.22x a hello world's cold start from package initialisation alone (limit
// 1.15x), and its ID token path (credentials/idtoken, impersonate) more than
// doubles the zip with gRPC and OpenTelemetry (see the README). The tests run
// Google's library against the same fakes to show the requests agree.
//
// Every Google endpoint comes from the configuration JSON (token_url,
// service_account_impersonation_url, regional_cred_verification_url), so
// production needs nothing else and tests point it at loopback fakes. Plain
// http is accepted for loopback hosts only.
//
// Nothing here logs, and no error carries a token, a subject token or a
// credential; Token values print as "[redacted]".
package federation

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
)

// Values of the credential configuration for AWS, as gcloud writes them.
const (
	// TypeExternalAccount is the "type" of a workload identity federation
	// credential configuration.
	TypeExternalAccount = "external_account"
	// SubjectTokenTypeAWS is the subject token type of AWS credentials.
	SubjectTokenTypeAWS = "urn:ietf:params:aws:token-type:aws4_request"
	// EnvironmentAWS1 is the credential source's environment_id for AWS.
	EnvironmentAWS1 = "aws1"
	// DefaultTokenURL is Google's Security Token Service exchange endpoint.
	DefaultTokenURL = "https://sts.googleapis.com/v1/token"
	// DefaultRegionalCredVerificationURL is the AWS STS request a subject
	// token describes; {region} becomes the Lambda's region.
	DefaultRegionalCredVerificationURL = "https://sts.{region}.amazonaws.com?Action=GetCallerIdentity&Version=2011-06-15"
	// DefaultIAMCredentialsURL is the IAM Credentials API's root.
	DefaultIAMCredentialsURL = "https://iamcredentials.googleapis.com"
	// Instance metadata endpoints gcloud writes into the credential source.
	// A Lambda has no instance metadata service: these are never called,
	// the credentials come from the Lambda's environment.
	awsRegionURL      = "http://169.254.169.254/latest/meta-data/placement/availability-zone"
	awsCredentialsURL = "http://169.254.169.254/latest/meta-data/iam/security-credentials"
)

// RegionalCredVerificationURLFor returns the regional_cred_verification_url
// for the AWS partition whose DNS suffix is dnsSuffix ("amazonaws.com" for
// aws and aws-us-gov, "amazonaws.com.cn" for aws-cn), with the {region}
// placeholder.
func RegionalCredVerificationURLFor(dnsSuffix string) string {
	return strings.Replace(DefaultRegionalCredVerificationURL, ".amazonaws.com?", "."+dnsSuffix+"?", 1)
}

// generateAccessTokenSuffix ends the impersonation URL gcloud writes; the
// ID token endpoint is the same resource with generateIdToken.
const (
	generateAccessTokenSuffix = ":generateAccessToken"
	generateIDTokenSuffix     = ":generateIdToken"
)

// CredentialConfig is Google's external account credential configuration
// for AWS. It holds no secret: the proof of identity is made at run time
// from the role's own credentials.
type CredentialConfig struct {
	UniverseDomain                 string           `json:"universe_domain,omitempty"`
	Type                           string           `json:"type"`
	Audience                       string           `json:"audience"`
	SubjectTokenType               string           `json:"subject_token_type"`
	ServiceAccountImpersonationURL string           `json:"service_account_impersonation_url"`
	TokenURL                       string           `json:"token_url"`
	CredentialSource               CredentialSource `json:"credential_source"`
}

// CredentialSource says where the AWS credentials come from and which AWS
// STS request the subject token describes.
type CredentialSource struct {
	EnvironmentID               string `json:"environment_id"`
	RegionURL                   string `json:"region_url,omitempty"`
	URL                         string `json:"url,omitempty"`
	RegionalCredVerificationURL string `json:"regional_cred_verification_url"`
	IMDSv2SessionTokenURL       string `json:"imdsv2_session_token_url,omitempty"`
}

// NewAWSCredentialConfig returns the configuration gcloud writes for an AWS
// workload: audience is the pool provider's full resource name with or
// without the "//iam.googleapis.com/" prefix
// ("projects/<number>/locations/global/workloadIdentityPools/<pool>/providers/<provider>"),
// serviceAccount the email of the account to impersonate. The endpoints
// are Google's and AWS's.
func NewAWSCredentialConfig(audience, serviceAccount string) CredentialConfig {
	if !strings.HasPrefix(audience, "//") {
		audience = "//iam.googleapis.com/" + strings.TrimPrefix(audience, "/")
	}
	return CredentialConfig{
		UniverseDomain:                 "googleapis.com",
		Type:                           TypeExternalAccount,
		Audience:                       audience,
		SubjectTokenType:               SubjectTokenTypeAWS,
		ServiceAccountImpersonationURL: DefaultIAMCredentialsURL + "/v1/projects/-/serviceAccounts/" + serviceAccount + generateAccessTokenSuffix,
		TokenURL:                       DefaultTokenURL,
		CredentialSource: CredentialSource{
			EnvironmentID:               EnvironmentAWS1,
			RegionURL:                   awsRegionURL,
			URL:                         awsCredentialsURL,
			RegionalCredVerificationURL: DefaultRegionalCredVerificationURL,
		},
	}
}

// JSON returns the configuration as the credential file holds it, with
// "&" in URLs left as is, as gcloud writes them.
func (c CredentialConfig) JSON() []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.Encode(c) // strings only: cannot fail
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// ParseCredentialConfig parses and checks a credential configuration for
// AWS. The error says which field is wrong and how.
func ParseCredentialConfig(data []byte) (CredentialConfig, error) {
	var c CredentialConfig
	if err := json.Unmarshal(data, &c); err != nil {
		return CredentialConfig{}, fmt.Errorf("parse credential config: %w", err)
	}
	if err := c.Validate(); err != nil {
		return CredentialConfig{}, err
	}
	return c, nil
}

// Validate checks that c is an AWS workload identity federation
// configuration this package can use: type external_account, the AWS
// subject token type, environment aws1, an audience, a service account to
// impersonate, and https endpoints (http only for loopback hosts).
func (c CredentialConfig) Validate() error {
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.Type != TypeExternalAccount {
		fail("type is %q, want %q", c.Type, TypeExternalAccount)
	}
	if c.SubjectTokenType != SubjectTokenTypeAWS {
		fail("subject_token_type is %q, want %q (AWS credentials)", c.SubjectTokenType, SubjectTokenTypeAWS)
	}
	if c.CredentialSource.EnvironmentID != EnvironmentAWS1 {
		fail("credential_source.environment_id is %q, want %q", c.CredentialSource.EnvironmentID, EnvironmentAWS1)
	}
	if !strings.HasPrefix(c.Audience, "//iam.googleapis.com/") || !strings.Contains(c.Audience, "/workloadIdentityPools/") || !strings.Contains(c.Audience, "/providers/") {
		fail("audience %q is not a workload identity pool provider (//iam.googleapis.com/projects/<number>/locations/global/workloadIdentityPools/<pool>/providers/<provider>)", c.Audience)
	}
	if err := checkEndpoint(c.tokenURL()); err != nil {
		fail("token_url: %v", err)
	}
	if _, err := c.ServiceAccount(); err != nil {
		errs = append(errs, err)
	} else if err := checkEndpoint(c.ServiceAccountImpersonationURL); err != nil {
		fail("service_account_impersonation_url: %v", err)
	}
	if v := c.regionalCredVerificationURL(); !strings.Contains(v, "{region}") {
		fail("credential_source.regional_cred_verification_url %q has no {region} placeholder", v)
	} else if err := checkEndpoint(strings.Replace(v, "{region}", "us-east-1", 1)); err != nil {
		fail("credential_source.regional_cred_verification_url: %v", err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("credential config: %w", err)
	}
	return nil
}

// ServiceAccount returns the email of the service account the
// configuration impersonates, taken from service_account_impersonation_url.
func (c CredentialConfig) ServiceAccount() (string, error) {
	raw := c.ServiceAccountImpersonationURL
	if raw == "" {
		return "", errors.New("service_account_impersonation_url is empty: an ID token needs a service account to impersonate")
	}
	_, rest, ok := strings.Cut(raw, "/serviceAccounts/")
	email, found := strings.CutSuffix(rest, generateAccessTokenSuffix)
	if !ok || !found || email == "" || strings.ContainsAny(email, "/?#") {
		return "", fmt.Errorf("service_account_impersonation_url %q is not .../serviceAccounts/<email>%s", raw, generateAccessTokenSuffix)
	}
	return email, nil
}

// IDTokenURL returns the IAM Credentials generateIdToken URL of the
// impersonated account: the impersonation URL's resource with the
// generateIdToken method, so that overriding the one overrides the other.
func (c CredentialConfig) IDTokenURL() (string, error) {
	if _, err := c.ServiceAccount(); err != nil {
		return "", err
	}
	return strings.TrimSuffix(c.ServiceAccountImpersonationURL, generateAccessTokenSuffix) + generateIDTokenSuffix, nil
}

func (c CredentialConfig) tokenURL() string {
	if c.TokenURL == "" {
		return DefaultTokenURL
	}
	return c.TokenURL
}

func (c CredentialConfig) regionalCredVerificationURL() string {
	if c.CredentialSource.RegionalCredVerificationURL == "" {
		return DefaultRegionalCredVerificationURL
	}
	return c.CredentialSource.RegionalCredVerificationURL
}

// checkEndpoint accepts an absolute https URL, or http to a loopback host.
// Tokens must not cross a network in clear.
func checkEndpoint(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%q is not a URL", raw)
	}
	switch {
	case u.Host == "":
		return fmt.Errorf("%q has no host", raw)
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http" && isLoopback(u.Hostname()):
		return nil
	case u.Scheme == "http":
		return fmt.Errorf("%q is plain http to a host that is not loopback: use https", raw)
	default:
		return fmt.Errorf("%q: scheme must be https", raw)
	}
}

// isLoopback reports whether host is localhost or a loopback address.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
