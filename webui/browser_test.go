package webui_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gatehouse"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"
)

// mustBrowser starts headless Chromium, or skips when there is none (fails
// instead when GATEHOUSE_TEST_BROWSER=1, as in CI).
func mustBrowser(t *testing.T) context.Context {
	t.Helper()
	path := ""
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			path = p
			break
		}
	}
	if path == "" {
		if os.Getenv("GATEHOUSE_TEST_BROWSER") == "1" {
			t.Fatal("GATEHOUSE_TEST_BROWSER=1 but no chromium on PATH (apt-get install chromium)")
		}
		t.Skip("no chromium on PATH: apt-get install chromium (and set GATEHOUSE_TEST_BROWSER=1 to make this a failure)")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:0:0],
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 860),
	)
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelB := chromedp.NewContext(actx)
	ctx, cancelT := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(func() { cancelT(); cancelB(); cancelA() })
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// row returns an XPath to a control with the accessible text label in the
// table row of the key named name.
func row(name, control, label string) string {
	return fmt.Sprintf(`//tr[.//*[@class="key-name" and normalize-space()=%q]]//%s[normalize-space()=%q or @aria-label=%q]`, name, control, label, label)
}

func button(label string) string {
	return fmt.Sprintf(`//button[normalize-space()=%q or @aria-label=%q]`, label, label)
}

