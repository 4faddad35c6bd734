package deployed

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
)

func TestResolveStack(t *testing.T) {
	stacks := []auto.StackSummary{{Name: "dev"}, {Name: "acme/crossfaas/prod"}, {Name: "acme/crossfaas/qa"}, {Name: "other/crossfaas/qa"}}
	tests := []struct {
		name, want, wantErr string
	}{
		{name: "dev", want: "dev"},
		{name: "prod", want: "acme/crossfaas/prod"},
		{name: "acme/crossfaas/prod", want: "acme/crossfaas/prod"},
		{name: "crossfaas/prod", want: "acme/crossfaas/prod"},
		{name: "other/crossfaas/qa", want: "other/crossfaas/qa"},
		{name: "qa", wantErr: `"qa" names 2 stacks (acme/crossfaas/qa, other/crossfaas/qa): give the whole name`},
		{name: "staging", wantErr: `stack "staging" does not exist (stacks: dev, acme/crossfaas/prod, acme/crossfaas/qa, other/crossfaas/qa): create it with ` + "`pulumi stack init staging`"},
		{name: "rod", wantErr: `stack "rod" does not exist`}, // a suffix, not a name
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := resolveStack(stacks, tt.name)
			switch {
			case tt.wantErr == "" && (err != nil || got != tt.want):
				t.Errorf("resolveStack(%q) = %q, %v, want %q", tt.name, got, err, tt.want)
			case tt.wantErr != "" && (err == nil || !errors.Is(err, ErrUnknownStack) || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("resolveStack(%q) = %q, %v, want an ErrUnknownStack saying %q", tt.name, got, err, tt.wantErr)
			}
		})
	}
}

func TestDeployedFrom(t *testing.T) {
	const head = "0123456789abcdef0123456789abcdef01234567"
	tests := []struct {
		name string
		u    Update
		want string
	}{
		{"this commit, clean", Update{Commit: head}, ""},
		{"this commit, dirty", Update{Commit: head, Dirty: true}, "dev was deployed from commit 0123456789ab with uncommitted changes"},
		{"another commit", Update{Commit: "fedcba9876543210fedcba9876543210fedcba98"}, "dev was deployed from commit fedcba987654, this checkout is at 0123456789ab"},
		{"no git", Update{}, "does not say which commit it ran from"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := deployedFrom("dev", &tt.u, head)
			if (tt.want == "") != (got == "") || !strings.Contains(got, tt.want) {
				t.Errorf("deployedFrom(%+v) = %q, want %q", tt.u, got, tt.want)
			}
		})
	}
}

// TestExplainCLI: the CLI's failures read as one sentence, without the
// Automation API's dump or a stuttering "error: error:", and a secrets
// provider that cannot decrypt says what to set.
func TestExplainCLI(t *testing.T) {
	// As auto's errors print themselves.
	autoErr := func(stderr string) error {
		return fmt.Errorf("failed to get config: exit status 255\ncode: 255\nstdout: \nstderr: %s\n", stderr)
	}
	tests := []struct {
		name    string
		err     error
		want    []string
		notWant []string
	}{
		{"no passphrase", autoErr("error: getting stack configuration: get stack secrets manager: passphrase must be set with PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE environment variables"),
			[]string{"stack dev's secrets are encrypted with a passphrase: set PULUMI_CONFIG_PASSPHRASE"}, []string{"code: 255", "stderr", "error:", "get stack secrets manager"}},
		{"wrong passphrase", autoErr("error: could not decrypt configuration value: incorrect passphrase"),
			[]string{"does not decrypt stack dev's secrets: set the one the stack was created with"}, []string{"code: 255", "error:"}},
		{"kms", autoErr("error: getting secrets manager: secrets (code=Unknown): AccessDeniedException: not authorized to kms:Decrypt"),
			[]string{"stack dev's secrets provider cannot decrypt its secrets (getting secrets manager: secrets (code=Unknown): AccessDeniedException: not authorized to kms:Decrypt)"}, []string{"code: 255", "error:"}},
		{"stutter", fmt.Errorf("pulumi stack export --stack dev: exit status 255: error: error: no stack named 'dev' found"),
			[]string{"no stack named 'dev' found"}, []string{"error:"}},
		{"no error lines", errors.New("pulumi stack export: signal: killed"), []string{"pulumi stack export: signal: killed"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := explainCLI("dev", tt.err)
			if !errors.Is(err, tt.err) {
				t.Errorf("explainCLI(%q) does not wrap the original error", tt.err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("explainCLI(%q) = %q, want it to say %q", tt.err, err, w)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(err.Error(), w) {
					t.Errorf("explainCLI(%q) = %q, want no %q in it", tt.err, err, w)
				}
			}
		})
	}
}
