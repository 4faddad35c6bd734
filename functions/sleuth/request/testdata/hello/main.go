// Command hello is the baseline of the request Lambda's cold-start test: the
// smallest aws-lambda-go function answering an API Gateway HTTP API event,
// built with the same flags as the real bootstrap.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
)

func hello(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	return events.APIGatewayV2HTTPResponse{
		StatusCode: 200,
		Headers:    map[string]string{"Content-Type": "text/plain"},
		Body:       "hello\n",
	}, nil
}

func main() {
	lambda.Start(hello)
}
