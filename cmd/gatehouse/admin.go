package main

import (
	"bufio"
	"context"
	"fmt"
	"strings"
	"time"

	"gatehouse"
	"gatehouse/config"
	"gatehouse/password"
	"gatehouse/server"
)

func (a *app) adminCreateUser(ctx context.Context, args []string) error {
	fs, cfgPath := newFlags("admin create-user")
	username := fs.String("username", "", "the admin's `NAME`")
	fromStdin := fs.Bool("password-stdin", false, "read the password from the first line of standard input")
	if err := noArgs(fs, args); err != nil {
		return err
	}
	name := strings.TrimSpace(*username)
	if name == "" || len(name) > 64 || strings.ContainsAny(name, " \t\r\n") {
		return fmt.Errorf("%w: admin create-user needs --username NAME (1-64 characters, no spaces)", errUsage)
	}
	if !*fromStdin {
		return fmt.Errorf("%w: admin create-user reads the password from standard input: pass --password-stdin", errUsage)
	}
	line, err := bufio.NewReader(a.stdin).ReadString('\n')
	if err != nil && line == "" {
		return fmt.Errorf("read password from standard input: nothing was given")
	}
	pw := strings.TrimRight(line, "\r\n")
	if len(pw) < 12 {
		return fmt.Errorf("the password must be at least 12 characters long")
	}
	if len(pw) > 1024 {
		return fmt.Errorf("the password must be at most 1024 characters long")
	}
	hash, err := password.Hash(pw)
	if err != nil {
		return err
	}
	cfg, err := config.Load(*cfgPath, a.getenv)
	if err != nil {
		return err
	}
	store, err := server.OpenStore(ctx, cfg.Storage)
	if err != nil {
		return err
	}
	defer store.Close()
	if err := store.CreateUser(ctx, &gatehouse.User{Username: name, PasswordHash: hash, CreatedAt: time.Now().UTC()}); err != nil {
		return appError(err)
	}
	fmt.Fprintf(a.stdout, "Admin user %q can now log in at /login (sessions opened before this are ended).\n", name)
	return nil
}
