package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

// configFlag adds --config, which every command takes, to c.
func configFlag(c *cobra.Command) *string {
	return c.Flags().String("config", "", "read the config from `FILE` (YAML); default: the built-in defaults")
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
