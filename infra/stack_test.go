package main

import (
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/crossfaas/crossfaas/gobuild"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"gopkg.in/yaml.v3"
)

// Type tokens of the resources the stack creates.
const (
	typeLambda      = "aws:lambda/function:Function"
	typeRole        = "aws:iam/role:Role"
	typeBucketV2    = "aws:s3/bucketV2:BucketV2"
	typeRolePolicy  = "aws:iam/rolePolicy:RolePolicy"
	typeLogGroup    = "aws:cloudwatch/logGroup:LogGroup"
	typeAPI         = "aws:apigatewayv2/api:Api"
	typeStage       = "aws:apigatewayv2/stage:Stage"
	typeIntegration = "aws:apigatewayv2/integration:Integration"
	typeRoute       = "aws:apigatewayv2/route:Route"
	typePermission  = "aws:lambda/permission:Permission"
	typeBucket      = "gcp:storage/bucket:Bucket"
	typeObject      = "gcp:storage/bucketObject:BucketObject"
	typeFunction    = "gcp:cloudfunctionsv2/function:Function"
	typeRunInvoker  = "gcp:cloudrunv2/serviceIamMember:ServiceIamMember"
	typeAccount     = "gcp:serviceaccount/account:Account"
	typeAPIService  = "gcp:projects/service:Service"

	typePool             = "gcp:iam/workloadIdentityPool:WorkloadIdentityPool"
	typeProvider         = "gcp:iam/workloadIdentityPoolProvider:WorkloadIdentityPoolProvider"
	typeAccountIAMMember = "gcp:serviceaccount/iAMMember:IAMMember"
	typeProjectIAMMember = "gcp:projects/iAMMember:IAMMember"
)

func TestStackOutputs(t *testing.T) {
	arts := fixtureArtifacts(t, "l", "p")
	run := mustRunStack(t, "dev", testConfig(), fixtures(arts))
	stage := run.mocks.one(t, typeStage)
	fn := run.mocks.one(t, typeFunction)

	endpoint, _ := run.outputs["endpoint"].(string)
	if want := strings.TrimSuffix(stage.Outputs["invokeUrl"].(string), "/") + "/detect"; endpoint != want {
		t.Errorf("output endpoint = %q, want %q", endpoint, want)
	}
	if !strings.HasSuffix(endpoint, ".amazonaws.com/detect") {
		t.Errorf("output endpoint = %q, want it to end with .amazonaws.com/detect", endpoint)
	}
	if got, want := run.outputs["labelerUrl"], fn.Outputs["url"]; got != want {
		t.Errorf("output labelerUrl = %v, want %v", got, want)
	}
	want := map[string]string{"labeler": arts[0].SHA256, "proxy": arts[1].SHA256, "sleuth": arts[2].SHA256, "sleuth-request": arts[3].SHA256, "inspector": arts[4].SHA256}
	if got := run.outputs["artifacts"]; !reflect.DeepEqual(got, want) {
		t.Errorf("output artifacts = %v, want %v", got, want)
	}
	if got, want := run.outputs["uploadsBucket"], run.mocks.one(t, typeBucketV2).Inputs["bucket"]; got != want || want == nil {
		t.Errorf("output uploadsBucket = %v, want the bucket's name %v", got, want)
	}
	if got, want := run.outputs["uploadsAdminRoleArn"], run.mocks.named(t, typeRole, "uploads-admin").Outputs["arn"]; got != want {
		t.Errorf("output uploadsAdminRoleArn = %v, want %v", got, want)
	}
	if got, want := run.outputs["uploadsFailedQueueUrl"], run.mocks.named(t, "aws:sqs/queue:Queue", "uploads-failed").Outputs["url"]; got != want {
		t.Errorf("output uploadsFailedQueueUrl = %v, want %v", got, want)
	}
	if len(run.outputs) != 7 {
		t.Errorf("outputs = %v, want exactly endpoint, labelerUrl, smsWebhookUrl, the three uploads outputs and artifacts", run.outputs)
	}
}

