// Package deployed reads a deployed crossfaas stack through Pulumi's
// Automation API (a local workspace at the repository root, so the CLI
// sees the same Pulumi.yaml, backend and stack files as `pulumi up`) and
// acts on it: the status of each function against the tree, invoking the
// endpoints, and promoting one stage's code to the next.
//
// Reading never selects a stack: like `pulumi stack output --stack NAME`,
// it leaves the workspace's selected stack as it was. Promotion runs `up`
// on the target stack, which the Automation API can only do by selecting
// it; the selection is restored afterwards.
package deployed

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
)

// ErrNoCLI reports that the pulumi CLI is not installed.
var ErrNoCLI = errors.New("the pulumi CLI is not installed or not on PATH: install it (https://www.pulumi.com/docs/install/)")

// NewWorkspace returns a local workspace at root, the directory holding
// Pulumi.yaml; opts come after the defaults (tests add an inline program,
// an environment and a CLI).
func NewWorkspace(ctx context.Context, root string, opts ...auto.LocalWorkspaceOption) (auto.Workspace, error) {
	if _, err := os.Stat(filepath.Join(root, "Pulumi.yaml")); err != nil {
		return nil, fmt.Errorf("open workspace: %s has no Pulumi.yaml: run crossfaas from the crossfaas checkout", root)
	}
	ws, err := auto.NewLocalWorkspace(ctx, append([]auto.LocalWorkspaceOption{auto.WorkDir(root)}, opts...)...)
	if errors.Is(err, exec.ErrNotFound) {
		return nil, fmt.Errorf("open workspace: %w", ErrNoCLI)
	}
	if err != nil {
		return nil, fmt.Errorf("open workspace: %w", err)
	}
	return ws, nil
}

// Stack is a deployed stack as read once: its outputs and state.
type Stack struct {
	// Name is the stack's name as the user gave it (or the selected
	// stack's); Short is its last part ("dev" of "acme/crossfaas/dev"), the
	// one the program's names use.
	Name  string
	Short string
	// Project is the Pulumi project's name; physical names start with
	// Prefix, "<Project>-<Short>".
	Project string
	Prefix  string
	// Outputs are the stack outputs, read from the state (secret outputs
	// are left out: reading never needs the stack's secrets provider).
	Outputs map[string]any
	State   *State

	ws auto.Workspace
}

// Workspace returns the workspace the stack was read from.
func (s *Stack) Workspace() auto.Workspace { return s.ws }

// OpenStack reads stack name ("" means the selected stack) from ws.
func OpenStack(ctx context.Context, ws auto.Workspace, name string) (*Stack, error) {
	proj, err := ws.ProjectSettings(ctx)
	if err != nil {
		return nil, fmt.Errorf("open stack: read Pulumi.yaml: %w", err)
	}
	stacks, err := ws.ListStacks(ctx)
	if err != nil {
		return nil, fmt.Errorf("open stack: list the stacks (are you logged in to the stack's backend? `pulumi whoami`): %w", err)
	}
	if name == "" {
		i := slices.IndexFunc(stacks, func(s auto.StackSummary) bool { return s.Current })
		if i < 0 {
			return nil, errors.New("open stack: no stack is selected: pass --stack NAME or run `pulumi stack select NAME`")
		}
		name = stacks[i].Name
	} else if name, err = resolveStack(stacks, name); err != nil {
		return nil, fmt.Errorf("open stack: %w", err)
	}
	st := &Stack{Name: name, Short: shortName(name), Project: string(proj.Name), ws: ws}
	st.Prefix = st.Project + "-" + st.Short
	// Not ws.ExportStack, which decrypts the secrets (--show-secrets): the
	// state is read without the stack's secrets provider.
	out, err := runCLI(ctx, ws, "stack", "export", "--stack", name)
	if err != nil {
		return nil, fmt.Errorf("open stack %s: export its state: %w", name, explainCLI(name, err))
	}
	var dep apitype.UntypedDeployment
	if err := json.Unmarshal([]byte(out), &dep); err != nil {
		return nil, fmt.Errorf("open stack %s: export its state: %w", name, err)
	}
	if st.State, err = ParseState(dep); err != nil {
		return nil, fmt.Errorf("open stack %s: %w", name, err)
	}
	st.Outputs = st.State.Outputs()
	return st, nil
}

// Output returns the string output key, or an error naming it when the
// stack lacks it (never deployed, or deployed by an older program).
func (s *Stack) Output(key string) (string, error) {
	v, ok := s.Outputs[key]
	if !ok {
		return "", fmt.Errorf("stack %s has no output %q: run `pulumi up --stack %s` first", s.Name, key, s.Name)
	}
	str, ok := v.(string)
	if !ok || str == "" {
		return "", fmt.Errorf("stack %s: output %q is not a string (%v)", s.Name, key, v)
	}
	return str, nil
}

// Artifacts returns the "artifacts" output: artifact name to the hex
// SHA-256 deployed; nil when the stack has no such output.
func (s *Stack) Artifacts() map[string]string {
	v, ok := s.Outputs["artifacts"].(map[string]any)
	if !ok {
		return nil
	}
	out := map[string]string{}
	for k, d := range v {
		if d, ok := d.(string); ok {
			out[k] = d
		}
	}
	return out
}

// Functions returns the stack's deployed functions.
func (s *Stack) Functions() []Function {
	return s.State.Functions(s.Prefix)
}

// Secret reads a config value of the stack, decrypting it.
func (s *Stack) Secret(ctx context.Context, key string) (string, error) {
	v, err := s.ws.GetConfig(ctx, s.Name, key)
	if err != nil {
		return "", fmt.Errorf("stack %s: read %s: %w", s.Name, key, explainCLI(s.Name, err))
	}
	if v.Value == "" {
		return "", fmt.Errorf("stack %s has no %s: set it with `pulumi config set --secret %s <value>`", s.Name, key, key)
	}
	return v.Value, nil
}

// ErrUnknownStack reports a stack name the workspace does not list.
var ErrUnknownStack = errors.New("no such stack")

// resolveStack returns the name, as the workspace lists it, of the stack
// the user called name: the listed name itself, or the last part of one
// ("dev" for "acme/crossfaas/dev", as the Pulumi Cloud lists it). It fails
// with an error wrapping ErrUnknownStack when no stack or several match.
func resolveStack(stacks []auto.StackSummary, name string) (string, error) {
	var names, matches []string
	for _, s := range stacks {
		names = append(names, s.Name)
		if s.Name == name {
			return s.Name, nil
		}
		if strings.HasSuffix(s.Name, "/"+name) {
			matches = append(matches, s.Name)
		}
	}
	switch len(matches) {
	case 1:
		return matches[0], nil
	case 0:
		return "", fmt.Errorf("%w: stack %q does not exist (stacks: %s): create it with `pulumi stack init %s`", ErrUnknownStack, name, orNone(names), name)
	}
	return "", fmt.Errorf("%w: %q names %d stacks (%s): give the whole name", ErrUnknownStack, name, len(matches), strings.Join(matches, ", "))
}

func shortName(name string) string {
	return name[strings.LastIndex(name, "/")+1:]
}

func orNone(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}
