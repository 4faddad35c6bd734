package federation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// The environment variables through which Lambda hands a function its
// role's credentials and region.
const (
	EnvAccessKeyID     = "AWS_ACCESS_KEY_ID"
	EnvSecretAccessKey = "AWS_SECRET_ACCESS_KEY"
	EnvSessionToken    = "AWS_SESSION_TOKEN"
	EnvRegion          = "AWS_REGION"
	EnvDefaultRegion   = "AWS_DEFAULT_REGION"
)

// targetResourceHeader carries the audience inside the signed request, so a
// subject token made for one pool provider cannot be replayed at another.
const targetResourceHeader = "x-goog-cloud-target-resource"

// emptyPayloadHash is the hex SHA-256 of an empty body.
const emptyPayloadHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

// AWSCredentials are the credentials of an AWS principal. For a Lambda they
// are its execution role's temporary credentials.
type AWSCredentials struct {
	AccessKeyID     string
	SecretAccessKey string
	// SessionToken is set for temporary credentials (always, for a role).
	SessionToken string
}

// CredentialsFromEnv reads the credentials Lambda puts in a function's
// environment through getenv (os.Getenv in production). The error names the
// missing variable, never a value.
func CredentialsFromEnv(getenv func(string) string) (AWSCredentials, error) {
	c := AWSCredentials{
		AccessKeyID:     getenv(EnvAccessKeyID),
		SecretAccessKey: getenv(EnvSecretAccessKey),
		SessionToken:    getenv(EnvSessionToken),
	}
	switch {
	case c.AccessKeyID == "":
		return AWSCredentials{}, fmt.Errorf("aws credentials: %s is not set", EnvAccessKeyID)
	case c.SecretAccessKey == "":
		return AWSCredentials{}, fmt.Errorf("aws credentials: %s is not set", EnvSecretAccessKey)
	}
	return c, nil
}

// RegionFromEnv returns AWS_REGION, or AWS_DEFAULT_REGION, as Google's
// library reads them.
func RegionFromEnv(getenv func(string) string) (string, error) {
	region := getenv(EnvRegion)
	if region == "" {
		region = getenv(EnvDefaultRegion)
	}
	if region == "" {
		return "", fmt.Errorf("aws region: neither %s nor %s is set", EnvRegion, EnvDefaultRegion)
	}
	if !validRegion(region) {
		return "", fmt.Errorf("aws region: %q is not an AWS region", region)
	}
	return region, nil
}

// awsRequest is the JSON a subject token encodes: the signed AWS STS
// request, its headers sorted by name then value. Field names and order are
// those of Google's library.
type awsRequest struct {
	URL     string             `json:"url"`
	Method  string             `json:"method"`
	Headers []awsRequestHeader `json:"headers"`
}

type awsRequestHeader struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// SubjectToken returns the subject token for cfg: the URL-encoded JSON of a
// `POST <regional_cred_verification_url>` for region, carrying the
// x-goog-cloud-target-resource header (cfg's audience), signed at signedAt
// with creds by AWS Signature Version 4. The signing service is the first
// label of the URL's host ("sts"), as Google's library derives it.
func SubjectToken(ctx context.Context, cfg CredentialConfig, creds AWSCredentials, region string, signedAt time.Time) (string, error) {
	token, _, err := signedSubject(ctx, cfg, creds, region, signedAt)
	return token, err
}

// signedSubject returns SubjectToken's token and the request's SigV4
// signature, which errors must not show.
func signedSubject(ctx context.Context, cfg CredentialConfig, creds AWSCredentials, region string, signedAt time.Time) (token, signature string, err error) {
	if !validRegion(region) {
		return "", "", fmt.Errorf("subject token: %q is not an AWS region", region)
	}
	if creds.AccessKeyID == "" || creds.SecretAccessKey == "" {
		return "", "", errors.New("subject token: the AWS credentials are incomplete")
	}
	target := strings.Replace(cfg.regionalCredVerificationURL(), "{region}", region, 1)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, nil)
	if err != nil {
		return "", "", fmt.Errorf("subject token: regional_cred_verification_url: %w", err)
	}
	req.Header.Set(targetResourceHeader, cfg.Audience)
	host := req.URL.Host
	service, _, _ := strings.Cut(req.URL.Hostname(), ".")
	err = v4.NewSigner().SignHTTP(ctx, aws.Credentials{
		AccessKeyID:     creds.AccessKeyID,
		SecretAccessKey: creds.SecretAccessKey,
		SessionToken:    creds.SessionToken,
	}, req, emptyPayloadHash, service, region, signedAt)
	if err != nil {
		return "", "", fmt.Errorf("subject token: sign: %w", err)
	}

	// The signer signs the host without adding a Host header; the token
	// lists it, as the verifier needs every signed header.
	signed := awsRequest{URL: req.URL.String(), Method: http.MethodPost}
	signed.Headers = append(signed.Headers, awsRequestHeader{Key: "Host", Value: host})
	for key, values := range req.Header {
		for _, v := range values {
			signed.Headers = append(signed.Headers, awsRequestHeader{Key: key, Value: v})
		}
	}
	sort.Slice(signed.Headers, func(i, j int) bool {
		a, b := signed.Headers[i], signed.Headers[j]
		if a.Key != b.Key {
			return a.Key < b.Key
		}
		return a.Value < b.Value
	})
	b, err := json.Marshal(signed)
	if err != nil {
		return "", "", fmt.Errorf("subject token: %w", err)
	}
	_, signature, _ = strings.Cut(req.Header.Get("Authorization"), "Signature=")
	return url.QueryEscape(string(b)), signature, nil
}

// validRegion reports whether region looks like an AWS region
// ("us-east-1", "ap-southeast-2", "us-gov-west-1"): lower-case words joined
// by hyphens, ending in a number. Anything else must not be pasted into a
// URL.
func validRegion(region string) bool {
	parts := strings.Split(region, "-")
	if len(parts) < 3 || len(parts[0]) != 2 {
		return false
	}
	for i, p := range parts {
		if p == "" {
			return false
		}
		for _, r := range p {
			digit, lower := r >= '0' && r <= '9', r >= 'a' && r <= 'z'
			if last := i == len(parts)-1; (last && !digit) || (!last && !lower) {
				return false
			}
		}
	}
	return true
}
