package testprovider

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/archive"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/protobuf/types/known/structpb"
)

func mustMarshal(t *testing.T, pm resource.PropertyMap) *structpb.Struct {
	t.Helper()
	s, err := marshal(pm)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func newArchive(t *testing.T, content string) resource.PropertyValue {
	t.Helper()
	path := filepath.Join(t.TempDir(), "code.zip")
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	a, err := archive.FromPath(path)
	if err != nil {
		t.Fatal(err)
	}
	return resource.NewProperty(a)
}

func TestDiffReportsAChangeExactlyWhenInputsDiffer(t *testing.T) {
	p, err := New("aws", nil, Env{})
	if err != nil {
		t.Fatal(err)
	}
	sameCode := newArchive(t, "zip bytes")
	sameCodeElsewhere := newArchive(t, "zip bytes")
	otherCode := newArchive(t, "other zip bytes")
	base := func() resource.PropertyMap {
		return resource.PropertyMap{
			"name":    resource.NewProperty("crossfaas-dev-proxy"),
			"timeout": resource.NewProperty(10.0),
			"code":    sameCode,
			"environment": resource.NewProperty(resource.PropertyMap{
				"variables": resource.NewProperty(resource.PropertyMap{"LABELER_URL": resource.NewProperty("https://x")}),
			}),
			"secret": resource.MakeSecret(resource.NewProperty("token")),
		}
	}
	tests := []struct {
		name         string
		change       func(resource.PropertyMap)
		wantChanged  []string
		wantReplaces []string
	}{
		{"nothing", func(resource.PropertyMap) {}, nil, nil},
		{"same code at another path", func(m resource.PropertyMap) { m["code"] = sameCodeElsewhere }, nil, nil},
		{"other code", func(m resource.PropertyMap) { m["code"] = otherCode }, []string{"code"}, nil},
		{"a number", func(m resource.PropertyMap) { m["timeout"] = resource.NewProperty(15.0) }, []string{"timeout"}, nil},
		{"a nested value", func(m resource.PropertyMap) {
			m["environment"] = resource.NewProperty(resource.PropertyMap{"variables": resource.NewProperty(resource.PropertyMap{"LABELER_URL": resource.NewProperty("https://y")})})
		}, []string{"environment"}, nil},
		{"a secret's value", func(m resource.PropertyMap) { m["secret"] = resource.MakeSecret(resource.NewProperty("other")) }, []string{"secret"}, nil},
		{"the name, which forces a replacement", func(m resource.PropertyMap) { m["name"] = resource.NewProperty("crossfaas-prod-proxy") }, []string{"name"}, []string{"name"}},
		{"a new input", func(m resource.PropertyMap) { m["memorySize"] = resource.NewProperty(128.0) }, []string{"memorySize"}, nil},
		{"a removed input", func(m resource.PropertyMap) { delete(m, "timeout") }, []string{"timeout"}, nil},
		{"an unknown", func(m resource.PropertyMap) { m["timeout"] = resource.MakeComputed(resource.NewProperty("")) }, []string{"timeout"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			news := base()
			tt.change(news)
			resp, err := p.Diff(context.Background(), &pulumirpc.DiffRequest{
				Type: "aws:lambda/function:Function", Urn: "urn:pulumi:dev::crossfaas::aws:lambda/function:Function::proxy-function",
				OldInputs: mustMarshal(t, base()), News: mustMarshal(t, news),
			})
			if err != nil {
				t.Fatal(err)
			}
			wantChanges := pulumirpc.DiffResponse_DIFF_SOME
			if tt.wantChanged == nil {
				wantChanges = pulumirpc.DiffResponse_DIFF_NONE
			}
			if resp.GetChanges() != wantChanges || !slices.Equal(resp.GetDiffs(), tt.wantChanged) || !slices.Equal(resp.GetReplaces(), tt.wantReplaces) {
				t.Errorf("Diff = %v, diffs %v, replaces %v; want %v, %v, %v", resp.GetChanges(), resp.GetDiffs(), resp.GetReplaces(), wantChanges, tt.wantChanged, tt.wantReplaces)
			}
		})
	}
}

func TestCreateComputesTheRealFormats(t *testing.T) {
	rec, err := OpenRecorder(filepath.Join(t.TempDir(), "calls.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := New("aws", rec, Env{APIURL: "http://127.0.0.1:9/{id}"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Configure(context.Background(), &pulumirpc.ConfigureRequest{Args: mustMarshal(t, resource.PropertyMap{"region": resource.NewProperty("eu-west-1")})}); err != nil {
		t.Fatal(err)
	}
	create := func(typ, urn string, ins resource.PropertyMap) (string, resource.PropertyMap) {
		t.Helper()
		resp, err := p.Create(context.Background(), &pulumirpc.CreateRequest{Type: typ, Urn: urn, Properties: mustMarshal(t, ins)})
		if err != nil {
			t.Fatal(err)
		}
		outs, err := unmarshal(resp.GetProperties())
		if err != nil {
			t.Fatal(err)
		}
		return resp.GetId(), outs
	}
	code := newArchive(t, "zip bytes")
	id, outs := create("aws:lambda/function:Function", "urn:pulumi:dev::crossfaas::aws:lambda/function:Function::proxy-function",
		resource.PropertyMap{"name": resource.NewProperty("crossfaas-dev-proxy"), "code": code})
	want := map[string]string{
		"arn":        "arn:aws:lambda:eu-west-1:123456789012:function:crossfaas-dev-proxy",
		"invokeArn":  "arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/arn:aws:lambda:eu-west-1:123456789012:function:crossfaas-dev-proxy/invocations",
		"codeSha256": "W3onVLOJEw4TjVe6g/Hq5/BaQcZr7Kz6LdIGAUOuZts=", // base64 SHA-256 of "zip bytes"
		"name":       "crossfaas-dev-proxy",
	}
	if id != "crossfaas-dev-proxy" {
		t.Errorf("lambda id = %q", id)
	}
	for k, v := range want {
		if got := outs[resource.PropertyKey(k)]; !got.IsString() || got.StringValue() != v {
			t.Errorf("lambda %s = %v, want %s", k, got, v)
		}
	}
	devAPI, outs := create("aws:apigatewayv2/api:Api", "urn:pulumi:dev::crossfaas::crossfaas:aws:HTTPAPI$aws:apigatewayv2/api:Api::api", resource.PropertyMap{"name": resource.NewProperty("crossfaas-dev-api")})
	if got := outs["apiEndpoint"].StringValue(); got != "http://127.0.0.1:9/"+devAPI {
		t.Errorf("apiEndpoint = %q, want the loopback template filled", got)
	}
	prodAPI, _ := create("aws:apigatewayv2/api:Api", "urn:pulumi:prod::crossfaas::crossfaas:aws:HTTPAPI$aws:apigatewayv2/api:Api::api", resource.PropertyMap{"name": resource.NewProperty("crossfaas-prod-api")})
	if devAPI == prodAPI || len(devAPI) != 10 {
		t.Errorf("api ids %q and %q: want 10 characters, different per stack", devAPI, prodAPI)
	}
	if _, err := p.Create(context.Background(), &pulumirpc.CreateRequest{Type: "aws:ec2/instance:Instance", Urn: "urn:x", Properties: mustMarshal(t, resource.PropertyMap{})}); err == nil || !strings.Contains(err.Error(), "does not model") {
		t.Errorf("create of an unmodelled type = %v, want an error naming it", err)
	}
	calls, err := ReadCalls(rec.file.Name())
	if err != nil {
		t.Fatal(err)
	}
	var methods []string
	for _, c := range calls {
		methods = append(methods, c.Method)
	}
	if !slices.Equal(methods, []string{"Configure", "Create", "Create", "Create"}) {
		t.Errorf("recorded %v", methods)
	}
	// Property values (the configured region, the code) are never recorded.
	if b, _ := os.ReadFile(rec.file.Name()); strings.Contains(string(b), "zip bytes") || strings.Contains(string(b), "eu-west-1") {
		t.Errorf("the record holds property values:\n%s", b)
	}
}

func TestInvoke(t *testing.T) {
	p, err := New("aws", nil, Env{Account: "210987654321"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Configure(context.Background(), &pulumirpc.ConfigureRequest{Args: mustMarshal(t, resource.PropertyMap{"region": resource.NewProperty("us-east-1")})}); err != nil {
		t.Fatal(err)
	}
	resp, err := p.Invoke(context.Background(), &pulumirpc.InvokeRequest{Tok: "aws:index/getCallerIdentity:getCallerIdentity", Args: mustMarshal(t, resource.PropertyMap{})})
	if err != nil {
		t.Fatal(err)
	}
	outs, _ := unmarshal(resp.GetReturn())
	if outs["accountId"].StringValue() != "210987654321" || !strings.HasPrefix(outs["arn"].StringValue(), "arn:aws:iam::210987654321:") {
		t.Errorf("getCallerIdentity = %v", outs)
	}
	if _, err := p.Invoke(context.Background(), &pulumirpc.InvokeRequest{Tok: "aws:s3/getBucket:getBucket", Args: mustMarshal(t, resource.PropertyMap{})}); err == nil {
		t.Errorf("invoke of an unmodelled data source succeeded")
	}
}
