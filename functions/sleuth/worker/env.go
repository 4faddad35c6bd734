package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	awsrek "github.com/aws/aws-sdk-go-v2/service/rekognition"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/crossfaas/crossfaas/functions/sleuth"
	"github.com/crossfaas/crossfaas/functions/sleuth/awsenv"
	"github.com/crossfaas/crossfaas/functions/sleuth/ledger"
	"github.com/crossfaas/crossfaas/functions/sleuth/rekognition"
	"github.com/crossfaas/crossfaas/functions/sleuth/twilio"
	"github.com/crossfaas/crossfaas/functions/sleuth/wikipedia"
)

// CleanupFromEnv builds the cleanup Lambda's handler at cold start: the
// stack's prefix from CROSSFAAS_PREFIX and a Rekognition client from the
// SDK's configuration.
func CleanupFromEnv(ctx context.Context, logger *slog.Logger) (func(context.Context, json.RawMessage) (CleanupResult, error), error) {
	cfg, err := ConfigFromEnv(sleuth.HandlerCleanup)
	if err != nil {
		return nil, err
	}
	awsCfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("worker: load aws config: %w", err)
	}
	collections, err := rekognition.NewCollections(awsrek.NewFromConfig(awsCfg), cfg.Prefix)
	if err != nil {
		return nil, err
	}
	c, err := NewCleanup(collections, logger)
	if err != nil {
		return nil, err
	}
	return c.Handle, nil
}

// HandlerFromEnv builds, at cold start, the Lambda handler called name
// (sleuth.HandlerAddCollection, HandlerAddImage, HandlerMatch,
// HandlerRespond or HandlerFailure) from the environment: ConfigFromEnv,
// the AWS SDK's configuration (AWS_ENDPOINT_URL_<SERVICE> included) and,
// for every handler but addcol, the Twilio credentials read from SSM by
// awsenv.Secrets. Each function builds only the clients it uses, so its IAM
// role needs nothing more. ctx bounds the start-up calls.
func HandlerFromEnv(ctx context.Context, name string, logger *slog.Logger) (func(context.Context, events.SNSEvent) error, error) {
	cfg, err := ConfigFromEnv(name)
	if err != nil {
		return nil, err
	}
	awsCfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("worker: load aws config: %w", err)
	}
	return NewHandler(ctx, name, cfg, awsCfg, logger)
}

// NewHandler builds the handler called name (see HandlerFromEnv) from cfg
// and the AWS configuration awsCfg, as HandlerFromEnv does after reading
// them: the clients, the Twilio credentials read from SSM (the parameters
// cfg.AccountSIDParam and cfg.AuthTokenParam name) for every handler but
// addcol, and the handler. ctx bounds the start-up calls.
func NewHandler(ctx context.Context, name string, cfg Config, awsCfg aws.Config, logger *slog.Logger) (func(context.Context, events.SNSEvent) error, error) {
	if name == sleuth.HandlerCleanup {
		return nil, errors.New("worker: the cleanup handler is built by CleanupFromEnv")
	}
	led := ledger.New(dynamodb.NewFromConfig(awsCfg), cfg.IdempotencyTable, cfg.Now)

	var tw twilio.Config
	if name != sleuth.HandlerAddCollection {
		if cfg.AccountSIDParam == "" || cfg.AuthTokenParam == "" {
			return nil, fmt.Errorf("worker: %s and %s must name the SSM parameters of the Twilio credentials", sleuth.EnvAccountSIDParam, sleuth.EnvAuthTokenParam)
		}
		secrets := awsenv.NewSecrets(ssm.NewFromConfig(awsCfg), cfg.AccountSIDParam, cfg.AuthTokenParam)
		creds, err := secrets.LoadTwilio(ctx)
		if err != nil {
			return nil, fmt.Errorf("worker: twilio credentials: %w", err)
		}
		tw = twilio.Config{AccountSID: creds.AccountSID, AuthToken: creds.AuthToken, APIURL: cfg.TwilioAPIURL}
	}

	switch name {
	case sleuth.HandlerRespond, sleuth.HandlerFailure:
		sender, err := twilio.NewSender(tw)
		if err != nil {
			return nil, err
		}
		if name == sleuth.HandlerRespond {
			r, err := NewResponder(led, sender, cfg.FunctionTimeout, logger)
			if err != nil {
				return nil, err
			}
			return r.HandleSNS, nil
		}
		f, err := NewFailure(led, sender, cfg.FunctionTimeout, logger)
		if err != nil {
			return nil, err
		}
		return f.HandleSNS, nil
	}

	deps := Deps{
		Faces:     rekognition.New(awsrek.NewFromConfig(awsCfg)),
		Publisher: awsenv.NewSNSPublisher(sns.NewFromConfig(awsCfg)),
		Ledger:    led,
		Logger:    logger,
	}
	var err error
	if name != sleuth.HandlerAddCollection {
		if deps.Media, err = twilio.NewMedia(tw, cfg.MediaHosts); err != nil {
			return nil, err
		}
	}
	if name == sleuth.HandlerMatch {
		if deps.Biographies, err = wikipedia.New(cfg.WikipediaURL, nil); err != nil {
			return nil, err
		}
	}
	w, err := New(cfg, deps)
	if err != nil {
		return nil, err
	}
	return w.HandleSNS, nil
}
