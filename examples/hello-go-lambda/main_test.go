package main

import (
	"archive/zip"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// mocks stands in for the AWS provider and records what the program
// registers.
type mocks struct {
	mu        sync.Mutex
	resources map[string]resource.PropertyMap // by type token
}

func (m *mocks) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	outs := args.Inputs.Copy()
	switch args.TypeToken {
	case "aws:apigatewayv2/api:Api":
		outs["executionArn"] = resource.NewProperty("arn:aws:execute-api:us-east-1:123456789012:abc123")
	case "aws:apigatewayv2/stage:Stage":
		outs["invokeUrl"] = resource.NewProperty("https://abc123.execute-api.us-east-1.amazonaws.com/")
	case "aws:lambda/function:Function":
		outs["invokeArn"] = resource.NewProperty("arn:aws:apigateway:us-east-1:lambda:path/functions/hello/invocations")
	}
	outs["arn"] = resource.NewProperty("arn:aws:mock:::" + args.Name)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.resources == nil {
		m.resources = map[string]resource.PropertyMap{}
	}
	if _, dup := m.resources[args.TypeToken]; dup && args.Custom {
		return "", nil, fmt.Errorf("two resources of type %s: the example has one of each", args.TypeToken)
	}
	m.resources[args.TypeToken] = args.Inputs
	return args.Name + "-id", outs, nil
}

func (m *mocks) Call(args pulumi.MockCallArgs) (resource.PropertyMap, error) {
	return nil, fmt.Errorf("unexpected call %s", args.Token)
}

// TestProgram runs the example under mocks: it builds ./function for real
// and must create one arm64 Go Lambda with a bootstrap zip, and route GET
// /hello of a new HTTP API to it.
func TestProgram(t *testing.T) {
	m := &mocks{}
	if err := pulumi.RunErr(program, pulumi.WithMocks("hello-go-lambda", "dev", m)); err != nil {
		t.Fatalf("program: %v", err)
	}
	fn := m.resources["aws:lambda/function:Function"]
	if fn == nil {
		t.Fatal("no Lambda function")
	}
	if got := fn["name"].StringValue(); got != "hello-dev" {
		t.Errorf("function name = %q, want hello-dev", got)
	}
	if got := fn["runtime"].StringValue(); got != "provided.al2023" {
		t.Errorf("runtime = %q, want provided.al2023", got)
	}
	if got := fn["architectures"].ArrayValue(); len(got) != 1 || got[0].StringValue() != "arm64" {
		t.Errorf("architectures = %v, want [arm64]", got)
	}
	code := fn["code"].ArchiveValue()
	zr, err := zip.OpenReader(code.Path)
	if err != nil {
		t.Fatalf("the function's code: %v", err)
	}
	defer zr.Close()
	if len(zr.File) != 1 || zr.File[0].Name != "bootstrap" || zr.File[0].Mode() != 0o755 {
		t.Errorf("the zip holds %v, want bootstrap alone with mode 0755", zr.File)
	}
	if got := m.resources["aws:apigatewayv2/route:Route"]["routeKey"].StringValue(); got != "GET /hello" {
		t.Errorf("route key = %q, want GET /hello", got)
	}
	perm := m.resources["aws:lambda/permission:Permission"]
	if perm == nil || !strings.HasSuffix(perm["sourceArn"].StringValue(), "/*/GET/hello") {
		t.Errorf("permission = %v, want one for GET /hello", perm)
	}
	for _, typ := range []string{"aws:iam/role:Role", "aws:iam/rolePolicy:RolePolicy", "aws:cloudwatch/logGroup:LogGroup", "aws:apigatewayv2/stage:Stage"} {
		if m.resources[typ] == nil {
			t.Errorf("no %s", typ)
		}
	}
}
