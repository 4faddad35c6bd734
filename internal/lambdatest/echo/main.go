// Command echo is a trivial Lambda function: lambdatest's own tests run it,
// and it measures what the Runtime Interface Emulator costs by itself.
//
// Its handler setting (_HANDLER, lambdatest.Options.Handler) picks what it
// does with an invocation:
//
//   - "echo" (or the default "bootstrap"): returns the payload unchanged;
//   - "env": returns its environment, the invocation's request id and the
//     time left before the deadline, in milliseconds;
//   - "error": returns an error whose message is the payload;
//   - "sleep": waits until the invocation times out;
//   - "initfail": exits with status 3 before starting the runtime loop, as a
//     function does when its configuration is invalid.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

// EnvReport is what the "env" handler returns.
type EnvReport struct {
	Env        map[string]string `json:"env"`
	RequestID  string            `json:"requestId"`
	DeadlineMs int64             `json:"deadlineMs"`
}

func main() {
	handler := os.Getenv("_HANDLER")
	switch handler {
	case "", "bootstrap", "echo":
		lambda.Start(func(payload json.RawMessage) (json.RawMessage, error) { return payload, nil })
	case "env":
		lambda.Start(reportEnv)
	case "error":
		lambda.Start(func(payload json.RawMessage) (json.RawMessage, error) {
			return nil, errors.New(string(payload))
		})
	case "sleep":
		lambda.Start(func(ctx context.Context) error {
			<-ctx.Done()
			time.Sleep(time.Hour) // Lambda, not the handler, ends a timed-out invocation.
			return nil
		})
	case "initfail":
		fmt.Fprintln(os.Stderr, "echo: failing init as asked")
		os.Exit(3)
	default:
		fmt.Fprintf(os.Stderr, "echo: unknown handler %q: use echo, env, error, sleep or initfail\n", handler)
		os.Exit(2)
	}
}

// reportEnv describes the environment the function runs in.
func reportEnv(ctx context.Context) (EnvReport, error) {
	report := EnvReport{Env: map[string]string{}}
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		report.Env[k] = v
	}
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		report.RequestID = lc.AwsRequestID
	}
	if deadline, ok := ctx.Deadline(); ok {
		report.DeadlineMs = time.Until(deadline).Milliseconds()
	}
	return report, nil
}
