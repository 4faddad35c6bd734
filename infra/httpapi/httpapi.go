// Package httpapi creates an API Gateway v2 HTTP API with Pulumi: New
// makes the API and its auto-deployed $default stage (throttled, with an
// optional JSON access log), and AddLambdaRoute connects a route to a
// Lambda function (integration, route and an invoke permission scoped to
// that route).
package httpapi

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/apigatewayv2"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudwatch"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/lambda"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// accessLogFormat is the HTTP API's access log line: one JSON object per
// request with what is needed to trace a failure to its Lambda invocation.
const accessLogFormat = `{"requestId":"$context.requestId","ip":"$context.identity.sourceIp","requestTime":"$context.requestTime",` +
	`"routeKey":"$context.routeKey","status":"$context.status","protocol":"$context.protocol",` +
	`"responseLength":"$context.responseLength","responseLatency":"$context.responseLatency",` +
	`"integrationLatency":"$context.integrationLatency","integrationStatus":"$context.integrationStatus",` +
	`"integrationError":"$context.integrationErrorMessage"}`

// routeKeyPattern is the form of the route keys this package creates:
// a method and a path, e.g. "GET /detect" or "POST /sms".
var routeKeyPattern = regexp.MustCompile(`^(ANY|DELETE|GET|HEAD|OPTIONS|PATCH|POST|PUT) (/[A-Za-z0-9._~{}+/-]*)$`)

// Args are the inputs of an API.
type Args struct {
	// Name is the API's physical name, carrying the stack prefix.
	Name string
	// AccessLogRetentionDays, when positive, turns on the access log: a log
	// group /aws/apigateway/<Name> kept that many days. Zero means no access
	// log.
	AccessLogRetentionDays int
	// ThrottlingBurstLimit and ThrottlingRateLimit (requests per second)
	// apply to every route of the $default stage; both must be positive.
	ThrottlingBurstLimit int
	ThrottlingRateLimit  float64
	Tags                 pulumi.StringMap
}

// API is an API Gateway v2 HTTP API with a $default stage that deploys
// every change automatically. Components add their routes with
// AddLambdaRoute (or from ApiId and ExecutionArn).
type API struct {
	pulumi.ResourceState

	// ApiId is the API's id, for routes and integrations.
	ApiId pulumi.StringOutput
	// ExecutionArn is the API's execute-api ARN, the base of the SourceArn
	// of Lambda permissions.
	ExecutionArn pulumi.StringOutput
	// Endpoint is the $default stage's base URL without a trailing slash,
	// e.g. "https://abc123.execute-api.us-east-1.amazonaws.com"; it
	// resolves only once the stage exists.
	Endpoint pulumi.StringOutput
	// AccessLogGroup is the access log's group name, or "" without one.
	AccessLogGroup pulumi.StringOutput
}

