package request

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/crossfaas/crossfaas/functions/sleuth/awsx"
)

// FromEnv builds the handler as the request Lambda runs it, at cold start:
// the configuration from ConfigFromEnv, AWS clients from the Lambda
// environment (config.LoadDefaultConfig, so AWS_ENDPOINT_URL_SNS and
// AWS_ENDPOINT_URL_SSM redirect them), the Twilio auth token read from SSM
// (awsx.SecretsFromEnv), and an SNS publisher. ctx bounds the reading of
// the secrets. The error names what is missing or failed.
func FromEnv(ctx context.Context, logger *slog.Logger) (*Handler, error) {
	cfg, err := ConfigFromEnv()
	if err != nil {
		return nil, err
	}
	awsCfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("request: load aws config: %w", err)
	}
	secrets, err := awsx.SecretsFromEnv(ssm.NewFromConfig(awsCfg))
	if err != nil {
		return nil, err
	}
	creds, err := secrets.LoadTwilio(ctx)
	if err != nil {
		return nil, fmt.Errorf("request: %w", err)
	}
	return New(cfg, Deps{
		Publisher: awsx.NewSNSPublisher(sns.NewFromConfig(awsCfg)),
		AuthToken: creds.AuthToken,
		Logger:    logger,
	}), nil
}
