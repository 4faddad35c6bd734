package build

import (
	"archive/zip"
	"debug/buildinfo"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/crossfaas/crossfaas/gobuild"
)

func TestFindRoot(t *testing.T) {
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	// A checkout of crossfaas holding a module of its own, like the labeler.
	tmp := t.TempDir()
	nested := filepath.Join(tmp, "functions", "other", "deep")
	if err := os.MkdirAll(nested, 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"go.mod":                 "// crossfaas\nmodule \"github.com/crossfaas/crossfaas\"\n\ngo 1.26\n",
		"functions/other/go.mod": "module github.com/crossfaas/crossfaas/functions/other\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(tmp, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	tests := []struct {
		name, dir, want string
	}{
		{"this package", ".", repo},
		{"the labeler module", "../../functions/labeler", repo},
		{"the root itself", repo, repo},
		{"below a nested module", nested, tmp},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := FindRoot(tt.dir)
			if err != nil || got != tt.want {
				t.Errorf("FindRoot(%q) = %q, %v, want %q", tt.dir, got, err, tt.want)
			}
		})
	}

	t.Run("no root", func(t *testing.T) {
		dir := t.TempDir()
		if got, err := FindRoot(dir); err == nil {
			t.Errorf("FindRoot(%q) = %q, want an error", dir, got)
		}
	})
}

// TestTargets checks crossfaas's own targets against the repository.
func TestTargets(t *testing.T) {
	if err := gobuild.Validate(Targets); err != nil {
		t.Fatalf("Targets: %v", err)
	}
	root, err := FindRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"proxy", "labeler"} {
		if !slices.ContainsFunc(Targets, func(t gobuild.Target) bool { return t.Name == name }) {
			t.Errorf("Targets lack %s", name)
		}
	}
	for _, target := range Targets {
		dir := target.Dir
		if target.Kind == gobuild.Lambda {
			dir = target.Package
		}
		if info, err := os.Stat(filepath.Join(root, dir)); err != nil || !info.IsDir() {
			t.Errorf("target %s: %s is not a directory of the repository", target.Name, dir)
		}
	}
}

// TestLabelerSource zips the real labeler.
func TestLabelerSource(t *testing.T) {
	root, err := FindRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	labeler := []gobuild.Target{{Name: "labeler", Kind: gobuild.Source, Dir: "functions/labeler"}}
	a := mustAll(t, gobuild.Options{Root: root, OutDir: t.TempDir(), Targets: labeler})
	b := mustAll(t, gobuild.Options{Root: root, OutDir: t.TempDir(), Targets: labeler})
	if a[0].SHA256 != b[0].SHA256 {
		t.Errorf("two zips of the labeler differ: sha256 %s and %s", a[0].SHA256, b[0].SHA256)
	}
	zr, err := zip.OpenReader(a[0].Path)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name)
		if f.Mode() != 0o644 {
			t.Errorf("labeler.zip: %s has mode %v, want 0644", f.Name, f.Mode())
		}
		if strings.HasSuffix(f.Name, "_test.go") || strings.Contains("/"+f.Name, "/testdata/") {
			t.Errorf("labeler.zip holds %s, which Cloud Functions does not need", f.Name)
		}
	}
	for _, want := range []string{"go.mod", "go.sum", "labeler.go"} {
		if !slices.Contains(names, want) {
			t.Errorf("labeler.zip holds %q, want it to include %s", names, want)
		}
	}
	if !slices.IsSorted(names) {
		t.Errorf("labeler.zip entries %q are not sorted", names)
	}
}

// BenchmarkWarmRebuild measures All for crossfaas's own targets when
// nothing changed since the last build.
func BenchmarkWarmRebuild(b *testing.B) {
	root, err := FindRoot(".")
	if err != nil {
		b.Fatal(err)
	}
	opts := gobuild.Options{Root: root, OutDir: b.TempDir()}
	if _, err := All(b.Context(), opts); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := All(b.Context(), opts); err != nil {
			b.Fatal(err)
		}
	}
}

// The repository pins a released toolchain, and a build runs exactly it:
// the binary says which Go built it. Here the local go is that version, so
// nothing is downloaded.
func TestRepositoryBuildsWithItsPinnedToolchain(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: not building")
	}
	root, err := FindRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	pinned, err := gobuild.Toolchain(root)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^go1\.[0-9]+\.[0-9]+$`).MatchString(pinned) {
		t.Fatalf("go.mod's toolchain directive is %q, want a released toolchain such as go1.26.8", pinned)
	}
	bin := filepath.Join(t.TempDir(), "bootstrap")
	if err := gobuild.Binary(t.Context(), root, "./internal/lambdatest/echo", bin, "linux", "arm64"); err != nil {
		t.Fatal(err)
	}
	info, err := buildinfo.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	if info.GoVersion != pinned {
		t.Errorf("the binary was built by %s, want the pinned %s", info.GoVersion, pinned)
	}
}

// mustAll runs All and fails the test on error.
func mustAll(t *testing.T, opts gobuild.Options) []gobuild.Artifact {
	t.Helper()
	artifacts, err := All(t.Context(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return artifacts
}
