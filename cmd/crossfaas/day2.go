package main

import (
	"context"
	"fmt"
	"os"

	"github.com/crossfaas/crossfaas/internal/build"
	"github.com/crossfaas/crossfaas/internal/deployed"
)

// The day-2 commands (status, invoke, logs, promote) read a deployed stack
// through the Automation API: a local workspace at the checkout's root, so
// the pulumi CLI sees the same Pulumi.yaml, backend and stack files as
// `pulumi up` run there.

// stackFlag adds --stack to fs.
func stackFlag(fs *flagSet) *string {
	return fs.String("stack", "", "the stack `name` (default: the selected stack, as `pulumi stack select` sets it)")
}

// checkoutRoot returns the crossfaas checkout holding the working
// directory.
func checkoutRoot() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	root, err := build.FindRoot(wd)
	if err != nil {
		return "", fmt.Errorf("%w: run crossfaas inside the crossfaas checkout", err)
	}
	return root, nil
}

// openStack opens the workspace at the checkout root and reads stack
// ("" means the selected one).
func openStack(ctx context.Context, stack string) (*deployed.Stack, string, error) {
	root, err := checkoutRoot()
	if err != nil {
		return nil, "", err
	}
	ws, err := deployed.NewWorkspace(ctx, root)
	if err != nil {
		return nil, "", err
	}
	st, err := deployed.OpenStack(ctx, ws, stack)
	if err != nil {
		return nil, "", err
	}
	return st, root, nil
}

// parseInterspersed parses args into fs, allowing flags after positional
// arguments ("invoke sms 'face addcol x' --from +1555..."), and returns the
// positional ones.
func parseInterspersed(fs *flagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return positional, nil
		}
		if args[0] == "--" {
			return append(positional, args[1:]...), nil
		}
		positional = append(positional, args[0])
		args = args[1:]
	}
}
