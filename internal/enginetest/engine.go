package enginetest

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/crossfaas/crossfaas/internal/enginetest/testprovider"
	"github.com/crossfaas/crossfaas/internal/lambdatest"
	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Passphrase encrypts the test stacks' secrets.
const Passphrase = "crossfaas engine test passphrase"

// providerPackage is the stand-in provider plugin's command.
const providerPackage = "./internal/enginetest/testprovider/cmd/pulumi-resource-test"

// Engine is one test's Pulumi setup: the CLI, a file backend and a
// PULUMI_HOME of its own, and the stand-in providers on PATH recording
// their calls.
type Engine struct {
	// CLI is the Automation API's handle on the CLI; CLIRoot/bin/pulumi is
	// its binary.
	CLI     auto.PulumiCommand
	CLIRoot string
	// Home is PULUMI_HOME; Backend the file backend's URL.
	Home    string
	Backend string
	// Bin holds pulumi-resource-aws and pulumi-resource-gcp, first on PATH.
	Bin string
	// Record is the file the providers append their calls to.
	Record string
	// Env is the environment of every CLI run, beside the process's own.
	Env map[string]string
}

// New sets up an engine for t, with extra environment variables for the
// CLI and the providers (such as testprovider.EnvAPIURL). It skips or fails
// t when the CLI is not built; see CLIRoot.
func New(t testing.TB, extra map[string]string) *Engine {
	t.Helper()
	root := CLIRoot(t)
	cmd, err := Command(root)
	if err != nil {
		t.Fatalf("enginetest: %v", err)
	}
	provider := lambdatest.Build(t, providerPackage)
	dir := t.TempDir()
	e := &Engine{
		CLI:     cmd,
		CLIRoot: root,
		Home:    filepath.Join(dir, "home"),
		Backend: "file://" + filepath.Join(dir, "state"),
		Bin:     filepath.Join(dir, "bin"),
		Record:  filepath.Join(dir, "calls.jsonl"),
	}
	for _, d := range []string{e.Home, filepath.Join(dir, "state"), e.Bin} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// One binary under both names: the name it runs as picks the package.
	for _, name := range []string{"pulumi-resource-aws", "pulumi-resource-gcp"} {
		if err := os.Symlink(provider, filepath.Join(e.Bin, name)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(filepath.Join(root, "bin", "pulumi"), filepath.Join(e.Bin, "pulumi")); err != nil {
		t.Fatal(err)
	}
	e.Env = map[string]string{
		"PATH":                     e.Bin + string(os.PathListSeparator) + os.Getenv("PATH"),
		"PULUMI_HOME":              e.Home,
		"PULUMI_BACKEND_URL":       e.Backend,
		"PULUMI_CONFIG_PASSPHRASE": Passphrase,
		"PULUMI_SKIP_UPDATE_CHECK": "true",
		// Never try to download a plugin: the stand-ins are on PATH.
		"PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
		testprovider.EnvRecord:                        e.Record,
	}
	maps.Copy(e.Env, extra)
	return e
}

// WorkspaceOptions are the options of a local workspace in dir (a
// directory holding Pulumi.yaml) on this engine; program, when not nil,
// runs inline instead of the project's own program.
func (e *Engine) WorkspaceOptions(dir string, program pulumi.RunFunc) []auto.LocalWorkspaceOption {
	opts := []auto.LocalWorkspaceOption{
		auto.WorkDir(dir),
		auto.PulumiHome(e.Home),
		auto.EnvVars(e.Env),
		auto.Pulumi(e.CLI),
	}
	if program != nil {
		opts = append(opts, auto.Program(program))
	}
	return opts
}

// Workspace returns a local workspace in dir running program inline.
func (e *Engine) Workspace(t testing.TB, dir string, program pulumi.RunFunc) auto.Workspace {
	t.Helper()
	ws, err := auto.NewLocalWorkspace(context.Background(), e.WorkspaceOptions(dir, program)...)
	if err != nil {
		t.Fatalf("enginetest: local workspace in %s: %v", dir, err)
	}
	return ws
}

// NewStack creates stack name in ws; its settings are those of
// Pulumi.<name>.yaml in the workspace's directory, plus secrets, set as
// `pulumi config set --secret` sets them.
func (e *Engine) NewStack(t testing.TB, ws auto.Workspace, name string, secrets map[string]string) auto.Stack {
	t.Helper()
	ctx := context.Background()
	st, err := auto.NewStack(ctx, name, ws)
	if err != nil {
		t.Fatalf("enginetest: new stack %s: %v", name, err)
	}
	for k, v := range secrets {
		if err := st.SetConfig(ctx, k, auto.ConfigValue{Value: v, Secret: true}); err != nil {
			t.Fatalf("enginetest: stack %s: set secret %s: %v", name, k, err)
		}
	}
	return st
}

// Run runs the CLI itself in dir with the engine's environment and
// returns what it printed.
func (e *Engine) Run(ctx context.Context, dir string, args ...string) (stdout, stderr string, err error) {
	cmd := exec.CommandContext(ctx, filepath.Join(e.CLIRoot, "bin", "pulumi"), args...)
	cmd.Dir = dir
	cmd.Env = os.Environ()
	for k, v := range e.Env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	if err != nil {
		err = fmt.Errorf("pulumi %s: %w\n%s", strings.Join(args, " "), err, errOut.String())
	}
	return out.String(), errOut.String(), err
}

// Calls returns the provider calls recorded so far.
func (e *Engine) Calls(t testing.TB) []testprovider.Call {
	t.Helper()
	calls, err := testprovider.ReadCalls(e.Record)
	if err != nil {
		t.Fatalf("enginetest: %v", err)
	}
	return calls
}

// Checkout copies the repository's files (tracked and untracked but not
// ignored, as in the working tree) into a new directory and commits them
// there in a git repository of its own, so a test can change sources,
// write stack files and ask git about the tree without touching the real
// checkout. It returns the copy's root.
func Checkout(t testing.TB) string {
	t.Helper()
	src, err := repoRoot()
	if err != nil {
		t.Fatalf("enginetest: %v", err)
	}
	out, err := exec.Command("git", "-C", src, "ls-files", "-z", "--cached", "--others", "--exclude-standard").Output()
	if err != nil {
		t.Fatalf("enginetest: list the checkout's files: %v", err)
	}
	dst := t.TempDir()
	for _, rel := range strings.Split(strings.TrimRight(string(out), "\x00"), "\x00") {
		if rel == "" {
			continue
		}
		from := filepath.Join(src, rel)
		fi, err := os.Lstat(from)
		if os.IsNotExist(err) {
			continue // deleted in the working tree
		}
		if err != nil {
			t.Fatal(err)
		}
		if !fi.Mode().IsRegular() {
			continue
		}
		data, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		to := filepath.Join(dst, rel)
		if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(to, data, fi.Mode().Perm()); err != nil {
			t.Fatal(err)
		}
	}
	Git(t, dst, "init", "-q", "-b", "main")
	Commit(t, dst, "copy of the crossfaas checkout")
	return dst
}

// Commit commits every change in the git repository at dir.
func Commit(t testing.TB, dir, message string) {
	t.Helper()
	Git(t, dir, "add", "-A")
	Git(t, dir, "commit", "-q", "--allow-empty", "-m", message)
}

// Git runs git in dir with a fixed identity and returns its output.
func Git(t testing.TB, dir string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "git", append([]string{"-c", "user.name=crossfaas test", "-c", "user.email=test@crossfaas.invalid", "-c", "commit.gpgsign=false"}, args...)...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("enginetest: git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}
