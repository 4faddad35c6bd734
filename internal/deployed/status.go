package deployed

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/crossfaas/crossfaas/gobuild"
	"github.com/pulumi/pulumi/sdk/v3/go/auto"
)

// States of a function against the tree.
const (
	UpToDate    = "up to date"
	Changed     = "changed"
	NotDeployed = "not deployed"
)

// Update describes a stack's last update.
type Update struct {
	Kind    string    `json:"kind"`   // update, destroy, refresh, ...
	Result  string    `json:"result"` // succeeded, failed, in-progress
	Message string    `json:"message,omitempty"`
	Start   time.Time `json:"start"`
	End     time.Time `json:"end,omitzero"`
	// Commit is the git commit the update ran from ("" when Pulumi did not
	// run in a git checkout); Dirty that the tree had uncommitted changes.
	Commit string `json:"commit,omitempty"`
	Dirty  bool   `json:"dirty,omitempty"`
}

// FunctionStatus is one function's deployed artifact against the tree.
type FunctionStatus struct {
	Function
	// Current is the digest the tree builds the function's artifact to.
	Current string `json:"current"`
	State   string `json:"state"`
}

// Status is what `crossfaas status` shows.
type Status struct {
	Stack      string           `json:"stack"`
	Endpoint   string           `json:"endpoint,omitempty"`
	WebhookURL string           `json:"smsWebhookUrl,omitempty"`
	LabelerURL string           `json:"labelerUrl,omitempty"`
	LastUpdate *Update          `json:"lastUpdate,omitempty"`
	Functions  []FunctionStatus `json:"functions"`
	Resources  int              `json:"resources"` // custom resources in the state
	// Deployed is false when the stack holds no resource: never deployed,
	// or destroyed.
	Deployed bool `json:"deployed"`
}

// Compare returns the status of stack st's functions against built, the
// artifacts the tree builds to. A built artifact no deployed function runs
// is listed as not deployed.
func Compare(st *Stack, built []gobuild.Artifact) Status {
	s := Status{Stack: st.Name}
	s.Endpoint, _ = st.Output("endpoint")
	s.WebhookURL, _ = st.Output("smsWebhookUrl")
	s.LabelerURL, _ = st.Output("labelerUrl")
	for _, r := range st.State.Resources {
		if r.Custom && !r.Delete {
			s.Resources++
		}
	}
	s.Deployed = s.Resources > 0
	current := map[string]string{}
	for _, a := range built {
		current[a.Name] = a.SHA256
	}
	deployed := map[string]bool{}
	for _, f := range st.Functions() {
		fs := FunctionStatus{Function: f, Current: current[f.Artifact]}
		deployed[f.Artifact] = true
		switch {
		case f.Digest == "":
			fs.State = NotDeployed
		case fs.Current == f.Digest:
			fs.State = UpToDate
		default:
			fs.State = Changed
		}
		s.Functions = append(s.Functions, fs)
	}
	for _, name := range slices.Sorted(maps.Keys(current)) {
		if !deployed[name] {
			s.Functions = append(s.Functions, FunctionStatus{Function: Function{Name: name, Artifact: name}, Current: current[name], State: NotDeployed})
		}
	}
	return s
}

// UpToDate reports whether every function runs what the tree builds.
func (s Status) UpToDate() bool {
	for _, f := range s.Functions {
		if f.State != UpToDate {
			return false
		}
	}
	return len(s.Functions) > 0
}

