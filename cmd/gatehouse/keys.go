package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/user"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"gatehouse"
	"gatehouse/keys"
	"gatehouse/server"
)

// keyTool is what key commands work with: the store named by the config and
// the key service over it. A running server sees the changes within a
// second through its index's polling.
type keyTool struct {
	svc   *keys.Service
	store gatehouse.Store
	// expiryWarning is the config's expiry_warning, for "expires soon".
	expiryWarning time.Duration
}

// openKeys opens the store of the config named by cfgPath (the --config
// flag, else GATEHOUSE_CONFIG).
func (a *app) openKeys(ctx context.Context, cfgPath string) (*keyTool, error) {
	cfg, store, err := a.openStore(ctx, cfgPath)
	if err != nil {
		return nil, err
	}
	svc, _, err := server.NewKeyService(ctx, cfg, store, nil)
	if err != nil {
		store.Close()
		return nil, err
	}
	return &keyTool{store: store, svc: svc, expiryWarning: time.Duration(cfg.ExpiryWarning)}, nil
}

func (t *keyTool) Close() { t.store.Close() }

// openKey opens the store and finds the key named by ref (ID or name).
func (a *app) openKey(ctx context.Context, cfgPath, ref string) (*keyTool, *gatehouse.APIKey, error) {
	t, err := a.openKeys(ctx, cfgPath)
	if err != nil {
		return nil, nil, err
	}
	k, err := t.svc.Resolve(ctx, ref)
	if err != nil {
		t.Close()
		return nil, nil, appError(err)
	}
	return t, k, nil
}

// cliCaller is the operator, an administrator whom the audit log names
// "cli:<user>".
func cliCaller() keys.Caller {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return keys.Admin("cli:" + u.Username)
	}
	return keys.Admin("cli")
}

// parseTime accepts RFC 3339 or a date (midnight UTC).
func parseTime(flagName, s string) (*time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return &t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return &t, nil
	}
	return nil, fmt.Errorf("%w: --%s %q is not a time like 2027-01-31T00:00:00Z or a date like 2027-01-31", errUsage, flagName, s)
}

func (a *app) newKeysCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "keys",
		Short: "Create, list, show, renew, roll, disable, enable, update, delete and reveal API keys",
		Long: `Manage the API keys in the store named by the config, with or without a
running server: a running server sees each change within a second.

NAME|ID is a key's name (case-insensitive) or its ID. Flags may stand before
or after it.`,
		Example: `  gatehouse keys create --config gatehouse.yaml --name "Integration A" --scope assets:read
  gatehouse keys list --config gatehouse.yaml
  gatehouse keys delete "Integration A" --config gatehouse.yaml`,
	}
	c.AddCommand(a.newKeysCreateCmd(), a.newKeysListCmd(), a.newKeysShowCmd(), a.newKeysRenewCmd(),
		a.newKeysRollCmd(), a.newKeysDisableCmd(true), a.newKeysDisableCmd(false), a.newKeysUpdateCmd(),
		a.newKeysDeleteCmd(), a.newKeysRevealCmd(), a.newKeysSigningKeyCmd())
	return c
}

func (a *app) newKeysCreateCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "create --name NAME",
		Short: "Create a key and print it",
		Long: `Create an API key and print it alone on standard output, so that
KEY=$(gatehouse keys create ...) works; what was created is on standard error.
Send the key as the X-API-Key header. "gatehouse keys reveal" shows it again.

A key without --scope gets *:read (every route, reads only), or *:write with
--write. A scope is <route scope>:read or :write, *:read or *:write for every
route, or api-keys:read or api-keys:write for the management API.`,
		Example: `  # A key that may read the assets and the data stream, valid until the end of January 2027
  gatehouse keys create --config gatehouse.yaml --name "Integration A" \
      --scope assets:read --scope data:read --valid-until 2027-01-31

  # Keep the key in a variable; print JSON with its ID instead
  KEY=$(gatehouse keys create --config gatehouse.yaml --name ci)
  gatehouse keys create --config gatehouse.yaml --name ci-2 --rate 10/s --json`,
		Args: noArgs,
	}
	var o createOptions
	o.config = configFlag(c)
	fs := c.Flags()
	fs.StringVar(&o.name, "name", "", "the key's `NAME`, unique (required)")
	fs.StringVar(&o.validUntil, "valid-until", "", "when the key expires: a `TIME` (RFC 3339) or a date; default never")
	fs.StringArrayVar(&o.scopes, "scope", nil, "a `SCOPE` the key holds, such as assets:read (repeatable); default *:read")
	fs.BoolVar(&o.write, "write", false, "without --scope, give the key *:write instead of *:read")
	fs.StringVar(&o.rate, "rate", "", "the key's rate `LIMIT`, such as 100/s; default the config's rate_limit")
	addIPFlags(c, &o.ips, &o.grace)
	fs.BoolVar(&o.json, "json", false, "print JSON (id, name, key, validUntil, scopes, ...) instead")
	c.RunE = func(c *cobra.Command, _ []string) error { return a.keysCreate(c.Context(), o) }
	return c
}

