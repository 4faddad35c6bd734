package gobuild

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/mod/modfile"
)

// dosEpoch is 1980-01-01 00:00:00 in MS-DOS date format, the earliest time
// a zip can hold; every entry carries it.
const dosEpoch = 1<<5 | 1

// entry is one file of a zip: its name in the archive, the file it is read
// from and its Unix permissions.
type entry struct {
	name string
	from string
	mode fs.FileMode
}

// ZipLambda writes a Lambda zip holding one `bootstrap` entry (mode 0755,
// fixed time) from the binary at bin. The zip's bytes depend only on the
// binary's.
func ZipLambda(bin, zipPath string) error {
	info, err := os.Stat(bin)
	if err != nil {
		return fmt.Errorf("zip lambda: %w", err)
	}
	if !info.Mode().IsRegular() {
		return fmt.Errorf("zip lambda: %s is not a regular file", bin)
	}
	if err := writeZip(zipPath, []entry{{name: "bootstrap", from: bin, mode: 0o755}}); err != nil {
		return fmt.Errorf("zip lambda: %w", err)
	}
	return nil
}

// writeZip writes entries, in their order, to a new zip at zipPath. Every
// entry is deflated, has the fixed time and Unix permissions; nothing else
// of the files (owner, times, path) reaches the archive. On error no file is
// left at zipPath.
func writeZip(zipPath string, entries []entry) (err error) {
	out, err := os.Create(zipPath)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			os.Remove(zipPath)
		}
	}()
	zw := zip.NewWriter(out)
	for _, e := range entries {
		if err := addFile(zw, e); err != nil {
			return err
		}
	}
	return zw.Close()
}

// addFile copies the file e.from into zw as e.name.
func addFile(zw *zip.Writer, e entry) error {
	in, err := os.Open(e.from)
	if err != nil {
		return err
	}
	defer in.Close()
	h := &zip.FileHeader{Name: e.name, Method: zip.Deflate}
	// SetMode marks the entry as made on Unix (creator version 3), without
	// which Lambda would not see bootstrap's execute bits.
	h.SetMode(e.mode)
	// Modified is left zero on purpose: archive/zip would add an extended
	// timestamp field in Unix time, which unzip shifts by the reader's time
	// zone. The MS-DOS fields alone hold the fixed time.
	//lint:ignore SA1019 the deprecated MS-DOS fields are the point: Modified would add a time-zone-dependent Unix timestamp.
	h.ModifiedDate, h.ModifiedTime = dosEpoch, 0
	w, err := zw.CreateHeader(h)
	if err != nil {
		return fmt.Errorf("add %s: %w", e.name, err)
	}
	if _, err := io.Copy(w, in); err != nil {
		return fmt.Errorf("add %s: %w", e.name, err)
	}
	return nil
}

// ZipSource writes a zip of the Go module in dir for Google Cloud Functions:
// go.mod and go.sum at its root, and every non-test source and embedded file
// of the module's packages that the root package is built with on
// linux/amd64, in sorted order, mode 0644. Tests, testdata, READMEs, other
// commands (such as a cmd/ main for local runs) and untracked junk stay out.
// The go command listing the files runs toolchain (see Toolchain); ""
// leaves GOTOOLCHAIN as the environment has it. A go.mod replacing a module
// with a directory is refused: the archive could not hold it.
func ZipSource(ctx context.Context, dir, toolchain, zipPath string) error {
	names, err := sourceFiles(ctx, dir, toolchain)
	if err != nil {
		return fmt.Errorf("zip source %s: %w", dir, err)
	}
	entries := make([]entry, len(names))
	for i, name := range names {
		entries[i] = entry{name: name, from: filepath.Join(dir, filepath.FromSlash(name)), mode: 0o644}
	}
	if err := writeZip(zipPath, entries); err != nil {
		return fmt.Errorf("zip source %s: %w", dir, err)
	}
	return nil
}

// listedPackage is the part of `go list -json` that sourceFiles reads.
type listedPackage struct {
	Dir    string
	Module *struct{ Main bool }

	GoFiles, CgoFiles, IgnoredGoFiles, IgnoredOtherFiles []string
	CFiles, CXXFiles, MFiles, HFiles, FFiles, SFiles     []string
	SwigFiles, SwigCXXFiles, SysoFiles, EmbedFiles       []string
}

// listFields names the fields of listedPackage for go list's -json flag.
const listFields = "Dir,Module,GoFiles,CgoFiles,IgnoredGoFiles,IgnoredOtherFiles," +
	"CFiles,CXXFiles,MFiles,HFiles,FFiles,SFiles,SwigFiles,SwigCXXFiles,SysoFiles,EmbedFiles"

// sourceFiles returns the slash-separated paths, relative to dir and
// sorted, of the files a source zip of the module in dir holds. Files a
// package's build constraints leave out on linux/amd64 are kept: they are
// part of the package and cost little.
func sourceFiles(ctx context.Context, dir, toolchain string) ([]string, error) {
	gomod := filepath.Join(dir, "go.mod")
	data, err := os.ReadFile(gomod)
	if err != nil {
		return nil, err
	}
	mf, err := modfile.Parse(gomod, data, nil)
	if err != nil {
		return nil, err
	}
	for _, r := range mf.Replace {
		if modfile.IsDirectoryPath(r.New.Path) {
			return nil, fmt.Errorf("go.mod replaces %s with the directory %s, which the archive cannot hold", r.Old.Path, r.New.Path)
		}
	}

	names := []string{"go.mod"}
	if _, err := os.Stat(filepath.Join(dir, "go.sum")); err == nil {
		names = append(names, "go.sum")
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	// Cloud Functions builds on linux/amd64.
	out, err := goCommand(ctx, dir, "linux", "amd64", toolchain, "list", "-deps", "-json="+listFields, ".")
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p listedPackage
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			return nil, fmt.Errorf("go list output: %w", err)
		}
		if p.Module == nil || !p.Module.Main {
			continue // the standard library or a dependency module
		}
		rel, err := filepath.Rel(dir, p.Dir)
		if err != nil || !filepath.IsLocal(rel) {
			return nil, fmt.Errorf("package dir %s is outside the module", p.Dir)
		}
		for _, files := range [][]string{
			p.GoFiles, p.CgoFiles, p.IgnoredGoFiles, p.IgnoredOtherFiles,
			p.CFiles, p.CXXFiles, p.MFiles, p.HFiles, p.FFiles, p.SFiles,
			p.SwigFiles, p.SwigCXXFiles, p.SysoFiles, p.EmbedFiles,
		} {
			for _, f := range files {
				if strings.HasSuffix(f, "_test.go") {
					continue
				}
				names = append(names, path.Join(filepath.ToSlash(rel), f))
			}
		}
	}
	slices.Sort(names)
	return slices.Compact(names), nil
}
