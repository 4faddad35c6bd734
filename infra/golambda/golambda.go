// Package golambda deploys a Go program as an AWS Lambda function with
// Pulumi: New builds the main package reproducibly (gobuild: linux,
// arm64 or amd64, release flags, a zip holding bootstrap alone with mode
// 0755 and a fixed time) and creates the function on provided.al2023 with
// its own IAM role, an inline policy allowing only the statements given
// (and writing its own logs), and its log group. The same source gives the
// same zip, so `pulumi up` shows no diff until the code changes.
package golambda

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/crossfaas/crossfaas/gobuild"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudwatch"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/lambda"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// A Go Lambda is a binary named bootstrap on Amazon Linux 2023, by default
// for Graviton.
const (
	lambdaRuntime      = "provided.al2023"
	lambdaArchitecture = "arm64"
)

// lambdaAssumeRolePolicy lets the Lambda service, and nothing else, assume
// a function's role.
const lambdaAssumeRolePolicy = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}`

// PolicyStatement is one Allow statement of an IAM policy.
type PolicyStatement struct {
	// Actions are IAM actions such as "sns:Publish". Wildcards are refused:
	// every function gets exactly the actions it calls.
	Actions []string
	// Resources are the ARNs the actions apply to; at least one.
	Resources pulumi.StringArrayInput
}

// Args describes a Go Lambda function together with the role and the log
// group it owns.
type Args struct {
	// Name is the physical function name (a stage's prefix included, if
	// any). The role has the same name and the log group is
	// /aws/lambda/<Name>.
	Name string
	// Package is the main package to build, as go build takes it relative
	// to ModuleDir ("./cmd/hello"), when Artifact is zero. The zip is
	// written to OutDir/<logical name>.zip, so the logical name must be
	// lower-case letters, digits, '.', '_' or '-'.
	Package string
	// ModuleDir is the directory of the go.mod the build runs in; "" means
	// the working directory (for `pulumi up`, the project's).
	ModuleDir string
	// OutDir receives the built zip; "" means <ModuleDir>/dist.
	OutDir string
	// Artifact is an already built zip (gobuild.All with a Lambda target);
	// when its Path is set, Package is not built.
	Artifact gobuild.Artifact
	// Architecture is "arm64" (the default when "") or "amd64".
	Architecture string
	// Handler is passed to the bootstrap as _HANDLER; "bootstrap" when the
	// binary serves a single function.
	Handler          string
	MemoryMB         int
	TimeoutSeconds   int
	LogRetentionDays int
	// Environment holds the function's environment variables; nil or empty
	// means none.
	Environment pulumi.StringMap
	// Statements are the permissions the function needs besides writing to
	// its own log group, which every function gets.
	Statements []PolicyStatement
	Tags       pulumi.StringMap
	// FormerParent, when not nil, is the resource that parented the log
	// group, role, policy and function before they moved under this
	// component: each gets an alias to its URN there, so an existing stack
	// updates them in place instead of replacing them.
	FormerParent pulumi.Resource
}

// GoLambda is a Lambda function with its own IAM role, an inline policy
// allowing only what the function does, and an explicit log group (so the
// role needs no logs:CreateLogGroup).
type GoLambda struct {
	pulumi.ResourceState

	// FunctionName, FunctionArn and InvokeArn identify the function;
	// InvokeArn is what an API Gateway integration calls.
	FunctionName pulumi.StringOutput
	FunctionArn  pulumi.StringOutput
	InvokeArn    pulumi.StringOutput
	// RoleArn is the function's execution role.
	RoleArn pulumi.StringOutput
	// LogGroupName is /aws/lambda/<Name>.
	LogGroupName pulumi.StringOutput
	// Artifact is the hex SHA-256 of the deployed zip: the same source
	// gives the same digest.
	Artifact pulumi.StringOutput

	// Function, Role, Policy and LogGroup are the resources themselves, for
	// composing (routes, triggers, further policies).
	Function *lambda.Function
	Role     *iam.Role
	Policy   *iam.RolePolicy
	LogGroup *cloudwatch.LogGroup
}

// New creates a Go Lambda function, building args.Package first unless
// args.Artifact is given, with its role, policy and log group named
// name-function, name-role, name-policy and name-logs under a component of
// type crossfaas:aws:GoLambda.
func New(ctx *pulumi.Context, name string, args *Args, opts ...pulumi.ResourceOption) (*GoLambda, error) {
	if args == nil {
		return nil, errors.New("new go lambda: args are nil")
	}
	if args.Name == "" || args.Handler == "" || args.MemoryMB <= 0 || args.TimeoutSeconds <= 0 || args.LogRetentionDays <= 0 {
		return nil, fmt.Errorf("new go lambda %s: name, handler, memory, timeout and log retention are required", name)
	}
	arch := args.Architecture
	switch arch {
	case "":
		arch = lambdaArchitecture
	case "arm64", "amd64":
	default:
		return nil, fmt.Errorf("new go lambda %s: architecture %q is not arm64 or amd64", name, arch)
	}
	for _, st := range args.Statements {
		if err := checkActions(st.Actions); err != nil {
			return nil, fmt.Errorf("new go lambda %s: %w", name, err)
		}
	}
	artifact := args.Artifact
	if artifact.Path == "" {
		if args.Package == "" {
			return nil, fmt.Errorf("new go lambda %s: a package to build or an artifact is required", name)
		}
		arts, err := gobuild.All(ctx.Context(), gobuild.Options{
			Root:    args.ModuleDir,
			OutDir:  args.OutDir,
			GOARCH:  arch,
			Targets: []gobuild.Target{{Name: name, Kind: gobuild.Lambda, Package: args.Package}},
		})
		if err != nil {
			return nil, fmt.Errorf("new go lambda %s: %w", name, err)
		}
		artifact = arts[0]
	}
	codeHash, err := sourceCodeHash(artifact)
	if err != nil {
		return nil, fmt.Errorf("new go lambda %s: %w", name, err)
	}
	comp := &GoLambda{}
	if err := ctx.RegisterComponentResource("crossfaas:aws:GoLambda", name, comp, opts...); err != nil {
		return nil, fmt.Errorf("new go lambda %s: %w", name, err)
	}
	opts = []pulumi.ResourceOption{pulumi.Parent(comp)}
	if args.FormerParent != nil {
		opts = append(opts, pulumi.Aliases([]pulumi.Alias{{Parent: args.FormerParent}}))
	}

	logGroup, err := cloudwatch.NewLogGroup(ctx, name+"-logs", &cloudwatch.LogGroupArgs{
		Name:            pulumi.String("/aws/lambda/" + args.Name),
		RetentionInDays: pulumi.Int(args.LogRetentionDays),
		Tags:            args.Tags,
	}, opts...)
	if err != nil {
		return nil, fmt.Errorf("new go lambda %s: log group: %w", name, err)
	}

	role, err := iam.NewRole(ctx, name+"-role", &iam.RoleArgs{
		Name:             pulumi.String(args.Name),
		Description:      pulumi.String("Runs the Lambda function " + args.Name),
		AssumeRolePolicy: pulumi.String(lambdaAssumeRolePolicy),
		Tags:             args.Tags,
	}, opts...)
	if err != nil {
		return nil, fmt.Errorf("new go lambda %s: role: %w", name, err)
	}

	// "<group arn>:*" is the form Lambda's documentation uses: it covers
	// the group's streams for PutLogEvents and is what CreateLogStream is
	// authorized against.
	logStreams := logGroup.Arn.ApplyT(func(arn string) []string {
		return []string{strings.TrimSuffix(arn, ":*") + ":*"}
	}).(pulumi.StringArrayOutput)
	statements := append([]PolicyStatement{{
		Actions:   []string{"logs:CreateLogStream", "logs:PutLogEvents"},
		Resources: logStreams,
	}}, args.Statements...)
	policy, err := iam.NewRolePolicy(ctx, name+"-policy", &iam.RolePolicyArgs{
		Name:   pulumi.String(args.Name),
		Role:   role.ID(),
		Policy: PolicyDocument(statements),
	}, opts...)
	if err != nil {
		return nil, fmt.Errorf("new go lambda %s: policy: %w", name, err)
	}

	var environment lambda.FunctionEnvironmentPtrInput
	if len(args.Environment) > 0 {
		environment = &lambda.FunctionEnvironmentArgs{Variables: args.Environment}
	}
	fn, err := lambda.NewFunction(ctx, name+"-function", &lambda.FunctionArgs{
		Name:           pulumi.String(args.Name),
		Role:           role.Arn,
		Runtime:        pulumi.String(lambdaRuntime),
		Architectures:  pulumi.StringArray{pulumi.String(arch)},
		Handler:        pulumi.String(args.Handler),
		Code:           pulumi.NewFileArchive(artifact.Path),
		SourceCodeHash: pulumi.String(codeHash),
		MemorySize:     pulumi.Int(args.MemoryMB),
		Timeout:        pulumi.Int(args.TimeoutSeconds),
		Environment:    environment,
		LoggingConfig: &lambda.FunctionLoggingConfigArgs{
			// JSON matches the handlers' slog output and makes Lambda's own
			// platform lines JSON too.
			LogFormat: pulumi.String("JSON"),
			LogGroup:  logGroup.Name,
		},
		Tags: args.Tags,
		// The first invocation must be able to write its logs.
	}, slices.Concat(opts, []pulumi.ResourceOption{pulumi.DependsOn([]pulumi.Resource{policy})})...)
	if err != nil {
		return nil, fmt.Errorf("new go lambda %s: function: %w", name, err)
	}
	comp.Function, comp.Role, comp.Policy, comp.LogGroup = fn, role, policy, logGroup
	comp.FunctionName, comp.FunctionArn, comp.InvokeArn = fn.Name, fn.Arn, fn.InvokeArn
	comp.RoleArn, comp.LogGroupName = role.Arn, logGroup.Name
	comp.Artifact = pulumi.String(artifact.SHA256).ToStringOutput()
	if err := ctx.RegisterResourceOutputs(comp, pulumi.Map{
		"functionName": comp.FunctionName,
		"functionArn":  comp.FunctionArn,
		"invokeArn":    comp.InvokeArn,
		"roleArn":      comp.RoleArn,
		"logGroupName": comp.LogGroupName,
		"artifact":     comp.Artifact,
	}); err != nil {
		return nil, fmt.Errorf("new go lambda %s: outputs: %w", name, err)
	}
	return comp, nil
}

// sourceCodeHash returns the base64 SHA-256 of a zip, the form Lambda
// reports as CodeSha256, from the artifact's hex digest.
func sourceCodeHash(a gobuild.Artifact) (string, error) {
	if a.Path == "" {
		return "", fmt.Errorf("artifact %q has no path", a.Name)
	}
	sum, err := hex.DecodeString(a.SHA256)
	if err != nil || len(sum) != 32 {
		return "", fmt.Errorf("artifact %q: SHA256 %q is not 64 hex digits", a.Name, a.SHA256)
	}
	return base64.StdEncoding.EncodeToString(sum), nil
}

// checkActions refuses empty action lists and wildcard actions.
func checkActions(actions []string) error {
	if len(actions) == 0 {
		return errors.New("policy statement has no actions")
	}
	for _, a := range actions {
		if !strings.Contains(a, ":") || strings.Contains(a, "*") {
			return fmt.Errorf("policy action %q must be one service:Action, without wildcards", a)
		}
	}
	return nil
}

// PolicyDocument renders statements as an IAM policy JSON document once
// their resources are known. A statement without resources fails the
// deployment instead of granting nothing (or everything) silently.
func PolicyDocument(statements []PolicyStatement) pulumi.StringOutput {
	resources := make([]any, len(statements))
	for i, st := range statements {
		resources[i] = st.Resources.ToStringArrayOutput()
	}
	return pulumi.All(resources...).ApplyT(func(resolved []any) (string, error) {
		type statement struct {
			Effect   string   `json:"Effect"`
			Action   []string `json:"Action"`
			Resource []string `json:"Resource"`
		}
		doc := struct {
			Version   string      `json:"Version"`
			Statement []statement `json:"Statement"`
		}{Version: "2012-10-17"}
		for i, st := range statements {
			arns := resolved[i].([]string)
			if len(arns) == 0 {
				return "", fmt.Errorf("policy statement %v has no resources", st.Actions)
			}
			doc.Statement = append(doc.Statement, statement{Effect: "Allow", Action: st.Actions, Resource: arns})
		}
		b, err := json.Marshal(doc)
		if err != nil {
			return "", fmt.Errorf("policy document: %w", err)
		}
		return string(b), nil
	}).(pulumi.StringOutput)
}
