// Command bootstrap is the upload inspector Lambda (runtime provided.al2023,
// arm64), invoked by S3 for objects created under incoming/ in the uploads
// bucket. Build it with -tags lambda.norpc into a file named bootstrap at
// the zip's root.
//
// The configuration, the S3 client (from the Lambda environment, without
// the SDK's config package: see lambdaenv.AWSConfig) and the labeler's HTTP
// client are built once per execution environment; a missing or invalid
// variable stops the cold start with a logged message naming it. Nothing is
// fetched at cold start: the private link's first ID token is asked for
// when the first upload's inspection starts, beside its S3 reads. The Go
// heap is held under 80% of the function's memory (GOMEMLIMIT from
// AWS_LAMBDA_FUNCTION_MEMORY_SIZE, unless set), so that the collector works
// harder before the function would run out.
package main

import (
	"os"
	"runtime/debug"
	"strconv"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/crossfaas/crossfaas/functions/inspector"
	"github.com/crossfaas/crossfaas/internal/lambdaenv"
)

func main() {
	logger := lambdacontext.NewLogger()
	if os.Getenv("GOMEMLIMIT") == "" {
		if mb, err := strconv.ParseInt(os.Getenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE"), 10, 64); err == nil && mb > 0 {
			debug.SetMemoryLimit(mb << 20 * 8 / 10)
		}
	}
	cfg, err := inspector.ConfigFromEnv()
	if err != nil {
		logger.Error("inspector cannot start", "error", err.Error())
		os.Exit(1)
	}
	awsCfg, err := lambdaenv.AWSConfig()
	if err != nil {
		logger.Error("inspector cannot start", "error", err.Error())
		os.Exit(1)
	}
	store := s3.NewFromConfig(awsCfg, inspector.S3Options)
	client, tokens, err := inspector.LabelerClient(cfg)
	if err != nil {
		logger.Error("inspector cannot start", "error", err.Error())
		os.Exit(1)
	}
	h, err := inspector.New(cfg, store, client, logger, nil)
	if err != nil {
		logger.Error("inspector cannot start", "error", err.Error())
		os.Exit(1)
	}
	h.PrefetchTokens(tokens)
	lambda.Start(h.Handle)
}
