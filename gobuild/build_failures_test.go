package gobuild

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestAllFailures checks that a target that cannot be built fails with the
// go command's explanation and leaves nothing behind.
func TestAllFailures(t *testing.T) {
	tests := []struct {
		name   string
		target Target
		edit   map[string]string // file (relative to the root) -> new content
		want   []string          // in the error
	}{
		{
			name:   "compile error",
			target: Target{Name: "broken", Kind: Lambda, Package: "./broken"},
			edit:   map[string]string{"broken/main.go": "package main\n\nfunc main() { undefinedThing() }\n"},
			want:   []string{"build broken", "go build ./broken", "undefined: undefinedThing"},
		},
		{
			name:   "missing lambda package",
			target: Target{Name: "nowhere", Kind: Lambda, Package: "./nowhere"},
			want:   []string{"build nowhere", "nowhere"},
		},
		{
			name:   "source imports a missing module",
			target: Target{Name: "fn", Kind: Source, Dir: "fn"},
			edit:   map[string]string{"fn/inner/inner.go": "package inner\n\nimport _ \"example.com/missing/pkg\"\n"},
			want:   []string{"build fn", "example.com/missing/pkg"},
		},
		{
			name:   "source replaces with a directory",
			target: Target{Name: "fn", Kind: Source, Dir: "fn"},
			edit:   map[string]string{"fn/go.mod": "module example.com/fn\n\ngo 1.26\n\nreplace example.com/x => ../x\n"},
			want:   []string{"build fn", "replaces example.com/x with the directory ../x"},
		},
		{
			name:   "source without go.mod",
			target: Target{Name: "hello", Kind: Source, Dir: "hello"},
			want:   []string{"build hello", "go.mod"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := copyFixture(t, t.TempDir())
			for name, content := range tt.edit {
				path := filepath.Join(root, filepath.FromSlash(name))
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			out := t.TempDir()
			artifacts, err := All(t.Context(), Options{Root: root, OutDir: out, Targets: []Target{tt.target}})
			if err == nil {
				t.Fatalf("All(%v) = %v, want an error", tt.target, artifacts)
			}
			for _, want := range tt.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("All(%v) error %q, want it to contain %q", tt.target, err, want)
				}
			}
			if entries, _ := os.ReadDir(out); len(entries) != 0 {
				t.Errorf("out dir holds %d entries after a failed build, want none", len(entries))
			}
		})
	}
}

// TestAllRejectsOptions checks the options that fail before anything runs.
func TestAllRejectsOptions(t *testing.T) {
	hello := Target{Name: "hello", Kind: Lambda, Package: "./hello"}
	tests := []struct {
		name string
		opts Options
		want string
	}{
		{"architecture", Options{GOARCH: "riscv64", Targets: []Target{hello}}, `GOARCH "riscv64"`},
		{"duplicate name", Options{Targets: []Target{hello, hello}}, `"hello" is listed twice`},
		{"empty name", Options{Targets: []Target{{Kind: Lambda, Package: "./x"}}}, `name ""`},
		{"name with a slash", Options{Targets: []Target{{Name: "a/b", Kind: Lambda, Package: "./x"}}}, `name "a/b"`},
		{"lambda without package", Options{Targets: []Target{{Name: "x", Kind: Lambda}}}, `lambda package ""`},
		{"lambda package as a flag", Options{Targets: []Target{{Name: "x", Kind: Lambda, Package: "-toolexec=evil"}}}, `"-toolexec=evil"`},
		{"source outside the root", Options{Targets: []Target{{Name: "x", Kind: Source, Dir: "../x"}}}, `source dir "../x"`},
		{"source without dir", Options{Targets: []Target{{Name: "x", Kind: Source}}}, `source dir ""`},
		{"unknown kind", Options{Targets: []Target{{Name: "x", Kind: Kind(7)}}}, "unknown kind Kind(7)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.Root = t.TempDir()
			tt.opts.OutDir = filepath.Join(tt.opts.Root, "dist")
			_, err := All(t.Context(), tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("All() error %v, want one containing %q", err, tt.want)
			}
			if _, err := os.Stat(tt.opts.OutDir); !os.IsNotExist(err) {
				t.Errorf("All created the out dir before rejecting the options")
			}
		})
	}
}

func TestAllCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	root := copyFixture(t, t.TempDir())
	out := t.TempDir()
	_, err := All(ctx, Options{Root: root, OutDir: out, Targets: fixtureTargets})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("All with a canceled context = %v, want %v", err, context.Canceled)
	}
	if entries, _ := os.ReadDir(out); len(entries) != 0 {
		t.Errorf("out dir holds %d entries after a canceled build, want none", len(entries))
	}
}
