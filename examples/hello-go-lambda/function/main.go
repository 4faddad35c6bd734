// Command function is the example's Lambda: GET /hello answers a greeting.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
)

func hello(_ context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	name := req.QueryStringParameters["name"]
	if name == "" {
		name = "world"
	}
	return events.APIGatewayV2HTTPResponse{StatusCode: 200, Body: "hello, " + name + "\n"}, nil
}

func main() { lambda.Start(hello) }
