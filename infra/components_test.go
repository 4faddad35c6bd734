package main

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/crossfaas/crossfaas/infra/golambda"
	"github.com/crossfaas/crossfaas/infra/httpapi"
	"github.com/crossfaas/crossfaas/infra/privatelink"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// runComponents runs body as a program of crossfaas/dev under mocks.
func runComponents(t *testing.T, body func(ctx *pulumi.Context) error) (*mocks, error) {
	t.Helper()
	m := &mocks{awsRegion: "us-east-1", gcpProject: "test-project-123"}
	err := pulumi.RunErr(body, pulumi.WithMocks("crossfaas", "dev", m), withConfig(testConfig()))
	return m, err
}

func TestComponentsRefuseNilArgs(t *testing.T) {
	tests := []struct {
		name string
		make func(ctx *pulumi.Context) error
	}{
		{"NewLabeler", func(ctx *pulumi.Context) error { _, err := NewLabeler(ctx, "x", nil); return err }},
		{"httpapi.New", func(ctx *pulumi.Context) error { _, err := httpapi.New(ctx, "x", nil); return err }},
		{"NewProxy", func(ctx *pulumi.Context) error { _, err := NewProxy(ctx, "x", nil); return err }},
		{"golambda.New", func(ctx *pulumi.Context) error { _, err := golambda.New(ctx, "x", nil); return err }},
		{"NewProxy without API", func(ctx *pulumi.Context) error {
			_, err := NewProxy(ctx, "x", &ProxyArgs{LabelerURL: pulumi.String("https://l")})
			return err
		}},
		{"NewLabeler without source", func(ctx *pulumi.Context) error {
			_, err := NewLabeler(ctx, "x", &LabelerArgs{FunctionName: "f", BucketName: "b", ServiceAccountID: "account", Project: "p", Region: "r"})
			return err
		}},
		{"privatelink.New", func(ctx *pulumi.Context) error { _, err := privatelink.New(ctx, "x", nil); return err }},
		{"privatelink.New without labeler", func(ctx *pulumi.Context) error {
			_, err := privatelink.New(ctx, "x", &privatelink.Args{Project: "p", Prefix: "crossfaas-dev", CallerAccountID: "caller",
				AWSAccountID: mockAccount, CallerRoleNames: []string{"crossfaas-dev-proxy"}})
			return err
		}},
		{"NewLabeler without build account", func(ctx *pulumi.Context) error {
			_, err := NewLabeler(ctx, "x", &LabelerArgs{FunctionName: "f", BucketName: "b", ServiceAccountID: "account", Project: "p", Region: "r",
				Source: fixtureArtifacts(t, "l", "p")[0]})
			return err
		}},
		{"httpapi.New without throttling", func(ctx *pulumi.Context) error {
			_, err := httpapi.New(ctx, "x", &httpapi.Args{Name: "crossfaas-dev-api"})
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var made error
			m, err := runComponents(t, func(ctx *pulumi.Context) error {
				made = tt.make(ctx)
				return nil
			})
			if err != nil {
				t.Fatalf("run: %v", err)
			}
			if made == nil {
				t.Errorf("%s with incomplete args succeeded, want an error", tt.name)
			}
			if n := len(m.snapshot()); n != 0 {
				t.Errorf("%s with incomplete args registered %d resources, want none", tt.name, n)
			}
		})
	}
}

func TestAddLambdaRoute(t *testing.T) {
	m, err := runComponents(t, func(ctx *pulumi.Context) error {
		api, err := httpapi.New(ctx, "api", &httpapi.Args{Name: "crossfaas-dev-api", ThrottlingBurstLimit: 5, ThrottlingRateLimit: 1})
		if err != nil {
			return err
		}
		fn, err := golambda.New(ctx, "sms", &golambda.Args{
			Name: "crossfaas-dev-sms", Artifact: fixtureArtifacts(t, "l", "p")[1], Handler: "request",
			MemoryMB: 128, TimeoutSeconds: 5, LogRetentionDays: 7,
		})
		if err != nil {
			return err
		}
		for _, bad := range []string{"", "GET detect", "FETCH /x", "$default", "GET /a b"} {
			if _, err := api.AddLambdaRoute(ctx, "bad", &httpapi.LambdaRouteArgs{RouteKey: bad, Function: fn.Function}); err == nil {
				t.Errorf("AddLambdaRoute(%q) succeeded, want an error", bad)
			}
		}
		if _, err := api.AddLambdaRoute(ctx, "nil", nil); err == nil {
			t.Error("AddLambdaRoute(nil) succeeded, want an error")
		}
		_, err = api.AddLambdaRoute(ctx, "sms", &httpapi.LambdaRouteArgs{RouteKey: "POST /sms", Function: fn.Function})
		return err
	})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	api := m.one(t, typeAPI)
	if got, want := m.one(t, typeRoute).Inputs["routeKey"], "POST /sms"; got != want {
		t.Errorf("route key = %v, want %v", got, want)
	}
	if got, want := m.one(t, typePermission).Inputs["sourceArn"], api.Outputs["executionArn"].(string)+"/*/POST/sms"; got != want {
		t.Errorf("permission sourceArn = %v, want %v", got, want)
	}
	if env := m.one(t, typeLambda).Inputs["environment"]; env != nil {
		t.Errorf("Lambda without Environment has environment %v, want none", env)
	}
	if got := m.one(t, typeLambda).Inputs["handler"]; got != "request" {
		t.Errorf("Lambda handler = %v, want request", got)
	}
}