// New creates the API, its $default stage and, if asked, the access log
// group, under a component of type crossfaas:aws:HTTPAPI.
func New(ctx *pulumi.Context, name string, args *Args, opts ...pulumi.ResourceOption) (*API, error) {
	if args == nil {
		return nil, errors.New("new http api: args are nil")
	}
	if args.Name == "" {
		return nil, fmt.Errorf("new http api %s: name is required", name)
	}
	if args.ThrottlingBurstLimit <= 0 || args.ThrottlingRateLimit <= 0 {
		return nil, fmt.Errorf("new http api %s: throttling limits must be positive", name)
	}
	comp := &API{}
	if err := ctx.RegisterComponentResource("crossfaas:aws:HTTPAPI", name, comp, opts...); err != nil {
		return nil, fmt.Errorf("new http api %s: %w", name, err)
	}
	parent := pulumi.Parent(comp)

	api, err := apigatewayv2.NewApi(ctx, name, &apigatewayv2.ApiArgs{
		Name:         pulumi.String(args.Name),
		ProtocolType: pulumi.String("HTTP"),
		Tags:         args.Tags,
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("new http api %s: api: %w", name, err)
	}

	var accessLogs apigatewayv2.StageAccessLogSettingsPtrInput
	accessLogGroup := pulumi.String("").ToStringOutput()
	if args.AccessLogRetentionDays > 0 {
		group, err := cloudwatch.NewLogGroup(ctx, name+"-access-logs", &cloudwatch.LogGroupArgs{
			Name:            pulumi.String("/aws/apigateway/" + args.Name),
			RetentionInDays: pulumi.Int(args.AccessLogRetentionDays),
			Tags:            args.Tags,
		}, parent)
		if err != nil {
			return nil, fmt.Errorf("new http api %s: access log group: %w", name, err)
		}
		accessLogs = &apigatewayv2.StageAccessLogSettingsArgs{
			DestinationArn: group.Arn,
			Format:         pulumi.String(accessLogFormat),
		}
		accessLogGroup = group.Name
	}

	stage, err := apigatewayv2.NewStage(ctx, name+"-default", &apigatewayv2.StageArgs{
		ApiId:             api.ID().ToStringOutput(),
		Name:              pulumi.String("$default"),
		AutoDeploy:        pulumi.Bool(true),
		AccessLogSettings: accessLogs,
		DefaultRouteSettings: &apigatewayv2.StageDefaultRouteSettingsArgs{
			ThrottlingBurstLimit: pulumi.Int(args.ThrottlingBurstLimit),
			ThrottlingRateLimit:  pulumi.Float64(args.ThrottlingRateLimit),
		},
		Tags: args.Tags,
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("new http api %s: stage: %w", name, err)
	}

	comp.ApiId = api.ID().ToStringOutput()
	comp.ExecutionArn = api.ExecutionArn
	comp.Endpoint = stage.InvokeUrl.ApplyT(func(u string) string {
		return strings.TrimSuffix(u, "/")
	}).(pulumi.StringOutput)
	comp.AccessLogGroup = accessLogGroup
	if err := ctx.RegisterResourceOutputs(comp, pulumi.Map{
		"apiId":          comp.ApiId,
		"executionArn":   comp.ExecutionArn,
		"endpoint":       comp.Endpoint,
		"accessLogGroup": comp.AccessLogGroup,
	}); err != nil {
		return nil, fmt.Errorf("new http api %s: outputs: %w", name, err)
	}
	return comp, nil
}

// LambdaRouteArgs connect one route of an API to a Lambda function.
type LambdaRouteArgs struct {
	// RouteKey is the method and path, e.g. "GET /detect". Path parameters
	// ("/items/{id}") are allowed; the permission then covers any value.
	RouteKey string
	// Function is the Lambda function the route invokes.
	Function *lambda.Function
}

// LambdaRoute is what AddLambdaRoute creates.
type LambdaRoute struct {
	Integration *apigatewayv2.Integration
	Route       *apigatewayv2.Route
	Permission  *lambda.Permission
}

// AddLambdaRoute connects a route to a Lambda function: an AWS_PROXY
// integration with payload format 2.0, the route, and the permission for
// API Gateway to invoke the function through that route of this API only.
// The resources are named name-integration, name-route and
// name-permission; pass pulumi.Parent(yourComponent) in opts so they
// belong to the component that owns the function.
func (a *API) AddLambdaRoute(ctx *pulumi.Context, name string, args *LambdaRouteArgs, opts ...pulumi.ResourceOption) (*LambdaRoute, error) {
	if args == nil || args.Function == nil {
		return nil, fmt.Errorf("add lambda route %s: a route key and a function are required", name)
	}
	if !routeKeyPattern.MatchString(args.RouteKey) {
		return nil, fmt.Errorf("add lambda route %s: route key %q is not a method and a path such as \"GET /detect\"", name, args.RouteKey)
	}

	integration, err := apigatewayv2.NewIntegration(ctx, name+"-integration", &apigatewayv2.IntegrationArgs{
		ApiId:                a.ApiId,
		IntegrationType:      pulumi.String("AWS_PROXY"),
		IntegrationMethod:    pulumi.String("POST"),
		IntegrationUri:       args.Function.InvokeArn,
		PayloadFormatVersion: pulumi.String("2.0"),
	}, opts...)
	if err != nil {
		return nil, fmt.Errorf("add lambda route %s: integration: %w", name, err)
	}

	route, err := apigatewayv2.NewRoute(ctx, name+"-route", &apigatewayv2.RouteArgs{
		ApiId:    a.ApiId,
		RouteKey: pulumi.String(args.RouteKey),
		Target: integration.ID().ApplyT(func(id pulumi.ID) string {
			return "integrations/" + string(id)
		}).(pulumi.StringOutput),
	}, opts...)
	if err != nil {
		return nil, fmt.Errorf("add lambda route %s: route: %w", name, err)
	}

	sourceArn := routeSourceArn(args.RouteKey)
	permission, err := lambda.NewPermission(ctx, name+"-permission", &lambda.PermissionArgs{
		Action:    pulumi.String("lambda:InvokeFunction"),
		Function:  args.Function.Name,
		Principal: pulumi.String("apigateway.amazonaws.com"),
		SourceArn: a.ExecutionArn.ApplyT(func(arn string) string {
			return arn + sourceArn
		}).(pulumi.StringOutput),
	}, opts...)
	if err != nil {
		return nil, fmt.Errorf("add lambda route %s: permission: %w", name, err)
	}
	return &LambdaRoute{Integration: integration, Route: route, Permission: permission}, nil
}

// routeSourceArn returns the part of an execute-api ARN after the API id
// that matches one route key in any stage: "/*/GET/detect" for
// "GET /detect". ANY becomes "*", and so does each {parameter} of the path.
// routeKey must match routeKeyPattern.
func routeSourceArn(routeKey string) string {
	method, path, _ := strings.Cut(routeKey, " ")
	if method == "ANY" {
		method = "*"
	}
	segments := strings.Split(path, "/")
	for i, s := range segments {
		if strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}") {
			segments[i] = "*"
		}
	}
	return "/*/" + method + strings.Join(segments, "/")
}
