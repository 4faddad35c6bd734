// Package gobuild turns Go programs into deployable zips, reproducibly: for
// an AWS Lambda a zip holding one linux `bootstrap` executable (mode 0755,
// built with the release flags: -trimpath, no VCS stamp, no build id, the
// lambda.norpc tag, symbols stripped), for a Google Cloud Function (2nd gen)
// a zip of its Go module's source, exactly what Cloud Build needs. All
// builds a list of targets in parallel; Binary, ZipLambda and ZipSource are
// its steps, for callers who need only one.
//
// The same source gives byte-identical zips from any checkout path, so
// `pulumi up` sees no diff when nothing changed and one digest can be
// promoted from stage to stage. Build writes every zip into a temporary
// directory next to its destination and renames it into place only when its
// bytes differ from what is already there, which keeps modification times
// stable for tools that watch them.
package gobuild

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
)

// Kind says how a Target becomes an artifact.
type Kind int

const (
	// Lambda is a Go main package cross-compiled to a `bootstrap` executable
	// for the provided.al2023 runtime and zipped alone.
	Lambda Kind = iota
	// Source is a Go module directory zipped as source for Google Cloud
	// Functions, which builds it itself.
	Source
)

// String returns the kind's lower-case name.
func (k Kind) String() string {
	switch k {
	case Lambda:
		return "lambda"
	case Source:
		return "source"
	default:
		return fmt.Sprintf("Kind(%d)", int(k))
	}
}

// Target is one deployable artifact.
type Target struct {
	// Name names the artifact: it is written to <OutDir>/<Name>.zip.
	Name string
	Kind Kind
	// Package is, for a Lambda, the main package to build, as a path
	// relative to the root, e.g. "./functions/proxy/bootstrap".
	Package string
	// Dir is, for Source, the module directory relative to the root, e.g.
	// "functions/labeler". It must hold the module's go.mod.
	Dir string
	// Summary says in a few words what the artifact is, for
	// `crossfaas build -h`.
	Summary string
}

// Artifact is a built zip.
type Artifact struct {
	Name string
	// Path is the zip's absolute path.
	Path string
	// Size is the zip's length in bytes.
	Size int64
	// SHA256 is the hex-encoded SHA-256 digest of the zip's bytes.
	SHA256 string
}

// Options configures All.
type Options struct {
	// Root is the directory of the go.mod the builds run in (the one whose
	// toolchain directive, if any, they use); "" means the working
	// directory. Target paths are relative to it.
	Root string
	// OutDir receives the zips; "" means Root/dist. It is created if missing.
	OutDir string
	// Targets are the artifacts to build; at least one.
	Targets []Target
	// GOARCH is the Lambda architecture, "arm64" or "amd64"; "" means "arm64".
	GOARCH string

	// toolchain is Root's go.mod's toolchain directive, set by withDefaults.
	toolchain string
}

