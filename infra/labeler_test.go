package main

import (
	"reflect"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/asset"
)

func TestLabelerFunction(t *testing.T) {
	arts := fixtureArtifacts(t, "labeler source", "proxy zip")
	run := mustRunStack(t, "dev", testConfig(), fixtures(arts))
	bucket := run.mocks.one(t, typeBucket)
	object := run.mocks.one(t, typeObject)
	fn := run.mocks.one(t, typeFunction)
	account := run.mocks.named(t, typeAccount, "labeler-runtime")
	builder := run.mocks.named(t, typeAccount, "labeler-build")

	checks := []struct {
		what string
		got  any
		want any
	}{
		{"bucket uniformBucketLevelAccess", bucket.Inputs["uniformBucketLevelAccess"], true},
		{"bucket forceDestroy", bucket.Inputs["forceDestroy"], true},
		{"bucket publicAccessPrevention", bucket.Inputs["publicAccessPrevention"], "enforced"},
		{"bucket project", bucket.Inputs["project"], "test-project-123"},
		{"object bucket", object.Inputs["bucket"], bucket.ID},
		{"object name", object.Inputs["name"], "labeler-" + arts[0].SHA256 + ".zip"},
		{"function name", fn.Inputs["name"], "crossfaas-dev-labeler"},
		{"function project", fn.Inputs["project"], "test-project-123"},
		{"function location", fn.Inputs["location"], "us-central1"},
		{"runtime", get(fn.Inputs, "buildConfig.runtime"), defaultLabelerRuntime},
		{"entry point", get(fn.Inputs, "buildConfig.entryPoint"), "Detect"},
		{"source bucket", get(fn.Inputs, "buildConfig.source.storageSource.bucket"), bucket.ID},
		{"source object", get(fn.Inputs, "buildConfig.source.storageSource.object"), object.Inputs["name"]},
		{"source generation", get(fn.Inputs, "buildConfig.source.storageSource.generation"), object.Outputs["generation"]},
		{"build service account", get(fn.Inputs, "buildConfig.serviceAccount"), builder.Outputs["name"]},
		{"build account id", builder.Inputs["accountId"], "crossfaas-dev-labeler-build"},
		{"memory", get(fn.Inputs, "serviceConfig.availableMemory"), defaultLabelerMemory},
		{"timeout", get(fn.Inputs, "serviceConfig.timeoutSeconds"), float64(defaultLabelerTimeoutSeconds)},
		{"max instances", get(fn.Inputs, "serviceConfig.maxInstanceCount"), float64(defaultLabelerMaxInstances)},
		{"service account", get(fn.Inputs, "serviceConfig.serviceAccountEmail"), account.Outputs["email"]},
		// No LABELER_LANGUAGES without crossfaas:labelLanguages: translation off.
		{"environment", get(fn.Inputs, "serviceConfig.environmentVariables"), map[string]any{
			"GOOGLE_CLOUD_PROJECT": "test-project-123", "LABELER_MAX_IMAGE_BYTES": "10485760",
		}},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("labeler %s = %#v, want %#v", c.what, c.got, c.want)
		}
	}
	if src, ok := object.Inputs["source"].(*asset.Asset); !ok || src.Path != arts[0].Path {
		t.Errorf("object source = %#v, want the file %q", object.Inputs["source"], arts[0].Path)
	}

	// The function must not wait for nothing: every API it needs is on.
	var enabled []string
	for _, s := range run.mocks.all(typeAPIService) {
		enabled = append(enabled, s.Inputs["service"].(string))
		if s.Inputs["disableOnDestroy"] != false {
			t.Errorf("API %v disableOnDestroy = %v, want false (stacks share projects)", s.Inputs["service"], s.Inputs["disableOnDestroy"])
		}
	}
	for _, api := range []string{"cloudfunctions.googleapis.com", "cloudbuild.googleapis.com", "run.googleapis.com", "vision.googleapis.com"} {
		if !strings.Contains(strings.Join(enabled, " "), api) {
			t.Errorf("enabled APIs %v lack %s", enabled, api)
		}
	}
}

func TestLabelerIsPubliclyInvokableWhenPublic(t *testing.T) {
	cfg := testConfig()
	cfg["crossfaas:labelerAccess"] = LabelerPublic
	run := mustRunStack(t, "dev", cfg, fixtures(fixtureArtifacts(t, "l", "p")))
	fn := run.mocks.one(t, typeFunction)
	invoker := run.mocks.one(t, typeRunInvoker)
	for _, c := range []struct {
		what string
		got  any
		want any
	}{
		{"name", invoker.Inputs["name"], get(fn.Outputs, "serviceConfig.service")},
		{"location", invoker.Inputs["location"], "us-central1"},
		{"project", invoker.Inputs["project"], "test-project-123"},
		{"role", invoker.Inputs["role"], "roles/run.invoker"},
		{"member", invoker.Inputs["member"], "allUsers"},
	} {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("run invoker %s = %#v, want %#v", c.what, c.got, c.want)
		}
	}
	for _, typ := range []string{typePool, typeProvider, typeAccountIAMMember} {
		if n := len(run.mocks.all(typ)); n != 0 {
			t.Errorf("a public labeler has %d %s, want none", n, typ)
		}
	}
	if got := run.outputs["labelerUrl"]; got != fn.Outputs["url"] {
		t.Errorf("output labelerUrl = %v, want %v", got, fn.Outputs["url"])
	}
}

func TestSourceChangeRenamesObject(t *testing.T) {
	first := mustRunStack(t, "dev", testConfig(), fixtures(fixtureArtifacts(t, "labeler v1", "same proxy")))
	second := mustRunStack(t, "dev", testConfig(), fixtures(fixtureArtifacts(t, "labeler v2", "same proxy")))

	object := func(r *stackRun) any {
		return get(r.mocks.one(t, typeFunction).Inputs, "buildConfig.source.storageSource.object")
	}
	if a, b := object(first), object(second); a == b {
		t.Errorf("function source object = %v for both labeler sources, want it to change with the source", a)
	}
	hash := func(r *stackRun) any { return r.mocks.named(t, typeLambda, "proxy-function").Inputs["sourceCodeHash"] }
	if a, b := hash(first), hash(second); a != b {
		t.Errorf("proxy sourceCodeHash changed from %v to %v though the proxy zip did not", a, b)
	}
}
