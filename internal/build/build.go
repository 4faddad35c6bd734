// Package build lists crossfaas's own deployable artifacts and builds them
// with the public gobuild package, from the root of a crossfaas checkout.
package build

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/crossfaas/crossfaas/gobuild"
	"golang.org/x/mod/modfile"
)

// rootModule is the module path of the go.mod at the root of crossfaas.
const rootModule = "github.com/crossfaas/crossfaas"

// All builds opts.Targets with gobuild.All; nil targets mean crossfaas's
// Targets, and an empty Root the checkout holding the working directory
// (FindRoot).
func All(ctx context.Context, opts gobuild.Options) ([]gobuild.Artifact, error) {
	if opts.Root == "" {
		wd, err := os.Getwd()
		if err != nil {
			return nil, fmt.Errorf("build: %w", err)
		}
		if opts.Root, err = FindRoot(wd); err != nil {
			return nil, err
		}
	}
	if opts.Targets == nil {
		opts.Targets = Targets
	}
	return gobuild.All(ctx, opts)
}

// FindRoot walks up from dir to the directory whose go.mod declares module
// github.com/crossfaas/crossfaas. go.mod files of other modules on the way,
// such as the labeler's, are passed over. A relative dir is taken from the
// working directory.
func FindRoot(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("find root: %w", err)
	}
	for d := abs; ; {
		data, err := os.ReadFile(filepath.Join(d, "go.mod"))
		switch {
		case err == nil:
			if modfile.ModulePath(data) == rootModule {
				return d, nil
			}
		case !errors.Is(err, fs.ErrNotExist):
			return "", fmt.Errorf("find root: %w", err)
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", fmt.Errorf("find root: no go.mod of module %s in %s or any parent", rootModule, abs)
		}
		d = parent
	}
}
