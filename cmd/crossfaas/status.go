package main

import (
	"context"
	"encoding/json"
	"io"

	"github.com/crossfaas/crossfaas/gobuild"
	"github.com/crossfaas/crossfaas/internal/build"
	"github.com/crossfaas/crossfaas/internal/deployed"
)

func init() {
	register("status", command{
		summary:  "show what a deployed stack runs against what this tree builds",
		synopsis: "[--stack NAME] [--json]",
		run:      runStatus,
	})
}

// runStatus prints, for each function of the stack, the digest deployed
// against the digest this tree builds to, the stack's URLs, its last
// update and the URN that deploys one function alone.
func runStatus(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("status", stdout)
	stack := stackFlag(fs)
	asJSON := fs.Bool("json", false, "print the status as JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErrorf("unexpected argument %q", fs.Arg(0))
	}
	st, root, err := openStack(ctx, *stack)
	if err != nil {
		return err
	}
	built, err := build.All(ctx, gobuild.Options{Root: root})
	if err != nil {
		return err
	}
	status := deployed.Compare(st, built)
	if status.LastUpdate, err = deployed.LastUpdate(ctx, st); err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(status)
	}
	return status.Write(stdout)
}
