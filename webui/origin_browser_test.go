package webui_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"gatehouse/config"
	"gatehouse/gatehousetest"
	"gatehouse/gatehousetest/gatewaytest"
)

// hostilePage is what an upstream behind a public route serves: it tries,
// from the data plane's origin, everything a script would do with an
// administrator's Settings session, and writes what happened into #out.
const hostilePage = `<!doctype html><title>hostile</title><pre id="out"></pre>
<script>
const admin = %q;
async function attempt(name, f) {
  try { return name + "=" + await f(); } catch (e) { return name + "=blocked"; }
}
(async () => {
  const out = [];
  out.push(await attempt("read-settings", async () => {
    const r = await fetch(admin + "/settings/api-keys", {credentials: "include"});
    const t = await r.text();
    return t.includes("csrf-token") ? "READ" : "status-" + r.status;
  }));
  out.push(await attempt("list-keys", async () => {
    const r = await fetch(admin + "/api/v2/api-keys", {credentials: "include"});
    return "READ-" + r.status + "-" + (await r.text()).length;
  }));
  out.push(await attempt("create-key", async () => {
    const r = await fetch(admin + "/api/v2/api-keys", {method: "POST", credentials: "include",
      headers: {"Content-Type": "application/json"}, body: JSON.stringify({name: "pwned", scopes: ["*:write"]})});
    return "status-" + r.status;
  }));
  out.push(await attempt("create-key-no-cors", async () => {
    await fetch(admin + "/api/v2/api-keys", {method: "POST", mode: "no-cors", credentials: "include",
      headers: {"Content-Type": "text/plain"}, body: JSON.stringify({name: "pwned-no-cors", scopes: ["*:write"]})});
    return "sent";
  }));
  out.push(await attempt("own-origin-mgmt", async () => {
    const r = await fetch("/api/v2/api-keys", {credentials: "include"});
    return "status-" + r.status;
  }));
  out.push("cookie=" + (document.cookie.includes("gatehouse_session") ? "VISIBLE" : "hidden"));
  const el = document.getElementById("out");
  el.textContent = out.join(";");
  el.className = "done";
})();
</script>`

// TestUpstreamPageCannotUseTheSession: an administrator logged in to the
// Settings UI opens a page that an upstream serves on a public route. The
// page runs in the data plane's origin, so it can neither read the Settings
// pages nor call the management API with the administrator's session, and
// the session cookie never reaches the upstream.
func TestUpstreamPageCannotUseTheSession(t *testing.T) {
	var (
		mu       sync.Mutex
		adminURL string
	)
	up := gatehousetest.NewUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		admin := adminURL
		mu.Unlock()
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, fmt.Sprintf(hostilePage, admin))
	})
	cfg := gatewaytest.Config(t, up.URL, func(c *config.Config) {
		c.Routes = []config.Route{
			{Name: "assets", Path: "/api/v2/assets", Upstream: up.URL + "/v2/assets", Scope: "assets"},
			{Name: "apps", Path: "/apps-public", Upstream: up.URL + "/apps-public", Public: true},
		}
	})
	g := gatewaytest.MustStart(t, cfg, gatewaytest.Options{Clock: gatehousetest.NewClock(time.Now())})
	mu.Lock()
	adminURL = g.AdminURL
	mu.Unlock()

	ctx := mustBrowser(t)
	run := func(step string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		if err := chromedp.Do(sctx, steps...); err != nil {
			t.Fatalf("%s: %v", step, err)
		}
	}
	run("log in",
		chromedp.Navigate(g.AdminURL+"/login"),
		chromedp.WaitVisible("#username"),
		chromedp.SendKeys("#username", "admin"),
		chromedp.SendKeys("#password", adminPassword),
		chromedp.Click(button("Log in")),
		chromedp.WaitVisible(`//a[normalize-space()="API Keys"]`),
	)
	run("open the upstream's page",
		chromedp.Navigate(g.URL+"/apps-public/hostile.html"),
		chromedp.WaitVisible("#out.done"),
	)
	got, err := chromedp.Run(ctx, chromedp.Text("#out"))
	if err != nil {
		t.Fatal(err)
	}
	results := map[string]string{}
	for _, kv := range strings.Split(strings.TrimSpace(got), ";") {
		k, v, _ := strings.Cut(kv, "=")
		results[k] = v
	}
	t.Logf("what the page could do: %s", got)
	for name, want := range map[string]string{
		"read-settings":      "blocked",
		"list-keys":          "blocked",
		"create-key":         "blocked",
		"create-key-no-cors": "sent", // sent blind; refused by the CSRF check, see below
		"own-origin-mgmt":    "status-401",
		"cookie":             "hidden",
	} {
		if results[name] != want {
			t.Errorf("the upstream's page: %s = %q, want %q", name, results[name], want)
		}
	}
	if _, n, err := g.Keys().List(context.Background(), 0, 10); err != nil || n != 0 {
		t.Errorf("%d keys after the upstream's page ran (err %v), want 0", n, err)
	}
	for _, r := range up.Requests() {
		for _, c := range r.Header.Values("Cookie") {
			if strings.Contains(c, "gatehouse_session") {
				t.Errorf("the upstream received the Settings session cookie: Cookie: %.60s…", c)
			}
		}
	}
}
