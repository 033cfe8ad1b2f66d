package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"gatehouse/config"
)

func (a *app) newConfigCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "config",
		Short: "Check a config",
		Long: `Check a config file, with the GATEHOUSE_* variables applied, as "gatehouse
serve" would at start, without starting.`,
		Example: `  gatehouse config check --config gatehouse.yaml`,
	}
	c.AddCommand(a.newConfigCheckCmd())
	return c
}

func (a *app) newConfigCheckCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "check",
		Short: "Check a config without starting",
		Long: `Read the config as "gatehouse serve" does (the defaults, then the file, then the
GATEHOUSE_* variables) and check every key. An invalid config is refused with
a message that names the key and the problem, and exit status 1.`,
		Example: `  gatehouse config check --config gatehouse.yaml
  GATEHOUSE_LISTEN=0.0.0.0:8080 gatehouse config check --config gatehouse.yaml`,
		Args: noArgs,
	}
	cfgPath := configFlag(c)
	c.RunE = func(*cobra.Command, []string) error { return a.configCheck(*cfgPath) }
	return c
}

func (a *app) configCheck(cfgPath string) error {
	path := a.configPath(cfgPath)
	cfg, err := config.Load(path, a.getenv)
	if err != nil {
		return err
	}
	src := "the defaults and the environment"
	if path != "" {
		src = path
	}
	fmt.Fprintf(a.stdout, "Config OK (%s): listen %s, %d route(s), storage %s.\n", src, cfg.Listen, len(cfg.Routes), storageKind(cfg.Storage))
	return nil
}
