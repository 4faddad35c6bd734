package main

import (
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optdestroy"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optpreview"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optup"
)

// TestEngineStages deploys dev and prod side by side from the
// repository's stack files: no physical name is shared, the Twilio
// secrets are only ciphertext in state and CLI output, a plain-text token
// is refused, and destroy removes everything.
func TestEngineStages(t *testing.T) {
	c := newEngineCheckout(t, nil, "dev", "prod")
	// texts are what the engine wrote and printed, by what they are.
	texts := map[string]string{}
	states := map[string]stackState{}
	for _, name := range []string{"dev", "prod"} {
		res, err := up(t, c.stacks[name], "deploy", optup.Message("deploy "+name))
		if err != nil {
			t.Fatalf("up %s: %v", name, err)
		}
		texts["up "+name+" output"] = res.StdOut + res.StdErr
		states[name] = exportState(t, c.stacks[name])
		if got := changes(res.Summary); got["create"] != len(states[name].managed()) || len(got) != 1 {
			t.Errorf("up %s: resource changes %v, want %d creates", name, got, len(states[name].managed()))
		}
	}

	t.Run("allowed senders only in their SSM parameter", func(t *testing.T) {
		for _, name := range []string{"dev", "prod"} {
			found := 0
			for _, r := range states[name].resources {
				if r.Type != "aws:ssm/parameter:Parameter" || !strings.HasSuffix(string(r.URN), "::sleuth-allowed-senders") {
					continue
				}
				found++
				// The export shows secrets decrypted: the parameter's
				// value is the configured list.
				if v, _ := json.Marshal(r.Outputs["value"]); !strings.Contains(string(v), engineSenderSentinel) || r.Outputs["type"] != "SecureString" {
					t.Errorf("%s: SSM parameter %s = type %v, value %s, want a SecureString holding %s", name, r.URN, r.Outputs["type"], v, engineSenderSentinel)
				}
			}
			if found != 1 {
				t.Errorf("%s: %d allowed-senders SSM parameters in the state, want 1", name, found)
			}
		}
	})

	t.Run("no shared physical names", func(t *testing.T) {
		dev := statePhysicalNames(states["dev"])
		for name, urn := range statePhysicalNames(states["prod"]) {
			if devURN, ok := dev[name]; ok {
				t.Errorf("%s and %s share the physical name %s", devURN, urn, name)
			}
		}
		if len(dev) < 50 {
			t.Errorf("dev has %d physical names, want the whole system's", len(dev))
		}
	})

	t.Run("secrets only as ciphertext", func(t *testing.T) {
		for _, name := range []string{"dev", "prod"} {
			stdout, stderr, err := c.engine.Run(engineContext(t), c.root, "stack", "export", "--stack", name)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(stdout, `"ciphertext"`) {
				t.Errorf("pulumi stack export --stack %s holds no ciphertext: the secrets are not stored as secrets", name)
			}
			texts["pulumi stack export --stack "+name] = stdout + stderr
			stackFile, err := os.ReadFile(filepath.Join(c.root, "Pulumi."+name+".yaml"))
			if err != nil {
				t.Fatal(err)
			}
			texts["Pulumi."+name+".yaml"] = string(stackFile)
		}
		// The backend's files: checkpoints, their backups and history.
		files := 0
		err := filepath.WalkDir(strings.TrimPrefix(c.engine.Backend, "file://"), func(path string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := os.ReadFile(path)
			texts["backend file "+path] = string(b)
			files++
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if files < 2 {
			t.Fatalf("found %d files in the backend, want the checkpoints of dev and prod", files)
		}
		calls, err := os.ReadFile(c.engine.Record)
		if err != nil {
			t.Fatal(err)
		}
		texts["the providers' call record"] = string(calls)
		assertNoSentinels(t, texts)
	})

	t.Run("plain-text token refused", func(t *testing.T) {
		assertPlainTextRefused(t, c)
	})

	t.Run("destroy removes everything", func(t *testing.T) {
		for _, name := range []string{"dev", "prod"} {
			before := len(c.engine.Calls(t))
			res, err := c.stacks[name].Destroy(engineContext(t), optdestroy.Message("destroy "+name))
			if err != nil {
				t.Fatalf("destroy %s: %v", name, err)
			}
			if got := changes(res.Summary); got["delete"] != len(states[name].managed()) || len(got) != 1 {
				t.Errorf("destroy %s: resource changes %v, want %d deletes", name, got, len(states[name].managed()))
			}
			if got, want := urnsOf(c.engine.Calls(t)[before:], "Delete"), states[name].custom(); !slices.Equal(got, want) {
				t.Errorf("destroy %s: the providers deleted\n%v\nwant every custom resource:\n%v", name, got, want)
			}
			if left := exportState(t, c.stacks[name]).resources; len(left) > 0 {
				t.Errorf("destroy %s left %d resources in the state", name, len(left))
			}
		}
	})
}

// assertPlainTextRefused checks that a stack whose auth token is set in
// plain text fails preview with the fix, without printing the token.
func assertPlainTextRefused(t *testing.T, c *engineCheckout) {
	t.Helper()
	devFile, err := os.ReadFile(filepath.Join(c.root, "Pulumi.dev.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	// The dev settings without dev's encryption salt and secure values.
	var kept []string
	for _, line := range strings.Split(string(devFile), "\n") {
		if !strings.HasPrefix(line, "encryptionsalt:") && !strings.Contains(line, "secure:") {
			kept = append(kept, line)
		}
	}
	if err := os.WriteFile(filepath.Join(c.root, "Pulumi.plain.yaml"), []byte(strings.Join(kept, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := engineContext(t)
	plain, err := auto.NewStack(ctx, "plain", c.ws)
	if err != nil {
		t.Fatal(err)
	}
	token := engineSecrets[configTwilioAuthToken]
	if err := plain.SetConfig(ctx, configTwilioAccountSID, auto.ConfigValue{Value: engineSecrets[configTwilioAccountSID], Secret: true}); err != nil {
		t.Fatal(err)
	}
	if err := plain.SetConfig(ctx, configTwilioAuthToken, auto.ConfigValue{Value: token}); err != nil {
		t.Fatal(err)
	}
	res, err := plain.Preview(ctx, optpreview.Message("plain-text token"))
	if err == nil {
		t.Fatalf("preview with a plain-text auth token succeeded: %v", changes(auto.UpdateSummary{}))
	}
	msg := err.Error() + res.StdOut + res.StdErr
	if want := configTwilioAuthToken + " is stored in plain text"; !strings.Contains(msg, want) {
		t.Errorf("preview error does not say %q:\n%s", want, msg)
	}
	if strings.Contains(msg, token) {
		t.Errorf("preview error shows the plain-text token")
	}
}

// statePhysicalNames maps each resource's physical identity (its ARN, or its
// id) to its URN. Project services are left out: stages share a Google
// Cloud project on purpose and each only enables its APIs, never disabling
// them (see NewLabeler).
func statePhysicalNames(s stackState) map[string]string {
	out := map[string]string{}
	for _, r := range s.managed() {
		if !r.Custom || r.Type == "gcp:projects/service:Service" {
			continue
		}
		name := string(r.ID)
		if arn, ok := r.Outputs["arn"].(string); ok && arn != "" {
			name = arn
		}
		out[name] = string(r.URN)
	}
	return out
}

// assertNoSentinels fails when any text holds a sentinel secret.
func assertNoSentinels(t *testing.T, texts map[string]string) {
	t.Helper()
	secrets := maps.Clone(engineSecrets)
	secrets["an allowed sender"] = engineSenderSentinel
	for key, secret := range secrets {
		for what, text := range texts {
			if strings.Contains(text, secret) {
				t.Errorf("%s holds %s in plain text", what, key)
			}
		}
	}
}
