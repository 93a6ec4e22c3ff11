package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

// Exit codes.
const (
	exitOK      = 0 // success, or help was asked for
	exitFailure = 1 // the command ran and failed
	exitUsage   = 2 // bad command line or missing configuration
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// env is what a command may use from its surroundings. Commands read the
// environment only through getenv, so tests can drive them.
type env struct {
	getenv func(string) string
	stdout io.Writer
	stderr io.Writer
}

// errorf prints one "cedrina: ..." line to stderr; line breaks inside
// wrapped errors are flattened so log collectors keep it as one entry.
func (e *env) errorf(format string, args ...any) {
	msg := strings.ReplaceAll(fmt.Sprintf(format, args...), "\n", " ")
	fmt.Fprintln(e.stderr, "cedrina: "+msg)
}

// command is one top-level subcommand. To add one (cleanup, health, audit
// verify), write a run function and list it in commands.
type command struct {
	name    string
	summary string // one line for the top-level usage
	// run gets the arguments after the command name and returns the
	// process exit code.
	run func(ctx context.Context, e *env, args []string) int
}

// commands is set in init because the help command lists it.
var commands []command

func init() {
	commands = []command{
		{name: "migrate", summary: "apply, roll back or list schema migrations; adopt the original system's database", run: runMigrate},
		{name: "audit", summary: "verify the audit trail's hash chain, archive old events", run: runAudit},
		{name: "user", summary: "set an account's role (make the first administrator)", run: runUser},
		{name: "policy", summary: "list, add, remove, deactivate or activate authorization rules", run: runPolicy},
		{name: "legacy", summary: "count password hashes by format, check the original system's key", run: runLegacy},
		{name: "cleanup", summary: "delete ended, expired and idle sessions, spent or expired tokens, idle rate limit records and spent OAuth states", run: runCleanup},
		{name: "help", summary: "show help for a command", run: runHelp},
	}
}

func lookup(name string) (command, bool) {
	for _, c := range commands {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

// run is the whole program: args are the command-line arguments without
// the program name; the result is the exit code.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	e := &env{getenv: getenv, stdout: stdout, stderr: stderr}
	if len(args) == 0 {
		printUsage(stderr)
		return exitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help":
		printUsage(stdout)
		return exitOK
	}
	c, ok := lookup(args[0])
	if !ok {
		if strings.HasPrefix(args[0], "-") {
			e.errorf("unknown flag %s (run 'cedrina help')", args[0])
		} else {
			e.errorf("unknown command %q (run 'cedrina help')", args[0])
		}
		return exitUsage
	}
	return c.run(ctx, e, args[1:])
}

// parseArgs parses args with fs, allowing flags before, between and after
// the positional arguments, which it returns. It returns flag.ErrHelp for
// -h and -help.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return positional, nil
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

func printUsage(w io.Writer) {
	fmt.Fprint(w, `cedrina is the operator tool for a Cedrina deployment.

Usage:

	cedrina <command> [arguments]

Commands:

`)
	for _, c := range commands {
		fmt.Fprintf(w, "\t%-8s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, `
Run 'cedrina help <command>' for the details of a command.
`)
}

// runHelp prints the top-level usage, or a command's usage.
func runHelp(ctx context.Context, e *env, args []string) int {
	switch len(args) {
	case 0:
		printUsage(e.stdout)
		return exitOK
	case 1:
		c, ok := lookup(args[0])
		if !ok {
			e.errorf("help: unknown command %q", args[0])
			return exitUsage
		}
		if c.name == "help" {
			printUsage(e.stdout)
			return exitOK
		}
		return c.run(ctx, e, []string{"-h"})
	default:
		e.errorf("help: too many arguments")
		return exitUsage
	}
}
