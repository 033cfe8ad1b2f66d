package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/user"
	"strings"
	"text/tabwriter"
	"time"

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

func (a *app) keysCreate(ctx context.Context, args []string) error {
	fs, cfgPath := newFlags("keys create")
	name := fs.String("name", "", "unique key `NAME`")
	validUntil := fs.String("valid-until", "", "expiry `TIME` (RFC 3339) or date; none when unset")
	var scopes stringList
	fs.Var(&scopes, "scope", "`SCOPE` such as assets:read (repeatable); default *:read")
	write := fs.Bool("write", false, "default scope *:write instead of *:read")
	rate := fs.String("rate", "", "rate limit such as 100/s; the config's default when unset")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := noArgs(fs, args); err != nil {
		return err
	}
	if strings.TrimSpace(*name) == "" {
		return fmt.Errorf("%w: keys create needs --name NAME", errUsage)
	}
	req := keys.CreateRequest{Name: *name, Scopes: scopes, WriteAccess: *write}
	if *validUntil != "" {
		t, err := parseTime("valid-until", *validUntil)
		if err != nil {
			return err
		}
		req.ValidUntil = t
	}
	if *rate != "" {
		rl, err := gatehouse.ParseRateLimit(*rate)
		if err != nil {
			return fmt.Errorf("%w: --rate: %s", errUsage, gatehouse.ErrorMessage(err))
		}
		req.RateLimit = &rl
	}
	t, err := a.openKeys(ctx, *cfgPath)
	if err != nil {
		return err
	}
	defer t.Close()
	k, secret, err := t.svc.Create(ctx, req, cliCaller())
	if err != nil {
		return appError(err)
	}
	if *asJSON {
		return a.printJSON(struct {
			keys.View
			Key string `json:"key"`
		}{keys.NewView(k, time.Now()), secret.Reveal()})
	}
	fmt.Fprintf(a.stderr, "Created key %q (%s), valid until %s, scopes %s.\n", k.Name, k.ID, timeText(k.ValidUntil), strings.Join(k.Scopes.Strings(), " "))
	fmt.Fprintln(a.stdout, secret.Reveal())
	fmt.Fprintf(a.stderr, "Send it as the X-API-Key header. `gatehouse keys reveal %s` shows it again.\n", k.ID)
	return nil
}

func (a *app) keysList(ctx context.Context, args []string) error {
	fs, cfgPath := newFlags("keys list")
	asJSON := fs.Bool("json", false, "print a JSON array")
	if err := noArgs(fs, args); err != nil {
		return err
	}
	t, err := a.openKeys(ctx, *cfgPath)
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
	if *asJSON {
		return a.printJSON(views)
	}
	if len(views) == 0 {
		fmt.Fprintln(a.stderr, "No keys yet. Create one with: gatehouse keys create --name NAME")
		return nil
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tID\tVALID UNTIL\tSTATUS\tSCOPES\tLAST USED")
	for i, v := range views {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", v.Name, v.ID, timeText(v.ValidUntil), status(list[i], now, t.expiryWarning), strings.Join(v.Scopes, ","), timeText(v.LastUsedAt))
	}
	return tw.Flush()
}

func (a *app) keysShow(ctx context.Context, args []string) error {
	fs, cfgPath := newFlags("keys show")
	asJSON := fs.Bool("json", false, "print JSON")
	ref, err := oneArg(fs, args)
	if err != nil {
		return err
	}
	t, k, err := a.openKey(ctx, *cfgPath, ref)
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
	if *asJSON {
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
	for _, row := range [][2]string{
		{"Name", v.Name}, {"ID", v.ID}, {"Key", v.KeyHint},
		{"Valid until", timeText(v.ValidUntil)}, {"Status", status(k, now, t.expiryWarning)},
		{"Scopes", strings.Join(v.Scopes, " ")}, {"Rate limit", rate},
		{"Created", v.CreatedAt.Format(time.RFC3339) + " by " + v.CreatedBy},
		{"Last used", timeText(v.LastUsedAt)},
		{"Requests (7 days)", fmt.Sprint(d.Requests)},
	} {
		fmt.Fprintf(tw, "%s:\t%s\n", row[0], row[1])
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

func (a *app) keysRenew(ctx context.Context, args []string) error {
	fs, cfgPath := newFlags("keys renew")
	validUntil := fs.String("valid-until", "", "new expiry `TIME` (RFC 3339) or date")
	noExpiry := fs.Bool("no-expiry", false, "the key never expires")
	rate := fs.String("rate", "", "new rate limit such as 100/s")
	noRate := fs.Bool("no-rate", false, "remove the key's own rate limit")
	ref, err := oneArg(fs, args)
	if err != nil {
		return err
	}
	if (*validUntil == "") == !*noExpiry {
		return fmt.Errorf("%w: keys renew needs exactly one of --valid-until TIME or --no-expiry", errUsage)
	}
	var until *time.Time
	if *validUntil != "" {
		if until, err = parseTime("valid-until", *validUntil); err != nil {
			return err
		}
	}
	var rl *gatehouse.RateLimit
	switch {
	case *rate != "" && *noRate:
		return fmt.Errorf("%w: --rate and --no-rate exclude each other", errUsage)
	case *rate != "":
		r, err := gatehouse.ParseRateLimit(*rate)
		if err != nil {
			return fmt.Errorf("%w: --rate: %s", errUsage, gatehouse.ErrorMessage(err))
		}
		rl = &r
	case *noRate:
		rl = &gatehouse.RateLimit{}
	}
	t, k, err := a.openKey(ctx, *cfgPath, ref)
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

func (a *app) keysDelete(ctx context.Context, args []string) error {
	fs, cfgPath := newFlags("keys delete")
	ref, err := oneArg(fs, args)
	if err != nil {
		return err
	}
	t, k, err := a.openKey(ctx, *cfgPath, ref)
	if err != nil {
		return err
	}
	defer t.Close()
	if err := t.svc.Delete(ctx, k.ID, cliCaller()); err != nil {
		return appError(err)
	}
	fmt.Fprintf(a.stdout, "Deleted key %q (%s). Requests with it are refused from now on.\n", k.Name, k.ID)
	return nil
}

func (a *app) keysReveal(ctx context.Context, args []string) error {
	fs, cfgPath := newFlags("keys reveal")
	ref, err := oneArg(fs, args)
	if err != nil {
		return err
	}
	t, k, err := a.openKey(ctx, *cfgPath, ref)
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
	case k.Expired(now):
		return "EXPIRED"
	case k.ExpiresWithin(now, window):
		return "expires soon"
	}
	return "active"
}
