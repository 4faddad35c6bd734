package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/crossfaas/crossfaas/gobuild"
	"github.com/crossfaas/crossfaas/internal/build"
)

func TestRun(t *testing.T) {
	t.Setenv(EnvTwilioNumber, "") // invoke sms's default --to
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout string
		wantStderr string
	}{
		{name: "no command", args: nil, wantCode: 2, wantStderr: "build "},
		{name: "help", args: []string{"help"}, wantCode: 0, wantStdout: "build "},
		{name: "-h", args: []string{"-h"}, wantCode: 0, wantStdout: "build "},
		{name: "help of a command", args: []string{"help", "build"}, wantCode: 0, wantStdout: "Usage: crossfaas build"},
		{name: "unknown command", args: []string{"deploy"}, wantCode: 2, wantStderr: `unknown command "deploy"`},
		{name: "bad architecture", args: []string{"build", "-arch", "mips"}, wantCode: 2, wantStderr: `crossfaas build: -arch "mips" is not a Lambda architecture`},
		{name: "unknown artifact", args: []string{"build", "nothing"}, wantCode: 2, wantStderr: `no artifact named "nothing"`},
		{name: "invoke what", args: []string{"invoke"}, wantCode: 2, wantStderr: "say what to invoke: detect or sms"},
		{name: "invoke other", args: []string{"invoke", "email"}, wantCode: 2, wantStderr: `cannot invoke "email"`},
		{name: "invoke sms without from", args: []string{"invoke", "sms", "--to", "+15557654321", "help"}, wantCode: 2, wantStderr: "give --from"},
		{name: "invoke sms without to", args: []string{"invoke", "sms", "help", "--from", "+15551234567"}, wantCode: 2, wantStderr: "give --to, your Twilio number"},
		{name: "invoke sms without text", args: []string{"invoke", "sms", "--from", "+15551234567", "--to", "+15557654321"}, wantCode: 2, wantStderr: "give the text of the SMS"},
		{name: "logs since", args: []string{"logs", "--since", "-5m"}, wantCode: 2, wantStderr: "--since -5m0s must be positive"},
		{name: "status argument", args: []string{"status", "dev"}, wantCode: 2, wantStderr: `unexpected argument "dev"`},
		{name: "promote one stack", args: []string{"promote", "prod"}, wantCode: 2, wantStderr: "give the two stacks: FROM TO"},
		{name: "version", args: []string{"--version"}, wantCode: 0, wantStdout: "crossfaas "},
		{name: "version command", args: []string{"version"}, wantCode: 0, wantStdout: "crossfaas "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(t.Context(), tt.args, &stdout, &stderr)
			if code != tt.wantCode {
				t.Errorf("run(%q) = %d, want %d; stderr:\n%s", tt.args, code, tt.wantCode, &stderr)
			}
			if !strings.Contains(stdout.String(), tt.wantStdout) {
				t.Errorf("run(%q) printed %q, want it to contain %q", tt.args, &stdout, tt.wantStdout)
			}
			if !strings.Contains(stderr.String(), tt.wantStderr) {
				t.Errorf("run(%q) printed to stderr %q, want it to contain %q", tt.args, &stderr, tt.wantStderr)
			}
		})
	}
}

// TestNoStutter: a command's error is printed once after "crossfaas
// <name>: ", without the name or "error: " again.
func TestNoStutter(t *testing.T) {
	for _, msg := range []string{"promote: dev is not deployed", "error: promote: dev is not deployed", "promote: error: dev is not deployed"} {
		promote := commands["promote"]
		commands["promote"] = command{run: func(context.Context, []string, io.Writer, io.Writer) error { return errors.New(msg) }}
		var stdout, stderr bytes.Buffer
		code := run(t.Context(), []string{"promote"}, &stdout, &stderr)
		commands["promote"] = promote
		if want := "crossfaas promote: dev is not deployed\n"; code != 1 || stderr.String() != want {
			t.Errorf("a command failing with %q: exit %d, stderr %q, want 1 and %q", msg, code, &stderr, want)
		}
	}
}

// TestHelpAndMistakes: asking for help prints the whole help to stdout and
// nothing to stderr; a mistake prints one line about it and the short
// usage to stderr, not the whole help.
func TestHelpAndMistakes(t *testing.T) {
	for _, name := range []string{"build", "dev"} {
		t.Run(name+" -h", func(t *testing.T) {
			for _, h := range []string{"-h", "-help", "--help"} {
				var stdout, stderr bytes.Buffer
				if code := run(t.Context(), []string{name, h}, &stdout, &stderr); code != 0 {
					t.Errorf("crossfaas %s %s = %d, want 0", name, h, code)
				}
				if !strings.HasPrefix(stdout.String(), "Usage: crossfaas "+name+" ") || !strings.Contains(stdout.String(), "Flags:") {
					t.Errorf("crossfaas %s %s stdout = %q, want the usage and the flags", name, h, &stdout)
				}
				if stderr.Len() != 0 {
					t.Errorf("crossfaas %s %s stderr = %q, want nothing", name, h, &stderr)
				}
			}
		})
		t.Run(name+" bad flag", func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := run(t.Context(), []string{name, "--bogus"}, &stdout, &stderr); code != 2 {
				t.Errorf("crossfaas %s --bogus = %d, want 2", name, code)
			}
			want := "crossfaas " + name + ": flag provided but not defined: -bogus\n" +
				"Usage: crossfaas " + name + " " + commands[name].synopsis + "\n" +
				"Run 'crossfaas " + name + " -h' for details.\n"
			if stderr.String() != want {
				t.Errorf("crossfaas %s --bogus stderr = %q, want %q", name, &stderr, want)
			}
			if stdout.Len() != 0 {
				t.Errorf("crossfaas %s --bogus stdout = %q, want nothing", name, &stdout)
			}
		})
	}
}

