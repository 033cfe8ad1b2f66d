package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"gatehouse"
	"gatehouse/keys"
)

// The key commands of contract §8: roll, disable, enable and update.

func (a *app) newKeysRollCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "roll NAME|ID [--overlap 24h]",
		Short: "Give a key a new secret, the old one working for an overlap",
		Long: `Give a key a new secret and print it alone on standard output, so that
KEY=$(gatehouse keys roll ...) works. The key keeps its ID, name, scopes,
expiry, limits, usage and audit log.

The old secret keeps working for --overlap (from 0s, the default, to 720h),
then is refused with 401 key_rolled and its long-lived connections close.
Rolling again ends a running overlap at once. "gatehouse keys show" says when
the old secret was last used, so you can see when nothing uses it anymore.`,
		Example: `  gatehouse keys roll "Integration A" --overlap 24h --config gatehouse.yaml
  gatehouse keys roll --config gatehouse.yaml --json key_JjBJZ80tX792DBGnlxOT`,
		Args: oneRef,
	}
	cfgPath := configFlag(c)
	overlap := c.Flags().Duration("overlap", 0, "how long the old secret keeps working (`DURATION`, at most 720h)")
	asJSON := c.Flags().Bool("json", false, "print the management API's ApiKey object with the new key instead")
	c.RunE = func(c *cobra.Command, args []string) error {
		return a.keysRoll(c.Context(), *cfgPath, args[0], *overlap, *asJSON)
	}
	return c
}

func (a *app) keysRoll(ctx context.Context, cfgPath, ref string, overlap time.Duration, asJSON bool) error {
	t, k, err := a.openKey(ctx, cfgPath, ref)
	if err != nil {
		return err
	}
	defer t.Close()
	k, secret, err := t.svc.Roll(ctx, k.ID, overlap, cliCaller())
	if err != nil {
		return appError(err)
	}
	if asJSON {
		return a.printJSON(struct {
			keys.View
			Key string `json:"key"`
		}{keys.NewView(k, time.Now()), secret.Reveal()})
	}
	fmt.Fprintln(a.stdout, secret.Reveal())
	if overlap > 0 {
		fmt.Fprintf(a.stderr, "Rolled key %q (%s). The old secret works until %s.\n", k.Name, k.ID, timeText(k.PreviousValidUntil))
	} else {
		fmt.Fprintf(a.stderr, "Rolled key %q (%s). The old secret is refused from now on.\n", k.Name, k.ID)
	}
	return nil
}

func (a *app) newKeysDisableCmd(disable bool) *cobra.Command {
	verb, short, long := "enable", "Enable a disabled key",
		`Enable a disabled key: it works again as it did, unchanged.`
	if disable {
		verb, short, long = "disable", "Disable a key without deleting it",
			`Disable a key: every gateway node refuses it within a second (401
key_disabled) and closes its long-lived connections. Nothing about the key is
lost; "gatehouse keys enable" restores it.`
	}
	c := &cobra.Command{
		Use:     verb + " NAME|ID",
		Short:   short,
		Long:    long,
		Example: fmt.Sprintf(`  gatehouse keys %s "Integration A" --config gatehouse.yaml`, verb),
		Args:    oneRef,
	}
	cfgPath := configFlag(c)
	c.RunE = func(c *cobra.Command, args []string) error {
		return a.keysSetDisabled(c.Context(), *cfgPath, args[0], disable)
	}
	return c
}

func (a *app) keysSetDisabled(ctx context.Context, cfgPath, ref string, disable bool) error {
	t, k, err := a.openKey(ctx, cfgPath, ref)
	if err != nil {
		return err
	}
	defer t.Close()
	if k, err = t.svc.SetDisabled(ctx, k.ID, disable, cliCaller()); err != nil {
		return appError(err)
	}
	if disable {
		fmt.Fprintf(a.stdout, "Disabled key %q (%s). Requests with it are refused until it is enabled.\n", k.Name, k.ID)
	} else {
		fmt.Fprintf(a.stdout, "Enabled key %q (%s).\n", k.Name, k.ID)
	}
	return nil
}

