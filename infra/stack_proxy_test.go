package main

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/archive"
)

func TestProxyLambda(t *testing.T) {
	arts := fixtureArtifacts(t, "labeler source", "proxy zip")
	run := mustRunStack(t, "dev", testConfig(), fixtures(arts))
	fn := run.mocks.named(t, typeLambda, "proxy-function")

	for _, c := range []struct {
		path string
		want any
	}{
		{"name", "crossfaas-dev-proxy"},
		{"runtime", "provided.al2023"},
		{"architectures", []any{"arm64"}},
		{"handler", "bootstrap"},
		{"memorySize", float64(defaultProxyMemoryMB)},
		{"timeout", float64(defaultProxyTimeoutSeconds)},
		{"role", run.mocks.named(t, typeRole, "proxy-role").Outputs["arn"]},
		{"loggingConfig.logFormat", "JSON"},
		{"loggingConfig.logGroup", "/aws/lambda/crossfaas-dev-proxy"},
	} {
		if got := get(fn.Inputs, c.path); !reflect.DeepEqual(got, c.want) {
			t.Errorf("proxy Lambda %s = %#v, want %#v", c.path, got, c.want)
		}
	}

	code, ok := fn.Inputs["code"].(*archive.Archive)
	if !ok || code.Path != arts[1].Path {
		t.Errorf("proxy Lambda code = %#v, want a file archive of %q", fn.Inputs["code"], arts[1].Path)
	}
	sum := sha256.Sum256([]byte("proxy zip"))
	if got, want := fn.Inputs["sourceCodeHash"], base64.StdEncoding.EncodeToString(sum[:]); got != want {
		t.Errorf("proxy Lambda sourceCodeHash = %q, want %q (base64 SHA-256 of the zip)", got, want)
	}
}

func TestProxyEnvironment(t *testing.T) {
	for _, access := range []string{LabelerPrivate, LabelerPublic} {
		t.Run(access, func(t *testing.T) {
			cfg := testConfig()
			cfg["crossfaas:labelerAccess"] = access
			run := mustRunStack(t, "dev", cfg, fixtures(fixtureArtifacts(t, "l", "p")))
			labelerURL := run.mocks.one(t, typeFunction).Outputs["url"]
			if labelerURL == nil || labelerURL == "" {
				t.Fatal("the labeler function has no url output")
			}
			env, _ := get(run.mocks.named(t, typeLambda, "proxy-function").Inputs, "environment.variables").(map[string]any)
			want := []string{"LABELER_URL"}
			if access == LabelerPrivate {
				want = []string{"LABELER_CREDENTIAL_CONFIG", "LABELER_URL"}
			}
			if got := slices.Sorted(maps.Keys(env)); !reflect.DeepEqual(got, want) {
				t.Errorf("proxy environment variables = %v, want exactly %v", got, want)
			}
			if env["LABELER_URL"] != labelerURL {
				t.Errorf("LABELER_URL = %v, want the labeler's url %v", env["LABELER_URL"], labelerURL)
			}
		})
	}
}

func TestProxyRouteAndPermission(t *testing.T) {
	run := mustRunStack(t, "dev", testConfig(), fixtures(fixtureArtifacts(t, "l", "p")))
	api := run.mocks.one(t, typeAPI)
	fn := run.mocks.named(t, typeLambda, "proxy-function")
	integration := run.mocks.named(t, typeIntegration, "proxy-detect-integration")
	route := run.mocks.named(t, typeRoute, "proxy-detect-route")
	permission := run.mocks.named(t, typePermission, "proxy-detect-permission")

	checks := []struct {
		what string
		got  any
		want any
	}{
		{"integration apiId", integration.Inputs["apiId"], api.ID},
		{"integration type", integration.Inputs["integrationType"], "AWS_PROXY"},
		{"integration payloadFormatVersion", integration.Inputs["payloadFormatVersion"], "2.0"},
		{"integration uri", integration.Inputs["integrationUri"], fn.Outputs["invokeArn"]},
		{"route apiId", route.Inputs["apiId"], api.ID},
		{"route key", route.Inputs["routeKey"], "GET /detect"},
		{"route target", route.Inputs["target"], "integrations/" + integration.ID},
		{"permission action", permission.Inputs["action"], "lambda:InvokeFunction"},
		{"permission principal", permission.Inputs["principal"], "apigateway.amazonaws.com"},
		{"permission function", permission.Inputs["function"], "crossfaas-dev-proxy"},
		{"permission sourceArn", permission.Inputs["sourceArn"], api.Outputs["executionArn"].(string) + "/*/GET/detect"},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %#v, want %#v", c.what, c.got, c.want)
		}
	}
}

