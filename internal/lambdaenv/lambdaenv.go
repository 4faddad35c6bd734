// Package lambdaenv builds the aws.Config of a Go Lambda from the variables
// the Lambda runtime sets (AWSConfig), linking no AWS service client of its
// own, so a function links only the clients it uses: the sleuth's request
// Lambda (SSM and SNS) and the upload inspector (S3 alone) build their
// clients from it.
package lambdaenv

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// The SDK's standard environment variables that AWSConfig reads.
const (
	envRegion           = "AWS_REGION"
	envDefaultRegion    = "AWS_DEFAULT_REGION"
	envAccessKeyID      = "AWS_ACCESS_KEY_ID"
	envAccessKey        = "AWS_ACCESS_KEY" // the SDK's older alias
	envSecretAccessKey  = "AWS_SECRET_ACCESS_KEY"
	envSecretKey        = "AWS_SECRET_KEY" // the SDK's older alias
	envSessionToken     = "AWS_SESSION_TOKEN"
	envAccountID        = "AWS_ACCOUNT_ID"
	envEndpointURL      = "AWS_ENDPOINT_URL"
	envIgnoreEndpoints  = "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"
	envExecutionEnv     = "AWS_EXECUTION_ENV"
	endpointURLEnvStart = envEndpointURL + "_"
)

// AWSConfig builds the aws.Config of a Lambda function from the variables
// the Lambda runtime sets, without package
// github.com/aws/aws-sdk-go-v2/config:
//
//   - the region from AWS_REGION (or AWS_DEFAULT_REGION);
//   - static credentials from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and
//     AWS_SESSION_TOKEN (and AWS_ACCOUNT_ID when set). Lambda puts the
//     execution role's credentials there, valid for the life of the
//     execution environment, so nothing ever needs to refresh them;
//   - endpoint overrides exactly as the SDK's standard variables give them:
//     AWS_ENDPOINT_URL_<SERVICE> (the service's SDK id upper-cased, spaces
//     as underscores: AWS_ENDPOINT_URL_SNS, AWS_ENDPOINT_URL_SSM) wins over
//     AWS_ENDPOINT_URL, and AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true turns
//     both off. Clients built with NewFromConfig resolve them with the SDK's
//     own code, through aws.Config.ConfigSources;
//   - one HTTP client with the SDK's default transport, shared by every
//     client built from the config, so they share one connection pool.
//
// Why: config.LoadDefaultConfig links the whole credential chain (STS, SSO,
// SSO OIDC, sign-in, EC2 instance metadata, shared-file parsing), whose
// package initialisation and loading a Lambda that only ever uses its
// environment's credentials pays on every cold start. The trade-off: no
// shared config or credentials files, profiles, web identity, container or
// instance-metadata credentials, and none of the SDK's other variables
// (AWS_MAX_ATTEMPTS, AWS_RETRY_MODE, AWS_CA_BUNDLE, AWS_USE_FIPS_ENDPOINT,
// ...). Code that may run outside Lambda with other credentials should use
// config.LoadDefaultConfig.
//
// The error names the variable that is missing or invalid.
func AWSConfig() (aws.Config, error) {
	region := firstEnv(envRegion, envDefaultRegion)
	if region == "" {
		return aws.Config{}, fmt.Errorf("aws config: %s is not set: Lambda sets it to the function's region", envRegion)
	}
	keyID, secret := firstEnv(envAccessKeyID, envAccessKey), firstEnv(envSecretAccessKey, envSecretKey)
	if keyID == "" || secret == "" {
		return aws.Config{}, fmt.Errorf("aws config: %s and %s must both be set: Lambda sets them to the execution role's credentials",
			envAccessKeyID, envSecretAccessKey)
	}
	endpoints, err := endpointsFromEnv()
	if err != nil {
		return aws.Config{}, err
	}
	creds := credentials.NewStaticCredentialsProvider(keyID, secret, os.Getenv(envSessionToken))
	creds.Value.AccountID = os.Getenv(envAccountID)
	cfg := aws.Config{
		Region:        region,
		Credentials:   creds,
		HTTPClient:    awshttp.NewBuildableClient().Freeze(),
		ConfigSources: []any{endpoints},
		RuntimeEnvironment: aws.RuntimeEnvironment{
			EnvironmentIdentifier: aws.ExecutionEnvironmentID(os.Getenv(envExecutionEnv)),
		},
	}
	if !endpoints.ignore {
		if base := os.Getenv(envEndpointURL); base != "" {
			cfg.BaseEndpoint = aws.String(base)
		}
	}
	return cfg, nil
}

// envEndpoints gives the SDK's clients the endpoint overrides of the
// environment. The service packages look for its two methods in
// aws.Config.ConfigSources (the interfaces of the SDK's internal
// configsources package), as they do for config.EnvConfig.
type envEndpoints struct {
	ignore bool // AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true
}

// endpointsFromEnv reads AWS_IGNORE_CONFIGURED_ENDPOINT_URLS, which must be
// true or false (any case) when set, as for the SDK.
func endpointsFromEnv() (envEndpoints, error) {
	raw := os.Getenv(envIgnoreEndpoints)
	switch {
	case raw == "", strings.EqualFold(raw, "false"):
		return envEndpoints{}, nil
	case strings.EqualFold(raw, "true"):
		return envEndpoints{ignore: true}, nil
	default:
		return envEndpoints{}, fmt.Errorf("aws config: %s=%q: want true or false", envIgnoreEndpoints, raw)
	}
}

// GetIgnoreConfiguredEndpoints reports whether the endpoint variables are
// turned off.
func (e envEndpoints) GetIgnoreConfiguredEndpoints(context.Context) (ignore, found bool, err error) {
	return e.ignore, e.ignore, nil
}

// GetServiceBaseEndpoint returns AWS_ENDPOINT_URL_<SERVICE> for the
// service whose SDK id is sdkID ("SNS", "SSM", "Cognito Identity").
func (e envEndpoints) GetServiceBaseEndpoint(_ context.Context, sdkID string) (endpoint string, found bool, err error) {
	if e.ignore {
		return "", false, nil
	}
	endpoint = os.Getenv(serviceEndpointEnv(sdkID))
	return endpoint, endpoint != "", nil
}

// serviceEndpointEnv returns the name of the variable that overrides the
// endpoint of the service whose SDK id is sdkID (the ServiceID constant of
// its package): "SSM" gives AWS_ENDPOINT_URL_SSM, "Cognito Identity"
// AWS_ENDPOINT_URL_COGNITO_IDENTITY.
func serviceEndpointEnv(sdkID string) string {
	return endpointURLEnvStart + strings.ReplaceAll(strings.ToUpper(sdkID), " ", "_")
}

// firstEnv returns the value of the first of names that is set and not
// empty, or "".
func firstEnv(names ...string) string {
	for _, name := range names {
		if v := os.Getenv(name); v != "" {
			return v
		}
	}
	return ""
}
