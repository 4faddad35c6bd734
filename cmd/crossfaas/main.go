// Command crossfaas builds crossfaas's deployable artifacts and runs the
// system locally.
//
// Usage:
//
//	crossfaas <command> [flags] [arguments]
//
// Run `crossfaas help` for the list of commands and `crossfaas <command> -h`
// for a command's flags.
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
	"syscall"
	"text/tabwriter"
)

// A command is one subcommand of crossfaas.
type command struct {
	// summary is a one-line description for the usage text.
	summary string
	// run does the work. args are the arguments after the command's name.
	// A *usageError or errFlags makes crossfaas exit with status 2, any
	// other error with status 1.
	run func(ctx context.Context, args []string) error
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

// errFlags reports that a command's flags did not parse; the flag package
// has already explained why.
var errFlags = errors.New("bad flags")

// A usageError reports a command invoked wrongly: crossfaas prints it with a
// hint at the command's help and exits with status 2.
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
	case "help", "-h", "-help", "--help":
		usage(stdout)
		return 0
	}
	c, ok := commands[name]
	if !ok {
		fmt.Fprintf(stderr, "crossfaas: unknown command %q\n\n", name)
		usage(stderr)
		return 2
	}
	err := c.run(ctx, args[1:])
	var usageErr *usageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errFlags):
		return 2
	case errors.As(err, &usageErr):
		fmt.Fprintf(stderr, "crossfaas %s: %v\nRun 'crossfaas %s -h' for usage.\n", name, err, name)
		return 2
	}
	fmt.Fprintf(stderr, "crossfaas %s: %v\n", name, err)
	return 1
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
	fmt.Fprintf(w, "\nRun 'crossfaas <command> -h' for a command's flags.\n")
}

// newFlagSet returns a flag set for a subcommand that reports errors
// instead of exiting, with a usage line naming the command.
func newFlagSet(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: crossfaas %s %s\n\n%s\n\nFlags:\n", name, synopsis, commands[name].summary)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args into fs. It returns flag.ErrHelp for -h and
// errFlags for any other error, which fs has already printed.
func parseFlags(fs *flag.FlagSet, args []string) error {
	err := fs.Parse(args)
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		return fmt.Errorf("%w: %v", errFlags, err)
	}
	return err
}