func (a *app) newKeysUpdateCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "update NAME|ID [flags]",
		Short: "Change a key's name, scopes, rate limit, addresses or grace",
		Long: `Change what the flags name; the rest stays. --scope and --allow-ip replace
the whole list (repeat them for several). --any-ip lets the key be used from
anywhere again, --no-rate removes its own rate limit, --no-grace its read-only
grace.`,
		Example: `  gatehouse keys update "Integration A" --allow-ip 203.0.113.0/24 --allow-ip 2001:db8::/32 --config gatehouse.yaml
  gatehouse keys update "Integration A" --name "Integration B" --read-only-grace 72h --config gatehouse.yaml`,
		Args: oneRef,
	}
	var o updateOptions
	o.config = configFlag(c)
	fs := c.Flags()
	fs.StringVar(&o.name, "name", "", "the key's new `NAME`")
	fs.StringArrayVar(&o.scopes, "scope", nil, "a `SCOPE` the key holds (repeatable; replaces the key's scopes)")
	fs.StringVar(&o.rate, "rate", "", "the key's rate `LIMIT`, such as 100/s")
	fs.BoolVar(&o.noRate, "no-rate", false, "remove the key's own rate limit (the config's rate_limit applies)")
	addIPFlags(c, &o.ips, &o.grace)
	fs.BoolVar(&o.anyIP, "any-ip", false, "accept the key from any address")
	fs.BoolVar(&o.noGrace, "no-grace", false, "remove the key's read-only grace")
	c.RunE = func(c *cobra.Command, args []string) error {
		changed := func(name string) bool { return c.Flags().Changed(name) }
		return a.keysUpdate(c.Context(), args[0], o, changed)
	}
	return c
}

// addIPFlags adds --allow-ip and --read-only-grace, which keys create and
// keys update share.
func addIPFlags(c *cobra.Command, ips *[]string, grace *time.Duration) {
	c.Flags().StringArrayVar(ips, "allow-ip", nil, "an IP address or `CIDR` the key is accepted from (repeatable); default any")
	c.Flags().DurationVar(grace, "read-only-grace", 0, "how long after its expiry the key still passes reads (`DURATION`, at most 720h)")
}

// updateOptions are the flags of keys update.
type updateOptions struct {
	config                 *string
	name, rate             string
	scopes, ips            []string
	noRate, anyIP, noGrace bool
	grace                  time.Duration
}

func (a *app) keysUpdate(ctx context.Context, ref string, o updateOptions, changed func(string) bool) error {
	var req keys.UpdateRequest
	if changed("name") {
		req.Name = &o.name
	}
	if changed("scope") {
		req.Scopes = &o.scopes
	}
	switch {
	case changed("rate") && o.noRate:
		return fmt.Errorf("%w: --rate and --no-rate exclude each other", errUsage)
	case changed("rate"):
		rl, err := gatehouse.ParseRateLimit(o.rate)
		if err != nil {
			return fmt.Errorf("%w: --rate: %s", errUsage, gatehouse.ErrorMessage(err))
		}
		req.RateLimit = &rl
	case o.noRate:
		req.RateLimit = &gatehouse.RateLimit{}
	}
	switch {
	case changed("allow-ip") && o.anyIP:
		return fmt.Errorf("%w: --allow-ip and --any-ip exclude each other", errUsage)
	case changed("allow-ip"):
		req.AllowedIPs = &o.ips
	case o.anyIP:
		req.AllowedIPs = &[]string{}
	}
	switch {
	case changed("read-only-grace") && o.noGrace:
		return fmt.Errorf("%w: --read-only-grace and --no-grace exclude each other", errUsage)
	case changed("read-only-grace"):
		req.ReadOnlyGrace = &o.grace
	case o.noGrace:
		req.ReadOnlyGrace = new(time.Duration)
	}
	if req == (keys.UpdateRequest{}) {
		return fmt.Errorf("%w: keys update needs at least one change, such as --name, --scope, --rate, --allow-ip or --read-only-grace", errUsage)
	}
	t, k, err := a.openKey(ctx, *o.config, ref)
	if err != nil {
		return err
	}
	defer t.Close()
	if k, err = t.svc.Update(ctx, k.ID, req, cliCaller()); err != nil {
		return appError(err)
	}
	fmt.Fprintf(a.stdout, "Updated key %q (%s).\n", k.Name, k.ID)
	return nil
}

// addressesText is how the CLI shows a key's allowed addresses.
func addressesText(ips []string) string {
	if len(ips) == 0 {
		return "any"
	}
	return strings.Join(ips, " ")
}
