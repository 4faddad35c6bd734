package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
)

// versionLine is what `crossfaas --version` prints: the module version and,
// when the binary was built from a git checkout, the commit.
func versionLine() string {
	info, _ := debug.ReadBuildInfo()
	return formatVersion(info, runtime.Version(), runtime.GOOS+"/"+runtime.GOARCH)
}

// formatVersion formats the build information info (nil when the binary
// carries none), e.g.
//
//	crossfaas v1.2.0 (go1.26.8 linux/amd64)
//	crossfaas v0.0.0-20261202110639-0d95d1bfd9ae+dirty, commit 0d95d1bfd9ae (2026-12-02T11:06:39Z, uncommitted changes) (go1.26.8 linux/amd64)
//
// `go install ...@version` stamps the module version; `go build` in a
// checkout stamps the commit too, unless -buildvcs=false (or GOFLAGS
// holding it) turned that off, which the line then says.
func formatVersion(info *debug.BuildInfo, goVersion, platform string) string {
	version := "(unknown version)"
	var revision, when string
	modified := false
	if info != nil {
		if v := info.Main.Version; v != "" {
			version = v
		}
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				revision = s.Value
			case "vcs.time":
				when = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "crossfaas %s", version)
	switch {
	case revision != "":
		if len(revision) > 12 {
			revision = revision[:12]
		}
		var notes []string
		if when != "" {
			notes = append(notes, when)
		}
		if modified {
			notes = append(notes, "uncommitted changes")
		}
		fmt.Fprintf(&b, ", commit %s", revision)
		if len(notes) > 0 {
			fmt.Fprintf(&b, " (%s)", strings.Join(notes, ", "))
		}
	case version == "(devel)" || version == "(unknown version)":
		b.WriteString(", no commit recorded (build it with `go build -buildvcs=true ./cmd/crossfaas` in a checkout to record one)")
	}
	fmt.Fprintf(&b, " (%s %s)", goVersion, platform)
	return b.String()
}