// physicalNames returns every physical name the run gave a resource.
func physicalNames(r *stackRun) map[string]string {
	names := map[string]string{}
	for _, res := range r.mocks.snapshot() {
		key := res.Type + " " + res.Name
		switch {
		case res.Type == typeAccount:
			names[key] = res.Inputs["accountId"].(string)
		case res.Type == typePool:
			names[key] = res.Inputs["workloadIdentityPoolId"].(string)
		case res.Type == typeProvider:
			// Its id is the pool's to scope.
		case res.Type == typeLogGroup:
			names[key] = res.Inputs["name"].(string)
		case res.Type == typeAPIService || res.Type == typeObject || res.Type == typeStage:
			// API names, content-named objects in the stage's bucket and
			// the $default stage are not the stack's to prefix.
		case res.Custom && res.Inputs["name"] != nil && res.Type != typeRunInvoker:
			names[key] = res.Inputs["name"].(string)
		}
	}
	return names
}

func TestNamesCarryTheStagePrefix(t *testing.T) {
	// SSM parameter names are paths: /crossfaas-dev/twilio/auth-token.
	nameRule := regexp.MustCompile(`^((/aws/(lambda|apigateway)/)?crossfaas-(dev|prod)-[a-z0-9-]+|/crossfaas-(dev|prod)/[a-z0-9/-]+)$`)
	runs := map[string]*stackRun{}
	for _, stack := range []string{"dev", "prod"} {
		runs[stack] = mustRunStack(t, stack, testConfig(), fixtures(fixtureArtifacts(t, "l", "p")))
		names := physicalNames(runs[stack])
		if len(names) < 8 {
			t.Fatalf("stack %s: only %d physical names found: %v", stack, len(names), names)
		}
		for res, name := range names {
			if !nameRule.MatchString(name) || !strings.Contains(name, "crossfaas-"+stack) {
				t.Errorf("stack %s: %s is named %q, want the prefix crossfaas-%s-", stack, res, name, stack)
			}
		}
	}
	dev, prod := physicalNames(runs["dev"]), physicalNames(runs["prod"])
	for res, name := range dev {
		if prod[res] == name {
			t.Errorf("%s is named %q in both dev and prod", res, name)
		}
	}
}

func TestBucketNameIsGlobalAndValid(t *testing.T) {
	for _, project := range []string{"test-project-123", "a-very-long-project-id-123456"} {
		cfg := testConfig()
		cfg["gcp:project"] = project
		run := mustRunStack(t, "dev", cfg, fixtures(fixtureArtifacts(t, "l", "p")))
		name := run.mocks.one(t, typeBucket).Inputs["name"].(string)
		if len(name) > 63 || !regexp.MustCompile(`^[a-z0-9][a-z0-9-]*[a-z0-9]$`).MatchString(name) || !strings.HasPrefix(name, "crossfaas-dev-") {
			t.Errorf("bucket name for project %q = %q, want ≤63 lower-case characters starting crossfaas-dev-", project, name)
		}
		if len("crossfaas-dev-src-"+project) <= 63 && !strings.Contains(name, project) {
			t.Errorf("bucket name for project %q = %q, want it to contain the project id", project, name)
		}
	}
}

func TestEveryResourceIsTaggedAndParented(t *testing.T) {
	run := mustRunStack(t, "dev", testConfig(), fixtures(fixtureArtifacts(t, "l", "p")))
	wantTags := map[string]any{"project": "crossfaas", "stack": "dev"}
	// Types whose provider schema has tags (AWS) or labels (GCP).
	tagged := map[string]string{
		typeLambda: "tags", typeRole: "tags", typeLogGroup: "tags", typeAPI: "tags", typeStage: "tags",
		typeBucket: "labels", typeFunction: "labels",
	}
	for _, r := range run.mocks.snapshot() {
		if !r.Custom {
			// A service's component belongs to the stack; a building block
			// (GoLambda, GoFunction) to the service's component.
			wantStack := r.Type != "crossfaas:aws:GoLambda" && r.Type != "crossfaas:gcp:GoFunction"
			if wantStack != strings.HasSuffix(r.Parent, "pulumi:pulumi:Stack::crossfaas-dev") {
				t.Errorf("component %s %s has parent %q, want the stack: %v", r.Type, r.Name, r.Parent, wantStack)
			}
			continue
		}
		if !regexp.MustCompile(`[:$]crossfaas:(aws|gcp):[A-Za-z]+::`).MatchString(r.Parent) {
			t.Errorf("%s %s has parent %q, want one of the crossfaas components", r.Type, r.Name, r.Parent)
		}
		if key, ok := tagged[r.Type]; ok && !reflect.DeepEqual(r.Inputs[key], wantTags) {
			t.Errorf("%s %s %s = %v, want %v", r.Type, r.Name, key, r.Inputs[key], wantTags)
		}
	}
}

