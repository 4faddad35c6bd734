// Command bootstrap is the one binary of every CelebritySleuth Lambda
// (runtime provided.al2023). It serves the handler named by the function's
// handler setting, which Lambda passes as _HANDLER (sleuth.Handler*), so
// all sleuth functions deploy the same zip.
//
// Each handler is built once, at cold start: configuration is read from the
// environment and secrets from SSM, failing fast with a message that names
// what is missing.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/crossfaas/crossfaas/functions/sleuth"
	"github.com/crossfaas/crossfaas/functions/sleuth/request"
	"github.com/crossfaas/crossfaas/functions/sleuth/worker"
)

// initTimeout bounds the cold-start work (reading secrets); Lambda's init
// phase allows 10 s.
const initTimeout = 8 * time.Second

func main() {
	logger := lambdacontext.NewLogger()
	name := os.Getenv("_HANDLER")
	ctx, cancel := context.WithTimeout(context.Background(), initTimeout)
	handler, err := newHandler(ctx, name, logger)
	cancel()
	if err != nil {
		logger.Error("sleuth bootstrap: cannot start", "handler", name, "error", err)
		os.Exit(1)
	}
	lambda.Start(handler)
}

// newHandler builds the handler called name, as a function lambda.Start
// accepts.
func newHandler(ctx context.Context, name string, logger *slog.Logger) (any, error) {
	switch name {
	case sleuth.HandlerRequest:
		return newRequest(ctx, logger)
	case sleuth.HandlerAddCollection, sleuth.HandlerAddImage, sleuth.HandlerMatch,
		sleuth.HandlerRespond, sleuth.HandlerFailure:
		return worker.HandlerFromEnv(ctx, name, logger)
	default:
		return nil, fmt.Errorf("unknown handler %q in _HANDLER: set the function's handler to one of %q, %q, %q, %q, %q, %q",
			name, sleuth.HandlerRequest, sleuth.HandlerAddCollection, sleuth.HandlerAddImage,
			sleuth.HandlerMatch, sleuth.HandlerRespond, sleuth.HandlerFailure)
	}
}

// newRequest builds the webhook handler (package request): it reads the
// Twilio auth token from SSM, to check signatures, and publishes to SNS.
func newRequest(ctx context.Context, logger *slog.Logger) (any, error) {
	h, err := request.FromEnv(ctx, logger)
	if err != nil {
		return nil, err
	}
	return h.Handle, nil
}
