package main

import (
	"bufio"
	"context"
	"fmt"
	"strings"
	"text/tabwriter"
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
	_, store, err := a.openStore(ctx, *cfgPath)
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

// openStore loads the config at cfgPath (and the GATEHOUSE_* variables)
// and opens the store it names.
func (a *app) openStore(ctx context.Context, cfgPath string) (*config.Config, gatehouse.Store, error) {
	cfg, err := config.Load(cfgPath, a.getenv)
	if err != nil {
		return nil, nil, err
	}
	store, err := server.OpenStore(ctx, cfg, a.logger("text"))
	return cfg, store, err
}

func (a *app) adminListUsers(ctx context.Context, args []string) error {
	fs, cfgPath := newFlags("admin list-users")
	asJSON := fs.Bool("json", false, "print a JSON array")
	if err := noArgs(fs, args); err != nil {
		return err
	}
	_, store, err := a.openStore(ctx, *cfgPath)
	if err != nil {
		return err
	}
	defer store.Close()
	users, err := store.FindUsers(ctx)
	if err != nil {
		return appError(err)
	}
	if *asJSON {
		type userJSON struct {
			Username  string    `json:"username"`
			CreatedAt time.Time `json:"createdAt"`
		}
		out := make([]userJSON, len(users))
		for i, u := range users {
			out[i] = userJSON{u.Username, u.CreatedAt}
		}
		return a.printJSON(out)
	}
	if len(users) == 0 {
		fmt.Fprintln(a.stdout, "No admin users. Create one with: gatehouse admin create-user --username NAME --password-stdin")
		return nil
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "USERNAME\tCREATED")
	for _, u := range users {
		fmt.Fprintf(tw, "%s\t%s\n", u.Username, u.CreatedAt.Format(time.RFC3339))
	}
	return tw.Flush()
}

func (a *app) adminDeleteUser(ctx context.Context, args []string) error {
	fs, cfgPath := newFlags("admin delete-user")
	username := fs.String("username", "", "the admin's `NAME`")
	if err := noArgs(fs, args); err != nil {
		return err
	}
	name := strings.TrimSpace(*username)
	if name == "" {
		return fmt.Errorf("%w: admin delete-user needs --username NAME", errUsage)
	}
	_, store, err := a.openStore(ctx, *cfgPath)
	if err != nil {
		return err
	}
	defer store.Close()
	if err := store.DeleteUser(ctx, name); err != nil {
		return appError(err)
	}
	fmt.Fprintf(a.stdout, "Deleted admin user %q: their Settings sessions have ended.\n", name)
	if n, err := store.CountUsers(ctx); err == nil && n == 0 {
		fmt.Fprintln(a.stdout, "No admin user is left: nobody can log in to Settings until one is created again.")
	}
	return nil
}
