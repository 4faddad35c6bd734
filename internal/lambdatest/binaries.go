package lambdatest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crossfaas/crossfaas/gobuild"
	"github.com/crossfaas/crossfaas/internal/build"
)

// buildTimeout bounds one go build or go tool run; a cold build cache on a
// busy machine is slow, a hung one is a bug.
const buildTimeout = 10 * time.Minute

// once is the result of a step done at most once per test process.
type once struct {
	once sync.Once
	path string
	err  error
}

var (
	buildsMu sync.Mutex
	builds   = map[string]*once{} // by package path as given to Build
	rie      once
)

// Build builds pkg, a main package as go build takes it relative to the
// repository root (e.g. "./functions/proxy/bootstrap"), for the host's GOOS
// and GOARCH with gobuild.Binary's release flags, and returns the path of the
// executable. Each package is built at most once per test process; a
// failed build fails every test that asks for it, with the go command's
// output.
//
// The executables live in the user's cache directory
// (crossfaas-lambdatest/<goos>_<goarch>/<checkout>/<package>/bootstrap, where
// <checkout> is a digest of the repository root's path), one per package and
// checkout, replaced atomically by each new build, rather than in a
// temporary directory that nothing would remove when the test process ends.
// Keying by checkout keeps the tests of one worktree from running a
// bootstrap that another worktree, with other code, built into the same
// slot in the meantime: the emulator starts the file only at the first
// invocation.
func Build(t testing.TB, pkg string) string {
	t.Helper()
	buildsMu.Lock()
	b, ok := builds[pkg]
	if !ok {
		b = &once{}
		builds[pkg] = b
	}
	buildsMu.Unlock()
	b.once.Do(func() { b.path, b.err = buildHost(pkg) })
	if b.err != nil {
		t.Fatalf("lambdatest: %v", b.err)
	}
	return b.path
}

// buildHost builds pkg for the host into its cache slot.
func buildHost(pkg string) (string, error) {
	root, err := repoRoot()
	if err != nil {
		return "", err
	}
	dir, err := binaryDir(root, pkg)
	if err != nil {
		return "", err
	}
	// Build next to the final path and rename, so that a concurrent test
	// process running the previous build never sees a half-written file.
	tmp, err := os.MkdirTemp(dir, ".build-*")
	if err != nil {
		return "", fmt.Errorf("build %s: %w", pkg, err)
	}
	defer os.RemoveAll(tmp)
	ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
	defer cancel()
	out := filepath.Join(tmp, "bootstrap")
	if err := gobuild.Binary(ctx, root, pkg, out, runtime.GOOS, runtime.GOARCH); err != nil {
		return "", err
	}
	final := filepath.Join(dir, "bootstrap")
	if err := os.Rename(out, final); err != nil {
		return "", fmt.Errorf("build %s: %w", pkg, err)
	}
	return final, nil
}

// binaryDir returns (creating it) the directory holding the executable of
// pkg built from the checkout at root.
func binaryDir(root, pkg string) (string, error) {
	base, err := os.UserCacheDir()
	if err != nil {
		base = os.TempDir()
	}
	slot := strings.Trim(filepath.ToSlash(filepath.Clean(pkg)), "./")
	slot = strings.NewReplacer("/", "_", ":", "_", "\\", "_").Replace(slot)
	if slot == "" {
		slot = "root"
	}
	sum := sha256.Sum256([]byte(root))
	checkout := hex.EncodeToString(sum[:6])
	dir := filepath.Join(base, "crossfaas-lambdatest", runtime.GOOS+"_"+runtime.GOARCH, checkout, slot)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("build %s: %w", pkg, err)
	}
	return dir, nil
}

// repoRoot is the crossfaas checkout holding the working directory, which
// go test sets to the package under test.
func repoRoot() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find repository root: %w", err)
	}
	return build.FindRoot(wd)
}

// emulator returns the path of the aws-lambda-rie executable, built by the
// go command from the version pinned as a tool in go.mod (`go tool -n`
// builds it into the build cache if needed and prints its path).
func emulator(t testing.TB) string {
	t.Helper()
	rie.once.Do(func() {
		root, err := repoRoot()
		if err != nil {
			rie.err = err
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, "go", "tool", "-n", "aws-lambda-rie")
		cmd.Dir = root
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			rie.err = fmt.Errorf("go tool -n aws-lambda-rie: %w\n%s", err, stderr.String())
			return
		}
		p := strings.TrimSpace(string(out))
		if fi, err := os.Stat(p); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
			rie.err = fmt.Errorf("go tool -n aws-lambda-rie printed %q, which is not an executable", p)
			return
		}
		rie.path = p
	})
	if rie.err != nil {
		t.Fatalf("lambdatest: %v", rie.err)
	}
	return rie.path
}