// TestBuildHelpListsArtifacts: `build -h` names every artifact it can
// build, with what it is.
func TestBuildHelpListsArtifacts(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if err := runBuild(t.Context(), []string{"-h"}, &stdout, &stderr); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("runBuild(-h) = %v, want flag.ErrHelp", err)
	}
	for _, target := range build.Targets {
		line := regexp.MustCompile(`(?m)^  ` + regexp.QuoteMeta(target.Name) + ` +` + target.Kind.String() + ` zip: ` + regexp.QuoteMeta(target.Summary) + `$`)
		if target.Summary == "" || !line.MatchString(stdout.String()) {
			t.Errorf("build -h lacks a line for artifact %q with its kind and summary:\n%s", target.Name, &stdout)
		}
	}
}

// TestBuildLabeler runs `crossfaas build -out <tmp> labeler` for real: the
// labeler is a source zip, quick to make.
func TestBuildLabeler(t *testing.T) {
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	if err := runBuild(t.Context(), []string{"-out", out, "labeler"}, &stdout, &stderr); err != nil {
		t.Fatalf("build: %v; stderr:\n%s", err, &stderr)
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("build printed %q, want a header and one line", &stdout)
	}
	row := regexp.MustCompile(`^labeler +[0-9.]+ (B|KiB|MiB) +[0-9a-f]{64} +(.+)$`).FindStringSubmatch(lines[1])
	if row == nil {
		t.Fatalf("build printed the line %q, want name, size, sha256 and path", lines[1])
	}
	if want := filepath.Join(out, "labeler.zip"); row[2] != want {
		t.Errorf("build printed path %q, want %q", row[2], want)
	}
	if _, err := os.Stat(row[2]); err != nil {
		t.Errorf("build printed a path that does not exist: %v", err)
	}
}

func TestWriteTable(t *testing.T) {
	artifacts := []gobuild.Artifact{
		{Name: "proxy", Path: "/repo/dist/proxy.zip", Size: 2510380, SHA256: strings.Repeat("a", 64)},
		{Name: "labeler", Path: "/elsewhere/labeler.zip", Size: 16877, SHA256: strings.Repeat("b", 64)},
	}
	var got bytes.Buffer
	if err := writeTable(&got, artifacts, "/repo"); err != nil {
		t.Fatal(err)
	}
	want := "NAME     SIZE      SHA256                                                            PATH\n" +
		"proxy    2.4 MiB   " + strings.Repeat("a", 64) + "  dist/proxy.zip\n" +
		"labeler  16.5 KiB  " + strings.Repeat("b", 64) + "  /elsewhere/labeler.zip\n"
	if got.String() != want {
		t.Errorf("writeTable() = %q, want %q", &got, want)
	}
}

func TestHumanSize(t *testing.T) {
	tests := []struct {
		n    int64
		want string
	}{
		{0, "0 B"},
		{1023, "1023 B"},
		{1024, "1.0 KiB"},
		{16877, "16.5 KiB"},
		{1 << 20, "1.0 MiB"},
		{2510380, "2.4 MiB"},
	}
	for _, tt := range tests {
		if got := humanSize(tt.n); got != tt.want {
			t.Errorf("humanSize(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
}

func TestSelectTargets(t *testing.T) {
	all := []gobuild.Target{{Name: "proxy"}, {Name: "labeler"}, {Name: "sleuth"}}
	tests := []struct {
		name  string
		names []string
		want  []string
	}{
		{"all by default", nil, []string{"proxy", "labeler", "sleuth"}},
		{"one", []string{"labeler"}, []string{"labeler"}},
		{"in the order of the targets", []string{"sleuth", "proxy"}, []string{"proxy", "sleuth"}},
		{"repeated", []string{"proxy", "proxy"}, []string{"proxy"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			selected, err := selectTargets(all, tt.names)
			if err != nil {
				t.Fatalf("selectTargets(%q): %v", tt.names, err)
			}
			var got []string
			for _, target := range selected {
				got = append(got, target.Name)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("selectTargets(%q) = %q, want %q", tt.names, got, tt.want)
			}
		})
	}
}
