package main

import (
	"reflect"
	"strings"
	"testing"

	"github.com/crossfaas/crossfaas/infra/sleuthbot"

	"github.com/crossfaas/crossfaas/functions/sleuth"
	"github.com/crossfaas/crossfaas/infra/httpapi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

func TestSleuthIdempotencyTable(t *testing.T) {
	s := runSleuthStack(t, "dev", testConfig())
	table := s.mocks.one(t, typeTable)
	for _, c := range []struct {
		path string
		want any
	}{
		{"name", "crossfaas-dev-sleuth-idempotency"},
		{"billingMode", "PAY_PER_REQUEST"},
		{"hashKey", "pk"},
		{"rangeKey", nil},
		{"attributes", []any{map[string]any{"name": "pk", "type": "S"}}},
		{"ttl", map[string]any{"attributeName": "expiresAt", "enabled": true}},
	} {
		if got := get(table.Inputs, c.path); !reflect.DeepEqual(got, c.want) {
			t.Errorf("table %s = %#v, want %#v", c.path, got, c.want)
		}
	}
}

func TestSleuthWebhookRoute(t *testing.T) {
	s := runSleuthStack(t, "dev", testConfig())
	api := s.mocks.one(t, typeAPI)
	fn := s.function(sleuth.HandlerRequest)
	route := s.mocks.named(t, typeRoute, "sleuth-sms-route")
	integration := s.mocks.named(t, typeIntegration, "sleuth-sms-integration")
	permission := s.mocks.named(t, typePermission, "sleuth-sms-permission")
	for _, c := range []struct {
		what      string
		got, want any
	}{
		{"route key", route.Inputs["routeKey"], "POST /sms"},
		{"route api", route.Inputs["apiId"], api.ID},
		{"route target", route.Inputs["target"], "integrations/" + integration.ID},
		{"integration type", integration.Inputs["integrationType"], "AWS_PROXY"},
		{"integration payload", integration.Inputs["payloadFormatVersion"], "2.0"},
		{"integration uri", integration.Inputs["integrationUri"], fn.Outputs["invokeArn"]},
		{"permission principal", permission.Inputs["principal"], "apigateway.amazonaws.com"},
		{"permission function", permission.Inputs["function"], "crossfaas-dev-sleuth-request"},
		{"permission sourceArn", permission.Inputs["sourceArn"], api.Outputs["executionArn"].(string) + "/*/POST/sms"},
	} {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %#v, want %#v", c.what, c.got, c.want)
		}
	}
	stage := s.mocks.one(t, typeStage)
	want := strings.TrimSuffix(stage.Outputs["invokeUrl"].(string), "/") + "/sms"
	if got := s.outputs["smsWebhookUrl"]; got != want {
		t.Errorf("output smsWebhookUrl = %v, want %v", got, want)
	}
	if n := len(s.mocks.all(typeAPI)); n != 1 {
		t.Errorf("%d HTTP APIs, want 1: the bot shares the proxy's", n)
	}
}

// TestSleuthStagesDoNotCollide checks collection ids, parameter paths and
// IAM scopes carry the stage.
func TestSleuthStagesDoNotCollide(t *testing.T) {
	for _, stack := range []string{"dev", "prod"} {
		s := runSleuthStack(t, stack, testConfig())
		prefix := "crossfaas-" + stack
		collection := s.mocks.one(t, typeCollection)
		if got, want := collection.Inputs["collectionId"], prefix+".celebs"; got != want {
			t.Errorf("stack %s: collection id = %v, want %v", stack, got, want)
		}
		if got, want := s.parameterName("auth-token"), "/"+prefix+"/twilio/auth-token"; got != want {
			t.Errorf("stack %s: auth token parameter = %v, want %v", stack, got, want)
		}
		got := s.permissions(sleuth.HandlerMatch)["rekognition:SearchFacesByImage"]
		want := []string{"arn:aws:rekognition:us-east-1:" + mockAccount + ":collection/" + prefix + ".*"}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("stack %s: match may search %v, want %v", stack, got, want)
		}
		if env := get(s.function(sleuth.HandlerAddCollection).Inputs, "environment.variables."+sleuth.EnvPrefix); env != prefix {
			t.Errorf("stack %s: %s = %v, want %v", stack, sleuth.EnvPrefix, env, prefix)
		}
		// The collection the stack creates is one the handlers may use.
		if id := collection.Inputs["collectionId"].(string); !strings.HasPrefix(id, prefix+".") {
			t.Errorf("stack %s: collection %s is outside the role's scope", stack, id)
		}
	}
}

