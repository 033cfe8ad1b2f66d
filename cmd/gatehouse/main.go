// Command gatehouse is the Gatehouse API gateway: `gatehouse serve` runs it;
// `gatehouse keys`, `gatehouse admin` and `gatehouse config` manage it, with
// or without a running server.
//
// The command line is built with cobra (help, examples, shell completion and
// "did you mean" suggestions for every command and group). Exit status: 0 on
// success, 1 with a one-line message on stderr on failure, 2 for a usage
// error (a one-line message and a hint to --help).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// app holds what commands read and write, so that tests can run them in
// process with their own streams.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
	// isTerminal reports whether stdin is a terminal: `keys delete` then
	// asks before it deletes. Nil means it is not.
	isTerminal func() bool

	// errLog, once serve knows the log format, writes the command's
	// failure as a log record: with --log-format json every line on
	// stderr is JSON. Nil: the plain one-line message.
	errLog *slog.Logger

	// signals is what the process's signals do; main sets it, and serve
	// tells it how to end a drain and where to log.
	signals *signals

	// started is set when a command's own code starts to run: an error
	// before that (a flag, an argument, an unknown command) is cobra's,
	// and a usage error.
	started bool
}

func main() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sig := &signals{stop: cancel}
	ch := make(chan os.Signal, 4)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	go sig.handle(ch)
	a := &app{
		stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv,
		isTerminal: func() bool { return term.IsTerminal(int(os.Stdin.Fd())) },
		signals:    sig,
	}
	os.Exit(a.run(ctx, os.Args[1:]))
}

// errUsage marks an error caused by the command line; it exits with 2.
var errUsage = errors.New("usage")

// errHelpShown is a usage error whose explanation, the help, is already
// on stderr.
var errHelpShown = errors.New("help shown")

// run runs one command line and returns the exit status.
func (a *app) run(ctx context.Context, args []string) int {
	root := a.newRootCmd(args)
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errHelpShown):
		return 2
	case errors.Is(err, errUsage) || !a.started:
		msg := strings.TrimPrefix(oneLine(err), errUsage.Error()+": ")
		fmt.Fprintf(a.stderr, "gatehouse: %s\nRun '%s --help' for usage.\n", msg, cmd.CommandPath())
		return 2
	}
	if a.errLog != nil {
		a.errLog.Error(oneLine(err))
		return 1
	}
	fmt.Fprintf(a.stderr, "gatehouse: %s\n", oneLine(err))
	return 1
}

const rootLong = `Gatehouse is the API-key gateway of the building platform: it checks the key in
X-API-Key on every call, strips it and forwards the call to the service behind.

"gatehouse serve" runs the gateway; the other commands manage its keys, its
administrators and its config, with or without a running server (a running
server sees their changes within a second).

Every command takes --config FILE; without it, the file named by
GATEHOUSE_CONFIG; without either, the built-in defaults (a SQLite store under
./gatehouse-data). Every config key can also be set by a GATEHOUSE_* variable,
which wins over the file.

Exit status: 0 on success, 1 on failure, 2 for a usage error.`

const rootExample = `  # Try it: the gateway with a sample building API behind it
  gatehouse serve --demo

  # Create a key that may read the assets, and list the keys
  gatehouse keys create --config gatehouse.yaml --name "Integration A" --scope assets:read
  gatehouse keys list --config gatehouse.yaml

  # Or name the config once
  export GATEHOUSE_CONFIG=$PWD/gatehouse.yaml
  gatehouse keys list`

// newRootCmd builds the command tree for one run.
func (a *app) newRootCmd(args []string) *cobra.Command {
	a.started = false
	root := &cobra.Command{
		Use:     "gatehouse",
		Short:   "Gatehouse, the API-key gateway",
		Long:    rootLong,
		Example: rootExample,
		Version: readBuildVersion().String(),
		// Errors are printed by run, on one line; usage only on request.
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	// Alone, the root shows its help (on stderr: it was not asked for);
	// with flags only, it says it needs a command, as groups do.
	root.RunE = func(c *cobra.Command, _ []string) error {
		if len(args) > 0 {
			return needsCommand(c)
		}
		c.SetOut(a.stderr)
		c.Help()
		return errHelpShown
	}
	root.Flags().BoolP("version", "v", false, "print the version and commit")
	root.SetIn(a.stdin)
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	root.SetVersionTemplate("{{.Name}} {{.Version}}\n")
	root.SetUsageTemplate(usageTemplate)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return fmt.Errorf("%w: %s%v", errUsage, commandPrefix(c), err)
	})
	root.AddCommand(a.newServeCmd(), a.newKeysCmd(), a.newAdminCmd(), a.newWebhooksCmd(), a.newConfigCmd(), a.newVersionCmd())
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	if c, _, err := root.Find([]string{"completion"}); err == nil && c != root {
		c.Example = completionExample
	}
	walk(root, func(c *cobra.Command) {
		if c.HasSubCommands() {
			asGroup(c)
			return
		}
		if run := c.RunE; run != nil {
			c.RunE = func(c *cobra.Command, args []string) error {
				a.started = true
				return run(c, args)
			}
		}
	})
	return root
}

