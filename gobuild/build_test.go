package gobuild

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
	"time"
)

// fixtureTargets are the artifacts of testdata/fixture: a Lambda and a
// Cloud Function module, each as small as a real one can be.
var fixtureTargets = []Target{
	{Name: "hello", Kind: Lambda, Package: "./hello"},
	{Name: "fn", Kind: Source, Dir: "fn"},
}

// fixtureSource lists what the source zip of testdata/fixture/fn holds:
// not its tests, testdata, README, unused package or local command.
var fixtureSource = []string{
	"default.txt",
	"fn.go",
	"go.mod",
	"go.sum",
	"inner/inner.go",
	"inner/inner_windows.go",
}

// zipEpoch is the fixed time of every zip entry.
var zipEpoch = time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)

// copyFixture copies testdata/fixture to dir, which may not exist yet, and
// returns dir.
func copyFixture(t *testing.T, dir string) string {
	t.Helper()
	if err := os.CopyFS(dir, os.DirFS("testdata/fixture")); err != nil {
		t.Fatal(err)
	}
	return dir
}

// mustAll runs All and fails the test on error.
func mustAll(t *testing.T, opts Options) []Artifact {
	t.Helper()
	artifacts, err := All(t.Context(), opts)
	if err != nil {
		t.Fatalf("All: %v", err)
	}
	return artifacts
}

// readZip returns the entries of the zip at path and their contents.
func readZip(t *testing.T, path string) ([]*zip.File, map[string][]byte) {
	t.Helper()
	zr, err := zip.OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	contents := make(map[string][]byte)
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatalf("read %s from %s: %v", f.Name, path, err)
		}
		contents[f.Name] = data
	}
	return zr.File, contents
}

// checkEntry fails the test unless f was written the reproducible way with
// Unix permissions mode.
func checkEntry(t *testing.T, f *zip.File, mode fs.FileMode) {
	t.Helper()
	if got := f.Mode(); got != mode {
		t.Errorf("%s: mode %v, want %v", f.Name, got, mode)
	}
	if got := f.CreatorVersion >> 8; got != 3 {
		t.Errorf("%s: creator %d, want 3 (Unix)", f.Name, got)
	}
	if f.Method != zip.Deflate {
		t.Errorf("%s: method %d, want %d (deflate)", f.Name, f.Method, zip.Deflate)
	}
	if !f.Modified.Equal(zipEpoch) {
		t.Errorf("%s: modified %v, want %v", f.Name, f.Modified, zipEpoch)
	}
	if len(f.Extra) != 0 {
		t.Errorf("%s: extra fields %x, want none", f.Name, f.Extra)
	}
}