// createOptions are the flags of keys create.
type createOptions struct {
	config                 *string
	name, validUntil, rate string
	scopes, ips            []string
	grace                  time.Duration
	write, json            bool
}

func (a *app) keysCreate(ctx context.Context, o createOptions) error {
	cfgPath := *o.config
	if strings.TrimSpace(o.name) == "" {
		return fmt.Errorf("%w: keys create needs --name NAME", errUsage)
	}
	req := keys.CreateRequest{Name: o.name, Scopes: o.scopes, WriteAccess: o.write, AllowedIPs: o.ips, ReadOnlyGrace: o.grace}
	if o.validUntil != "" {
		t, err := parseTime("valid-until", o.validUntil)
		if err != nil {
			return err
		}
		req.ValidUntil = t
	}
	if o.rate != "" {
		rl, err := gatehouse.ParseRateLimit(o.rate)
		if err != nil {
			return fmt.Errorf("%w: --rate: %s", errUsage, gatehouse.ErrorMessage(err))
		}
		req.RateLimit = &rl
	}
	t, err := a.openKeys(ctx, cfgPath)
	if err != nil {
		return err
	}
	defer t.Close()
	k, secret, err := t.svc.Create(ctx, req, cliCaller())
	if err != nil {
		return appError(err)
	}
	if o.json {
		return a.printJSON(struct {
			keys.View
			Key string `json:"key"`
		}{keys.NewView(k, time.Now()), secret.Reveal()})
	}
	fmt.Fprintf(a.stderr, "Created key %q (%s), valid until %s, scopes %s.\n", k.Name, k.ID, timeText(k.ValidUntil), strings.Join(k.Scopes.Strings(), " "))
	fmt.Fprintln(a.stdout, secret.Reveal())
	fmt.Fprintf(a.stderr, "Send it as the X-API-Key header. `gatehouse keys reveal%s %s` shows it again.\n", configArg(cfgPath), k.ID)
	return nil
}

func (a *app) newKeysListCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "list",
		Short: "List the keys",
		Long: `List every key: name, ID, expiry, status (active, expires soon, EXPIRED,
in grace, DISABLED), scopes and last use. No plain key is printed.`,
		Example: `  gatehouse keys list --config gatehouse.yaml
  gatehouse keys list --config gatehouse.yaml --json | jq -r '.[] | select(.expired) | .name'`,
		Args: noArgs,
	}
	cfgPath := configFlag(c)
	asJSON := c.Flags().Bool("json", false, "print a JSON array of the management API's ApiKey objects")
	c.RunE = func(c *cobra.Command, _ []string) error { return a.keysList(c.Context(), *cfgPath, *asJSON) }
	return c
}

func (a *app) keysList(ctx context.Context, cfgPath string, asJSON bool) error {
	t, err := a.openKeys(ctx, cfgPath)
	if err != nil {
		return err
	}
	defer t.Close()
	now := time.Now()
	views := []keys.View{}
	var list []*gatehouse.APIKey
	for offset := 0; ; {
		page, total, err := t.svc.List(ctx, offset, 1000)
		if err != nil {
			return appError(err)
		}
		for _, k := range page {
			list = append(list, k)
			views = append(views, keys.NewView(k, now))
		}
		offset += len(page)
		if len(page) == 0 || offset >= total {
			break
		}
	}
	if asJSON {
		return a.printJSON(views)
	}
	if len(views) == 0 {
		fmt.Fprintf(a.stderr, "No keys yet. Create one with: gatehouse keys create%s --name NAME\n", configArg(cfgPath))
		return nil
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tID\tVALID UNTIL\tSTATUS\tSCOPES\tLAST USED")
	for i, v := range views {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", v.Name, v.ID, timeText(v.ValidUntil), status(list[i], now, t.expiryWarning), strings.Join(v.Scopes, ","), timeText(v.LastUsedAt))
	}
	return tw.Flush()
}

func (a *app) newKeysShowCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "show NAME|ID",
		Short: "Show a key's details and audit log",
		Long: `Show a key's details (scopes, expiry, rate limit, allowed addresses, read-only
grace, creation, last use, a running roll's overlap and the old secret's last
use, requests of the last 7 days) and its audit log. The plain key is never shown: see
"gatehouse keys reveal".`,
		Example: `  gatehouse keys show "Integration A" --config gatehouse.yaml
  gatehouse keys show --config gatehouse.yaml --json key_JjBJZ80tX792DBGnlxOT`,
		Args: oneRef,
	}
	cfgPath := configFlag(c)
	asJSON := c.Flags().Bool("json", false, "print the management API's ApiKey object, with requests")
	c.RunE = func(c *cobra.Command, args []string) error {
		return a.keysShow(c.Context(), *cfgPath, args[0], *asJSON)
	}
	return c
}

