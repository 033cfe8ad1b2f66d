// Command gatehouse is the Gatehouse API gateway: `gatehouse serve` runs it;
// `gatehouse keys`, `gatehouse admin` and `gatehouse config` manage it, with
// or without a running server.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `Usage: gatehouse <command> [flags]

Commands:
  serve [--config FILE] [--demo] [--log-format text|json]
                            run the gateway
  keys create --name NAME [--valid-until TIME] [--scope S]... [--write] [--rate 100/s] [--json]
  keys list [--json]
  keys show NAME|ID [--json]
  keys renew NAME|ID (--valid-until TIME | --no-expiry) [--rate 100/s | --no-rate]
  keys delete NAME|ID
  keys reveal NAME|ID
  admin create-user --username NAME --password-stdin
                            add an admin, or give one a new password
  admin list-users [--json]
  admin delete-user --username NAME
  config check [--config FILE]

Every command takes --config FILE; every config key can also be set by a
GATEHOUSE_* environment variable (see the README).
`

// app holds what commands read and write, so that tests can run them in
// process with their own streams.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	a := &app{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv}
	os.Exit(a.run(ctx, os.Args[1:]))
}

// errUsage marks an error caused by the command line; it exits with 2.
var errUsage = errors.New("usage")

// run runs one command and returns the exit status.
func (a *app) run(ctx context.Context, args []string) int {
	err := a.dispatch(ctx, args)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprintf(a.stderr, "gatehouse: %v\n", err)
		return 2
	}
	fmt.Fprintf(a.stderr, "gatehouse: %s\n", oneLine(err))
	return 1
}

func (a *app) dispatch(ctx context.Context, args []string) error {
	if len(args) == 0 {
		fmt.Fprint(a.stderr, usage)
		return fmt.Errorf("%w: no command given", errUsage)
	}
	cmd, rest := args[0], args[1:]
	sub := ""
	if len(rest) > 0 {
		sub = rest[0]
	}
	switch cmd {
	case "serve":
		return a.serve(ctx, rest)
	case "keys":
		if len(rest) == 0 {
			return fmt.Errorf("%w: keys needs a subcommand: create, list, show, renew, delete or reveal", errUsage)
		}
		switch sub {
		case "create":
			return a.keysCreate(ctx, rest[1:])
		case "list":
			return a.keysList(ctx, rest[1:])
		case "show":
			return a.keysShow(ctx, rest[1:])
		case "renew":
			return a.keysRenew(ctx, rest[1:])
		case "delete":
			return a.keysDelete(ctx, rest[1:])
		case "reveal":
			return a.keysReveal(ctx, rest[1:])
		}
		return fmt.Errorf("%w: unknown keys subcommand %q", errUsage, sub)
	case "admin":
		switch sub {
		case "create-user":
			return a.adminCreateUser(ctx, rest[1:])
		case "list-users":
			return a.adminListUsers(ctx, rest[1:])
		case "delete-user":
			return a.adminDeleteUser(ctx, rest[1:])
		}
		return fmt.Errorf("%w: admin needs a subcommand: create-user, list-users or delete-user", errUsage)
	case "config":
		if sub == "check" {
			return a.configCheck(rest[1:])
		}
		return fmt.Errorf("%w: config needs the subcommand check", errUsage)
	case "help", "-h", "--help":
		fmt.Fprint(a.stdout, usage)
		return nil
	}
	fmt.Fprint(a.stderr, usage)
	return fmt.Errorf("%w: unknown command %q", errUsage, cmd)
}