func TestStageSettingsReachTheResources(t *testing.T) {
	cfg := testConfig()
	for k, v := range map[string]string{
		"crossfaas:labelerRuntime":          "go125",
		"crossfaas:labelerMemory":           "1Gi",
		"crossfaas:labelerTimeoutSeconds":   "120",
		"crossfaas:labelerMaxInstances":     "40",
		"crossfaas:proxyMemoryMb":           "512",
		"crossfaas:proxyTimeoutSeconds":     "25",
		"crossfaas:logRetentionDays":        "90",
		"crossfaas:apiThrottlingBurstLimit": "300",
		"crossfaas:apiThrottlingRateLimit":  "150.5",
		"gcp:region":                        "europe-west1",
	} {
		cfg[k] = v
	}
	run := mustRunStack(t, "prod", cfg, fixtures(fixtureArtifacts(t, "l", "p")))
	fn := run.mocks.one(t, typeFunction)
	lambda := run.mocks.named(t, typeLambda, "proxy-function")
	stage := run.mocks.one(t, typeStage)
	for _, c := range []struct {
		what string
		got  any
		want any
	}{
		{"labeler runtime", get(fn.Inputs, "buildConfig.runtime"), "go125"},
		{"labeler memory", get(fn.Inputs, "serviceConfig.availableMemory"), "1Gi"},
		{"labeler timeout", get(fn.Inputs, "serviceConfig.timeoutSeconds"), float64(120)},
		{"labeler max instances", get(fn.Inputs, "serviceConfig.maxInstanceCount"), float64(40)},
		{"labeler location", fn.Inputs["location"], "europe-west1"},
		{"bucket location", run.mocks.one(t, typeBucket).Inputs["location"], "EUROPE-WEST1"},
		{"proxy memory", lambda.Inputs["memorySize"], float64(512)},
		{"proxy timeout", lambda.Inputs["timeout"], float64(25)},
		{"proxy log retention", run.mocks.named(t, typeLogGroup, "proxy-logs").Inputs["retentionInDays"], float64(90)},
		{"burst limit", get(stage.Inputs, "defaultRouteSettings.throttlingBurstLimit"), float64(300)},
		{"rate limit", get(stage.Inputs, "defaultRouteSettings.throttlingRateLimit"), 150.5},
	} {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %#v, want %#v", c.what, c.got, c.want)
		}
	}
}