func TestLambdaFunctionPolicy(t *testing.T) {
	t.Run("extra statements follow the log statement", func(t *testing.T) {
		m, err := runComponents(t, func(ctx *pulumi.Context) error {
			_, err := golambda.New(ctx, "worker", &golambda.Args{
				Name: "crossfaas-dev-worker", Artifact: fixtureArtifacts(t, "l", "p")[1], Handler: "bootstrap",
				MemoryMB: 128, TimeoutSeconds: 5, LogRetentionDays: 7,
				Statements: []golambda.PolicyStatement{{
					Actions:   []string{"sns:Publish"},
					Resources: pulumi.StringArray{pulumi.String("arn:aws:sns:us-east-1:123456789012:crossfaas-dev-responses")},
				}},
			})
			return err
		})
		if err != nil {
			t.Fatalf("run: %v", err)
		}
		var doc struct {
			Statement []struct {
				Action   []string
				Resource []string
			}
		}
		if err := json.Unmarshal([]byte(m.one(t, typeRolePolicy).Inputs["policy"].(string)), &doc); err != nil {
			t.Fatal(err)
		}
		if len(doc.Statement) != 2 || !reflect.DeepEqual(doc.Statement[1].Action, []string{"sns:Publish"}) ||
			!reflect.DeepEqual(doc.Statement[1].Resource, []string{"arn:aws:sns:us-east-1:123456789012:crossfaas-dev-responses"}) {
			t.Errorf("policy statements = %+v, want the log statement then sns:Publish on the topic", doc.Statement)
		}
	})

	for _, actions := range [][]string{{"sns:*"}, {"*"}, {}, {"Publish"}} {
		t.Run("refuses "+strings.Join(actions, ","), func(t *testing.T) {
			var made error
			_, err := runComponents(t, func(ctx *pulumi.Context) error {
				_, made = golambda.New(ctx, "worker", &golambda.Args{
					Name: "crossfaas-dev-worker", Artifact: fixtureArtifacts(t, "l", "p")[1], Handler: "bootstrap",
					MemoryMB: 128, TimeoutSeconds: 5, LogRetentionDays: 7,
					Statements: []golambda.PolicyStatement{{Actions: actions, Resources: pulumi.StringArray{pulumi.String("arn:aws:sns:us-east-1:1:t")}}},
				})
				return nil
			})
			if err != nil {
				t.Fatalf("run: %v", err)
			}
			if made == nil {
				t.Errorf("NewLambdaFunction with actions %q succeeded, want an error", actions)
			}
		})
	}

	t.Run("a statement without resources fails the deployment", func(t *testing.T) {
		_, err := runComponents(t, func(ctx *pulumi.Context) error {
			_, err := golambda.New(ctx, "worker", &golambda.Args{
				Name: "crossfaas-dev-worker", Artifact: fixtureArtifacts(t, "l", "p")[1], Handler: "bootstrap",
				MemoryMB: 128, TimeoutSeconds: 5, LogRetentionDays: 7,
				Statements: []golambda.PolicyStatement{{Actions: []string{"sns:Publish"}, Resources: pulumi.StringArray{}}},
			})
			return err
		})
		if err == nil || !strings.Contains(err.Error(), "has no resources") {
			t.Errorf("run error = %v, want one saying the statement has no resources", err)
		}
	})
}

func TestPrivateLabeler(t *testing.T) {
	var url pulumi.StringOutput
	m, err := runComponents(t, func(ctx *pulumi.Context) error {
		l, err := NewLabeler(ctx, "labeler", &LabelerArgs{
			FunctionName: "crossfaas-dev-labeler", BucketName: "crossfaas-dev-src-test-project-123",
			ServiceAccountID: "crossfaas-dev-labeler", BuildServiceAccountID: "crossfaas-dev-labeler-build",
			Project: "test-project-123", Region: "us-central1",
			Source: fixtureArtifacts(t, "l", "p")[0], Runtime: "go126", Memory: "256M",
			TimeoutSeconds: 60, MaxInstances: 1, Public: false,
		})
		if err != nil {
			return err
		}
		url = l.URL
		return nil
	})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if n := len(m.all(typeRunInvoker)); n != 0 {
		t.Errorf("a private labeler has %d run.invoker bindings, want none", n)
	}
	if got, want := await(t, url), m.one(t, typeFunction).Outputs["url"]; got != want {
		t.Errorf("labeler URL = %v, want %v", got, want)
	}
}