func (a *app) keysShow(ctx context.Context, cfgPath, ref string, asJSON bool) error {
	t, k, err := a.openKey(ctx, cfgPath, ref)
	if err != nil {
		return err
	}
	defer t.Close()
	now := time.Now()
	v := keys.NewView(k, now)
	d, err := t.svc.Details(ctx, k.ID)
	if err != nil {
		return appError(err)
	}
	if asJSON {
		return a.printJSON(struct {
			keys.View
			Requests int64 `json:"requests"`
		}{v, d.Requests})
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	rate := "default"
	if v.RateLimit != nil {
		rate = k.RateLimit.String()
	}
	grace := "none"
	if v.ReadOnlyGrace != nil {
		grace = *v.ReadOnlyGrace
	}
	for _, row := range [][2]string{
		{"Name", v.Name}, {"ID", v.ID}, {"Key", v.KeyHint},
		{"Valid until", timeText(v.ValidUntil)}, {"Status", status(k, now, t.expiryWarning)},
		{"Scopes", strings.Join(v.Scopes, " ")}, {"Rate limit", rate},
		{"Allowed addresses", addressesText(v.AllowedIPs)}, {"Read-only grace", grace},
		{"Created", v.CreatedAt.Format(time.RFC3339) + " by " + v.CreatedBy},
		{"Last used", timeText(v.LastUsedAt)},
		{"Requests (7 days)", fmt.Sprint(d.Requests)},
		{"Signing keys", strings.Join(v.SigningKeys, " ")},
	} {
		fmt.Fprintf(tw, "%s:\t%s\n", row[0], row[1])
	}
	if k.PreviousDigest != nil {
		fmt.Fprintf(tw, "Old secret until:\t%s\n", timeText(k.PreviousValidUntil))
		fmt.Fprintf(tw, "Old secret last used:\t%s\n", timeText(v.PreviousLastUsedAt))
	}
	tw.Flush()
	if len(d.Audit) > 0 {
		fmt.Fprintln(a.stdout, "\nAudit log:")
		for _, e := range d.Audit {
			fmt.Fprintf(a.stdout, "  %s  %-7s  %s\n", e.At.UTC().Format(time.RFC3339), e.Action, e.Actor)
		}
	}
	return nil
}

func (a *app) newKeysRenewCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "renew NAME|ID (--valid-until TIME | --no-expiry)",
		Short: "Give a key a new expiry (and rate limit)",
		Long: `Give a key a new expiry, or none: an expired key works again at once. The
key itself does not change.`,
		Example: `  gatehouse keys renew "Integration A" --valid-until 2028-01-31 --config gatehouse.yaml
  gatehouse keys renew "Integration A" --no-expiry --rate 50/s --config gatehouse.yaml`,
		Args: oneRef,
	}
	var o renewOptions
	o.config = configFlag(c)
	fs := c.Flags()
	fs.StringVar(&o.validUntil, "valid-until", "", "when the key expires: a `TIME` (RFC 3339) or a date")
	fs.BoolVar(&o.noExpiry, "no-expiry", false, "the key never expires")
	fs.StringVar(&o.rate, "rate", "", "the key's new rate `LIMIT`, such as 100/s")
	fs.BoolVar(&o.noRate, "no-rate", false, "remove the key's own rate limit (the config's rate_limit applies)")
	c.RunE = func(c *cobra.Command, args []string) error { return a.keysRenew(c.Context(), args[0], o) }
	return c
}

// renewOptions are the flags of keys renew.
type renewOptions struct {
	config           *string
	validUntil, rate string
	noExpiry, noRate bool
}