// All builds every target in parallel and returns artifacts in the order of
// opts.Targets. A failing target does not stop the others, which are still
// built and installed; the error then joins the failures, each carrying the
// go command's output, and no artifact is returned. A failed target leaves
// its previous zip, if any, in place.
func All(ctx context.Context, opts Options) ([]Artifact, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(opts.OutDir, 0o755); err != nil {
		return nil, fmt.Errorf("build: %w", err)
	}
	artifacts := make([]Artifact, len(opts.Targets))
	errs := make([]error, len(opts.Targets))
	var wg sync.WaitGroup
	for i, t := range opts.Targets {
		wg.Go(func() {
			artifacts[i], errs[i] = buildTarget(ctx, opts, t)
			if errs[i] != nil {
				errs[i] = fmt.Errorf("build %s: %w", t.Name, errs[i])
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return artifacts, nil
}

// withDefaults returns opts with its defaults applied and its paths made
// absolute, or an error naming the first invalid setting.
func (opts Options) withDefaults() (Options, error) {
	root, err := filepath.Abs(opts.Root) // "" is the working directory
	if err != nil {
		return opts, fmt.Errorf("build: root: %w", err)
	}
	opts.Root = root
	if opts.OutDir == "" {
		opts.OutDir = filepath.Join(opts.Root, "dist")
	}
	if opts.OutDir, err = filepath.Abs(opts.OutDir); err != nil {
		return opts, fmt.Errorf("build: out dir: %w", err)
	}
	switch opts.GOARCH {
	case "":
		opts.GOARCH = "arm64"
	case "arm64", "amd64":
	default:
		return opts, fmt.Errorf("build: GOARCH %q is not a Lambda architecture: use arm64 or amd64", opts.GOARCH)
	}
	if len(opts.Targets) == 0 {
		return opts, errors.New("build: no targets")
	}
	if err := Validate(opts.Targets); err != nil {
		return opts, fmt.Errorf("build: %w", err)
	}
	if opts.toolchain, err = Toolchain(opts.Root); err != nil {
		return opts, fmt.Errorf("build: %w", err)
	}
	return opts, nil
}

// validName is what a target's name may look like: it becomes a file name.
var validName = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*$`)

// Validate reports the first target that cannot be built as described.
func Validate(targets []Target) error {
	seen := make(map[string]bool, len(targets))
	for i, t := range targets {
		if !validName.MatchString(t.Name) {
			return fmt.Errorf("target %d: name %q must be lower-case letters, digits, '.', '_' or '-'", i, t.Name)
		}
		if seen[t.Name] {
			return fmt.Errorf("target %q is listed twice", t.Name)
		}
		seen[t.Name] = true
		switch t.Kind {
		case Lambda:
			if t.Package == "" || strings.HasPrefix(t.Package, "-") {
				return fmt.Errorf("target %q: lambda package %q is not a package path", t.Name, t.Package)
			}
		case Source:
			if !filepath.IsLocal(t.Dir) {
				return fmt.Errorf("target %q: source dir %q must be a relative path inside the root", t.Name, t.Dir)
			}
		default:
			return fmt.Errorf("target %q: unknown kind %v", t.Name, t.Kind)
		}
	}
	return nil
}

// buildTarget builds t into a temporary directory inside opts.OutDir and
// installs the zip as <OutDir>/<Name>.zip.
func buildTarget(ctx context.Context, opts Options, t Target) (Artifact, error) {
	tmp, err := os.MkdirTemp(opts.OutDir, ".build-"+t.Name+"-*")
	if err != nil {
		return Artifact{}, err
	}
	defer os.RemoveAll(tmp)

	zipPath := filepath.Join(tmp, t.Name+".zip")
	switch t.Kind {
	case Lambda:
		bin := filepath.Join(tmp, "bootstrap")
		if err := Binary(ctx, opts.Root, t.Package, bin, "linux", opts.GOARCH); err != nil {
			return Artifact{}, err
		}
		if err := ZipLambda(bin, zipPath); err != nil {
			return Artifact{}, err
		}
	case Source:
		if err := ZipSource(ctx, filepath.Join(opts.Root, t.Dir), opts.toolchain, zipPath); err != nil {
			return Artifact{}, err
		}
	}
	if err := ctx.Err(); err != nil {
		return Artifact{}, err
	}
	return install(t.Name, zipPath, filepath.Join(opts.OutDir, t.Name+".zip"))
}

// install moves the zip at tmp to dst unless dst already holds the same
// bytes, and describes the zip now at dst.
func install(name, tmp, dst string) (Artifact, error) {
	sum, size, err := hashFile(tmp)
	if err != nil {
		return Artifact{}, err
	}
	a := Artifact{Name: name, Path: dst, Size: size, SHA256: hex.EncodeToString(sum)}
	oldSum, oldSize, err := hashFile(dst)
	switch {
	case err == nil && oldSize == size && bytes.Equal(oldSum, sum):
		return a, nil
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return Artifact{}, err
	}
	if err := os.Rename(tmp, dst); err != nil {
		return Artifact{}, err
	}
	return a, nil
}

// hashFile returns the SHA-256 digest and the length of the file at path.
func hashFile(path string) ([]byte, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return nil, 0, fmt.Errorf("hash %s: %w", path, err)
	}
	return h.Sum(nil), n, nil
}
