package main

import (
	"fmt"

	"gatehouse/config"
)

func (a *app) configCheck(args []string) error {
	fs, cfgPath := newFlags("config check")
	if err := noArgs(fs, args); err != nil {
		return err
	}
	cfg, err := config.Load(*cfgPath, a.getenv)
	if err != nil {
		return err
	}
	src := "the defaults and the environment"
	if *cfgPath != "" {
		src = *cfgPath
	}
	fmt.Fprintf(a.stdout, "Config OK (%s): listen %s, %d route(s), storage %s.\n", src, cfg.Listen, len(cfg.Routes), storageKind(cfg.Storage))
	return nil
}
