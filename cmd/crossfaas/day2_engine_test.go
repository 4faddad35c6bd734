package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/crossfaas/crossfaas/internal/enginetest"
	"github.com/crossfaas/crossfaas/internal/lambdatest"
	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// day2Checkout is a copy of the checkout with stacks dev and prod on a
// real Pulumi engine (file backend), and the crossfaas binary built from
// this tree. The stacks are deployed by an inline program that creates
// no function (the program's own would need the Go language host): what
// is tested is what the commands read from the state and the history.
type day2Checkout struct {
	engine *enginetest.Engine
	root   string
	bin    string
	ws     auto.Workspace
}

func newDay2Checkout(t *testing.T) *day2Checkout {
	t.Helper()
	e := enginetest.New(t, nil)
	c := &day2Checkout{engine: e, root: enginetest.Checkout(t), bin: lambdatest.Build(t, "./cmd/crossfaas")}
	c.ws = e.Workspace(t, c.root, func(ctx *pulumi.Context) error {
		ctx.Export("smsWebhookUrl", pulumi.String("http://127.0.0.1:9/sms"))
		return nil
	})
	for _, name := range []string{"dev", "prod"} {
		e.NewStack(t, c.ws, name, map[string]string{"crossfaas:twilioAccountSid": "ACengine-test", "crossfaas:twilioAuthToken": "engine-test-token"})
	}
	// The stacks' files (encryption salt, the secret) are part of the commit.
	enginetest.Commit(t, c.root, "stacks dev and prod")
	return c
}

// up deploys stack name with the inline program.
func (c *day2Checkout) up(t *testing.T, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	st, err := auto.SelectStack(ctx, name, c.ws)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Up(ctx); err != nil {
		t.Fatalf("up %s: %v", name, err)
	}
}

// unset, as a value of crossfaas's env, removes the variable.
const unset = "\x00unset"

// crossfaas runs the built binary in the checkout with the engine's
// environment and env, and returns its exit status and output.
func (c *day2Checkout) crossfaas(t *testing.T, env map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.bin, args...)
	cmd.Dir = c.root
	cmd.Env = os.Environ()
	for k, v := range c.engine.Env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Env = slices.DeleteFunc(cmd.Env, func(kv string) bool {
		k, _, _ := strings.Cut(kv, "=")
		return env[k] == unset
	})
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		code = exit.ExitCode()
	case err != nil:
		t.Fatalf("crossfaas %s: %v", strings.Join(args, " "), err)
	}
	return code, out.String(), errOut.String()
}