func TestProgramFailures(t *testing.T) {
	buildErr := errors.New("build proxy: exit status 1: syntax error")
	tests := []struct {
		name    string
		cfg     func(map[string]string)
		builder Builder
		want    string
	}{
		{
			name:    "invalid config stops before building",
			cfg:     func(c map[string]string) { delete(c, "gcp:project") },
			builder: func(*pulumi.Context) ([]gobuild.Artifact, error) { panic("built despite invalid config") },
			want:    "gcp:project is required",
		},
		{
			name:    "build failure",
			builder: func(*pulumi.Context) ([]gobuild.Artifact, error) { return nil, buildErr },
			want:    "syntax error",
		},
		{
			name: "missing proxy artifact",
			builder: func(*pulumi.Context) ([]gobuild.Artifact, error) {
				return []gobuild.Artifact{{Name: "labeler", Path: "/x/labeler.zip", SHA256: strings.Repeat("a", 64)}}, nil
			},
			want: `no "proxy" artifact`,
		},
		{
			name: "malformed digest",
			builder: func(*pulumi.Context) ([]gobuild.Artifact, error) {
				return []gobuild.Artifact{
					{Name: "labeler", Path: "/x/labeler.zip", SHA256: strings.Repeat("a", 64)},
					{Name: "proxy", Path: "/x/proxy.zip", SHA256: "not-hex"},
					{Name: "sleuth", Path: "/x/sleuth.zip", SHA256: strings.Repeat("b", 64)},
					{Name: "sleuth-request", Path: "/x/sleuth-request.zip", SHA256: strings.Repeat("c", 64)},
					{Name: "inspector", Path: "/x/inspector.zip", SHA256: strings.Repeat("d", 64)},
				}, nil
			},
			want: "not 64 hex digits",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			if tt.cfg != nil {
				tt.cfg(cfg)
			}
			_, err := runStack(t, "dev", cfg, tt.builder)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("program() error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestPreview(t *testing.T) {
	dryRun := func(info *pulumi.RunInfo) { info.DryRun = true }
	run, err := runStack(t, "dev", testConfig(), fixtures(fixtureArtifacts(t, "l", "p")), dryRun)
	if err != nil {
		t.Fatalf("preview: %v", err)
	}
	if n := len(run.mocks.all(typeLambda)); n != 9 {
		t.Errorf("preview registered %d Lambda functions, want 9: the proxy, the six of the SMS bot, its cleanup and the upload inspector", n)
	}
}

func TestStackFiles(t *testing.T) {
	project := readYAML(t, "../Pulumi.yaml")
	for key, want := range map[string]string{"name": "crossfaas", "runtime": "go", "main": "infra/"} {
		if got := project[key]; got != want {
			t.Errorf("Pulumi.yaml %s = %v, want %q", key, got, want)
		}
	}
	if d, _ := project["description"].(string); d == "" {
		t.Error("Pulumi.yaml has no description")
	}

	loaded := map[string]*stackRun{}
	for _, stack := range []string{"dev", "prod"} {
		file := readYAML(t, "../Pulumi."+stack+".yaml")
		values, ok := file["config"].(map[string]any)
		if !ok {
			t.Fatalf("Pulumi.%s.yaml has no config map", stack)
		}
		cfg := map[string]string{}
		for k, v := range values {
			b, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			cfg[k] = strings.Trim(string(b), `"`)
			if !strings.HasPrefix(k, "aws:") && !strings.HasPrefix(k, "gcp:") && !strings.HasPrefix(k, "crossfaas:") {
				t.Errorf("Pulumi.%s.yaml key %q is in no known namespace", stack, k)
			}
		}
		if cfg["aws:region"] != "us-east-1" || cfg["gcp:region"] != "us-central1" || cfg["gcp:project"] == "" {
			t.Errorf("Pulumi.%s.yaml provider settings = %v, want aws:region us-east-1, gcp:region us-central1 and a gcp:project", stack, cfg)
		}
		// Secrets are encrypted per stack by `pulumi config set --secret`,
		// never committed: add stand-ins.
		for _, key := range []string{configTwilioAccountSID, configTwilioAuthToken} {
			if _, ok := cfg[key]; ok {
				t.Errorf("Pulumi.%s.yaml commits %s", stack, key)
			}
			cfg[key] = testConfig()[key]
		}
		// Nor may a test ask Google whether its APIs answer.
		cfg["crossfaas:googleApisReadyTimeout"] = "0"
		loaded[stack] = mustRunStack(t, stack, cfg, fixtures(fixtureArtifacts(t, "l", "p")))
	}

	// prod is the bigger stage.
	dev, prod := loaded["dev"].mocks, loaded["prod"].mocks
	for _, c := range []struct {
		what      string
		dev, prod any
	}{
		{"proxy memory", dev.named(t, typeLambda, "proxy-function").Inputs["memorySize"], prod.named(t, typeLambda, "proxy-function").Inputs["memorySize"]},
		{"labeler max instances", get(dev.one(t, typeFunction).Inputs, "serviceConfig.maxInstanceCount"), get(prod.one(t, typeFunction).Inputs, "serviceConfig.maxInstanceCount")},
		{"burst limit", get(dev.one(t, typeStage).Inputs, "defaultRouteSettings.throttlingBurstLimit"), get(prod.one(t, typeStage).Inputs, "defaultRouteSettings.throttlingBurstLimit")},
	} {
		if c.dev.(float64) >= c.prod.(float64) {
			t.Errorf("%s: dev %v, prod %v; want prod bigger", c.what, c.dev, c.prod)
		}
	}
}

// readYAML parses a YAML file at path relative to this package.
func readYAML(t *testing.T, path string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := yaml.Unmarshal(b, &v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return v
}
