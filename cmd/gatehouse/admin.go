package main

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"gatehouse"
	"gatehouse/config"
	"gatehouse/password"
	"gatehouse/server"
)

func (a *app) newAdminCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "admin",
		Short: "Manage the administrators who log in to the Settings UI",
		Long: `Manage the local administrators who log in to the Settings UI (on
admin_listen, /login). Their passwords are stored as argon2id hashes.`,
		Example: `  echo "$ADMIN_PASSWORD" | gatehouse admin create-user --config gatehouse.yaml --username admin --password-stdin
  gatehouse admin list-users --config gatehouse.yaml`,
	}
	c.AddCommand(a.newAdminCreateUserCmd(), a.newAdminListUsersCmd(), a.newAdminDeleteUserCmd())
	return c
}

func (a *app) newAdminCreateUserCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "create-user --username NAME --password-stdin",
		Short: "Add an administrator, or give one a new password",
		Long: `Add an administrator who can log in to the Settings UI, with the password
read from the first line of standard input (12 to 1024 characters), so that
it is never in the shell's history or the process list.

On an existing name it sets a new password and ends that administrator's open
sessions on every node.`,
		Example: `  # Type the password, then Enter
  gatehouse admin create-user --config gatehouse.yaml --username admin --password-stdin

  # In a script
  printf '%s\n' "$ADMIN_PASSWORD" | gatehouse admin create-user --config gatehouse.yaml --username admin --password-stdin`,
		Args: noArgs,
	}
	cfgPath := configFlag(c)
	username := c.Flags().String("username", "", "the administrator's `NAME` (1-64 characters, no spaces)")
	fromStdin := c.Flags().Bool("password-stdin", false, "read the password from the first line of standard input (required)")
	c.RunE = func(c *cobra.Command, _ []string) error {
		return a.adminCreateUser(c.Context(), *cfgPath, *username, *fromStdin)
	}
	return c
}

func (a *app) adminCreateUser(ctx context.Context, cfgPath, username string, fromStdin bool) error {
	name := strings.TrimSpace(username)
	if name == "" || len(name) > 64 || strings.ContainsAny(name, " \t\r\n") {
		return fmt.Errorf("%w: admin create-user needs --username NAME (1-64 characters, no spaces)", errUsage)
	}
	if !fromStdin {
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
	_, store, err := a.openStore(ctx, cfgPath)
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

// openStore loads the config named by cfgPath (the --config flag, else
// GATEHOUSE_CONFIG) and the GATEHOUSE_* variables, and opens the store it
// names.
func (a *app) openStore(ctx context.Context, cfgPath string) (*config.Config, gatehouse.Store, error) {
	cfg, err := config.Load(a.configPath(cfgPath), a.getenv)
	if err != nil {
		return nil, nil, err
	}
	store, err := server.OpenStore(ctx, cfg, a.logger("text", slog.LevelWarn))
	return cfg, store, err
}

func (a *app) newAdminListUsersCmd() *cobra.Command {
	c := &cobra.Command{
		Use:     "list-users",
		Short:   "List the administrators",
		Long:    `List the administrators and when each was created (or last given a password).`,
		Example: `  gatehouse admin list-users --config gatehouse.yaml --json`,
		Args:    noArgs,
	}
	cfgPath := configFlag(c)
	asJSON := c.Flags().Bool("json", false, "print a JSON array of {username, createdAt}")
	c.RunE = func(c *cobra.Command, _ []string) error { return a.adminListUsers(c.Context(), *cfgPath, *asJSON) }
	return c
}

func (a *app) adminListUsers(ctx context.Context, cfgPath string, asJSON bool) error {
	_, store, err := a.openStore(ctx, cfgPath)
	if err != nil {
		return err
	}
	defer store.Close()
	users, err := store.FindUsers(ctx)
	if err != nil {
		return appError(err)
	}
	if asJSON {
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
		fmt.Fprintf(a.stdout, "No admin users. Create one with: gatehouse admin create-user%s --username NAME --password-stdin\n", configArg(cfgPath))
		return nil
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "USERNAME\tCREATED")
	for _, u := range users {
		fmt.Fprintf(tw, "%s\t%s\n", u.Username, u.CreatedAt.Format(time.RFC3339))
	}
	return tw.Flush()
}

func (a *app) newAdminDeleteUserCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "delete-user --username NAME",
		Short: "Remove an administrator and end their sessions",
		Long: `Remove an administrator. Their Settings sessions end at once on every node.
Deleting the last one leaves nobody who can log in until one is created again.`,
		Example: `  gatehouse admin delete-user --config gatehouse.yaml --username ops`,
		Args:    noArgs,
	}
	cfgPath := configFlag(c)
	username := c.Flags().String("username", "", "the administrator's `NAME`")
	c.RunE = func(c *cobra.Command, _ []string) error { return a.adminDeleteUser(c.Context(), *cfgPath, *username) }
	return c
}

func (a *app) adminDeleteUser(ctx context.Context, cfgPath, username string) error {
	name := strings.TrimSpace(username)
	if name == "" {
		return fmt.Errorf("%w: admin delete-user needs --username NAME", errUsage)
	}
	_, store, err := a.openStore(ctx, cfgPath)
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
