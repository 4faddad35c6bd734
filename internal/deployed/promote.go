package deployed

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"sort"
	"strings"

	"github.com/crossfaas/crossfaas/gobuild"
	"github.com/crossfaas/crossfaas/internal/build"
	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optpreview"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optup"
	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
)

// Reasons a promotion is refused or fails; see RefusedError.
const (
	ReasonStacks      = "stacks"       // the stacks named are unknown, ambiguous or the same
	ReasonDirty       = "dirty"        // the working tree has uncommitted changes
	ReasonNotDeployed = "not-deployed" // the source stack has no successful update or no function
	ReasonOtherCommit = "other-commit" // the source was deployed from another commit, or a dirty tree
	ReasonStale       = "stale"        // the source's digests differ from what this commit builds
	ReasonDeclined    = "declined"     // nobody confirmed
	ReasonMismatch    = "mismatch"     // after up, the target's digests differ
)

// RefusedError is a promotion that was refused, or that deployed and then
// found the target not running what the source runs.
type RefusedError struct {
	Reason string
	Msg    string
}

func (e *RefusedError) Error() string { return e.Msg }

func refused(reason, format string, args ...any) error {
	return &RefusedError{Reason: reason, Msg: fmt.Sprintf(format, args...)}
}

// PromoteOptions says what Promote does.
type PromoteOptions struct {
	// Root is the repository root; Workspace the workspace at Root.
	Root      string
	Workspace auto.Workspace
	// From and To are the stacks: To gets the code From runs.
	From, To string
	// Yes skips the confirmation.
	Yes bool
	// Build returns the artifacts the tree builds to; nil builds them into
	// <Root>/dist, as `pulumi up` does.
	Build func(ctx context.Context) ([]gobuild.Artifact, error)
	// Stdin answers the confirmation; Stdout gets the preview, the update
	// and the verdict.
	Stdin  io.Reader
	Stdout io.Writer
}

