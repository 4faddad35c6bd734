package sleuthbot

import (
	"encoding/json"
	"fmt"

	"github.com/crossfaas/crossfaas/functions/sleuth"
	"github.com/crossfaas/crossfaas/gobuild"
	"github.com/crossfaas/crossfaas/infra/golambda"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/lambda"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// sleuthCleanupTimeoutSeconds bounds the cleanup Lambda: listing and
// deleting a few hundred collections.
const sleuthCleanupTimeoutSeconds = 120

// sleuthCleanupArgs are the inputs of newSleuthCleanup.
type sleuthCleanupArgs struct {
	Prefix   string
	Artifact gobuild.Artifact
	// Collections is the ARN pattern of the stack's collections
	// (collectionsArn).
	Collections pulumi.StringOutput
	// Keep are the ids of the collections the stack manages as resources
	// (Pulumi deletes them itself).
	Keep             []string
	LogRetentionDays int
	Tags             pulumi.StringMap
}

// newSleuthCleanup makes `pulumi destroy` leave no face data behind: the
// users' collections (`face addcol`) are created at run time, so no
// resource of the stack holds them. A cleanup Lambda (the sleuth
// artifact's "cleanup" handler) and an aws.lambda.Invocation with
// lifecycle scope CRUD: when the invocation is deleted, Pulumi invokes the
// function with tf.action "delete" and it deletes every collection whose
// id starts with "<prefix>." (sleuth.CollectionID) but args.Keep. The
// invocation depends, explicitly, on the function, its role, its policy,
// its log group and the managed collection, so on destroy it is deleted,
// and the function called, while all of them still exist.
//
// The function may list collections (ListCollections has no resource
// scope) and delete only the stack's own: IAM holds it to the prefix even
// if its code did not.
func newSleuthCleanup(ctx *pulumi.Context, name string, args sleuthCleanupArgs, comp pulumi.Resource, dependsOn []pulumi.Resource) (*golambda.GoLambda, *lambda.Invocation, error) {
	parent := pulumi.Parent(comp)
	fn, err := golambda.New(ctx, name+"-"+sleuth.HandlerCleanup, &golambda.Args{
		Name:             args.Prefix + "-sleuth-" + sleuth.HandlerCleanup,
		Artifact:         args.Artifact,
		Handler:          sleuth.HandlerCleanup,
		MemoryMB:         128,
		TimeoutSeconds:   sleuthCleanupTimeoutSeconds,
		LogRetentionDays: args.LogRetentionDays,
		Environment:      pulumi.StringMap{sleuth.EnvPrefix: pulumi.String(args.Prefix)},
		Statements: []golambda.PolicyStatement{
			{Actions: []string{"rekognition:ListCollections"}, Resources: pulumi.StringArray{pulumi.String("*")}},
			{Actions: []string{"rekognition:DeleteCollection"}, Resources: pulumi.StringArray{args.Collections}},
		},
		Tags:         args.Tags,
		FormerParent: comp,
	}, parent)
	if err != nil {
		return nil, nil, fmt.Errorf("cleanup: %w", err)
	}
	input, err := json.Marshal(map[string]any{"keep": args.Keep})
	if err != nil {
		return nil, nil, fmt.Errorf("cleanup: input: %w", err)
	}
	inv, err := lambda.NewInvocation(ctx, name+"-cleanup-on-delete", &lambda.InvocationArgs{
		FunctionName:   fn.Function.Name,
		Input:          pulumi.String(string(input)),
		LifecycleScope: pulumi.String("CRUD"),
	}, parent, pulumi.DependsOn(append([]pulumi.Resource{fn.Function, fn.Role, fn.Policy, fn.LogGroup}, dependsOn...)))
	if err != nil {
		return nil, nil, fmt.Errorf("cleanup: invocation: %w", err)
	}
	return fn, inv, nil
}
