package golambda_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/crossfaas/crossfaas/infra/golambda"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// exampleMocks stands in for the AWS provider: every resource gets an id
// and an ARN made from its name.
type exampleMocks struct{}

func (exampleMocks) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	outs := args.Inputs.Copy()
	outs["arn"] = resource.NewProperty("arn:aws:mock:::" + args.Name)
	return args.Name + "-id", outs, nil
}

func (exampleMocks) Call(args pulumi.MockCallArgs) (resource.PropertyMap, error) {
	return nil, fmt.Errorf("unexpected call %s", args.Token)
}

// Deploy a Go main package as a Lambda function: New builds it for arm64
// with the release flags, zips bootstrap, and creates the function, its
// role, policy and log group. (Run here under mocks: no AWS account.)
func Example() {
	out, err := os.MkdirTemp("", "golambda-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(out)
	err = pulumi.RunErr(func(ctx *pulumi.Context) error {
		fn, err := golambda.New(ctx, "hello", &golambda.Args{
			Name:             "example-hello",
			ModuleDir:        "testdata/hello", // the directory of its go.mod
			Package:          ".",
			OutDir:           out,
			Handler:          "bootstrap",
			MemoryMB:         128,
			TimeoutSeconds:   10,
			LogRetentionDays: 14,
			Environment:      pulumi.StringMap{"GREETING": pulumi.String("hello")},
		})
		if err != nil {
			return err
		}
		pulumi.All(fn.FunctionName, fn.Function.Runtime, fn.Function.Architectures, fn.LogGroupName, fn.Artifact).ApplyT(func(v []any) error {
			fmt.Printf("%s: %s %v, logs in %s\n", v[0], *v[1].(*string), v[2], v[3])
			zip := filepath.Join(out, "hello.zip")
			if _, err := os.Stat(zip); err == nil {
				fmt.Printf("built %s, digest of %d hex digits\n", filepath.Base(zip), len(v[4].(string)))
			}
			return nil
		})
		return nil
	}, pulumi.WithMocks("example", "dev", exampleMocks{}))
	if err != nil {
		log.Fatal(err)
	}
	// Output:
	// example-hello: provided.al2023 [arm64], logs in /aws/lambda/example-hello
	// built hello.zip, digest of 64 hex digits
}