// Promote deploys to opts.To the commit opts.From runs. It refuses when
// the working tree is dirty or From's deployed digests differ from what
// this commit builds; otherwise it shows To's preview, asks for
// confirmation unless opts.Yes, runs up on To and checks that To's digests
// now equal From's. Every refusal and mismatch is a *RefusedError.
func Promote(ctx context.Context, opts PromoteOptions) error {
	out := opts.Stdout
	if out == nil {
		out = io.Discard
	}
	if err := opts.resolveStacks(ctx); err != nil {
		return err
	}
	dirty, err := gitDirty(ctx, opts.Root)
	if err != nil {
		return fmt.Errorf("promote: %w", err)
	}
	if len(dirty) > 0 {
		return refused(ReasonDirty, "promote: the working tree has uncommitted changes (%s): commit or stash them, so that %s gets a commit %s runs", clipList(dirty, 5), opts.To, opts.From)
	}
	commit, err := gitOutput(ctx, opts.Root, "rev-parse", "HEAD")
	if err != nil {
		return fmt.Errorf("promote: %w", err)
	}
	from, err := OpenStack(ctx, opts.Workspace, opts.From)
	if err != nil {
		return fmt.Errorf("promote: %w", err)
	}
	deploy, err := lastDeploy(ctx, from)
	if err != nil {
		return fmt.Errorf("promote: %w", err)
	}
	switch {
	case deploy == nil:
		return refused(ReasonNotDeployed, "promote: %s has never been deployed: run `pulumi up --stack %s` first", opts.From, opts.From)
	case deploy.Result != "succeeded":
		return refused(ReasonNotDeployed, "promote: the last update of %s did not succeed (%s): fix it and run `pulumi up --stack %s` first", opts.From, deploy.Result, opts.From)
	}
	builder := opts.Build
	if builder == nil {
		builder = func(ctx context.Context) ([]gobuild.Artifact, error) {
			return build.All(ctx, gobuild.Options{Root: opts.Root})
		}
	}
	built, err := builder(ctx)
	if err != nil {
		return fmt.Errorf("promote: build this commit: %w", err)
	}
	otherCommit := deployedFrom(opts.From, deploy, commit)
	if stale := notUpToDate(Compare(from, built)); len(stale) > 0 {
		why := ""
		if otherCommit != "" {
			why = otherCommit + "; "
		}
		return refused(ReasonStale, "promote: %s does not run this commit (%s): %s%s; run `pulumi up --stack %s` first, or check out the commit %s runs",
			opts.From, shortCommit(commit), why, strings.Join(stale, "; "), opts.From, opts.From)
	}
	if otherCommit != "" {
		// The functions' code is the same; the rest of the stack (roles,
		// routes, settings) is what the other commit, or the uncommitted
		// changes, made it.
		return refused(ReasonOtherCommit, "promote: %s; its functions' digests equal this commit's, but the rest of the stack may not: run `pulumi up --stack %s` at this commit from a clean tree first", otherCommit, opts.From)
	}
	if _, err := OpenStack(ctx, opts.Workspace, opts.To); err != nil {
		return fmt.Errorf("promote: %w", err)
	}

	target, restore, err := selectStack(ctx, opts.Workspace, opts.To)
	if err != nil {
		return fmt.Errorf("promote: %w", err)
	}
	defer restore()
	fmt.Fprintf(out, "Preview of %s at commit %s:\n", opts.To, shortCommit(commit))
	preview, err := target.Preview(ctx, optpreview.ProgressStreams(out), optpreview.Message("crossfaas promote: preview "+opts.From+" -> "+opts.To))
	if err != nil {
		return fmt.Errorf("promote: preview %s: %w", opts.To, explainCLI(opts.To, err))
	}
	fmt.Fprintf(out, "\n%s: %s\n", opts.To, describeChanges(preview.ChangeSummary))
	if !opts.Yes {
		ok, err := confirm(opts.Stdin, out, fmt.Sprintf("Deploy commit %s to %s? [y/N] ", shortCommit(commit), opts.To))
		if err != nil {
			return err
		}
		if !ok {
			return refused(ReasonDeclined, "promote: not confirmed, nothing deployed (pass --yes to promote without asking)")
		}
	}
	if _, err := target.Up(ctx, optup.ProgressStreams(out), optup.Message("crossfaas promote "+opts.From+" -> "+opts.To+" at "+shortCommit(commit))); err != nil {
		return fmt.Errorf("promote: up %s: %w", opts.To, explainCLI(opts.To, err))
	}

	to, err := OpenStack(ctx, opts.Workspace, opts.To)
	if err != nil {
		return fmt.Errorf("promote: verify: %w", err)
	}
	if diffs := compareDigests(from.Functions(), to.Functions()); len(diffs) > 0 {
		return refused(ReasonMismatch, "promote: %s was updated but does not run what %s runs: %s", opts.To, opts.From, strings.Join(diffs, "; "))
	}
	fmt.Fprintf(out, "%s now runs commit %s: the digests of its %d functions equal %s's.\n", opts.To, shortCommit(commit), len(to.Functions()), opts.From)
	return nil
}

// resolveStacks checks that From and To name two different stacks of the
// workspace and replaces them by the names it lists them under.
func (opts *PromoteOptions) resolveStacks(ctx context.Context) error {
	if opts.From == "" || opts.To == "" {
		return refused(ReasonStacks, "promote: give the two stacks, FROM and TO, e.g. dev prod")
	}
	stacks, err := opts.Workspace.ListStacks(ctx)
	if err != nil {
		return fmt.Errorf("promote: list the stacks (are you logged in to the stack's backend? `pulumi whoami`): %w", explainCLI(opts.From, err))
	}
	from, err := resolveStack(stacks, opts.From)
	if err != nil {
		return refused(ReasonStacks, "promote: FROM: %v", err)
	}
	to, err := resolveStack(stacks, opts.To)
	if err != nil {
		return refused(ReasonStacks, "promote: TO: %v", err)
	}
	if from == to {
		return refused(ReasonStacks, "promote: FROM and TO are the same stack, %s: give the stack that runs the commit, then the one to deploy it to, e.g. dev prod", from)
	}
	opts.From, opts.To = from, to
	return nil
}

// deployedFrom says how the update u of stack name was not deployed from
// commit with a clean tree, "" when it was.
func deployedFrom(name string, u *Update, commit string) string {
	switch {
	case u.Commit == "":
		return fmt.Sprintf("the last update of %s does not say which commit it ran from (it ran outside a git checkout)", name)
	case u.Dirty:
		return fmt.Sprintf("%s was deployed from commit %s with uncommitted changes, which no commit holds", name, shortCommit(u.Commit))
	case u.Commit != commit:
		return fmt.Sprintf("%s was deployed from commit %s, this checkout is at %s", name, shortCommit(u.Commit), shortCommit(commit))
	}
	return ""
}

