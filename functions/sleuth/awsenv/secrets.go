package awsenv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/crossfaas/crossfaas/functions/sleuth"
)

// TwilioCredentials are the Twilio account's SID and auth token. The auth
// token signs webhooks and authenticates API calls: never log it.
type TwilioCredentials struct {
	AccountSID string
	AuthToken  string
}

// Secrets reads the Twilio credentials from two SSM SecureString parameters
// and caches them for the life of the process (a Lambda execution
// environment). It is safe for concurrent use.
type Secrets struct {
	client          *ssm.Client
	accountSIDParam string
	authTokenParam  string

	mu     sync.Mutex
	cached *TwilioCredentials // nil until loaded
}

// NewSecrets returns Secrets that read the parameters named accountSIDParam
// and authTokenParam with client.
func NewSecrets(client *ssm.Client, accountSIDParam, authTokenParam string) *Secrets {
	return &Secrets{client: client, accountSIDParam: accountSIDParam, authTokenParam: authTokenParam}
}

// SecretsFromEnv returns Secrets for the parameters named by the
// environment variables sleuth.EnvAccountSIDParam and sleuth.EnvAuthTokenParam.
// The error names a variable that is missing.
func SecretsFromEnv(client *ssm.Client) (*Secrets, error) {
	var names [2]string
	for i, env := range []string{sleuth.EnvAccountSIDParam, sleuth.EnvAuthTokenParam} {
		names[i] = os.Getenv(env)
		if names[i] == "" {
			return nil, fmt.Errorf("secrets: %s is not set: it names the SSM parameter to read", env)
		}
	}
	return NewSecrets(client, names[0], names[1]), nil
}

// LoadTwilio returns the Twilio credentials. The first successful call reads
// both parameters (concurrently, with decryption); later calls return the
// cached values. Failures are not cached: the next call tries again. An
// empty parameter value is an error.
func (s *Secrets) LoadTwilio(ctx context.Context) (TwilioCredentials, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cached != nil {
		return *s.cached, nil
	}
	var (
		creds    TwilioCredentials
		sidErr   error
		tokenErr error
		wg       sync.WaitGroup
	)
	wg.Go(func() { creds.AccountSID, sidErr = GetSecureString(ctx, s.client, s.accountSIDParam) })
	wg.Go(func() { creds.AuthToken, tokenErr = GetSecureString(ctx, s.client, s.authTokenParam) })
	wg.Wait()
	if err := errors.Join(sidErr, tokenErr); err != nil {
		return TwilioCredentials{}, err
	}
	s.cached = &creds
	return creds, nil
}

// GetSecureString reads the SSM parameter called name with client, with
// decryption, and returns its value. An empty value is an error; errors
// start with "ssm get parameter <name>: ".
func GetSecureString(ctx context.Context, client *ssm.Client, name string) (string, error) {
	out, err := client.GetParameter(ctx, &ssm.GetParameterInput{
		Name:           aws.String(name),
		WithDecryption: aws.Bool(true),
	})
	if err != nil {
		return "", fmt.Errorf("ssm get parameter %s: %w", name, err)
	}
	if out.Parameter == nil || aws.ToString(out.Parameter.Value) == "" {
		return "", fmt.Errorf("ssm get parameter %s: empty value", name)
	}
	return aws.ToString(out.Parameter.Value), nil
}

// GetSecureStrings reads the SSM parameters called names with one
// GetParameters call, with decryption, and returns their values in the
// order of names. A missing parameter or an empty value is an error naming
// it; errors start with "ssm get parameters: ".
func GetSecureStrings(ctx context.Context, client *ssm.Client, names ...string) ([]string, error) {
	out, err := client.GetParameters(ctx, &ssm.GetParametersInput{Names: names, WithDecryption: aws.Bool(true)})
	if err != nil {
		return nil, fmt.Errorf("ssm get parameters: %w", err)
	}
	if len(out.InvalidParameters) > 0 {
		return nil, fmt.Errorf("ssm get parameters: not found: %v", out.InvalidParameters)
	}
	byName := make(map[string]string, len(out.Parameters))
	for _, p := range out.Parameters {
		byName[aws.ToString(p.Name)] = aws.ToString(p.Value)
	}
	values := make([]string, len(names))
	for i, name := range names {
		if values[i] = byName[name]; values[i] == "" {
			return nil, fmt.Errorf("ssm get parameters: %s: empty value", name)
		}
	}
	return values, nil
}
