package dev

import (
	"errors"
	"os"
	"path/filepath"

	"github.com/crossfaas/crossfaas/internal/build"
)

// DefaultDataDir returns where `crossfaas dev` keeps its data when --data
// is not given: .crossfaas/dev at the root of the crossfaas checkout that
// holds the working directory, or else $XDG_DATA_HOME/crossfaas
// (~/.local/share/crossfaas when XDG_DATA_HOME is unset).
func DefaultDataDir() (string, error) {
	if wd, err := os.Getwd(); err == nil {
		if root, err := build.FindRoot(wd); err == nil {
			return filepath.Join(root, ".crossfaas", "dev"), nil
		}
	}
	if xdg := os.Getenv("XDG_DATA_HOME"); filepath.IsAbs(xdg) {
		return filepath.Join(xdg, "crossfaas"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", errors.New("no data directory: neither in a crossfaas checkout nor with a home directory; pass --data")
	}
	return filepath.Join(home, ".local", "share", "crossfaas"), nil
}
