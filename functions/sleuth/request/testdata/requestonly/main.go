// Command requestonly is the request Lambda built alone, without the other
// sleuth handlers the shared bootstrap links in. The cold-start test
// measures it next to the shared bootstrap, to show what the other
// handlers' package initialisation costs the webhook.
package main

import (
	"context"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/crossfaas/crossfaas/functions/sleuth/request"
)

func main() {
	logger := lambdacontext.NewLogger()
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
	h, err := request.FromEnv(ctx, logger)
	cancel()
	if err != nil {
		logger.Error("request: cannot start", "error", err)
		os.Exit(1)
	}
	lambda.Start(h.Handle)
}