func TestHTTPAPIStage(t *testing.T) {
	run := mustRunStack(t, "dev", testConfig(), fixtures(fixtureArtifacts(t, "l", "p")))
	api := run.mocks.one(t, typeAPI)
	if got := api.Inputs["protocolType"]; got != "HTTP" {
		t.Errorf("api protocolType = %q, want %q", got, "HTTP")
	}
	stage := run.mocks.one(t, typeStage)
	for _, c := range []struct {
		path string
		want any
	}{
		{"apiId", api.ID},
		{"name", "$default"},
		{"autoDeploy", true},
		{"defaultRouteSettings.throttlingBurstLimit", float64(defaultAPIThrottlingBurst)},
		{"defaultRouteSettings.throttlingRateLimit", float64(defaultAPIThrottlingRate)},
		{"accessLogSettings", nil},
	} {
		if got := get(stage.Inputs, c.path); !reflect.DeepEqual(got, c.want) {
			t.Errorf("stage %s = %#v, want %#v", c.path, got, c.want)
		}
	}
	for _, g := range run.mocks.all(typeLogGroup) {
		if name, _ := g.Inputs["name"].(string); !strings.HasPrefix(name, "/aws/lambda/") {
			t.Errorf("dev (no access logs) has the log group %s, want only the Lambdas'", name)
		}
	}
}

func TestHTTPAPIAccessLogs(t *testing.T) {
	cfg := testConfig()
	cfg["crossfaas:apiAccessLogs"] = "true"
	cfg["crossfaas:logRetentionDays"] = "30"
	run := mustRunStack(t, "dev", cfg, fixtures(fixtureArtifacts(t, "l", "p")))

	var group *recorded
	for _, g := range run.mocks.all(typeLogGroup) {
		if g.Inputs["name"] == "/aws/apigateway/crossfaas-dev-api" {
			group = &g
		}
	}
	if group == nil {
		t.Fatal("no access log group /aws/apigateway/crossfaas-dev-api")
	}
	if got := group.Inputs["retentionInDays"]; got != float64(30) {
		t.Errorf("access log retentionInDays = %v, want 30", got)
	}
	stage := run.mocks.one(t, typeStage)
	if got, want := get(stage.Inputs, "accessLogSettings.destinationArn"), group.Outputs["arn"]; got != want {
		t.Errorf("stage access log destination = %v, want %v", got, want)
	}
	format, _ := get(stage.Inputs, "accessLogSettings.format").(string)
	var fields map[string]string
	if err := json.Unmarshal([]byte(format), &fields); err != nil || fields["requestId"] != "$context.requestId" {
		t.Errorf("access log format = %q, want JSON carrying $context.requestId (err %v)", format, err)
	}
}

func TestProxyRolePolicyOnlyWritesItsOwnLogs(t *testing.T) {
	run := mustRunStack(t, "dev", testConfig(), fixtures(fixtureArtifacts(t, "l", "p")))
	role := run.mocks.named(t, typeRole, "proxy-role")
	logGroup := run.mocks.named(t, typeLogGroup, "proxy-logs")

	var trust struct {
		Statement []struct {
			Effect    string
			Principal map[string]any
			Action    any
		}
	}
	if err := json.Unmarshal([]byte(role.Inputs["assumeRolePolicy"].(string)), &trust); err != nil {
		t.Fatalf("assume role policy: %v", err)
	}
	if len(trust.Statement) != 1 || trust.Statement[0].Principal["Service"] != "lambda.amazonaws.com" || trust.Statement[0].Action != "sts:AssumeRole" {
		t.Errorf("assume role policy = %+v, want only lambda.amazonaws.com to sts:AssumeRole", trust)
	}

	var policies []recorded
	for _, p := range run.mocks.all(typeRolePolicy) {
		if p.Inputs["role"] == role.ID {
			policies = append(policies, p)
		}
	}
	if len(policies) != 1 {
		t.Fatalf("the proxy role has %d inline policies, want 1", len(policies))
	}
	if got := policies[0].Inputs["role"]; got != role.ID {
		t.Errorf("policy role = %v, want %v", got, role.ID)
	}
	var doc struct {
		Version   string
		Statement []struct {
			Effect   string
			Action   []string
			Resource []string
		}
	}
	if err := json.Unmarshal([]byte(policies[0].Inputs["policy"].(string)), &doc); err != nil {
		t.Fatalf("policy document: %v", err)
	}
	if len(doc.Statement) != 1 {
		t.Fatalf("policy has %d statements, want 1: %+v", len(doc.Statement), doc)
	}
	st := doc.Statement[0]
	if st.Effect != "Allow" || !reflect.DeepEqual(st.Action, []string{"logs:CreateLogStream", "logs:PutLogEvents"}) {
		t.Errorf("policy statement = %+v, want Allow logs:CreateLogStream, logs:PutLogEvents", st)
	}
	if want := []string{logGroup.Outputs["arn"].(string) + ":*"}; !reflect.DeepEqual(st.Resource, want) {
		t.Errorf("policy resources = %v, want %v", st.Resource, want)
	}
	if got := logGroup.Inputs["name"]; got != "/aws/lambda/crossfaas-dev-proxy" {
		t.Errorf("log group name = %v, want /aws/lambda/crossfaas-dev-proxy", got)
	}
	if got := logGroup.Inputs["retentionInDays"]; got != float64(defaultLogRetentionDays) {
		t.Errorf("log group retention = %v, want %d", got, defaultLogRetentionDays)
	}
}
