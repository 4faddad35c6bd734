package main

import (
	"errors"
	"fmt"

	"github.com/crossfaas/crossfaas/gobuild"
	"github.com/crossfaas/crossfaas/infra/golambda"
	"github.com/crossfaas/crossfaas/infra/httpapi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// proxyPath and proxyRouteKey are the proxy's one route on the HTTP API.
const (
	proxyPath     = "/detect"
	proxyRouteKey = "GET " + proxyPath
)

// ProxyArgs are the inputs of a Proxy.
type ProxyArgs struct {
	// FunctionName is the Lambda's physical name, carrying the stack prefix.
	FunctionName string
	// Artifact is the proxy's Lambda zip (the "proxy" build artifact).
	Artifact gobuild.Artifact
	// API is the HTTP API that gets the GET /detect route.
	API *httpapi.API
	// LabelerURL is the labeler's HTTPS URL, handed to the Lambda as
	// LABELER_URL.
	LabelerURL pulumi.StringInput
	// CredentialConfig, for a private labeler, is the credential
	// configuration handed to the Lambda as LABELER_CREDENTIAL_CONFIG
	// (PrivateLink.CredentialConfig); nil for a public labeler.
	CredentialConfig pulumi.StringInput
	MemoryMB         int
	TimeoutSeconds   int
	LogRetentionDays int
	Tags             pulumi.StringMap
}

// Proxy is the AWS side of labeling: a Lambda behind GET /detect of the
// HTTP API that forwards to the labeler. Its role may only write its own
// logs: it needs no AWS permission to prove who it is to Google (the
// subject token is a GetCallerIdentity request, which no policy can deny).
type Proxy struct {
	pulumi.ResourceState

	// FunctionName and FunctionArn identify the Lambda function.
	FunctionName pulumi.StringOutput
	FunctionArn  pulumi.StringOutput
	// URL is the full URL of the route, "<api endpoint>/detect".
	URL pulumi.StringOutput
}

// NewProxy creates the proxy's Lambda function (with its role and log
// group) and connects it to the API's GET /detect route.
func NewProxy(ctx *pulumi.Context, name string, args *ProxyArgs, opts ...pulumi.ResourceOption) (*Proxy, error) {
	if args == nil {
		return nil, errors.New("new proxy: args are nil")
	}
	if args.API == nil || args.LabelerURL == nil {
		return nil, fmt.Errorf("new proxy %s: an API and the labeler URL are required", name)
	}
	comp := &Proxy{}
	if err := ctx.RegisterComponentResource("crossfaas:aws:Proxy", name, comp, opts...); err != nil {
		return nil, fmt.Errorf("new proxy %s: %w", name, err)
	}
	parent := pulumi.Parent(comp)

	environment := pulumi.StringMap{"LABELER_URL": args.LabelerURL}
	if args.CredentialConfig != nil {
		environment["LABELER_CREDENTIAL_CONFIG"] = args.CredentialConfig
	}
	fn, err := golambda.New(ctx, name, &golambda.Args{
		Name:             args.FunctionName,
		Artifact:         args.Artifact,
		Handler:          "bootstrap",
		MemoryMB:         args.MemoryMB,
		TimeoutSeconds:   args.TimeoutSeconds,
		LogRetentionDays: args.LogRetentionDays,
		// The proxy reads nothing else: no secrets, no other settings.
		Environment:  environment,
		Tags:         args.Tags,
		FormerParent: comp,
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("new proxy %s: %w", name, err)
	}

	route, err := args.API.AddLambdaRoute(ctx, name+"-detect", &httpapi.LambdaRouteArgs{
		RouteKey: proxyRouteKey,
		Function: fn.Function,
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("new proxy %s: %w", name, err)
	}

	comp.FunctionName = fn.Function.Name
	comp.FunctionArn = fn.Function.Arn
	// Waiting for the route and permission means the URL, once known,
	// answers.
	comp.URL = pulumi.All(args.API.Endpoint, route.Route.ID(), route.Permission.ID()).ApplyT(func(v []any) string {
		return v[0].(string) + proxyPath
	}).(pulumi.StringOutput)
	if err := ctx.RegisterResourceOutputs(comp, pulumi.Map{
		"functionName": comp.FunctionName,
		"functionArn":  comp.FunctionArn,
		"url":          comp.URL,
	}); err != nil {
		return nil, fmt.Errorf("new proxy %s: outputs: %w", name, err)
	}
	return comp, nil
}