func TestSleuthResourcesAreTaggedAndParented(t *testing.T) {
	s := runSleuthStack(t, "dev", testConfig())
	comp := s.mocks.one(t, typeSleuth)
	wantTags := map[string]any{"project": "crossfaas", "stack": "dev"}
	tagged := map[string]bool{typeTopic: true, typeQueue: true, typeTable: true, typeParameter: true, typeCollection: true, typeLambda: true, typeRole: true, typeLogGroup: true}
	n := 0
	for _, r := range s.mocks.snapshot() {
		if !strings.HasPrefix(r.Name, "sleuth-") {
			continue
		}
		n++
		// A function's resources belong to its GoLambda, which belongs to
		// the Sleuth component.
		if !strings.HasSuffix(r.Parent, "::"+typeSleuth+"::"+comp.Name) && !strings.Contains(r.Parent, "::"+typeSleuth+"$crossfaas:aws:GoLambda::") {
			t.Errorf("%s %s has parent %q, want the Sleuth component or one of its GoLambdas", r.Type, r.Name, r.Parent)
		}
		if tagged[r.Type] && !reflect.DeepEqual(r.Inputs["tags"], wantTags) {
			t.Errorf("%s %s tags = %v, want %v", r.Type, r.Name, r.Inputs["tags"], wantTags)
		}
	}
	if n < 40 {
		t.Errorf("only %d resources named sleuth-*, want the whole bot", n)
	}
}

func TestNewSleuthRefusesIncompleteArgs(t *testing.T) {
	tests := []struct {
		name string
		args func(api *httpapi.API) *sleuthbot.Args
	}{
		{"nil", func(*httpapi.API) *sleuthbot.Args { return nil }},
		{"no API", func(*httpapi.API) *sleuthbot.Args {
			return &sleuthbot.Args{Prefix: "crossfaas-dev", TwilioAccountSID: pulumi.String("a"), TwilioAuthToken: pulumi.String("t")}
		}},
		{"no secrets", func(api *httpapi.API) *sleuthbot.Args { return &sleuthbot.Args{Prefix: "crossfaas-dev", API: api} }},
		{"no prefix", func(api *httpapi.API) *sleuthbot.Args {
			return &sleuthbot.Args{API: api, TwilioAccountSID: pulumi.String("a"), TwilioAuthToken: pulumi.String("t")}
		}},
		{"threshold", func(api *httpapi.API) *sleuthbot.Args {
			return &sleuthbot.Args{Prefix: "crossfaas-dev", API: api, TwilioAccountSID: pulumi.String("a"), TwilioAuthToken: pulumi.String("t"), MatchThreshold: 150}
		}},
		{"sender holding a comma", func(api *httpapi.API) *sleuthbot.Args {
			return &sleuthbot.Args{Prefix: "crossfaas-dev", API: api, TwilioAccountSID: pulumi.String("a"), TwilioAuthToken: pulumi.String("t"), AllowedSenders: []string{"+1555,+1556"}}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var made error
			m, err := runComponents(t, func(ctx *pulumi.Context) error {
				api, err := httpapi.New(ctx, "api", &httpapi.Args{Name: "crossfaas-dev-api", ThrottlingBurstLimit: 5, ThrottlingRateLimit: 1})
				if err != nil {
					return err
				}
				_, made = sleuthbot.New(ctx, "sleuth", tt.args(api))
				return nil
			})
			if err != nil {
				t.Fatalf("run: %v", err)
			}
			if made == nil {
				t.Errorf("sleuthbot.New with %s succeeded, want an error", tt.name)
			}
			for _, r := range m.snapshot() {
				if strings.HasPrefix(r.Name, "sleuth") {
					t.Errorf("sleuthbot.New with %s registered %s %s, want nothing", tt.name, r.Type, r.Name)
				}
			}
		})
	}
}