// checkArtifact fails the test unless a describes the file at its path.
func checkArtifact(t *testing.T, a Artifact, name, outDir string) {
	t.Helper()
	if want := filepath.Join(outDir, name+".zip"); a.Name != name || a.Path != want {
		t.Errorf("artifact %q at %q, want %q at %q", a.Name, a.Path, name, want)
	}
	data, err := os.ReadFile(a.Path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	if got := hex.EncodeToString(sum[:]); a.SHA256 != got || a.Size != int64(len(data)) {
		t.Errorf("artifact %s says %d bytes, sha256 %s; the file has %d bytes, sha256 %s", name, a.Size, a.SHA256, len(data), got)
	}
}

func modTime(t *testing.T, path string) time.Time {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return info.ModTime()
}

// TestAll builds the fixture from two checkouts at different paths and
// checks the artifacts, then rebuilds the first unchanged and changed.
func TestAll(t *testing.T) {
	rootA := copyFixture(t, t.TempDir())
	rootB := copyFixture(t, filepath.Join(t.TempDir(), "a", "longer", "checkout path"))
	outA, outB := t.TempDir(), filepath.Join(t.TempDir(), "dist")
	a := mustAll(t, Options{Root: rootA, OutDir: outA, Targets: fixtureTargets})
	b := mustAll(t, Options{Root: rootB, OutDir: outB, Targets: fixtureTargets})

	t.Run("artifacts", func(t *testing.T) {
		if len(a) != len(fixtureTargets) || len(b) != len(fixtureTargets) {
			t.Fatalf("All returned %d and %d artifacts, want %d", len(a), len(b), len(fixtureTargets))
		}
		for i, target := range fixtureTargets {
			checkArtifact(t, a[i], target.Name, outA)
			checkArtifact(t, b[i], target.Name, outB)
		}
	})

	t.Run("reproducible", func(t *testing.T) {
		for i := range a {
			if a[i].SHA256 != b[i].SHA256 {
				t.Errorf("%s: sha256 %s from %s, %s from %s", a[i].Name, a[i].SHA256, rootA, b[i].SHA256, rootB)
			}
		}
	})

	t.Run("lambda zip", func(t *testing.T) {
		for _, c := range []struct{ root, zip string }{{rootA, a[0].Path}, {rootB, b[0].Path}} {
			files, contents := readZip(t, c.zip)
			if len(files) != 1 || files[0].Name != "bootstrap" {
				t.Fatalf("%s holds %d entries, want just bootstrap", c.zip, len(files))
			}
			checkEntry(t, files[0], 0o755)
			bin := contents["bootstrap"]
			exe, err := elf.NewFile(bytes.NewReader(bin))
			if err != nil {
				t.Fatalf("bootstrap is not an ELF executable: %v", err)
			}
			if exe.Machine != elf.EM_AARCH64 {
				t.Errorf("bootstrap is for %v, want %v", exe.Machine, elf.EM_AARCH64)
			}
			if bytes.Contains(bin, []byte(c.root)) {
				t.Errorf("bootstrap contains the checkout path %s", c.root)
			}
		}
	})

	t.Run("source zip", func(t *testing.T) {
		files, contents := readZip(t, a[1].Path)
		var names []string
		for _, f := range files {
			names = append(names, f.Name)
			checkEntry(t, f, 0o644)
		}
		if !slices.Equal(names, fixtureSource) {
			t.Errorf("source zip holds %q, want %q", names, fixtureSource)
		}
		want, err := os.ReadFile(filepath.Join(rootA, "fn", "fn.go"))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(contents["fn.go"], want) {
			t.Errorf("fn.go in the zip differs from the source")
		}
	})

	// Rebuilding must not touch zips whose bytes are unchanged.
	old := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	for _, artifact := range a {
		if err := os.Chtimes(artifact.Path, old, old); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("unchanged rebuild", func(t *testing.T) {
		again := mustAll(t, Options{Root: rootA, OutDir: outA, Targets: fixtureTargets})
		if !slices.Equal(again, a) {
			t.Errorf("rebuild gave %v, want %v", again, a)
		}
		for _, artifact := range a {
			if got := modTime(t, artifact.Path); !got.Equal(old) {
				t.Errorf("%s was rewritten at %v", artifact.Path, got)
			}
		}
		entries, err := os.ReadDir(outA)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		if want := []string{"fn.zip", "hello.zip"}; !slices.Equal(names, want) {
			t.Errorf("out dir holds %q, want %q", names, want)
		}
	})

	t.Run("changed rebuild", func(t *testing.T) {
		main := filepath.Join(rootA, "hello", "main.go")
		src, err := os.ReadFile(main)
		if err != nil {
			t.Fatal(err)
		}
		src = bytes.Replace(src, []byte(`greeting = "hello"`), []byte(`greeting = "howdy"`), 1)
		if err := os.WriteFile(main, src, 0o644); err != nil {
			t.Fatal(err)
		}
		changed := mustAll(t, Options{Root: rootA, OutDir: outA, Targets: fixtureTargets})
		if changed[0].SHA256 == a[0].SHA256 {
			t.Errorf("hello.zip kept sha256 %s after its source changed", a[0].SHA256)
		}
		if got := modTime(t, changed[0].Path); got.Equal(old) {
			t.Errorf("hello.zip was not rewritten after its source changed")
		}
		if changed[1] != a[1] || !modTime(t, a[1].Path).Equal(old) {
			t.Errorf("fn.zip changed with only hello's source: %v, was %v", changed[1], a[1])
		}
	})
}

// TestAllThroughSymlink builds a checkout reached through a symbolic link,
// as a checkout under macOS's /tmp or a linked home directory is: the go
// command must see the same path, not the link's target.
func TestAllThroughSymlink(t *testing.T) {
	base := t.TempDir()
	real := copyFixture(t, filepath.Join(base, "real", "checkout"))
	link := filepath.Join(base, "link")
	if err := os.Symlink(filepath.Join(base, "real"), link); err != nil {
		t.Skipf("cannot create a symbolic link: %v", err)
	}
	viaLink := mustAll(t, Options{Root: filepath.Join(link, "checkout"), OutDir: t.TempDir(), Targets: fixtureTargets})
	direct := mustAll(t, Options{Root: real, OutDir: t.TempDir(), Targets: fixtureTargets})
	for i := range direct {
		if viaLink[i].SHA256 != direct[i].SHA256 {
			t.Errorf("%s: sha256 %s through the link, %s directly", direct[i].Name, viaLink[i].SHA256, direct[i].SHA256)
		}
	}
}

// TestBinaryForHost builds the fixture for the machine running the test,
// with GOFLAGS in the environment that the release build must ignore.
func TestBinaryForHost(t *testing.T) {
	t.Setenv("GOFLAGS", "-tags=leak")
	root := copyFixture(t, t.TempDir())
	out := filepath.Join(t.TempDir(), "bootstrap")
	if err := Binary(t.Context(), root, "./hello", out, runtime.GOOS, runtime.GOARCH); err != nil {
		t.Fatalf("Binary: %v", err)
	}
	got, err := exec.Command(out).Output()
	if err != nil {
		t.Fatalf("run %s: %v", out, err)
	}
	want := "hello from " + runtime.GOOS + "/" + runtime.GOARCH + ", tags [lambda.norpc]\n"
	if string(got) != want {
		t.Errorf("bootstrap printed %q, want %q", got, want)
	}
}

func TestZipLambda(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	if err := os.WriteFile(bin, bytes.Repeat([]byte("not really a binary "), 100), 0o600); err != nil {
		t.Fatal(err)
	}

	first := filepath.Join(dir, "first.zip")
	if err := ZipLambda(bin, first); err != nil {
		t.Fatalf("ZipLambda: %v", err)
	}
	files, contents := readZip(t, first)
	if len(files) != 1 || files[0].Name != "bootstrap" {
		t.Fatalf("zip holds %d entries, want just bootstrap", len(files))
	}
	checkEntry(t, files[0], 0o755)
	if want, _ := os.ReadFile(bin); !bytes.Equal(contents["bootstrap"], want) {
		t.Errorf("bootstrap in the zip differs from the binary")
	}

	// Neither the binary's own mode nor its time may reach the zip.
	if err := os.Chmod(bin, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(bin, time.Now(), time.Now().Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	second := filepath.Join(dir, "second.zip")
	if err := ZipLambda(bin, second); err != nil {
		t.Fatalf("ZipLambda: %v", err)
	}
	a, _ := os.ReadFile(first)
	b, _ := os.ReadFile(second)
	if !bytes.Equal(a, b) {
		t.Errorf("zips of the same binary differ")
	}

	for _, bad := range []string{filepath.Join(dir, "missing"), dir} {
		zipPath := filepath.Join(dir, "bad.zip")
		if err := ZipLambda(bad, zipPath); err == nil {
			t.Errorf("ZipLambda(%q) succeeded, want an error", bad)
		}
		if _, err := os.Stat(zipPath); !os.IsNotExist(err) {
			t.Errorf("ZipLambda(%q) left a zip behind", bad)
		}
	}
}