func (a *app) keysRenew(ctx context.Context, ref string, o renewOptions) error {
	if (o.validUntil == "") == !o.noExpiry {
		return fmt.Errorf("%w: keys renew needs exactly one of --valid-until TIME or --no-expiry", errUsage)
	}
	var until *time.Time
	if o.validUntil != "" {
		var err error
		if until, err = parseTime("valid-until", o.validUntil); err != nil {
			return err
		}
	}
	var rl *gatehouse.RateLimit
	switch {
	case o.rate != "" && o.noRate:
		return fmt.Errorf("%w: --rate and --no-rate exclude each other", errUsage)
	case o.rate != "":
		r, err := gatehouse.ParseRateLimit(o.rate)
		if err != nil {
			return fmt.Errorf("%w: --rate: %s", errUsage, gatehouse.ErrorMessage(err))
		}
		rl = &r
	case o.noRate:
		rl = &gatehouse.RateLimit{}
	}
	t, k, err := a.openKey(ctx, *o.config, ref)
	if err != nil {
		return err
	}
	defer t.Close()
	if k, err = t.svc.Renew(ctx, k.ID, until, rl, cliCaller()); err != nil {
		return appError(err)
	}
	fmt.Fprintf(a.stdout, "Renewed key %q (%s): valid until %s.\n", k.Name, k.ID, timeText(k.ValidUntil))
	return nil
}

func (a *app) newKeysDeleteCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "delete NAME|ID",
		Short: "Delete a key: requests with it are refused at once",
		Long: `Delete a key. Every gateway node refuses requests with it within a second, and
closes its long-lived connections (websockets, streams).

On a terminal it asks first; --yes skips the question. Without a terminal
(a script, a pipe) nobody can answer, so it deletes without asking, as the
contract's "gatehouse keys delete NAME|ID" always has; --yes says so
explicitly.`,
		Example: `  gatehouse keys delete "Integration A" --config gatehouse.yaml
  gatehouse keys delete --config gatehouse.yaml --yes key_JjBJZ80tX792DBGnlxOT`,
		Args: oneRef,
	}
	cfgPath := configFlag(c)
	yes := c.Flags().BoolP("yes", "y", false, "delete without asking (what happens anyway without a terminal)")
	c.RunE = func(c *cobra.Command, args []string) error { return a.keysDelete(c.Context(), *cfgPath, args[0], *yes) }
	return c
}

func (a *app) keysDelete(ctx context.Context, cfgPath, ref string, yes bool) error {
	ask := !yes && a.isTerminal != nil && a.isTerminal()
	t, k, err := a.openKey(ctx, cfgPath, ref)
	if err != nil {
		return err
	}
	defer t.Close()
	if ask {
		fmt.Fprintf(a.stderr, "Delete key %q (%s)? Requests with it are refused at once. [y/N] ", k.Name, k.ID)
		answer, _ := bufio.NewReader(a.stdin).ReadString('\n')
		if ans := strings.ToLower(strings.TrimSpace(answer)); ans != "y" && ans != "yes" {
			return fmt.Errorf("key %q was not deleted", k.Name)
		}
	}
	if err := t.svc.Delete(ctx, k.ID, cliCaller()); err != nil {
		return appError(err)
	}
	fmt.Fprintf(a.stdout, "Deleted key %q (%s). Requests with it are refused from now on.\n", k.Name, k.ID)
	return nil
}

func (a *app) newKeysRevealCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "reveal NAME|ID",
		Short: "Print a key again",
		Long: `Print a key's plain key alone on standard output, as "Copy key" in the
Settings UI does. Each reveal is written to the key's audit log.`,
		Example: `  gatehouse keys reveal "Integration A" --config gatehouse.yaml
  KEY=$(gatehouse keys reveal --config gatehouse.yaml key_JjBJZ80tX792DBGnlxOT)`,
		Args: oneRef,
	}
	cfgPath := configFlag(c)
	c.RunE = func(c *cobra.Command, args []string) error { return a.keysReveal(c.Context(), *cfgPath, args[0]) }
	return c
}

func (a *app) keysReveal(ctx context.Context, cfgPath, ref string) error {
	t, k, err := a.openKey(ctx, cfgPath, ref)
	if err != nil {
		return err
	}
	defer t.Close()
	secret, err := t.svc.Reveal(ctx, k.ID, cliCaller())
	if err != nil {
		return appError(err)
	}
	fmt.Fprintln(a.stdout, secret.Reveal())
	return nil
}

func (a *app) printJSON(v any) error {
	enc := json.NewEncoder(a.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// appError turns an application error into its message for the CLI.
func appError(err error) error {
	var e *gatehouse.Error
	if errors.As(err, &e) {
		return errors.New(e.Message)
	}
	return err
}

func timeText(t *time.Time) string {
	if t == nil {
		return "never"
	}
	return t.UTC().Format(time.RFC3339)
}

func status(k *gatehouse.APIKey, now time.Time, window time.Duration) string {
	switch {
	case k.Disabled:
		return "DISABLED"
	case k.InGrace(now):
		return "EXPIRED (read-only grace)"
	case k.Expired(now):
		return "EXPIRED"
	case k.ExpiresWithin(now, window):
		return "expires soon"
	}
	return "active"
}
