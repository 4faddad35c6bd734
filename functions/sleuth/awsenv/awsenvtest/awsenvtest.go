// Package awsenvtest serves the wire-level fakes of package awsfake for SNS
// (query protocol) and SSM (JSON 1.1) on one loopback server per service,
// with the environment that points the real aws-sdk-go-v2 clients at them
// through endpoint overrides, in-process or in a Lambda bootstrap run under
// the Runtime Interface Emulator.
package awsenvtest

import (
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/crossfaas/crossfaas/functions/sleuth/internal/awsfake"
)

// Region, AccessKeyID and SecretAccessKey are the static settings the fakes
// expect clients to use; Env returns them as environment variables.
const (
	Region          = "us-east-1"
	AccessKeyID     = "AKIDFAKEFORTESTS"
	SecretAccessKey = "fake-secret-for-tests"
)

// Env returns the environment that makes config.LoadDefaultConfig and
// lambdaenv.AWSConfig build a config for the fakes: static credentials,
// Region, no shared config files, no instance metadata, and
// AWS_ENDPOINT_URL_<SERVICE> for each entry of endpoints (service id, e.g.
// "SNS", to base URL). Pass it to a Lambda bootstrap's environment, or use
// Setenv in-process.
func Env(t testing.TB, endpoints map[string]string) map[string]string {
	t.Helper()
	missing := filepath.Join(t.TempDir(), "no-such-file")
	env := map[string]string{
		"AWS_ACCESS_KEY_ID":           AccessKeyID,
		"AWS_SECRET_ACCESS_KEY":       SecretAccessKey,
		"AWS_REGION":                  Region,
		"AWS_CONFIG_FILE":             missing,
		"AWS_SHARED_CREDENTIALS_FILE": missing,
		"AWS_EC2_METADATA_DISABLED":   "true",
	}
	for service, endpoint := range endpoints {
		env["AWS_ENDPOINT_URL_"+strings.ToUpper(service)] = endpoint
	}
	return env
}

// interfering are variables of the machine's environment that would change
// what config.LoadDefaultConfig builds from Env.
var interfering = []string{
	"AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL",
	"AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE",
	"AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
}

// Setenv sets Env(t, endpoints) for the rest of the test, and unsets the
// variables that would interfere with it (AWS_PROFILE, AWS_ENDPOINT_URL,
// ...), so the test must not be parallel.
func Setenv(t testing.TB, endpoints map[string]string) {
	t.Helper()
	for _, k := range interfering {
		t.Setenv(k, "") // restores the old value at cleanup
		os.Unsetenv(k)  // the SDK reads a set but empty AWS_ENDPOINT_URL as set
	}
	for k, v := range Env(t, endpoints) {
		t.Setenv(k, v)
	}
}

// Published is one message the fake SNS accepted.
type Published = awsfake.Published

// SNS is an awsfake.SNS on a loopback server of its own that refuses
// requests not signed for AccessKeyID. Its Published, Errors, Calls and
// Inject methods are the fake's.
type SNS struct {
	*awsfake.SNS

	// URL is the endpoint for AWS_ENDPOINT_URL_SNS.
	URL string
}

// NewSNS starts a fake SNS, closed when the test ends. With topicARNs,
// publishing to any other topic fails with NotFound, as on AWS; without,
// every topic exists.
func NewSNS(t testing.TB, topicARNs ...string) *SNS {
	t.Helper()
	fake := awsfake.NewSNS()
	fake.RequireAccessKey(AccessKeyID)
	if len(topicARNs) == 0 {
		fake.AllTopicsExist()
	}
	for _, arn := range topicARNs {
		fake.CreateTopic(arn)
	}
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	return &SNS{SNS: fake, URL: srv.URL}
}

// Fail makes the next n Publish calls fail with the error code, e.g.
// "InternalError" (a retryable 500) or "AuthorizationError" (403), in place
// of the failures set before.
func (s *SNS) Fail(code string, n int) {
	s.Clear("Publish")
	if n > 0 {
		s.Inject("Publish", slices.Repeat([]string{code}, n)...)
	}
}

// GetParameterRequest is one GetParameter call the fake SSM served.
type GetParameterRequest = awsfake.GetParameterRequest

// SSM is an awsfake.SSM of SecureString parameters on a loopback server of
// its own that refuses requests not signed for AccessKeyID. Its Requests,
// Errors, Calls and Inject methods are the fake's.
type SSM struct {
	*awsfake.SSM

	// URL is the endpoint for AWS_ENDPOINT_URL_SSM.
	URL string
}

// NewSSM starts a fake SSM holding params (name to decrypted value) as
// SecureStrings, closed when the test ends. A GetParameter without
// WithDecryption gets a value that is visibly not the secret, as
// SecureStrings do.
func NewSSM(t testing.TB, params map[string]string) *SSM {
	t.Helper()
	fake := awsfake.NewSSM()
	fake.RequireAccessKey(AccessKeyID)
	for name, value := range params {
		fake.PutSecureString(name, value)
	}
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	return &SSM{SSM: fake, URL: srv.URL}
}

// Set creates or changes a SecureString parameter.
func (s *SSM) Set(name, value string) { s.PutSecureString(name, value) }
