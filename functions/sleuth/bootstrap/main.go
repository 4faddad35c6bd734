// Command bootstrap is the one binary of CelebritySleuth's SNS-triggered
// Lambdas (runtime provided.al2023, artifact sleuth): the command handlers
// (addcol, addimg, match), respond, failure and cleanup (which the stack
// invokes on destroy). It serves the handler named
// by the function's handler setting, which Lambda passes as _HANDLER
// (sleuth.Handler*), so all of them deploy the same zip.
//
// The webhook (handler "request") is not here: it is the sleuth-request
// artifact, built from functions/sleuth/request/bootstrap, because its cold
// start is on Twilio's clock and the user's wait, and this binary links
// what the workers need (Rekognition, DynamoDB, the SDK's full
// configuration chain), which would make it slower to start. Serving it
// from here too would keep a second, slower way to deploy the webhook; a
// function still set to "request" on this zip fails at cold start with a
// message saying which artifact to deploy.
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
	case sleuth.HandlerAddCollection, sleuth.HandlerAddImage, sleuth.HandlerMatch,
		sleuth.HandlerRespond, sleuth.HandlerFailure:
		return worker.HandlerFromEnv(ctx, name, logger)
	case sleuth.HandlerCleanup:
		return worker.CleanupFromEnv(ctx, logger)
	case sleuth.HandlerRequest:
		return nil, fmt.Errorf("handler %q is not in this binary: deploy the sleuth-request artifact (functions/sleuth/request/bootstrap) for it", name)
	default:
		return nil, fmt.Errorf("unknown handler %q in _HANDLER: set the function's handler to one of %q, %q, %q, %q, %q, %q",
			name, sleuth.HandlerAddCollection, sleuth.HandlerAddImage,
			sleuth.HandlerMatch, sleuth.HandlerRespond, sleuth.HandlerFailure, sleuth.HandlerCleanup)
	}
}
