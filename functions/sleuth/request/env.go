package request

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/crossfaas/crossfaas/functions/sleuth"
	"github.com/crossfaas/crossfaas/functions/sleuth/awsx"
)

// FromEnv builds the handler as the request Lambda runs it, at cold start:
// the configuration from ConfigFromEnv, SSM and SNS clients from
// awsx.LambdaConfig (so AWS_ENDPOINT_URL_SSM and AWS_ENDPOINT_URL_SNS
// redirect them) and an SNS publisher. The Twilio auth token is read from
// the SSM parameter named by sleuth.EnvAuthTokenParam; the account SID is
// not needed to check signatures, so it is not read. Errors name what is
// missing.
//
// FromEnv does not wait for the token: it starts reading it in the
// background and returns, so that the read overlaps what the runtime does
// before the first request (polling for the event, decoding it). ctx
// bounds the read and must outlive FromEnv. Handle waits for the token;
// call Ready to wait for it and learn whether reading it failed.
func FromEnv(ctx context.Context, logger *slog.Logger) (*Handler, error) {
	cfg, err := ConfigFromEnv()
	if err != nil {
		return nil, err
	}
	tokenParam := strings.TrimSpace(os.Getenv(sleuth.EnvAuthTokenParam))
	if tokenParam == "" {
		return nil, fmt.Errorf("request config: %s is not set: it names the SSM parameter holding the Twilio auth token", sleuth.EnvAuthTokenParam)
	}
	awsCfg, err := awsx.LambdaConfig()
	if err != nil {
		return nil, fmt.Errorf("request: %w", err)
	}
	ssmClient := ssm.NewFromConfig(awsCfg)
	h := newHandler(cfg, Deps{
		Publisher: awsx.NewSNSPublisher(sns.NewFromConfig(awsCfg)),
		Logger:    logger,
	})
	go func() {
		token, err := awsx.GetSecureString(ctx, ssmClient, tokenParam)
		if err != nil {
			err = fmt.Errorf("request: twilio auth token: %w", err)
		}
		h.setAuthToken(token, err)
	}()
	return h, nil
}
