// Command bootstrap is CelebritySleuth's request Lambda (runtime
// provided.al2023, handler "request", artifact sleuth-request): the webhook
// Twilio calls for every SMS, served by package request. It is a binary of
// its own, apart from the shared sleuth bootstrap of the SNS-triggered
// Lambdas, because its latency is on Twilio's 15-second clock and the
// user's wait: it links only what the webhook needs (the SNS and SSM
// clients, twilio-go's signature validator; not aws-sdk-go-v2/config), so
// its cold start stays close to a hello-world function's.
//
// At cold start it reads its configuration, failing fast with a message
// naming what is missing, and starts reading the Twilio auth token from
// SSM. On an on-demand cold start it does not wait for the token before
// polling for the first request, which it has in hand at once: the read
// overlaps the runtime's poll and the first request waits for it. Under
// provisioned concurrency (AWS_LAMBDA_INITIALIZATION_TYPE
// "provisioned-concurrency") the first request may come long after init
// and the execution environment is frozen in between, so it waits for the
// token during init: the read is then off every request's path, and a
// failure fails the allocation rather than a user's request.
//
// When the token cannot be read, the process ends with the error logged,
// as a failed init does; Lambda reports the failure and starts a fresh
// execution environment for the next request.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/crossfaas/crossfaas/functions/sleuth"
	"github.com/crossfaas/crossfaas/functions/sleuth/request"
)

// secretTimeout bounds the read of the auth token, within Lambda's 10-second
// init phase when it is read there.
const secretTimeout = 8 * time.Second

func main() {
	logger := lambdacontext.NewLogger()
	ctx, cancel := context.WithTimeout(context.Background(), secretTimeout)
	defer cancel()
	h, err := newHandler(ctx, os.Getenv("_HANDLER"), logger)
	if err != nil {
		logger.Error("sleuth request: cannot start", "error", err)
		os.Exit(1)
	}
	if os.Getenv("AWS_LAMBDA_INITIALIZATION_TYPE") == "provisioned-concurrency" {
		ready(ctx, h, logger)
	}
	lambda.Start(func(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		ready(ctx, h, logger)
		return h.Handle(ctx, ev)
	})
}

// newHandler builds the request handler when name, the function's handler
// setting, is sleuth.HandlerRequest. Any other name means this zip was
// deployed for another function, which must fail loudly rather than serve
// the webhook to SNS events.
func newHandler(ctx context.Context, name string, logger *slog.Logger) (*request.Handler, error) {
	if name != sleuth.HandlerRequest {
		return nil, fmt.Errorf("handler %q in _HANDLER: this binary serves only %q; the other sleuth handlers are in the sleuth artifact",
			name, sleuth.HandlerRequest)
	}
	return request.FromEnv(ctx, logger)
}

// ready waits for h's auth token and ends the process when there is none.
// After the first call it returns at once.
func ready(ctx context.Context, h *request.Handler, logger *slog.Logger) {
	if err := h.Ready(ctx); err != nil {
		logger.ErrorContext(ctx, "sleuth request: cannot start", "error", err)
		os.Exit(1)
	}
}