// Write prints s for a person.
func (s Status) Write(w io.Writer) error {
	fmt.Fprintf(w, "Stack %s\n", s.Stack)
	if u := s.LastUpdate; u != nil {
		when := u.Start.Local().Format(time.DateTime)
		if !u.End.IsZero() {
			when = u.End.Local().Format(time.DateTime)
		}
		commit := "an unknown commit (not a git checkout)"
		if u.Commit != "" {
			commit = "commit " + shortCommit(u.Commit)
			if u.Dirty {
				commit += " with uncommitted changes"
			}
		}
		fmt.Fprintf(w, "Last %s: %s, %s, from %s\n", orDash(u.Kind), when, orDash(u.Result), commit)
	} else {
		fmt.Fprintln(w, "Last update: never")
	}
	if !s.Deployed {
		what := "has never been deployed"
		if s.LastUpdate != nil {
			what = "has nothing deployed"
		}
		fmt.Fprintf(w, "Stack %s %s: `pulumi up --stack %s` deploys this tree to it, `crossfaas promote <stack> %s` what another stack runs.\n",
			s.Stack, what, s.Stack, s.Stack)
	}
	fmt.Fprintf(w, "Endpoint:         %s\n", orDash(s.Endpoint))
	fmt.Fprintf(w, "SMS webhook URL:  %s\n", orDash(s.WebhookURL))
	fmt.Fprintf(w, "Labeler URL:      %s\n\n", orDash(s.LabelerURL))

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "FUNCTION\tCLOUD\tARTIFACT\tDEPLOYED\tTREE\tSTATE\tURN")
	for _, f := range s.Functions {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", f.Name, orDash(f.Cloud), f.Artifact, short(f.Digest), short(f.Current), f.State, orDash(f.TargetURN))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if !s.UpToDate() && len(s.Functions) > 0 {
		fmt.Fprintf(w, "\nTo deploy one function alone: pulumi up --stack %s --target '<URN>' --target-dependents\n", s.Stack)
	}
	return nil
}

// LastUpdate returns the stack's last update from its history, or nil when
// it has none.
func LastUpdate(ctx context.Context, st *Stack) (*Update, error) {
	history, err := readHistory(ctx, st, 1)
	if err != nil || len(history) == 0 {
		return nil, err
	}
	return history[0], nil
}

// lastDeploy returns the last update of kind "update" (a `pulumi up`) among
// the stack's latest 50 operations, skipping refreshes and previews, or
// nil when there is none.
func lastDeploy(ctx context.Context, st *Stack) (*Update, error) {
	history, err := readHistory(ctx, st, 50)
	if err != nil {
		return nil, err
	}
	for _, u := range history {
		if u.Kind == "update" {
			return u, nil
		}
	}
	return nil, nil
}

// readHistory returns the stack's latest n operations, newest first.
func readHistory(ctx context.Context, st *Stack, n int) ([]*Update, error) {
	stdout, err := runCLI(ctx, st.ws, "stack", "history", "--json", "--page-size", strconv.Itoa(n), "--page", "1", "--stack", st.Name)
	if err != nil {
		return nil, fmt.Errorf("stack %s: read its history: %w", st.Name, explainCLI(st.Name, err))
	}
	var history []auto.UpdateSummary
	if err := json.Unmarshal([]byte(stdout), &history); err != nil {
		return nil, fmt.Errorf("stack %s: read its history: %w", st.Name, err)
	}
	var out []*Update
	for _, h := range history {
		out = append(out, toUpdate(h))
	}
	return out, nil
}

func toUpdate(h auto.UpdateSummary) *Update {
	u := &Update{Kind: h.Kind, Result: h.Result, Message: h.Message, Commit: h.Environment["git.head"], Dirty: h.Environment["git.dirty"] == "true"}
	u.Start, _ = time.Parse(time.RFC3339, h.StartTime)
	if h.EndTime != nil {
		u.End, _ = time.Parse(time.RFC3339, *h.EndTime)
	}
	return u
}

// runCLI runs the workspace's pulumi CLI in its directory with its
// environment, for the commands the Automation API has no method for
// without selecting the stack.
func runCLI(ctx context.Context, ws auto.Workspace, args ...string) (string, error) {
	lws, ok := ws.(*auto.LocalWorkspace)
	if !ok || lws.PulumiCommand() == nil {
		return "", fmt.Errorf("pulumi %s: not a local workspace", strings.Join(args, " "))
	}
	var env []string
	for k, v := range lws.GetEnvVars() {
		env = append(env, k+"="+v)
	}
	if home := lws.PulumiHome(); home != "" {
		env = append(env, "PULUMI_HOME="+home)
	}
	stdout, stderr, _, err := lws.PulumiCommand().Run(ctx, lws.WorkDir(), nil, nil, nil, env, args...)
	if err != nil {
		return "", fmt.Errorf("pulumi %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr))
	}
	return stdout, nil
}

func short(digest string) string {
	if digest == "" {
		return "-"
	}
	if len(digest) > 12 {
		return digest[:12]
	}
	return digest
}

func shortCommit(c string) string {
	if len(c) > 12 {
		return c[:12]
	}
	return c
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
