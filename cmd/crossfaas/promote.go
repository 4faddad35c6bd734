package main

import (
	"context"
	"io"
	"os"

	"github.com/crossfaas/crossfaas/internal/deployed"
)

func init() {
	register("promote", command{
		summary:  "deploy to one stack (prod) the commit another (dev) runs, and check they match",
		synopsis: "[--yes] FROM TO",
		run: func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
			return runPromote(ctx, args, os.Stdin, stdout, stderr)
		},
	})
}

// runPromote refuses when the tree is dirty or FROM does not run this
// commit; otherwise it previews TO, asks (unless --yes), runs up on TO and
// verifies TO's digests equal FROM's.
func runPromote(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("promote", stdout)
	yes := fs.Bool("yes", false, "deploy without asking for confirmation")
	positional, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(positional) != 2 {
		return usageErrorf("give the two stacks: FROM TO, e.g. dev prod")
	}
	root, err := checkoutRoot()
	if err != nil {
		return err
	}
	ws, err := deployed.NewWorkspace(ctx, root)
	if err != nil {
		return err
	}
	return deployed.Promote(ctx, deployed.PromoteOptions{
		Root: root, Workspace: ws, From: positional[0], To: positional[1], Yes: *yes,
		Stdin: stdin, Stdout: stdout,
	})
}
