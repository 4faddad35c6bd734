package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
)

func TestFormatVersion(t *testing.T) {
	settings := func(kv ...string) []debug.BuildSetting {
		var s []debug.BuildSetting
		for i := 0; i < len(kv); i += 2 {
			s = append(s, debug.BuildSetting{Key: kv[i], Value: kv[i+1]})
		}
		return s
	}
	tests := []struct {
		name string
		info *debug.BuildInfo
		want string
	}{
		{"go install of a release", &debug.BuildInfo{Main: debug.Module{Version: "v1.2.0"}},
			"crossfaas v1.2.0 (go1.26.8 linux/amd64)"},
		{"go build in a checkout", &debug.BuildInfo{
			Main:     debug.Module{Version: "v0.0.0-20261202110639-0d95d1bfd9ae"},
			Settings: settings("vcs", "git", "vcs.revision", "0d95d1bfd9ae978318da45c32d70d292acc38357", "vcs.time", "2026-12-02T11:06:39Z", "vcs.modified", "false"),
		}, "crossfaas v0.0.0-20261202110639-0d95d1bfd9ae, commit 0d95d1bfd9ae (2026-12-02T11:06:39Z) (go1.26.8 linux/amd64)"},
		{"uncommitted changes", &debug.BuildInfo{
			Main:     debug.Module{Version: "(devel)"},
			Settings: settings("vcs.revision", "0d95d1bfd9ae978318da45c32d70d292acc38357", "vcs.modified", "true"),
		}, "crossfaas (devel), commit 0d95d1bfd9ae (uncommitted changes) (go1.26.8 linux/amd64)"},
		{"built without vcs", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}},
			"crossfaas (devel), no commit recorded (build it with `go build -buildvcs=true ./cmd/crossfaas` in a checkout to record one) (go1.26.8 linux/amd64)"},
		{"no build information", nil,
			"crossfaas (unknown version), no commit recorded (build it with `go build -buildvcs=true ./cmd/crossfaas` in a checkout to record one) (go1.26.8 linux/amd64)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := formatVersion(tt.info, "go1.26.8", "linux/amd64"); got != tt.want {
				t.Errorf("formatVersion() = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestVersionOfACheckoutBuild builds crossfaas from this checkout as a
// user would, with version control stamping on, and checks --version names
// the checkout's commit.
func TestVersionOfACheckoutBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the command; skipped with -short")
	}
	git, err := exec.LookPath("git")
	if err != nil {
		t.Skip("git is not installed: cannot stamp a commit")
	}
	out, err := exec.Command(git, "rev-parse", "HEAD").Output()
	if err != nil {
		t.Skipf("not in a git checkout (git rev-parse HEAD: %v)", err)
	}
	head := strings.TrimSpace(string(out))
	top, err := exec.Command(git, "rev-parse", "--show-toplevel").Output()
	if err != nil {
		t.Fatalf("git rev-parse --show-toplevel: %v", err)
	}
	if fi, err := os.Stat(filepath.Join(strings.TrimSpace(string(top)), ".git")); err != nil || !fi.IsDir() {
		// cmd/go looks for a .git directory; a worktree's .git is a file.
		t.Skip("this checkout is a git worktree, whose commit the go command does not stamp")
	}
	bin := filepath.Join(t.TempDir(), "crossfaas")
	build := exec.Command("go", "build", "-buildvcs=true", "-o", bin, ".")
	build.Env = append(os.Environ(), "GOFLAGS=") // CI sets -buildvcs=false there
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build -buildvcs=true: %v\n%s", err, out)
	}
	got, err := exec.Command(bin, "--version").Output()
	if err != nil {
		t.Fatalf("crossfaas --version: %v", err)
	}
	if want := "commit " + head[:12]; !strings.Contains(string(got), want) || !strings.HasPrefix(string(got), "crossfaas v") {
		t.Errorf("crossfaas --version = %q, want the module version and %q", got, want)
	}
}
