// Package enginetest runs crossfaas's Pulumi program on the real Pulumi
// engine in tests, without a cloud and without the network: the Pulumi CLI
// built from its Go module (tools/pulumi), the program run inline through
// the Automation API, a local file backend with a passphrase secrets
// provider, and the stand-in provider plugins of package testprovider on
// PATH.
//
// The CLI takes minutes to build the first time. Outside CI a test that
// needs it and finds it unbuilt is skipped with the command that builds it
// (tools/pulumi/build.sh); under CI=true it builds it, and fails if it
// cannot.
package enginetest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/blang/semver"
	"github.com/crossfaas/crossfaas/internal/build"
	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"golang.org/x/mod/modfile"
)

// cliModule is the module whose cmd/pulumi is the CLI.
const cliModule = "github.com/pulumi/pulumi/pkg/v3"

// cliBuildTimeout bounds building the CLI under CI: about 8 minutes cold
// on 2 idle cores, more on a loaded machine.
const cliBuildTimeout = 40 * time.Minute

var cli struct {
	once sync.Once
	root string // PulumiCommandOptions.Root: <root>/bin/pulumi is the CLI
	skip string // why tests skip, outside CI
	err  error
}

// CLIRoot returns the directory whose bin/pulumi is the Pulumi CLI built
// from tools/pulumi (the version its go.mod pins). When it is not built,
// the test is skipped naming the command that builds it, or, under
// CI=true, the CLI is built (failing the test if that fails).
func CLIRoot(t testing.TB) string {
	t.Helper()
	cli.once.Do(func() { cli.root, cli.skip, cli.err = findCLI() })
	if cli.err != nil {
		t.Fatalf("enginetest: %v", cli.err)
	}
	if cli.skip != "" {
		t.Skip(cli.skip)
	}
	return cli.root
}

// CLIVersion returns the CLI version tools/pulumi/go.mod pins, e.g.
// "v3.274.1".
func CLIVersion(repoRoot string) (string, error) {
	path := filepath.Join(repoRoot, "tools", "pulumi", "go.mod")
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("pulumi cli version: %w", err)
	}
	f, err := modfile.Parse(path, data, nil)
	if err != nil {
		return "", fmt.Errorf("pulumi cli version: %w", err)
	}
	for _, r := range f.Require {
		if r.Mod.Path == cliModule {
			return r.Mod.Version, nil
		}
	}
	return "", fmt.Errorf("pulumi cli version: %s requires no %s", path, cliModule)
}

// CLIInstallDir returns where tools/pulumi/build.sh links the CLI of
// version: <user cache>/crossfaas/pulumi-<version>, holding bin/pulumi.
func CLIInstallDir(version string) string {
	base, err := os.UserCacheDir()
	if err != nil {
		base = os.TempDir()
	}
	return filepath.Join(base, "crossfaas", "pulumi-"+version)
}

func findCLI() (root, skip string, err error) {
	repo, err := repoRoot()
	if err != nil {
		return "", "", err
	}
	version, err := CLIVersion(repo)
	if err != nil {
		return "", "", err
	}
	root = CLIInstallDir(version)
	if checkCLI(root, version) == nil {
		return root, "", nil
	}
	script := filepath.Join(repo, "tools", "pulumi", "build.sh")
	if os.Getenv("CI") != "true" {
		return "", fmt.Sprintf("the Pulumi CLI %s is not built: run `bash tools/pulumi/build.sh` once (several minutes; Go's build cache keeps it) to run the engine tests", version), nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), cliBuildTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", script)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", "", fmt.Errorf("build the pulumi cli: bash %s: %w\n%s", script, err, stderr.String())
	}
	if got := strings.TrimSpace(string(out)); got != root {
		return "", "", fmt.Errorf("build the pulumi cli: %s printed %q, want %q", script, got, root)
	}
	if err := checkCLI(root, version); err != nil {
		return "", "", fmt.Errorf("build the pulumi cli: %w", err)
	}
	return root, "", nil
}

// checkCLI runs `pulumi version` and compares it with version.
func checkCLI(root, version string) error {
	bin := filepath.Join(root, "bin", "pulumi")
	cmd := exec.Command(bin, "version")
	cmd.Env = append(os.Environ(), "PULUMI_SKIP_UPDATE_CHECK=true")
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("%s version: %w", bin, err)
	}
	if got := strings.TrimSpace(string(out)); got != version {
		return fmt.Errorf("%s version = %q, want %q", bin, got, version)
	}
	return nil
}

// Command returns the Automation API's handle on the CLI at root, checked
// to be a version the Automation API accepts.
func Command(root string) (auto.PulumiCommand, error) {
	cmd, err := auto.NewPulumiCommand(&auto.PulumiCommandOptions{Root: root, Version: semver.Version{}})
	if err != nil {
		return nil, fmt.Errorf("pulumi command: %w", err)
	}
	return cmd, nil
}

// repoRoot is the crossfaas checkout holding the working directory, which
// go test sets to the package under test.
func repoRoot() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find repository root: %w", err)
	}
	return build.FindRoot(wd)
}
