package e2e_test

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gatehouse"
	"gatehouse/config"
	"gatehouse/keys"
)

// reloadWith returns a checked copy of g's config changed by change, for
// Reload.
func reloadWith(t *testing.T, g *gateway, change func(*config.Config)) func() (*config.Config, error) {
	t.Helper()
	cfg := *g.Config
	cfg.Routes = append([]config.Route(nil), cfg.Routes...)
	change(&cfg)
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	return func() (*config.Config, error) { return &cfg, nil }
}

// expiringSoon returns the line of gatehouse_keys_expiring_soon on g's
// /metrics.
func expiringSoon(t *testing.T, g *gateway) string {
	t.Helper()
	for line := range strings.Lines(do(t, "GET", g.AdminURL+"/metrics", "", "", "").Body) {
		if strings.HasPrefix(line, "gatehouse_keys_expiring_soon ") {
			return strings.TrimSpace(line)
		}
	}
	t.Fatal("no gatehouse_keys_expiring_soon on /metrics")
	return ""
}

// TestReloadExpiryWarning: a reload that shortens expiry_warning takes a
// key that expires in 3 days out of the warning: its answers lose
// X-API-Key-Expires and gatehouse_keys_expiring_soon drops to 0; one that
// lengthens it again brings both back.
func TestReloadExpiryWarning(t *testing.T) {
	t.Parallel()
	g := startGateway(t, func(c *config.Config) { c.ExpiryWarning = config.Duration(7 * 24 * time.Hour) })
	until := g.Clock.Now().Add(3 * 24 * time.Hour)
	_, key := g.keyUntil(t, "expiring", &until, "assets:read")
	want := until.UTC().Format(time.RFC3339)
	check := func(when, header, gauge string) {
		t.Helper()
		r := g.one(t, req("GET", "/api/v2/assets/1", apiKey(key)))
		if r.Status != 200 || r.Header.Get("X-API-Key-Expires") != header {
			t.Errorf("%s: GET = %s with X-API-Key-Expires %q, want 200 with %q", when, r, r.Header.Get("X-API-Key-Expires"), header)
		}
		if got := expiringSoon(t, g); got != gauge {
			t.Errorf("%s: %s, want %s", when, got, gauge)
		}
	}
	check("expiry_warning 7 days", want, "gatehouse_keys_expiring_soon 1")
	if err := g.Reload(reloadWith(t, g, func(c *config.Config) { c.ExpiryWarning = config.Duration(24 * time.Hour) })); err != nil {
		t.Fatal(err)
	}
	check("reloaded with expiry_warning 1 day", "", "gatehouse_keys_expiring_soon 0")
	if err := g.Reload(reloadWith(t, g, func(c *config.Config) { c.ExpiryWarning = config.Duration(4 * 24 * time.Hour) })); err != nil {
		t.Fatal(err)
	}
	check("reloaded with expiry_warning 4 days", want, "gatehouse_keys_expiring_soon 1")
	if strings.Contains(g.Log.String(), "take effect only after a restart") {
		t.Errorf("expiry_warning named as needing a restart:\n%s", g.Log.String())
	}
}

// TestReloadBearer: a reload that adds a bearer section (a JWKS file) and
// makes the assets route a bearer route lets the identity provider's
// tokens in; one whose JWKS file is missing is refused and changes
// nothing; one that removes the section shuts the tokens out again.
func TestReloadBearer(t *testing.T) {
	t.Parallel()
	p := newIDP(t)
	resp, err := http.Get(p.jwks.URL)
	if err != nil {
		t.Fatal(err)
	}
	doc, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	jwks := filepath.Join(t.TempDir(), "jwks.json")
	if err := os.WriteFile(jwks, doc, 0o600); err != nil {
		t.Fatal(err)
	}
	g := startGateway(t, nil)
	tokenGet := func() reply {
		t.Helper()
		return g.one(t, req("GET", "/api/v2/assets/7", "Authorization: Bearer "+p.token(t, "user-1", "assets:read", nil)))
	}
	if r := tokenGet(); r.Status != 401 || r.code() != "missing_key" {
		t.Fatalf("a token before the reload = %s, want 401 missing_key", r)
	}
	withBearer := func(file string) func(*config.Config) {
		return func(c *config.Config) {
			c.Bearer = config.Bearer{JWKSFile: file, Issuer: "https://idp.example/", Audience: "building-api"}
			c.Routes[0].Bearer = true
		}
	}
	if err := g.Reload(reloadWith(t, g, withBearer(jwks))); err != nil {
		t.Fatal(err)
	}
	if r := tokenGet(); r.Status != 200 {
		t.Fatalf("a token after the reload that added the bearer section = %s, want 200", r)
	}
	if seen := g.up.Take(); len(seen) != 1 || seen[0].Header.Get("X-Gatehouse-Subject") != "user-1" {
		t.Fatalf("upstream saw %+v, want one request for user-1", seen)
	}

	// A missing JWKS file refuses the whole reload: the new route does
	// not come, the tokens still pass.
	missing := reloadWith(t, g, func(c *config.Config) {
		withBearer(filepath.Join(t.TempDir(), "gone.json"))(c)
		c.Routes = append(c.Routes, config.Route{Name: "reports", Path: "/reports", Upstream: g.up.URL + "/r", Public: true})
	})
	if err := g.Reload(missing); err == nil {
		t.Fatal("a reload with a missing JWKS file was not refused")
	}
	if r := tokenGet(); r.Status != 200 {
		t.Errorf("a token after the refused reload = %s, want 200", r)
	}
	if r := g.one(t, req("GET", "/reports/x")); r.Status != 404 {
		t.Errorf("GET /reports/x after the refused reload = %s, want 404: its route came in", r)
	}
	if !strings.Contains(do(t, "GET", g.AdminURL+"/metrics", "", "", "").Body, `gatehouse_config_reload_total{result="error"} 1`) {
		t.Error("the refused reload is not counted")
	}

	if err := g.Reload(reloadWith(t, g, func(c *config.Config) { c.Bearer, c.Routes[0].Bearer = config.Bearer{}, false })); err != nil {
		t.Fatal(err)
	}
	if r := tokenGet(); r.Status != 401 || r.code() != "missing_key" {
		t.Errorf("a token after the reload that removed the bearer section = %s, want 401 missing_key", r)
	}
	if strings.Contains(g.Log.String(), "take effect only after a restart") {
		t.Errorf("bearer named as needing a restart:\n%s", g.Log.String())
	}
}

// TestReloadWebhooks: a reload that adds a webhook endpoint sends it the
// next change's event, signed.
func TestReloadWebhooks(t *testing.T) {
	t.Parallel()
	g := startGateway(t, nil)
	hook, r := withWebhook(t)
	if err := g.Reload(reloadWith(t, g, hook)); err != nil {
		t.Fatal(err)
	}
	k, _ := g.MustCreateKey(t, keys.CreateRequest{Name: "after-reload"})
	got := r.Wait(t, 1, 10*time.Second)
	if w := got[0]; w.Type != gatehouse.EventKeyCreated || w.Verified != nil || !strings.Contains(w.Body, k.ID) {
		t.Errorf("the new endpoint got %s %s (verified: %v), want key.created of %s, signed", w.ID, w.Type, w.Verified, k.ID)
	}
	if strings.Contains(g.Log.String(), "take effect only after a restart") {
		t.Errorf("webhooks named as needing a restart:\n%s", g.Log.String())
	}
}
