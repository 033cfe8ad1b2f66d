package main

import (
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"

	"gatehouse/gatehousetest"
)

// TestWebhooksCommands: "webhooks test" sends a signed test event to every
// endpoint and prints each answer (exit 1 when one fails); "webhooks
// list" shows what waits for delivery: a change the CLI made while no
// gateway runs.
func TestWebhooksCommands(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	secret, file := gatehousetest.MustWebhookSecret(t)
	ok := gatehousetest.NewReceiver(t, secret)
	gone := gatehousetest.NewReceiver(t, secret)
	gone.Respond = func(int, *gatehousetest.Webhook, *http.Request) int { return http.StatusGone }
	body, err := os.ReadFile(c.config)
	if err != nil {
		t.Fatal(err)
	}
	body = append(body, []byte("webhooks:\n  - url: "+ok.URL+"/hooks?token=s3cr3t\n    secret_file: "+file+
		"\n    events: [key.expired]\n  - url: "+gone.URL+"/x\n    secret_file: "+file+"\n")...)
	if err := os.WriteFile(c.config, body, 0o600); err != nil {
		t.Fatal(err)
	}

	out, errOut, code := c.run(t, "", "webhooks", "test", "--config", c.config)
	want := "webhooks[0] " + ok.URL + ": 204 No Content\nwebhooks[1] " + gone.URL + ": 410 Gone\n"
	if code != 1 || out != want || !strings.Contains(errOut, "1 of 2 endpoints did not answer 2xx") {
		t.Errorf("webhooks test = %d, stdout %q, stderr %q; want 1, %q and the count of failures", code, out, errOut, want)
	}
	for _, r := range []*gatehousetest.Receiver{ok, gone} {
		got := r.Webhooks()
		if len(got) != 1 || got[0].Type != "test" || got[0].Verified != nil {
			t.Errorf("receiver got %d webhooks, want one verified test event", len(got))
		}
	}

	if out := c.ok(t, "webhooks", "list", "--config", c.config); out != "No webhook event is waiting for delivery.\n" {
		t.Errorf("webhooks list on a new store = %q", out)
	}
	c.ok(t, "keys", "create", "--config", c.config, "--name", "offline")
	out = c.ok(t, "webhooks", "list", "--config", c.config)
	if !strings.Contains(out, "key.created") || !strings.Contains(out, "offline") || !strings.Contains(out, "pending") {
		t.Errorf("webhooks list after keys create = %q, want the pending key.created of offline", out)
	}
	var events []map[string]any
	if err := json.Unmarshal([]byte(c.ok(t, "webhooks", "list", "--config", c.config, "--json")), &events); err != nil ||
		len(events) != 1 || events[0]["type"] != "key.created" || events[0]["keyName"] != "offline" || events[0]["state"] != "pending" {
		t.Errorf("webhooks list --json = %v, %v; want the pending key.created", events, err)
	}
	if out := c.ok(t, "webhooks", "list", "--config", c.config, "--failed"); out != "No webhook delivery is failing.\n" {
		t.Errorf("webhooks list --failed = %q", out)
	}
}
