package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

// configEnv names the config file when --config is not given, as
// KUBECONFIG does for kubectl.
const configEnv = "GATEHOUSE_CONFIG"

// configFlag adds --config, which every command takes, to c.
func configFlag(c *cobra.Command) *string {
	return c.Flags().String("config", "", "read the config from `FILE` (YAML); default $"+configEnv+", else the built-in defaults")
}

// configPath is the config file to read: --config, else GATEHOUSE_CONFIG,
// else none (the defaults and the GATEHOUSE_* variables).
func (a *app) configPath(flag string) string {
	if flag != "" {
		return flag
	}
	return a.getenv(configEnv)
}

// configArg is what a hint printed for the operator must repeat so that
// the command it shows works on the same config: " --config FILE" when
// the file was named by the flag; nothing when it came from
// GATEHOUSE_CONFIG, which the operator's shell still holds.
func configArg(flag string) string {
	if flag == "" {
		return ""
	}
	return " --config " + shellQuote(flag)
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=@%+,") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// noArgs refuses positional arguments.
func noArgs(c *cobra.Command, args []string) error {
	if len(args) > 0 {
		return fmt.Errorf("%w: %stakes no argument (got %q)", errUsage, commandPrefix(c), args[0])
	}
	return nil
}

// oneRef wants exactly one positional argument, NAME|ID; flags may stand
// before or after it.
func oneRef(c *cobra.Command, args []string) error {
	if len(args) != 1 {
		return fmt.Errorf("%w: %sneeds one NAME or ID (got %d arguments)", errUsage, commandPrefix(c), len(args))
	}
	return nil
}

// oneLine keeps an error message to one line for stderr.
func oneLine(err error) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(err.Error(), "\n", "; ")), " ")
}
