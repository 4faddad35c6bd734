package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/crossfaas/crossfaas/internal/deployed"
	"github.com/crossfaas/crossfaas/internal/logs"
)

func init() {
	register("logs", command{
		summary:  "one time-ordered stream of every function's logs, from both clouds",
		synopsis: "[--stack NAME] [-t] [--since 10m] [--function NAME] [--grep TEXT] [--json]",
		run:      runLogs,
	})
}

// runLogs prints the logs of the stack's functions, merged by time; with
// -t it follows them until Ctrl-C.
func runLogs(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("logs", stdout)
	stack := stackFlag(fs)
	var follow bool
	fs.BoolVar(&follow, "t", false, "follow: keep printing new lines until Ctrl-C")
	fs.BoolVar(&follow, "follow", false, "the same as -t")
	since := fs.Duration("since", 10*time.Minute, "start this `long` ago, e.g. 30s, 10m, 2h")
	function := fs.String("function", "", "only this function's logs, by `name` as status lists it (proxy, labeler, sleuth-match, ...)")
	grep := fs.String("grep", "", "only lines holding `text` in their message, fields or correlation id (case-sensitive), e.g. a MessageSid")
	asJSON := fs.Bool("json", false, "print JSON lines")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErrorf("unexpected argument %q", fs.Arg(0))
	}
	if *since <= 0 {
		return usageErrorf("--since %v must be positive", *since)
	}
	st, _, err := openStack(ctx, *stack)
	if err != nil {
		return err
	}
	targets, err := logTargets(st.Functions(), *function)
	if err != nil {
		return err
	}
	if len(targets) == 0 {
		return fmt.Errorf("stack %s has no functions deployed: run `pulumi up --stack %s` first", st.Name, st.Name)
	}
	sources, closer, err := logs.NewSources(ctx, targets)
	if err != nil {
		return err
	}
	defer closer.Close()
	write := logs.TextWriter(stdout)
	if *asJSON {
		write = logs.JSONWriter(stdout)
	}
	err = logs.Stream(ctx, logs.Options{Sources: sources, Since: *since, Follow: follow, Grep: *grep, Write: write, Stderr: stderr})
	if errors.Is(err, context.Canceled) {
		return nil // Ctrl-C
	}
	return logs.Hint(err)
}

// logTargets returns the logs of fns, or of the one named function.
func logTargets(fns []deployed.Function, function string) ([]logs.Target, error) {
	var out []logs.Target
	var names []string
	for _, f := range fns {
		names = append(names, f.Name)
		if function != "" && f.Name != function && f.Physical != function {
			continue
		}
		out = append(out, logs.Target{Function: f.Name, Cloud: f.Cloud, Group: f.LogGroup, Region: f.Region, Service: f.Service, Project: f.Project})
	}
	if function != "" && len(out) == 0 {
		slices.Sort(names)
		return nil, usageErrorf("--function %q is not a function of the stack: use one of %s", function, strings.Join(names, ", "))
	}
	return out, nil
}
