package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gatehouse"
	"gatehouse/config"
	"gatehouse/gatehousetest"
)

// TestWebhooks: a valid webhooks block is parsed with its secrets, events
// defaulting to every one; GATEHOUSE_WEBHOOKS replaces it.
func TestWebhooks(t *testing.T) {
	t.Parallel()
	_, secretFile := gatehousetest.MustWebhookSecret(t)
	p := writeFile(t, `webhooks:
  - url: https://ops.example/hooks/gatehouse
    secret_file: `+secretFile+`
    events: [key.expiring, key.expired]
  - url: http://127.0.0.1:9999/all
    secret_file: `+secretFile+`
`)
	c, err := config.Load(p, nil)
	if err != nil {
		t.Fatalf("Load() = %v", err)
	}
	if len(c.ParsedWebhooks) != 2 {
		t.Fatalf("ParsedWebhooks = %d endpoints, want 2", len(c.ParsedWebhooks))
	}
	first, second := c.ParsedWebhooks[0], c.ParsedWebhooks[1]
	if first.URL != "https://ops.example/hooks/gatehouse" || first.Secret.IsZero() ||
		!first.Wants(gatehouse.EventKeyExpired) || first.Wants(gatehouse.EventKeyCreated) {
		t.Errorf("webhooks[0] = %+v, want the URL, a secret, key.expiring and key.expired only", first)
	}
	for _, typ := range gatehouse.EventTypes {
		if !second.Wants(typ) {
			t.Errorf("webhooks[1] without events does not want %s", typ)
		}
	}

	env := map[string]string{"GATEHOUSE_WEBHOOKS": `[{"url": "https://env.example/h", "secret_file": "` + secretFile + `"}]`}
	c, err = config.Load(p, func(k string) string { return env[k] })
	if err != nil || len(c.ParsedWebhooks) != 1 || c.ParsedWebhooks[0].URL != "https://env.example/h" {
		t.Fatalf("Load() with GATEHOUSE_WEBHOOKS = %+v, %v; want its one endpoint", c, err)
	}
}

// TestWebhookProblems: every problem of a webhooks block, at its line,
// and never the secret itself.
func TestWebhookProblems(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	secret, good := gatehousetest.MustWebhookSecret(t)
	open := filepath.Join(dir, "open.secret")
	if err := os.WriteFile(open, []byte(secret), 0o644); err != nil {
		t.Fatal(err)
	}
	short := filepath.Join(dir, "short.secret")
	if err := os.WriteFile(short, []byte("whsec_c2hvcnQ="), 0o600); err != nil {
		t.Fatal(err)
	}
	plain := filepath.Join(dir, "plain.secret")
	if err := os.WriteFile(plain, []byte("hunter2hunter2hunter2hunter2"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := writeFile(t, `webhooks:
  - url: ftp://ops.example/x?token=abc
    secret_file: `+good+`
  - url: https://ops.example/a
    secret_file: `+open+`
    events: [key.expiring, key.exploded]
  - url: https://ops.example/b
    secret_file: `+short+`
  - url: https://ops.example/c
    secret_file: `+plain+`
  - url: https://ops.example/a
  - url: https://ops.example/d
    secret_file: `+good+`
    events: key.expired
    secret: x
`)
	_, err := config.Load(p, nil)
	if err == nil {
		t.Fatal("Load() = nil, want the problems")
	}
	want := strings.Join([]string{
		p + `:2: webhooks[0].url: must be an http:// or https:// URL with a host (got "ftp://ops.example")`,
		p + `:5: webhooks[1].secret_file: ` + open + `: mode -rw-r--r-- lets others read it; run chmod 600 ` + open,
		p + `:6: webhooks[1].events[1]: unknown event "key.exploded" (known: ` + strings.Join(gatehouse.EventTypes, ", ") + `)`,
		p + `:8: webhooks[2].secret_file: ` + short + `: holds 5 bytes, want at least 24 random bytes`,
		p + `:10: webhooks[3].secret_file: ` + plain + `: must start with "whsec_" (make one with: echo "whsec_$(head -c 32 /dev/urandom | base64)")`,
		p + `:11: webhooks[4].url: is the URL of webhooks[1] too: give each endpoint one entry, with the events it wants`,
		p + `:11: webhooks[4].secret_file: is required: a file holding "whsec_" and the base64 of at least 24 random bytes (make one with: echo "whsec_$(head -c 32 /dev/urandom | base64)" > webhook.secret; chmod 600 webhook.secret)`,
		p + `:14: webhooks[5].events: must be a list of strings (got "key.expired")`,
		p + `:15: unknown key webhooks[5].secret`,
	}, "\n")
	got := strings.ReplaceAll(err.Error(), "config: ", "")
	if got != want {
		t.Errorf("Load() problems:\n%s\nwant:\n%s", got, want)
	}
	if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "token=abc") {
		t.Errorf("the problems show a secret: %v", err)
	}
}