// TestPromoteRefusalsThroughTheBinary runs `crossfaas promote` as a user
// does and checks each refusal's exit status and message: the stacks
// named (the same, unknown), a never deployed source, a dirty tree, and a
// source deployed from another commit or from a dirty tree.
func TestPromoteRefusalsThroughTheBinary(t *testing.T) {
	c := newDay2Checkout(t)
	head := func() string { return strings.TrimSpace(enginetest.Git(t, c.root, "rev-parse", "HEAD"))[:12] }
	refused := func(t *testing.T, args []string, want ...string) {
		t.Helper()
		code, stdout, stderr := c.crossfaas(t, nil, append([]string{"promote", "--yes"}, args...)...)
		if code != 1 {
			t.Errorf("crossfaas promote %s: exit %d, want 1\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, stdout, stderr)
		}
		if !strings.HasPrefix(stderr, "crossfaas promote: ") || strings.Contains(stderr, "promote: promote:") || strings.Contains(stderr, "error: ") {
			t.Errorf("crossfaas promote %s: stderr %q, want one message after \"crossfaas promote: \"", strings.Join(args, " "), stderr)
		}
		for _, w := range want {
			if !strings.Contains(stderr, w) {
				t.Errorf("crossfaas promote %s: stderr %q, want it to say %q", strings.Join(args, " "), stderr, w)
			}
		}
		if strings.Contains(stdout, "Preview of") {
			t.Errorf("crossfaas promote %s went on to the preview:\n%s", strings.Join(args, " "), stdout)
		}
	}

	t.Run("same stack", func(t *testing.T) {
		refused(t, []string{"dev", "dev"}, "FROM and TO are the same stack, dev")
	})
	t.Run("unknown stack", func(t *testing.T) {
		refused(t, []string{"dev", "staging"}, `TO: no such stack: stack "staging" does not exist (stacks: dev, prod)`, "pulumi stack init staging")
		refused(t, []string{"qa", "prod"}, `FROM: no such stack: stack "qa" does not exist`)
	})
	t.Run("never deployed", func(t *testing.T) {
		refused(t, []string{"dev", "prod"}, "dev has never been deployed: run `pulumi up --stack dev` first")
	})
	t.Run("dirty tree", func(t *testing.T) {
		scratch := filepath.Join(c.root, "notes.txt")
		if err := os.WriteFile(scratch, []byte("uncommitted"), 0o644); err != nil {
			t.Fatal(err)
		}
		defer os.Remove(scratch)
		refused(t, []string{"dev", "prod"}, "the working tree has uncommitted changes (notes.txt)")
	})
	t.Run("dev from another commit", func(t *testing.T) {
		c.up(t, "dev")
		deployedAt := head()
		enginetest.Commit(t, c.root, "a commit dev does not run")
		refused(t, []string{"dev", "prod"}, "dev was deployed from commit "+deployedAt+", this checkout is at "+head(), "proxy is not deployed")
	})
	t.Run("dev from a dirty tree", func(t *testing.T) {
		scratch := filepath.Join(c.root, "notes.txt")
		if err := os.WriteFile(scratch, []byte("uncommitted"), 0o644); err != nil {
			t.Fatal(err)
		}
		c.up(t, "dev")
		os.Remove(scratch)
		refused(t, []string{"dev", "prod"}, "dev was deployed from commit "+head()+" with uncommitted changes")
	})
}

// TestStatusAndSecretsThroughTheBinary: `crossfaas status` of a stack
// never deployed says so with exit status 0; a command that needs the
// stack's secrets without the passphrase says what to set, in one line.
func TestStatusAndSecretsThroughTheBinary(t *testing.T) {
	c := newDay2Checkout(t)
	code, stdout, stderr := c.crossfaas(t, map[string]string{"PULUMI_CONFIG_PASSPHRASE": ""}, "status", "--stack", "prod")
	if code != 0 || !strings.Contains(stdout, "Stack prod has never been deployed: `pulumi up --stack prod` deploys this tree to it") {
		t.Errorf("status of a stack never deployed: exit %d, want 0 and a message saying so\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	c.up(t, "dev")
	code, _, stderr = c.crossfaas(t, map[string]string{"PULUMI_CONFIG_PASSPHRASE": unset}, "invoke", "sms", "--stack", "dev", "--from", "+15551234567", "--to", "+15557654321", "help")
	want := "crossfaas invoke: stack dev: read crossfaas:twilioAccountSid: stack dev's secrets are encrypted with a passphrase: set PULUMI_CONFIG_PASSPHRASE"
	if code != 1 || !strings.HasPrefix(stderr, want) || strings.Count(stderr, "\n") != 1 || strings.Contains(stderr, "error:") {
		t.Errorf("invoke sms without the passphrase: exit %d, stderr %q, want 1 and one line starting %q", code, stderr, want)
	}
	code, _, stderr = c.crossfaas(t, map[string]string{"PULUMI_CONFIG_PASSPHRASE": "not the passphrase"}, "invoke", "sms", "--stack", "dev", "--from", "+15551234567", "--to", "+15557654321", "help")
	if code != 1 || !strings.Contains(stderr, "does not decrypt stack dev's secrets") || strings.Count(stderr, "\n") != 1 {
		t.Errorf("invoke sms with a wrong passphrase: exit %d, stderr %q", code, stderr)
	}
}