// notUpToDate describes each function of s that does not run what the tree
// builds.
func notUpToDate(s Status) []string {
	var out []string
	for _, f := range s.Functions {
		switch f.State {
		case UpToDate:
		case NotDeployed:
			out = append(out, f.Name+" is not deployed")
		default:
			out = append(out, fmt.Sprintf("%s runs %s, this commit builds %s", f.Name, short(f.Digest), short(f.Current)))
		}
	}
	if len(s.Functions) == 0 {
		out = append(out, "it has no functions deployed")
	}
	return out
}

// compareDigests describes every function whose digest differs between
// two stacks, or that only one has.
func compareDigests(from, to []Function) []string {
	want := map[string]string{}
	for _, f := range from {
		want[f.Name] = f.Digest
	}
	var out []string
	for _, f := range to {
		d, ok := want[f.Name]
		switch {
		case !ok:
			out = append(out, f.Name+" exists only in the target")
		case d != f.Digest:
			out = append(out, fmt.Sprintf("%s runs %s, the source %s", f.Name, short(f.Digest), short(d)))
		}
		delete(want, f.Name)
	}
	for name := range want {
		out = append(out, name+" is missing from the target")
	}
	sort.Strings(out)
	return out
}

// selectStack selects name in ws, which the Automation API needs to run
// an update, and returns a function that selects the previously selected
// stack again.
func selectStack(ctx context.Context, ws auto.Workspace, name string) (auto.Stack, func(), error) {
	prev, err := ws.Stack(ctx)
	if err != nil {
		return auto.Stack{}, nil, err
	}
	st, err := auto.SelectStack(ctx, name, ws)
	if err != nil {
		return auto.Stack{}, nil, fmt.Errorf("select stack %s: %w", name, explainCLI(name, err))
	}
	return st, func() {
		if prev != nil && prev.Name != name {
			_ = ws.SelectStack(context.WithoutCancel(ctx), prev.Name)
		}
	}, nil
}

// describeChanges renders a preview's change summary, e.g. "1 to update,
// 83 unchanged".
func describeChanges(summary map[apitype.OpType]int) string {
	names := map[string]string{"create": "to create", "update": "to update", "delete": "to delete", "replace": "to replace", "same": "unchanged"}
	var parts []string
	var keys []string
	for op := range summary {
		keys = append(keys, string(op))
	}
	sort.Strings(keys)
	for _, op := range keys {
		n := summary[apitype.OpType(op)]
		if n == 0 {
			continue
		}
		label := names[op]
		if label == "" {
			label = op
		}
		parts = append(parts, fmt.Sprintf("%d %s", n, label))
	}
	if len(parts) == 0 {
		return "no changes"
	}
	return strings.Join(parts, ", ")
}

// confirm asks question on out and reads a yes or no from in; no answer
// (end of input) is no.
func confirm(in io.Reader, out io.Writer, question string) (bool, error) {
	fmt.Fprint(out, question)
	if in == nil {
		fmt.Fprintln(out)
		return false, nil
	}
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return false, fmt.Errorf("promote: read the answer: %w", err)
	}
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return true, nil
	}
	if errors.Is(err, io.EOF) {
		fmt.Fprintln(out)
	}
	return false, nil
}

// gitDirty lists the paths `git status` reports changed or untracked.
func gitDirty(ctx context.Context, root string) ([]string, error) {
	out, err := gitOutput(ctx, root, "status", "--porcelain", "--untracked-files=normal")
	if err != nil {
		return nil, err
	}
	var paths []string
	for _, line := range strings.Split(out, "\n") {
		if len(line) > 3 {
			paths = append(paths, strings.TrimSpace(line[3:]))
		}
	}
	return paths, nil
}

func gitOutput(ctx context.Context, root string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = root
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if errors.Is(err, exec.ErrNotFound) {
		return "", errors.New("git is not installed: promote needs the commit the tree is at")
	}
	if err != nil {
		return "", fmt.Errorf("git %s in %s (is it a git checkout?): %w: %s", strings.Join(args, " "), root, err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(string(out)), nil
}

func clipList(items []string, n int) string {
	if len(items) <= n {
		return strings.Join(items, ", ")
	}
	return strings.Join(items[:n], ", ") + fmt.Sprintf(" and %d more", len(items)-n)
}
