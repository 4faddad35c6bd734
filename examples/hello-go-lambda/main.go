// Command hello-go-lambda deploys one Go Lambda behind an HTTP API with
// crossfaas's components: `pulumi up` builds ./function for arm64, zips it
// reproducibly and creates the function, its role, log group, the API and
// the GET /hello route. Then: curl "$(pulumi stack output url)?name=you".
package main

import (
	"github.com/crossfaas/crossfaas/infra/golambda"
	"github.com/crossfaas/crossfaas/infra/httpapi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

func main() { pulumi.Run(program) }

func program(ctx *pulumi.Context) error {
	name := "hello-" + ctx.Stack()
	fn, err := golambda.New(ctx, "hello", &golambda.Args{
		Name: name, Package: "./function", Handler: "bootstrap",
		MemoryMB: 128, TimeoutSeconds: 10, LogRetentionDays: 14,
	})
	if err != nil {
		return err
	}
	api, err := httpapi.New(ctx, "api", &httpapi.Args{Name: name, ThrottlingBurstLimit: 20, ThrottlingRateLimit: 10})
	if err != nil {
		return err
	}
	if _, err := api.AddLambdaRoute(ctx, "hello", &httpapi.LambdaRouteArgs{RouteKey: "GET /hello", Function: fn.Function}, pulumi.Parent(api)); err != nil {
		return err
	}
	ctx.Export("url", pulumi.Sprintf("%s/hello", api.Endpoint))
	ctx.Export("artifact", fn.Artifact)
	return nil
}