func dataPlane(t *testing.T, g *gateway, key string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", g.URL+"/api/v2/assets/158", nil)
	req.Header.Set("X-API-Key", key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// advance moves the clock by d and waits until the gateway serves again:
// the key index, synced every second of wall time, counts as stale until
// its next sync after the jump (503, the gateway's fail-closed answer).
func advance(t *testing.T, g *gateway, d time.Duration) {
	t.Helper()
	g.Clock.Add(d)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		// A well-formed unknown key: 401 once the index is usable again.
		if dataPlane(t, g, gatehouse.NewSecret().Reveal()) != http.StatusServiceUnavailable {
			return
		}
		select {
		case <-time.After(50 * time.Millisecond):
		case <-t.Context().Done():
		}
	}
	t.Fatal("the gateway still answers 503 ten seconds after the clock moved")
}

// waitRequests polls the store until the key named name has n requests
// counted in its details (usage is flushed every few seconds).
func waitRequests(t *testing.T, g *gateway, name string, n int64) {
	t.Helper()
	ctx := context.Background()
	list, _, err := g.Keys().List(ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	id := ""
	for _, k := range list {
		if k.Name == name {
			id = k.ID
		}
	}
	var got int64
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		d, err := g.Keys().Details(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if got = d.Requests; got == n {
			return
		}
		select {
		case <-time.After(50 * time.Millisecond):
		case <-t.Context().Done():
		}
	}
	t.Fatalf("requests counted for %s = %d, want %d", name, got, n)
}

// TestBrowser walks through the Settings page as an administrator would,
// in a real Chromium.
func TestBrowser(t *testing.T) {
	g := mustGateway(t)
	ctx := mustBrowser(t)
	shots := t.TempDir()
	do := func(step string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		sctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		defer cancel()
		if err := chromedp.Do(sctx, steps...); err != nil {
			// Keep what the browser showed, to see why.
			if png, serr := chromedp.Run(ctx, chromedp.FullScreenshot(100)); serr == nil {
				os.WriteFile(filepath.Join(os.TempDir(), "gatehouse-browser-failure.png"), png, 0o644)
			}
			t.Fatalf("%s: %v (screenshot in %s)", step, err, filepath.Join(os.TempDir(), "gatehouse-browser-failure.png"))
		}
	}
	text := func(sel string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Text(sel))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return strings.TrimSpace(v)
	}
	shot := func(name string) {
		t.Helper()
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(shots, name), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	date := func(days int) string { return g.Clock.Now().AddDate(0, 0, days).UTC().Format("2006-01-02") }
	create := func(name, validUntil string) chromedp.Action[chromedp.Void] {
		return chromedp.Steps(
			chromedp.Click(button("+ API Key")),
			chromedp.WaitVisible("#name"),
			chromedp.SetValue("#name", name),
			chromedp.SetValue("#validUntil", validUntil),
			chromedp.Click(button("Create")),
		)
	}

	logIn := chromedp.Steps(
		chromedp.Navigate(g.AdminURL+"/login"),
		chromedp.WaitVisible(`//label[normalize-space()="Username"]`),
		chromedp.SendKeys("#username", "admin"),
		chromedp.SendKeys("#password", adminPassword),
		chromedp.Click(button("Log in")),
		chromedp.WaitVisible(`//a[normalize-space()="API Keys"]`),
	)
	do("log in", logIn)

	created := func(name string) chromedp.Action[chromedp.Void] {
		return chromedp.WaitVisible(fmt.Sprintf(`//div[contains(@class, "alert-new")]//strong[contains(., %q)]`, name))
	}
	do("create a key", create("BMS integration", ""), created("BMS integration"))
	do("see the key", chromedp.WaitVisible(row("BMS integration", "button", "Copy key")))
	newKey := text("#new-key")
	if !strings.HasPrefix(newKey, "gth_") {
		t.Fatalf("the new key shown = %q, want a gth_ key", newKey)
	}

	for _, perm := range []string{"clipboard-read", "clipboard-write"} {
		if _, err := chromedp.CallBrowser(ctx, browser.SetPermission, browser.SetPermissionParams{
			Permission: &browser.PermissionDescriptor{Name: perm, AllowWithoutSanitization: true},
			Setting:    browser.PermissionSettingGranted,
			Origin:     g.AdminURL,
		}); err != nil {
			t.Fatalf("grant %s: %v", perm, err)
		}
	}
	do("copy the key",
		chromedp.Navigate(g.AdminURL+"/settings/api-keys"),
		chromedp.Click(row("BMS integration", "button", "Copy key")),
		chromedp.WaitVisible(`//p[@id="copy-status" and normalize-space()="Copied"]`),
	)
	copied, err := chromedp.Run(ctx, chromedp.Evaluate[string]("navigator.clipboard.readText()", chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("read the clipboard: %v", err)
	}
	if copied != newKey {
		t.Fatalf("clipboard = %q, want the created key", copied)
	}
	if got := dataPlane(t, g, copied); got != 200 {
		t.Fatalf("data plane with the copied key = %d, want 200", got)
	}

	do("a key that will expire", create("Nightly export", date(2)), created("Nightly export"))
	expiring := text("#new-key")
	do("a key that expires soon", create("Visitor kiosk", date(6)), created("Visitor kiosk"))
	// Three days of use for the details' chart: 5 requests (with the one
	// above), 2 the next day, 3 on the third day after.
	uses := func(n int) {
		for range n {
			if got := dataPlane(t, g, copied); got != 200 {
				t.Fatalf("data plane with the copied key = %d, want 200", got)
			}
		}
	}
	uses(4)
	advance(t, g, 24*time.Hour)
	uses(2)
	advance(t, g, 2*24*time.Hour)
	uses(3)
	do("see the expired warning",
		logIn, // three days on, the session has expired too
		chromedp.WaitVisible(row("Nightly export", "span", "Expired")),
		chromedp.WaitVisible(`//tr[contains(., "Visitor kiosk")]//span[contains(., "Expires in 3 days")]`),
	)
	shot("api-keys-list.png")
	if got := dataPlane(t, g, expiring); got != 401 {
		t.Fatalf("data plane with the expired key = %d, want 401", got)
	}
	do("renew the expired key",
		chromedp.Click(row("Nightly export", "button", "Renew")),
		chromedp.WaitVisible("#renew-never"),
		chromedp.Click("#renew-never"),
		chromedp.Click(button("Renew key")),
		chromedp.WaitVisible(`//p[contains(., "renewed")]`),
	)
	if got := dataPlane(t, g, expiring); got != 200 {
		t.Fatalf("data plane with the renewed key = %d, want 200", got)
	}

	waitRequests(t, g, "BMS integration", 10)
	do("more information",
		chromedp.Click(row("BMS integration", "button", "More information")),
		chromedp.WaitVisible(`//dt[normalize-space()="Scopes"]`),
		chromedp.WaitVisible(`//td[normalize-space()="reveal"]`),
		chromedp.WaitVisible(`//dt[normalize-space()="Requests (last 7 days)"]/following-sibling::dd[1][normalize-space()="10"]`),
		chromedp.WaitVisible(`//*[local-name()="svg" and contains(@aria-label, ": 5;") and contains(@aria-label, ": 2;") and contains(@aria-label, ": 3;")]`),
	)
	shot("key-details.png")

	do("delete with confirmation",
		chromedp.Navigate(g.AdminURL+"/settings/api-keys"),
		chromedp.Click(row("BMS integration", "button", "Delete")),
		chromedp.WaitVisible(button("Delete key")),
		chromedp.Click(button("Delete key")),
		chromedp.WaitVisible(`//p[contains(., "deleted")]`),
	)
	if got := dataPlane(t, g, newKey); got != 401 {
		t.Fatalf("data plane with the deleted key = %d, want 401", got)
	}

	do("duplicate name", create("Visitor kiosk", ""), chromedp.WaitVisible("#form-error"))
	if msg := text("#form-error"); !strings.Contains(msg, "already exists") {
		t.Errorf("form error = %q, want it to say the name already exists", msg)
	}
	do("fill a fresh form for the screenshot",
		chromedp.Navigate(g.AdminURL+"/settings/api-keys"),
		chromedp.Click(button("+ API Key")),
		chromedp.WaitVisible("#name"),
		chromedp.SendKeys("#name", "Weather station"),
		chromedp.SetValue("#validUntil", date(90)),
		chromedp.SetValue("#scope-assets", "write"),
	)
	shot("create-key.png")

	// At a phone's width the list fits the screen: no sideways scrolling.
	do("phone width",
		chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile),
		chromedp.Navigate(g.AdminURL+"/settings/api-keys"),
		chromedp.WaitVisible(row("Visitor kiosk", "button", "Copy key")),
	)
	overflow, err := chromedp.Run(ctx, chromedp.Evaluate[int]("document.documentElement.scrollWidth - window.innerWidth"))
	if err != nil {
		t.Fatal(err)
	}
	if overflow > 0 {
		t.Errorf("at 390 px the page is %d px wider than the screen", overflow)
	}
	shot("api-keys-phone.png")
	do("desktop width again", chromedp.ResetViewport())

	status, err := chromedp.Run(ctx, chromedp.Evaluate[int](`fetch("/settings/api-keys", {method: "POST", headers: {"Content-Type": "application/x-www-form-urlencoded"}, body: "name=forged"}).then(r => r.status)`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	if status != http.StatusForbidden {
		t.Errorf("POST without the CSRF token = %d, want 403", status)
	}

	if os.Getenv("GATEHOUSE_UPDATE_SCREENSHOTS") == "1" {
		for _, name := range []string{"api-keys-list.png", "key-details.png", "create-key.png", "api-keys-phone.png"} {
			b, err := os.ReadFile(filepath.Join(shots, name))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join("..", "docs", "screenshots", name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}
