// Command crossfaas builds crossfaas's deployable artifacts and runs the
// system locally.
//
// Usage:
//
//	crossfaas <command> [flags] [arguments]
//
// Run `crossfaas help` for the list of commands, `crossfaas <command> -h`
// for a command's flags and `crossfaas --version` for the build.
//
// Help asked for (-h, help) goes to stdout with exit status 0; a mistake
// (an unknown command or flag, a bad value) gets one line saying what is
// wrong and a short usage line on stderr, with exit status 2.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
)

// A command is one subcommand of crossfaas.
type command struct {
	// summary is a one-line description for the usage text.
	summary string
	// synopsis is what follows "crossfaas <name>" in the usage line, e.g.
	// "[flags] [artifact ...]".
	synopsis string
	// run does the work. args are the arguments after the command's name;
	// output goes to stdout, diagnostics to stderr. A *usageError makes
	// crossfaas exit with status 2, flag.ErrHelp with 0, any other error
	// with 1.
	run func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

// commands holds every subcommand by name. Each lives in its own file and
// adds itself from an init function by calling register.
var commands = map[string]command{}

// register adds a subcommand. It panics if name is taken, which is a
// programming error caught by any run of the program.
func register(name string, c command) {
	if _, dup := commands[name]; dup {
		panic("crossfaas: command " + name + " registered twice")
	}
	commands[name] = c
}

// A usageError reports a command invoked wrongly: crossfaas prints it with
// the command's usage line and exits with status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

// usageErrorf returns a *usageError with a formatted message.
func usageErrorf(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// The first Ctrl-C asks for a clean shutdown; restoring the default
	// handling then lets a second one end the process at once.
	go func() {
		<-ctx.Done()
		stop()
	}()
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run runs the command named by args[0] and returns the process's exit
// status: 0 on success, 1 when the command failed, 2 when it was invoked
// wrongly.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	name := args[0]
	switch name {
	case "-h", "-help", "--help":
		usage(stdout)
		return 0
	case "help":
		// "crossfaas help dev" is "crossfaas dev -h".
		if len(args) == 1 {
			usage(stdout)
			return 0
		}
		return run(ctx, []string{args[1], "-h"}, stdout, stderr)
	case "version", "-version", "--version":
		fmt.Fprintln(stdout, versionLine())
		return 0
	}
	c, ok := commands[name]
	if !ok {
		fmt.Fprintf(stderr, "crossfaas: unknown command %q\nRun 'crossfaas help' for the list of commands.\n", name)
		return 2
	}
	err := c.run(ctx, args[1:], stdout, stderr)
	var usageErr *usageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &usageErr):
		fmt.Fprintf(stderr, "crossfaas %s: %v\nUsage: crossfaas %s %s\nRun 'crossfaas %s -h' for details.\n", name, err, name, c.synopsis, name)
		return 2
	}
	fmt.Fprintf(stderr, "crossfaas %s: %s\n", name, unstutter(name, err))
	return 1
}

// unstutter returns err's message without a leading "<name>: " (or
// "error: "), which the "crossfaas <name>: " before it already says:
// libraries prefix their errors with their operation, and `promote` fails
// with "promote: ...".
func unstutter(name string, err error) string {
	msg := err.Error()
	for {
		trimmed := strings.TrimPrefix(strings.TrimPrefix(msg, name+": "), "error: ")
		if trimmed == msg {
			return msg
		}
		msg = trimmed
	}
}

// usage writes the list of commands to w.
func usage(w io.Writer) {
	fmt.Fprintf(w, "Usage: crossfaas <command> [flags] [arguments]\n\nCommands:\n")
	tw := tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)
	names := make([]string, 0, len(commands))
	for name := range commands {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		fmt.Fprintf(tw, "  %s\t%s\n", name, commands[name].summary)
	}
	tw.Flush()
	fmt.Fprintf(w, "\nRun 'crossfaas <command> -h' for a command's flags, 'crossfaas --version' for this build.\n")
}

// flagSet is a subcommand's flag set. Parse writes the full help to stdout
// for -h and turns any other mistake into a *usageError, so that run
// prints one line about it and the short usage.
type flagSet struct {
	*flag.FlagSet
	name   string
	stdout io.Writer
	// details, if not nil, writes more help after the flags (e.g. the
	// artifacts `build` knows).
	details func(w io.Writer)
}

// newFlagSet returns the flag set of the subcommand called name, which
// writes its help to stdout.
func newFlagSet(name string, stdout io.Writer) *flagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	// The flag package prints its errors and calls Usage; Parse reports
	// both itself instead.
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return &flagSet{FlagSet: fs, name: name, stdout: stdout}
}

// Parse parses args. It returns flag.ErrHelp after writing the help to
// stdout for -h, -help or --help, and a *usageError for anything else the
// flag package refuses.
func (fs *flagSet) Parse(args []string) error {
	err := fs.FlagSet.Parse(args)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, flag.ErrHelp):
		fs.help(fs.stdout)
		return flag.ErrHelp
	}
	return &usageError{msg: err.Error()}
}

// help writes the command's usage, summary, flags and details to w.
func (fs *flagSet) help(w io.Writer) {
	c := commands[fs.name]
	fmt.Fprintf(w, "Usage: crossfaas %s %s\n\n%s.\n\nFlags:\n", fs.name, c.synopsis, upperFirst(c.summary))
	fs.SetOutput(w)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
	if fs.details != nil {
		fmt.Fprintln(w)
		fs.details(w)
	}
}

// upperFirst upper-cases the first letter of an ASCII sentence.
func upperFirst(s string) string {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}
