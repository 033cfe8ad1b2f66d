package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"gatehouse"
	"gatehouse/config"
	"gatehouse/webhook"
)

func (a *app) newWebhooksCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "webhooks",
		Short: "See the key events waiting for delivery, and test the endpoints",
		Long: `Key events (key.created, key.expiring, key.expired, ...) are sent to the
config's webhooks endpoints, signed per the Standard Webhooks specification,
and retried after 5s, 5m, 30m, 2h, 5h, 10h and 10h while an endpoint fails.`,
		Example: `  gatehouse webhooks list --config gatehouse.yaml --failed
  gatehouse webhooks test --config gatehouse.yaml`,
	}
	c.AddCommand(a.newWebhooksListCmd(), a.newWebhooksTestCmd())
	return c
}

func (a *app) newWebhooksListCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "list",
		Short: "List the events not delivered yet",
		Long: `List the events not delivered yet, newest first (at most 100): those waiting
for their first attempt or a retry, and those given up after the last retry.
With --failed, only those whose last attempt failed.`,
		Example: `  gatehouse webhooks list --config gatehouse.yaml
  gatehouse webhooks list --config gatehouse.yaml --failed --json`,
		Args: noArgs,
	}
	cfgPath := configFlag(c)
	failed := c.Flags().Bool("failed", false, "only the events whose last attempt failed, or that were given up")
	asJSON := c.Flags().Bool("json", false, "print a JSON array of {id, type, keyId, keyName, at, state, attempts, nextAttemptAt, lastAttemptAt, lastResult}")
	c.RunE = func(c *cobra.Command, _ []string) error {
		return a.webhooksList(c.Context(), *cfgPath, *failed, *asJSON)
	}
	return c
}

// eventState is how far an event's delivery got: pending (no attempt
// yet), retrying, or failed (given up).
func eventState(e *gatehouse.WebhookEvent) string {
	switch {
	case e.Failed:
		return "failed"
	case e.Attempts > 0:
		return "retrying"
	}
	return "pending"
}

func (a *app) webhooksList(ctx context.Context, cfgPath string, failed, asJSON bool) error {
	_, store, err := a.openStore(ctx, cfgPath)
	if err != nil {
		return err
	}
	defer store.Close()
	events, err := store.FindWebhookEvents(ctx, gatehouse.WebhookFilter{Failed: failed})
	if err != nil {
		return appError(err)
	}
	if asJSON {
		type eventJSON struct {
			ID            string     `json:"id"`
			Type          string     `json:"type"`
			KeyID         string     `json:"keyId"`
			KeyName       string     `json:"keyName"`
			At            time.Time  `json:"at"`
			State         string     `json:"state"`
			Attempts      int        `json:"attempts"`
			NextAttemptAt *time.Time `json:"nextAttemptAt"`
			LastAttemptAt *time.Time `json:"lastAttemptAt"`
			LastResult    string     `json:"lastResult"`
		}
		out := make([]eventJSON, len(events))
		for i, e := range events {
			out[i] = eventJSON{ID: e.ID, Type: e.Type, KeyID: e.Key.ID, KeyName: e.Key.Name, At: e.At,
				State: eventState(e), Attempts: e.Attempts, LastAttemptAt: e.LastAttemptAt, LastResult: e.LastResult}
			if !e.Failed {
				out[i].NextAttemptAt = &e.NextAttemptAt
			}
		}
		return a.printJSON(out)
	}
	if len(events) == 0 {
		if failed {
			fmt.Fprintln(a.stdout, "No webhook delivery is failing.")
		} else {
			fmt.Fprintln(a.stdout, "No webhook event is waiting for delivery.")
		}
		return nil
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tTYPE\tKEY\tAT\tSTATE\tATTEMPTS\tNEXT ATTEMPT\tLAST RESULT")
	for _, e := range events {
		next := e.NextAttemptAt.Format(time.RFC3339)
		if e.Failed {
			next = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", e.ID, e.Type, e.Key.Name, e.At.Format(time.RFC3339),
			eventState(e), e.Attempts, next, e.LastResult)
	}
	return tw.Flush()
}

func (a *app) newWebhooksTestCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "test",
		Short: "Send a test event to every endpoint and print each answer",
		Long: `Send a signed "test" event (no key in it) to every endpoint of the config's
webhooks, whatever events it subscribes to, and print each one's answer. The
exit status is 1 unless every endpoint answered 2xx.`,
		Example: `  gatehouse webhooks test --config gatehouse.yaml`,
		Args:    noArgs,
	}
	cfgPath := configFlag(c)
	c.RunE = func(c *cobra.Command, _ []string) error { return a.webhooksTest(c.Context(), *cfgPath) }
	return c
}

func (a *app) webhooksTest(ctx context.Context, cfgPath string) error {
	cfg, err := config.Load(a.configPath(cfgPath), a.getenv)
	if err != nil {
		return err
	}
	if len(cfg.ParsedWebhooks) == 0 {
		return errors.New("the config has no webhooks: add an endpoint under webhooks: (url, secret_file) first")
	}
	s := &webhook.Sender{Endpoints: cfg.ParsedWebhooks, Logger: a.logger("text", slog.LevelWarn)}
	answers, err := s.SendTest(ctx)
	if err != nil {
		return err
	}
	failed := 0
	for i, ans := range answers {
		fmt.Fprintf(a.stdout, "webhooks[%d] %s: %s\n", i, cfg.ParsedWebhooks[i].Redacted(), ans)
		if ans.Status < 200 || ans.Status > 299 {
			failed++
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d endpoints did not answer 2xx", failed, len(answers))
	}
	return nil
}
