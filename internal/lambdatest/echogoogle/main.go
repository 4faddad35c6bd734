// Command echogoogle is echo's "echo" handler with Google's external
// account credentials (cloud.google.com/go/auth/credentials/externalaccount)
// linked in and initialised, nothing else: TestColdStart in
// functions/proxy measures what that package alone costs a Lambda's cold
// start and zip, the reason the proxy has its own token client (package
// federation).
package main

import (
	"encoding/json"

	_ "cloud.google.com/go/auth/credentials/externalaccount"
	"github.com/aws/aws-lambda-go/lambda"
)

func main() {
	lambda.Start(func(payload json.RawMessage) (json.RawMessage, error) { return payload, nil })
}
