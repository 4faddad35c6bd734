package main

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/crossfaas/crossfaas/internal/build"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudwatch"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/lambda"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Every crossfaas Lambda is a Go binary named bootstrap on Amazon Linux 2023,
// built for Graviton by internal/build.
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

// LambdaFunctionArgs describes a Lambda function together with the role and
// the log group it owns.
type LambdaFunctionArgs struct {
	// Name is the physical function name, already carrying the stack prefix.
	// The role has the same name and the log group is /aws/lambda/<Name>.
	Name string
	// Artifact is the function's zip, as built by internal/build.
	Artifact build.Artifact
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
}

// LambdaFunction is a Lambda function with its own IAM role, an inline
// policy allowing only what the function does, and an explicit log group
// (so the role needs no logs:CreateLogGroup).
type LambdaFunction struct {
	Function *lambda.Function
	Role     *iam.Role
	Policy   *iam.RolePolicy
	LogGroup *cloudwatch.LogGroup
}

// NewLambdaFunction creates a Lambda function, its role, policy and log
// group, named name-function, name-role, name-policy and name-logs. It is a
// building block for components, not a component itself: pass
// pulumi.Parent(component) in opts.
func NewLambdaFunction(ctx *pulumi.Context, name string, args *LambdaFunctionArgs, opts ...pulumi.ResourceOption) (*LambdaFunction, error) {
	if args == nil {
		return nil, errors.New("new lambda function: args are nil")
	}
	if args.Name == "" || args.Handler == "" || args.MemoryMB <= 0 || args.TimeoutSeconds <= 0 || args.LogRetentionDays <= 0 {
		return nil, fmt.Errorf("new lambda function %s: name, handler, memory, timeout and log retention are required", name)
	}
	codeHash, err := sourceCodeHash(args.Artifact)
	if err != nil {
		return nil, fmt.Errorf("new lambda function %s: %w", name, err)
	}
	for _, st := range args.Statements {
		if err := checkActions(st.Actions); err != nil {
			return nil, fmt.Errorf("new lambda function %s: %w", name, err)
		}
	}

	logGroup, err := cloudwatch.NewLogGroup(ctx, name+"-logs", &cloudwatch.LogGroupArgs{
		Name:            pulumi.String("/aws/lambda/" + args.Name),
		RetentionInDays: pulumi.Int(args.LogRetentionDays),
		Tags:            args.Tags,
	}, opts...)
	if err != nil {
		return nil, fmt.Errorf("new lambda function %s: log group: %w", name, err)
	}

	role, err := iam.NewRole(ctx, name+"-role", &iam.RoleArgs{
		Name:             pulumi.String(args.Name),
		Description:      pulumi.String("Runs the Lambda function " + args.Name),
		AssumeRolePolicy: pulumi.String(lambdaAssumeRolePolicy),
		Tags:             args.Tags,
	}, opts...)
	if err != nil {
		return nil, fmt.Errorf("new lambda function %s: role: %w", name, err)
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
		Policy: policyDocument(statements),
	}, opts...)
	if err != nil {
		return nil, fmt.Errorf("new lambda function %s: policy: %w", name, err)
	}

	var environment lambda.FunctionEnvironmentPtrInput
	if len(args.Environment) > 0 {
		environment = &lambda.FunctionEnvironmentArgs{Variables: args.Environment}
	}
	fn, err := lambda.NewFunction(ctx, name+"-function", &lambda.FunctionArgs{
		Name:           pulumi.String(args.Name),
		Role:           role.Arn,
		Runtime:        pulumi.String(lambdaRuntime),
		Architectures:  pulumi.StringArray{pulumi.String(lambdaArchitecture)},
		Handler:        pulumi.String(args.Handler),
		Code:           pulumi.NewFileArchive(args.Artifact.Path),
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
		return nil, fmt.Errorf("new lambda function %s: function: %w", name, err)
	}
	return &LambdaFunction{Function: fn, Role: role, Policy: policy, LogGroup: logGroup}, nil
}

// sourceCodeHash returns the base64 SHA-256 of a zip, the form Lambda
// reports as CodeSha256, from the artifact's hex digest.
func sourceCodeHash(a build.Artifact) (string, error) {
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

// policyDocument renders statements as an IAM policy JSON document once
// their resources are known. A statement without resources fails the
// deployment instead of granting nothing (or everything) silently.
func policyDocument(statements []PolicyStatement) pulumi.StringOutput {
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
