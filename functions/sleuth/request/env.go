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
	"github.com/crossfaas/crossfaas/functions/sleuth/awsenv"
	"github.com/crossfaas/crossfaas/internal/lambdaenv"
)

// FromEnv builds the handler as the request Lambda runs it, at cold start:
// the configuration from ConfigFromEnv, SSM and SNS clients from
// lambdaenv.AWSConfig (so AWS_ENDPOINT_URL_SSM and AWS_ENDPOINT_URL_SNS
// redirect them) and an SNS publisher. The Twilio auth token and the
// allowed senders are read, in one GetParameters call, from the SSM
// parameters named by sleuth.EnvAuthTokenParam and
// sleuth.EnvAllowedSendersParam; the account SID is not needed to check
// signatures, so it is not read. Errors name what is missing.
//
// FromEnv does not wait for the parameters: it starts reading them in the
// background and returns, so that the read overlaps what the runtime does
// before the first request (polling for the event, decoding it). ctx
// bounds the read and must outlive FromEnv. Handle waits for them; call
// Ready to wait and learn whether reading them failed.
func FromEnv(ctx context.Context, logger *slog.Logger) (*Handler, error) {
	cfg, err := ConfigFromEnv()
	if err != nil {
		return nil, err
	}
	var params [2]string
	for i, env := range []string{sleuth.EnvAuthTokenParam, sleuth.EnvAllowedSendersParam} {
		if params[i] = strings.TrimSpace(os.Getenv(env)); params[i] == "" {
			return nil, fmt.Errorf("request config: %s is not set: it names the SSM parameter to read", env)
		}
	}
	awsCfg, err := lambdaenv.AWSConfig()
	if err != nil {
		return nil, fmt.Errorf("request: %w", err)
	}
	ssmClient := ssm.NewFromConfig(awsCfg)
	h := newHandler(cfg, Deps{
		Publisher: awsenv.NewSNSPublisher(sns.NewFromConfig(awsCfg)),
		Logger:    logger,
	})
	go func() {
		values, err := awsenv.GetSecureStrings(ctx, ssmClient, params[:]...)
		if err != nil {
			h.setSecrets("", nil, fmt.Errorf("request: %w", err))
			return
		}
		allowed, err := ParseAllowedSenders(values[1])
		if err != nil {
			err = fmt.Errorf("request: %s: %w", params[1], err)
		}
		h.setSecrets(values[0], allowed, err)
	}()
	return h, nil
}
