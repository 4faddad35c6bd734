package dev

import (
	"bufio"
	"errors"
	"os"
	"path/filepath"
	"strings"
)

// rootModule is the module path of the crossfaas repository.
const rootModule = "github.com/crossfaas/crossfaas"

// DefaultDataDir returns where `crossfaas dev` keeps its data when --data
// is not given: .crossfaas/dev at the root of the crossfaas checkout that
// holds the working directory, or else $XDG_DATA_HOME/crossfaas
// (~/.local/share/crossfaas when XDG_DATA_HOME is unset).
func DefaultDataDir() (string, error) {
	if wd, err := os.Getwd(); err == nil {
		if root, ok := repoRoot(wd); ok {
			return filepath.Join(root, ".crossfaas", "dev"), nil
		}
	}
	if xdg := os.Getenv("XDG_DATA_HOME"); filepath.IsAbs(xdg) {
		return filepath.Join(xdg, "crossfaas"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", errors.New("dev: no data directory: neither in a crossfaas checkout nor with a home directory; pass --data")
	}
	return filepath.Join(home, ".local", "share", "crossfaas"), nil
}

// repoRoot walks up from dir to the directory whose go.mod declares the
// crossfaas root module.
func repoRoot(dir string) (string, bool) {
	for {
		if modulePath(filepath.Join(dir, "go.mod")) == rootModule {
			return dir, true
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", false
		}
		dir = parent
	}
}

// modulePath returns the module path a go.mod declares, or "".
func modulePath(gomod string) string {
	f, err := os.Open(gomod)
	if err != nil {
		return ""
	}
	defer f.Close()
	lines := bufio.NewScanner(f)
	for lines.Scan() {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(lines.Text()), "module "); ok {
			return strings.Trim(strings.TrimSpace(rest), `"`)
		}
	}
	return ""
}
