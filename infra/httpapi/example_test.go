package httpapi_test

import (
	"fmt"
	"log"

	"github.com/crossfaas/crossfaas/infra/httpapi"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/lambda"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// exampleMocks stands in for the AWS provider with the outputs the API
// and its routes read.
type exampleMocks struct{}

func (exampleMocks) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	outs := args.Inputs.Copy()
	switch args.TypeToken {
	case "aws:apigatewayv2/api:Api":
		outs["executionArn"] = resource.NewProperty("arn:aws:execute-api:us-east-1:123456789012:abc123")
		return "abc123", outs, nil
	case "aws:apigatewayv2/stage:Stage":
		outs["invokeUrl"] = resource.NewProperty("https://abc123.execute-api.us-east-1.amazonaws.com/")
	case "aws:lambda/function:Function":
		outs["invokeArn"] = resource.NewProperty("arn:aws:apigateway:us-east-1:lambda:path/functions/" + args.Name + "/invocations")
	}
	return args.Name + "-id", outs, nil
}

func (exampleMocks) Call(args pulumi.MockCallArgs) (resource.PropertyMap, error) {
	return nil, fmt.Errorf("unexpected call %s", args.Token)
}

// Put a Lambda function behind GET /hello of a new HTTP API. (Run here
// under mocks: no AWS account.)
func Example() {
	err := pulumi.RunErr(func(ctx *pulumi.Context) error {
		api, err := httpapi.New(ctx, "api", &httpapi.Args{
			Name:                 "example-api",
			ThrottlingBurstLimit: 20,
			ThrottlingRateLimit:  10,
		})
		if err != nil {
			return err
		}
		fn, err := lambda.NewFunction(ctx, "hello", &lambda.FunctionArgs{
			Role: pulumi.String("arn:aws:iam::123456789012:role/hello"), Runtime: pulumi.String("provided.al2023"),
			Handler: pulumi.String("bootstrap"), Code: pulumi.NewFileArchive("."),
		})
		if err != nil {
			return err
		}
		route, err := api.AddLambdaRoute(ctx, "hello", &httpapi.LambdaRouteArgs{RouteKey: "GET /hello", Function: fn})
		if err != nil {
			return err
		}
		pulumi.All(api.Endpoint, route.Route.RouteKey, route.Permission.SourceArn).ApplyT(func(v []any) error {
			fmt.Printf("%s at %s/hello\ninvocable from %s\n", v[1], v[0], *v[2].(*string))
			return nil
		})
		return nil
	}, pulumi.WithMocks("example", "dev", exampleMocks{}))
	if err != nil {
		log.Fatal(err)
	}
	// Output:
	// GET /hello at https://abc123.execute-api.us-east-1.amazonaws.com/hello
	// invocable from arn:aws:execute-api:us-east-1:123456789012:abc123/*/GET/hello
}
