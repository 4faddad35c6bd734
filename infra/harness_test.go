package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"

	"github.com/crossfaas/crossfaas/gobuild"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/internals"
)

// Sentinel Twilio credentials: tests assert they appear nowhere but in
// the SSM parameters.
const (
	testAccountSID = "AC0123456789abcdef0123456789abcdef"
	testAuthToken  = "sentinel-auth-token-4f1c9e"
)

// testConfig is a minimal valid stack configuration. It turns off the
// wait for the Google APIs, which would look for the deployer's credentials
// and ask Google; the tests of apiready_test.go run it against a fake.
func testConfig() map[string]string {
	return map[string]string{
		"aws:region":                       "us-east-1",
		"gcp:project":                      "test-project-123",
		"gcp:region":                       "us-central1",
		configTwilioAccountSID:             testAccountSID,
		configTwilioAuthToken:              testAuthToken,
		"crossfaas:googleApisReadyTimeout": "0",
	}
}

// withConfig sets the stack configuration a run sees, as the Pulumi CLI
// does through PULUMI_CONFIG, with the Twilio credentials and the allowed
// senders (when set) as secrets, as `pulumi config set --secret` stores
// them.
func withConfig(cfg map[string]string) pulumi.RunOption {
	return func(info *pulumi.RunInfo) {
		info.Config = cfg
		info.ConfigSecretKeys = nil
		for _, key := range []string{configTwilioAccountSID, configTwilioAuthToken, configNamespace + ":allowedSenders"} {
			if _, ok := cfg[key]; ok {
				info.ConfigSecretKeys = append(info.ConfigSecretKeys, key)
			}
		}
	}
}

// fixtureSleuthZip and fixtureSleuthRequestZip are the contents of the
// stand-in sleuth zips.
const (
	fixtureSleuthZip        = "sleuth zip"
	fixtureSleuthRequestZip = "sleuth-request zip"
	fixtureInspectorZip     = "inspector zip"
)

// fixtureArtifacts writes a stand-in labeler source zip and proxy zip
// with the given contents, and the sleuth and inspector zips, and returns
// them as the build would, in that order.
func fixtureArtifacts(t *testing.T, labelerZip, proxyZip string) []gobuild.Artifact {
	t.Helper()
	dir := t.TempDir()
	var arts []gobuild.Artifact
	for _, f := range []struct{ name, content string }{{"labeler", labelerZip}, {"proxy", proxyZip}, {"sleuth", fixtureSleuthZip}, {"sleuth-request", fixtureSleuthRequestZip}, {"inspector", fixtureInspectorZip}} {
		path := filepath.Join(dir, f.name+".zip")
		if err := os.WriteFile(path, []byte(f.content), 0o644); err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256([]byte(f.content))
		arts = append(arts, gobuild.Artifact{Name: f.name, Path: path, Size: int64(len(f.content)), SHA256: hex.EncodeToString(sum[:])})
	}
	return arts
}

// fixtures returns a Builder handing out arts.
func fixtures(arts []gobuild.Artifact) Builder {
	return func(*pulumi.Context) ([]gobuild.Artifact, error) { return arts, nil }
}

// stackRun is the result of running the program under mocks.
type stackRun struct {
	mocks      *mocks
	deployment *deployment
	outputs    map[string]any
}

// runStack runs the whole program as stack crossfaas/<stack> with cfg and
// the builder, and returns what it registered and its resolved outputs.
func runStack(t *testing.T, stack string, cfg map[string]string, builder Builder, opts ...pulumi.RunOption) (*stackRun, error) {
	t.Helper()
	return runStackWith(t, &mocks{awsRegion: cfg["aws:region"], gcpProject: cfg["gcp:project"]}, stack, cfg, builder, opts...)
}

// runStackWith is runStack with the given mocks.
//
// The program may look for the deployer's Google credentials (to wait for
// the Google APIs, see apiready.go). The tests turn that wait off or give it
// a token; should one forget, GOOGLE_APPLICATION_CREDENTIALS names a file
// that does not exist, so the lookup fails at once instead of using the
// developer's own credentials or asking the metadata server.
func runStackWith(t *testing.T, m *mocks, stack string, cfg map[string]string, builder Builder, opts ...pulumi.RunOption) (*stackRun, error) {
	t.Helper()
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", filepath.Join(t.TempDir(), "no-google-credentials-in-tests.json"))
	t.Setenv("GOOGLE_CREDENTIALS", "")
	t.Setenv("GOOGLE_OAUTH_ACCESS_TOKEN", "")
	run := &stackRun{mocks: m}
	err := pulumi.RunErr(func(ctx *pulumi.Context) error {
		d, err := program(ctx, builder)
		run.deployment = d
		return err
	}, append([]pulumi.RunOption{pulumi.WithMocks("crossfaas", stack, m), withConfig(cfg)}, opts...)...)
	if err != nil {
		return run, err
	}
	outputs, ok := await(t, run.deployment.Outputs().ToMapOutput()).(map[string]any)
	if !ok {
		t.Fatalf("stack outputs are not a map")
	}
	run.outputs = outputs
	return run, nil
}

// mustRunStack is runStack for runs that must succeed.
func mustRunStack(t *testing.T, stack string, cfg map[string]string, builder Builder) *stackRun {
	t.Helper()
	run, err := runStack(t, stack, cfg, builder)
	if err != nil {
		t.Fatalf("run stack %s: %v", stack, err)
	}
	return run
}

// await returns the resolved value of an output of a finished run.
func await(t *testing.T, o pulumi.Output) any {
	t.Helper()
	res, err := internals.UnsafeAwaitOutput(context.Background(), o)
	if err != nil {
		t.Fatalf("await output: %v", err)
	}
	if !res.Known {
		t.Fatalf("output is unknown")
	}
	return res.Value
}
