package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/crossfaas/crossfaas/gobuild"
	"github.com/crossfaas/crossfaas/internal/build"
)

func init() {
	register("build", command{
		summary:  "cross-compile the Lambdas and zip every artifact into dist/",
		synopsis: "[-out dir] [-arch arm64|amd64] [artifact ...]",
		run:      runBuild,
	})
}

// runBuild builds the artifacts named in args, or all of them, and prints a
// table of what it built to stdout.
func runBuild(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("build", stdout)
	out := fs.String("out", "", "write the zips to `dir` (default <root>/dist)")
	arch := fs.String("arch", "arm64", "build the Lambdas for `arch`itecture arm64 or amd64")
	fs.details = func(w io.Writer) { writeArtifacts(w, build.Targets) }
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *arch != "arm64" && *arch != "amd64" {
		return usageErrorf("-arch %q is not a Lambda architecture: use arm64 or amd64", *arch)
	}
	targets, err := selectTargets(build.Targets, fs.Args())
	if err != nil {
		return err
	}
	wd, err := os.Getwd()
	if err != nil {
		return err
	}
	root, err := build.FindRoot(wd)
	if err != nil {
		return err
	}
	artifacts, err := build.All(ctx, gobuild.Options{Root: root, OutDir: *out, Targets: targets, GOARCH: *arch})
	if err != nil {
		return err
	}
	return writeTable(stdout, artifacts, wd)
}

// writeArtifacts lists the artifacts `build` makes, for its help.
func writeArtifacts(w io.Writer, targets []gobuild.Target) {
	fmt.Fprintln(w, "Artifacts (all of them when none is named):")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, t := range targets {
		fmt.Fprintf(tw, "  %s\t%s zip: %s\n", t.Name, t.Kind, t.Summary)
	}
	tw.Flush()
}

// selectTargets returns the targets named in names, in the order of all, or
// all of them when names is empty.
func selectTargets(all []gobuild.Target, names []string) ([]gobuild.Target, error) {
	if len(names) == 0 {
		return all, nil
	}
	var known []string
	for _, t := range all {
		known = append(known, t.Name)
	}
	for _, name := range names {
		if !slices.Contains(known, name) {
			return nil, usageErrorf("no artifact named %q: choose from %s", name, strings.Join(known, ", "))
		}
	}
	var selected []gobuild.Target
	for _, t := range all {
		if slices.Contains(names, t.Name) {
			selected = append(selected, t)
		}
	}
	return selected, nil
}

// writeTable prints one line per artifact: name, size, SHA-256 and path,
// relative to wd when the artifact lies below it.
func writeTable(w io.Writer, artifacts []gobuild.Artifact, wd string) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSIZE\tSHA256\tPATH")
	for _, a := range artifacts {
		path := a.Path
		if rel, err := filepath.Rel(wd, a.Path); err == nil && filepath.IsLocal(rel) {
			path = rel
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", a.Name, humanSize(a.Size), a.SHA256, path)
	}
	return tw.Flush()
}

// humanSize formats n bytes in B, KiB or MiB with one decimal.
func humanSize(n int64) string {
	switch {
	case n < 1<<10:
		return fmt.Sprintf("%d B", n)
	case n < 1<<20:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	default:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
}
