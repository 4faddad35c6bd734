// Command bootstrap is the proxy Lambda (runtime provided.al2023). Build it
// with -tags lambda.norpc into a file named bootstrap at the zip's root.
//
// The configuration and the HTTP client are built once per execution
// environment; a missing or invalid LABELER_URL or LABELER_CREDENTIAL_CONFIG
// stops the cold start with a logged message naming the variable, which
// Lambda reports as an init error. Nothing is fetched at cold start: a
// private labeler's ID token comes with the first call to it.
package main

import (
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/crossfaas/crossfaas/functions/proxy"
)

func main() {
	logger := lambdacontext.NewLogger()
	cfg, err := proxy.ConfigFromEnv()
	if err != nil {
		logger.Error("proxy cannot start", "error", err.Error())
		os.Exit(1)
	}
	// No request here: a private labeler's first ID token is fetched by the
	// first invocation that calls it.
	client, err := proxy.ClientFor(cfg)
	if err != nil {
		logger.Error("proxy cannot start", "error", err.Error())
		os.Exit(1)
	}
	h := proxy.New(cfg, client, logger)
	lambda.Start(h.Handle)
}
