package webui_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"

	"gatehouse/keys"
)

// TestBrowserDayTwo walks §8 in the Settings UI as a user would: roll a
// key (the new key shown once and copied), disable and enable it, and
// bind it to addresses and back, checking the data plane after each step.
func TestBrowserDayTwo(t *testing.T) {
	g := mustGateway(t)
	ctx := mustBrowser(t)
	do := func(step string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		sctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		defer cancel()
		if err := chromedp.Do(sctx, steps...); err != nil {
			png, serr := chromedp.Run(ctx, chromedp.FullScreenshot(100))
			if serr == nil {
				os.WriteFile(filepath.Join(os.TempDir(), "gatehouse-browser-daytwo-failure.png"), png, 0o644)
			}
			t.Fatalf("%s: %v (screenshot in %s)", step, err, filepath.Join(os.TempDir(), "gatehouse-browser-daytwo-failure.png"))
		}
	}
	k, old, err := g.Keys().Create(context.Background(), keys.CreateRequest{Name: "Heating controller"}, keys.Admin("admin:admin"))
	if err != nil {
		t.Fatal(err)
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
	do("log in",
		chromedp.Navigate(g.AdminURL+"/login"),
		chromedp.SendKeys("#username", "admin"),
		chromedp.SendKeys("#password", adminPassword),
		chromedp.Click(button("Log in")),
		chromedp.WaitVisible(row("Heating controller", "button", "More information")),
	)
	details := chromedp.Steps(
		chromedp.Navigate(g.AdminURL+"/settings/api-keys"),
		chromedp.Click(row("Heating controller", "button", "More information")),
		chromedp.WaitVisible(button("Roll key")),
	)

	// Roll with a day's overlap: the new key is shown once, "Copy key"
	// copies it, and both keys work.
	do("roll the key", details,
		chromedp.SetValue(`//label[normalize-space()="Overlap"]/following-sibling::select[1]`, "24h"),
		chromedp.Click(button("Roll key")),
		chromedp.WaitVisible("#new-key"),
		chromedp.Click(`//div[contains(@class, "alert-new")]//button[normalize-space()="Copy key"]`),
		chromedp.WaitVisible(`//p[@id="copy-status" and normalize-space()="Copied"]`),
	)
	newKey, err := chromedp.Run(ctx, chromedp.Text("#new-key"))
	if err != nil {
		t.Fatal(err)
	}
	copied, err := chromedp.Run(ctx, chromedp.Evaluate[string]("navigator.clipboard.readText()", chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("read the clipboard: %v", err)
	}
	if newKey = strings.TrimSpace(newKey); copied != newKey || !strings.HasPrefix(copied, "gth_") || copied == old.Reveal() {
		t.Fatalf("clipboard = %q, new key shown %q: want the new key", copied, newKey)
	}
	for name, key := range map[string]string{"new": copied, "old, inside the overlap": old.Reveal()} {
		if got := dataPlane(t, g, key); got != http.StatusOK {
			t.Errorf("data plane with the %s key = %d, want 200", name, got)
		}
	}
	// Reloading the answer sends the form again: refused, so that a
	// reload cannot roll the key twice and end the overlap it started.
	do("reload after the roll", chromedp.Reload(),
		chromedp.WaitVisible(`//p[@id="page-error" and contains(., "rolled")]`),
		chromedp.WaitVisible(`//dt[normalize-space()="Old key"]/following-sibling::dd[1][contains(., "works until")]`))
	if body := pageText(t, ctx); strings.Contains(body, copied) {
		t.Errorf("the details page shows the new key again after a reload")
	}
	if got := dataPlane(t, g, old.Reveal()); got != http.StatusOK {
		t.Errorf("data plane with the old key after a reload = %d, want 200 (still inside the overlap)", got)
	}

	// Disable, see the badge, enable.
	do("disable", chromedp.Click(button("Disable")), chromedp.WaitVisible(`//p[contains(., "disabled")]`),
		chromedp.Navigate(g.AdminURL+"/settings/api-keys"),
		chromedp.WaitVisible(`//tr[.//*[@class="key-name" and normalize-space()="Heating controller"]]//span[normalize-space()="Disabled"]`),
	)
	if got := dataPlane(t, g, copied); got != http.StatusUnauthorized {
		t.Errorf("data plane with the disabled key = %d, want 401", got)
	}
	do("enable", details, chromedp.Click(button("Enable")), chromedp.WaitVisible(button("Disable")))
	if got := dataPlane(t, g, copied); got != http.StatusOK {
		t.Errorf("data plane with the enabled key = %d, want 200", got)
	}

	// Bind the key to an address the test does not call from, then free
	// it again; set a read-only grace.
	do("edit addresses",
		chromedp.SetValue(`//label[normalize-space()="Allowed IP addresses"]/following-sibling::textarea[1]`, "203.0.113.7\n2001:db8::/32"),
		chromedp.SetValue(`//label[normalize-space()="Read-only grace"]/following-sibling::input[1]`, "24h"),
		chromedp.Click(button("Save changes")),
		chromedp.WaitVisible(`//p[contains(., "saved")]`),
		chromedp.WaitVisible(`//dt[normalize-space()="Allowed IP addresses"]/following-sibling::dd[1][contains(., "203.0.113.7") and contains(., "2001:db8::/32")]`),
		chromedp.WaitVisible(`//dt[normalize-space()="Read-only grace"]/following-sibling::dd[1][contains(., "24h")]`),
	)
	if got := dataPlane(t, g, copied); got != http.StatusForbidden {
		t.Errorf("data plane from outside the allowed addresses = %d, want 403", got)
	}
	do("a bad address is refused",
		chromedp.SetValue(`//label[normalize-space()="Allowed IP addresses"]/following-sibling::textarea[1]`, "not-an-address"),
		chromedp.Click(button("Save changes")),
		chromedp.WaitVisible(`//p[@id="page-error" and contains(., "not-an-address")]`),
	)
	do("clear the addresses",
		chromedp.Clear(`//label[normalize-space()="Allowed IP addresses"]/following-sibling::textarea[1]`),
		chromedp.Click(button("Save changes")),
		chromedp.WaitVisible(`//dt[normalize-space()="Allowed IP addresses"]/following-sibling::dd[1][normalize-space()="any"]`),
	)
	if got := dataPlane(t, g, copied); got != http.StatusOK {
		t.Errorf("data plane after clearing the addresses = %d, want 200", got)
	}
	if got, _ := g.Keys().Get(context.Background(), k.ID); got.ReadOnlyGrace != 24*time.Hour {
		t.Errorf("read-only grace = %v, want 24h", got.ReadOnlyGrace)
	}
}

func pageText(t *testing.T, ctx context.Context) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string]("document.body.innerText"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}
