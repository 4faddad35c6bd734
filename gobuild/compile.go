package gobuild

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/mod/modfile"
)

// releaseFlags are the go build flags of every Lambda binary. -trimpath
// keeps the checkout and module cache paths out of the binary, -s -w drop
// the symbol table and debug information, and an empty -buildid leaves out
// the build ID, so the bytes depend on the source and the toolchain alone.
var releaseFlags = []string{
	"-trimpath",
	"-buildvcs=false",
	"-tags", "lambda.norpc",
	"-ldflags", "-s -w -buildid=",
}

// Binary compiles one main package to out with the release flags, for
// goos/goarch (linux/arm64 or linux/amd64 for a Lambda; the host's for
// running it under the Lambda Runtime Interface Emulator).
// pkg is a package path as go build takes it, relative to root, such as
// "./functions/proxy/bootstrap"; a relative out is taken from the working
// directory. The build ignores GOFLAGS, GOWORK, GOEXPERIMENT and the
// architecture-variant variables of the environment (see releaseEnv) so that
// the binary depends on the source alone. On failure the error holds the go
// command's output.
func Binary(ctx context.Context, root, pkg, out, goos, goarch string) error {
	if pkg == "" || strings.HasPrefix(pkg, "-") {
		return fmt.Errorf("go build: %q is not a package path", pkg)
	}
	if goos == "" || goarch == "" {
		return fmt.Errorf("go build %s: GOOS %q and GOARCH %q must both be set", pkg, goos, goarch)
	}
	out, err := filepath.Abs(out)
	if err != nil {
		return fmt.Errorf("go build %s: %w", pkg, err)
	}
	toolchain, err := Toolchain(root)
	if err != nil {
		return fmt.Errorf("go build %s: %w", pkg, err)
	}
	args := append([]string{"build", "-o", out}, releaseFlags...)
	args = append(args, pkg)
	if _, err := goCommand(ctx, root, goos, goarch, toolchain, args...); err != nil {
		return err
	}
	return nil
}

// Toolchain returns the Go toolchain the go.mod at root pins with its
// toolchain directive ("go1.26.8"), or "" when it has none. Builds run
// exactly that toolchain (GOTOOLCHAIN), so that two machines with different
// Go installations build the same bytes: the go command runs itself when it
// is that version and otherwise downloads it once through GOPROXY.
func Toolchain(root string) (string, error) {
	path := filepath.Join(root, "go.mod")
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read the toolchain: %w", err)
	}
	f, err := modfile.Parse(path, data, nil)
	if err != nil {
		return "", fmt.Errorf("read the toolchain: %w", err)
	}
	if f.Toolchain == nil {
		return "", nil
	}
	return f.Toolchain.Name, nil
}

// goCommand runs the go command in dir with the release environment for
// goos/goarch and toolchain and returns its standard output. On failure
// the error holds what the command wrote to standard error.
func goCommand(ctx context.Context, dir, goos, goarch, toolchain string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	cmd.Env = releaseEnv(os.Environ(), goos, goarch, toolchain)
	// With Env set, os/exec leaves PWD as this process has it; the go
	// command would then take its directory from the kernel, symlinks
	// resolved, and name package directories outside a dir reached through a
	// symlink (macOS's /tmp, a linked home or checkout). The last PWD wins.
	if abs, err := filepath.Abs(dir); err == nil {
		cmd.Env = append(cmd.Env, "PWD="+abs)
	}
	// The go command's children may outlive it when ctx kills it; don't wait
	// on them forever.
	cmd.WaitDelay = 10 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		name := "go " + args[0]
		if last := args[len(args)-1]; len(args) > 1 && !strings.HasPrefix(last, "-") {
			name += " " + last
		}
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, fmt.Errorf("%s for %s/%s: %w", name, goos, goarch, ctxErr)
		}
		return nil, fmt.Errorf("%s for %s/%s: %w\n%s", name, goos, goarch, err, strings.TrimRight(stderr.String(), "\n"))
	}
	return stdout.Bytes(), nil
}

// releaseEnv returns environ with the variables that would change a
// release binary replaced by fixed values, and GOEXPERIMENT and GOFIPS140
// removed.
//
// An empty variable does not override a value set with `go env -w`, so
// GOFLAGS is set to a flag the build passes anyway rather than cleared.
// GOARM64 and GOAMD64 are pinned to the baseline that every Lambda host runs.
// A toolchain ("go1.26.8", see Toolchain) becomes GOTOOLCHAIN, whatever the
// environment says; "" leaves GOTOOLCHAIN as it is.
func releaseEnv(environ []string, goos, goarch, toolchain string) []string {
	fixed := []string{
		"GOOS=" + goos,
		"GOARCH=" + goarch,
		"CGO_ENABLED=0",
		"GOFLAGS=-buildvcs=false",
		"GOWORK=off",
		"GOARM64=v8.0",
		"GOAMD64=v1",
	}
	if toolchain != "" {
		fixed = append(fixed, "GOTOOLCHAIN="+toolchain)
	}
	drop := map[string]bool{"GOEXPERIMENT": true, "GOFIPS140": true}
	for _, kv := range fixed {
		k, _, _ := strings.Cut(kv, "=")
		drop[k] = true
	}
	env := make([]string, 0, len(environ)+len(fixed))
	for _, kv := range environ {
		if k, _, _ := strings.Cut(kv, "="); !drop[k] {
			env = append(env, kv)
		}
	}
	return append(env, fixed...)
}