const completionExample = `  # bash: in this shell, and in every new one
  source <(gatehouse completion bash)
  echo 'source <(gatehouse completion bash)' >> ~/.bashrc

  # zsh (with compinit enabled)
  gatehouse completion zsh > "${fpath[1]}/_gatehouse"

  # fish
  gatehouse completion fish > ~/.config/fish/completions/gatehouse.fish`

// walk calls fn on c and every command below it.
func walk(c *cobra.Command, fn func(*cobra.Command)) {
	fn(c)
	for _, sub := range c.Commands() {
		walk(sub, fn)
	}
}

// asGroup makes c, a command that holds subcommands, refuse an unknown
// subcommand with a suggestion, and its use alone with the list of its
// subcommands: cobra does that only for the root, and shows a group's help
// with status 0 instead. A group has no flags but --help: it ignores the
// others, which belong to the subcommand, so that "keys lsit --config F"
// is answered about "lsit" and not about --config.
func asGroup(c *cobra.Command) {
	c.SuggestionsMinimumDistance = 2
	c.Args = unknownCommand
	c.FParseErrWhitelist.UnknownFlags = true
	if c.ValidArgsFunction == nil {
		c.ValidArgsFunction = cobra.NoFileCompletions
	}
	if c.RunE == nil && c.Run == nil {
		c.RunE = func(c *cobra.Command, _ []string) error { return needsCommand(c) }
	}
}

// needsCommand is the usage error of a group used without a subcommand.
func needsCommand(c *cobra.Command) error {
	var names []string
	for _, sub := range c.Commands() {
		if sub.IsAvailableCommand() {
			names = append(names, sub.Name())
		}
	}
	what := strings.TrimSuffix(commandPrefix(c), ": ")
	if what == "" {
		what = c.Name()
	}
	return fmt.Errorf("%w: %s needs a command: %s", errUsage, what, orList(names))
}

// unknownCommand refuses an argument of a group, which can only be a
// subcommand that does not exist, and suggests the ones it resembles.
func unknownCommand(c *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	msg := fmt.Sprintf("unknown command %q for %q", args[0], c.CommandPath())
	if s := c.SuggestionsFor(args[0]); len(s) > 0 {
		for i := range s {
			s[i] = fmt.Sprintf("%q", s[i])
		}
		msg += "; did you mean " + orList(s) + "?"
	}
	return fmt.Errorf("%w: %s", errUsage, msg)
}

// orList joins words as "a, b or c".
func orList(words []string) string {
	if len(words) < 2 {
		return strings.Join(words, "")
	}
	return strings.Join(words[:len(words)-1], ", ") + " or " + words[len(words)-1]
}

// commandPrefix is "keys create: " for a subcommand, "" for the root, to
// begin a message about it.
func commandPrefix(c *cobra.Command) string {
	if !c.HasParent() {
		return ""
	}
	return strings.TrimPrefix(c.CommandPath(), c.Root().Name()+" ") + ": "
}

// usageTemplate is cobra's, except that a group's usage shows only
// "gatehouse keys [command]": groups run (to refuse what they cannot do)
// but take no flags or arguments of their own.
const usageTemplate = `Usage:{{if and .Runnable (not .HasAvailableSubCommands)}}
  {{.UseLine}}{{end}}{{if .HasAvailableSubCommands}}
  {{.CommandPath}} [command]{{end}}{{if gt (len .Aliases) 0}}

Aliases:
  {{.NameAndAliases}}{{end}}{{if .HasExample}}

Examples:
{{.Example}}{{end}}{{if .HasAvailableSubCommands}}

Available Commands:{{range .Commands}}{{if (or .IsAvailableCommand (eq .Name "help"))}}
  {{rpad .Name .NamePadding }} {{.Short}}{{end}}{{end}}{{end}}{{if .HasAvailableLocalFlags}}

Flags:
{{.LocalFlags.FlagUsages | trimTrailingWhitespaces}}{{end}}{{if .HasAvailableInheritedFlags}}

Global Flags:
{{.InheritedFlags.FlagUsages | trimTrailingWhitespaces}}{{end}}{{if .HasAvailableSubCommands}}

Use "{{.CommandPath}} [command] --help" for more information about a command.{{end}}
`
