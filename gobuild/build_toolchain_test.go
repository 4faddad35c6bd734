package gobuild

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestReleaseEnv(t *testing.T) {
	environ := []string{
		"PATH=/usr/bin",
		"GOFLAGS=-tags=leak -ldflags=-X=main.v=1",
		"GOOS=windows",
		"GOEXPERIMENT=arenas",
		"GOWORK=/elsewhere/go.work",
		"GOARM64=v9.0",
		"HOME=/root",
		"GOPROXY=off",
		"GOTOOLCHAIN=local",
	}
	got := releaseEnv(environ, "linux", "arm64", "")
	want := []string{
		"PATH=/usr/bin",
		"HOME=/root",
		"GOPROXY=off",
		"GOTOOLCHAIN=local",
		"GOOS=linux",
		"GOARCH=arm64",
		"CGO_ENABLED=0",
		"GOFLAGS=-buildvcs=false",
		"GOWORK=off",
		"GOARM64=v8.0",
		"GOAMD64=v1",
	}
	if !slices.Equal(got, want) {
		t.Errorf("releaseEnv(%q) = %q, want %q", environ, got, want)
	}

	// A pinned toolchain overrides the environment's.
	pinned := releaseEnv(environ, "linux", "arm64", "go1.26.8")
	if n := slices.Index(pinned, "GOTOOLCHAIN=go1.26.8"); n < 0 || slices.Contains(pinned, "GOTOOLCHAIN=local") {
		t.Errorf("releaseEnv(..., %q) = %q, want GOTOOLCHAIN=go1.26.8 alone", "go1.26.8", pinned)
	}
}

func TestToolchain(t *testing.T) {
	tests := []struct {
		gomod, want string
	}{
		{"module m\n\ngo 1.26.6\n\ntoolchain go1.26.8\n", "go1.26.8"},
		{"module m\n\ngo 1.26\n", ""},
	}
	for _, tt := range tests {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte(tt.gomod), 0o644); err != nil {
			t.Fatal(err)
		}
		if got, err := Toolchain(dir); err != nil || got != tt.want {
			t.Errorf("Toolchain(%q) = %q, %v; want %q", tt.gomod, got, err, tt.want)
		}
	}
	if _, err := Toolchain(t.TempDir()); err == nil {
		t.Error("Toolchain(a directory without go.mod) succeeded")
	}
}
