package main

import (
	"archive/zip"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/archive"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// TestRealBuild runs the program with the Builder main uses, so the
// artifacts are really built (from Go's build cache when warm), and checks
// that what is deployed is exactly what was built.
func TestRealBuild(t *testing.T) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	// As a current Pulumi CLI does: PULUMI_ROOT_DIRECTORY is the directory
	// of Pulumi.yaml.
	withRoot := func(info *pulumi.RunInfo) { info.RootDirectory = root }
	run, err := runStack(t, "dev", testConfig(), buildArtifacts("", out), withRoot)
	if err != nil {
		t.Fatalf("run with the real build: %v", err)
	}

	proxyZip := filepath.Join(out, "proxy.zip")
	proxySum := fileSHA256(t, proxyZip)
	fn := run.mocks.named(t, typeLambda, "proxy-function")
	if code, ok := fn.Inputs["code"].(*archive.Archive); !ok || code.Path != proxyZip {
		t.Errorf("proxy Lambda code = %#v, want the archive %s", fn.Inputs["code"], proxyZip)
	}
	if got, want := fn.Inputs["sourceCodeHash"], base64.StdEncoding.EncodeToString(proxySum); got != want {
		t.Errorf("proxy sourceCodeHash = %v, want %v (base64 SHA-256 of %s)", got, want, proxyZip)
	}
	assertZipHas(t, proxyZip, "bootstrap")

	// The five SNS-triggered sleuth Lambdas deploy one zip, the webhook its
	// own lean one.
	sleuthZip := filepath.Join(out, "sleuth.zip")
	sleuthHash := base64.StdEncoding.EncodeToString(fileSHA256(t, sleuthZip))
	requestZip := filepath.Join(out, "sleuth-request.zip")
	requestHash := base64.StdEncoding.EncodeToString(fileSHA256(t, requestZip))
	inspectorZip := filepath.Join(out, "inspector.zip")
	inspectorHash := base64.StdEncoding.EncodeToString(fileSHA256(t, inspectorZip))
	for _, fn := range run.mocks.all(typeLambda) {
		zip, hash := sleuthZip, sleuthHash
		switch fn.Name {
		case "proxy-function":
			continue
		case "sleuth-request-function":
			zip, hash = requestZip, requestHash
		case "uploads-inspector-function":
			zip, hash = inspectorZip, inspectorHash
		}
		if code, ok := fn.Inputs["code"].(*archive.Archive); !ok || code.Path != zip || fn.Inputs["sourceCodeHash"] != hash {
			t.Errorf("%s code = %#v (hash %v), want the archive %s (hash %s)", fn.Name, fn.Inputs["code"], fn.Inputs["sourceCodeHash"], zip, hash)
		}
	}
	assertZipHas(t, sleuthZip, "bootstrap")
	assertZipHas(t, requestZip, "bootstrap")

	labelerZip := filepath.Join(out, "labeler.zip")
	labelerSum := hex.EncodeToString(fileSHA256(t, labelerZip))
	if got, want := run.mocks.one(t, typeObject).Inputs["name"], "labeler-"+labelerSum+".zip"; got != want {
		t.Errorf("labeler source object = %v, want %v", got, want)
	}
	// Cloud Build wants the module's go.mod at the root of the archive.
	assertZipHas(t, labelerZip, "go.mod")

	// The size limits of the deployed artifacts, deterministic for a
	// given commit and toolchain: checked here, in every run, not only by
	// the opt-in benchmarks.
	for _, limit := range []struct {
		zip string
		max int64
	}{
		{proxyZip, 3 * 1024 * 1024},
		{sleuthZip, 8 * 1024 * 1024},
		{requestZip, 8 * 1024 * 1024},
		{inspectorZip, 8 * 1024 * 1024},
	} {
		info, err := os.Stat(limit.zip)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s (linux/arm64): %d bytes (%.2f MiB)", filepath.Base(limit.zip), info.Size(), float64(info.Size())/(1<<20))
		if info.Size() > limit.max {
			t.Errorf("%s is %d bytes, want at most %d (%.0f MiB)", filepath.Base(limit.zip), info.Size(), limit.max, float64(limit.max)/(1<<20))
		}
	}
	want := map[string]string{"proxy": hex.EncodeToString(proxySum), "labeler": labelerSum, "sleuth": hex.EncodeToString(fileSHA256(t, sleuthZip)), "sleuth-request": hex.EncodeToString(fileSHA256(t, requestZip)), "inspector": hex.EncodeToString(fileSHA256(t, inspectorZip))}
	got, _ := run.outputs["artifacts"].(map[string]string)
	for name, sum := range want {
		if got[name] != sum {
			t.Errorf("output artifacts[%q] = %q, want %q", name, got[name], sum)
		}
	}
}

func TestRepoRoot(t *testing.T) {
	want, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		rootDir string // what the Pulumi CLI reports; "" for an old CLI
	}{
		{"from the Pulumi project directory", want},
		{"from the working directory", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got string
			var rootErr error
			err := pulumi.RunErr(func(ctx *pulumi.Context) error {
				got, rootErr = repoRoot(ctx)
				return nil
			}, pulumi.WithMocks("crossfaas", "dev", &mocks{}), func(info *pulumi.RunInfo) { info.RootDirectory = tt.rootDir })
			if err != nil || rootErr != nil {
				t.Fatalf("repoRoot: %v, %v", err, rootErr)
			}
			if got != want {
				t.Errorf("repoRoot() = %q, want %q", got, want)
			}
		})
	}
}

func fileSHA256(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return sum[:]
}

func assertZipHas(t *testing.T, path, entry string) {
	t.Helper()
	r, err := zip.OpenReader(path)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	defer r.Close()
	for _, f := range r.File {
		if f.Name == entry {
			return
		}
	}
	t.Errorf("%s has no %s entry", path, entry)
}
