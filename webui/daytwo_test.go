package webui_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"gatehouse/keys"
)

// TestDayTwoForms: the roll, disable, enable and edit forms need the
// session's CSRF token, refuse bad input with the form kept, and change
// the key.
func TestDayTwoForms(t *testing.T) {
	t.Parallel()
	g := mustGateway(t)
	ctx := context.Background()
	k, _, err := g.Keys().Create(ctx, keys.CreateRequest{Name: "forms"}, keys.Admin("admin:admin"))
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(t)
	csrf := login(t, g, c)
	base := g.AdminURL + "/settings/api-keys/" + k.ID
	for _, p := range []string{"/roll", "/disable", "/enable", "/update"} {
		if resp, _ := send(t, c, "POST", base+p, url.Values{"overlap": {"1h"}, "from": {k.Hint}}); resp.StatusCode != http.StatusForbidden {
			t.Errorf("POST %s without the CSRF token = %d, want 403", p, resp.StatusCode)
		}
	}
	if got, _ := g.Keys().Get(ctx, k.ID); got.Digest != k.Digest || got.Disabled {
		t.Fatalf("the key changed through forms without a CSRF token")
	}

	resp, body := send(t, c, "POST", base+"/roll", url.Values{"csrf": {csrf}, "overlap": {"24h"}, "from": {k.Hint}})
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `id="new-key"`) {
		t.Fatalf("roll = %d, want 200 with the new key", resp.StatusCode)
	}
	if resp, _ := send(t, c, "POST", base+"/roll", url.Values{"csrf": {csrf}, "overlap": {"24h"}, "from": {k.Hint}}); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("the same roll form again = %d, want 400", resp.StatusCode)
	}
	if resp, _ := send(t, c, "POST", base+"/disable", url.Values{"csrf": {csrf}}); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("disable = %d, want 303", resp.StatusCode)
	}
	if _, list := send(t, c, "GET", g.AdminURL+"/settings/api-keys", nil); !strings.Contains(list, ">Disabled<") {
		t.Errorf("the list lacks the Disabled badge")
	}
	resp, body = send(t, c, "POST", base+"/update", url.Values{"csrf": {csrf}, "allowedIps": {"10.0.0.0/8\r\nbogus"}, "readOnlyGrace": {"2h"}})
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "bogus") || !strings.Contains(body, ">10.0.0.0/8\r\nbogus</textarea>") && !strings.Contains(body, ">10.0.0.0/8\nbogus</textarea>") {
		t.Errorf("update with a bad address = %d, want 400 naming it with the form kept", resp.StatusCode)
	}
	resp, _ = send(t, c, "POST", base+"/update", url.Values{"csrf": {csrf}, "allowedIps": {"10.0.0.0/8\r\n 2001:db8::1 \r\n"}, "readOnlyGrace": {"2h"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("update = %d, want 303", resp.StatusCode)
	}
	got, _ := g.Keys().Get(ctx, k.ID)
	if len(got.AllowedIPs) != 2 || got.ReadOnlyGrace.Hours() != 2 || !got.Disabled || got.PreviousDigest == nil {
		t.Errorf("key after the forms = allowed %v, grace %v, disabled %v, rolled %v", got.AllowedIPs, got.ReadOnlyGrace, got.Disabled, got.PreviousDigest != nil)
	}
}
