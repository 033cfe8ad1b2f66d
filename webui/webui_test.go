package webui_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"gatehouse"
	"gatehouse/keys"
	"gatehouse/password"
)

func TestLogin(t *testing.T) {
	t.Parallel()
	g := mustGateway(t)
	c := newClient(t)
	if resp, _ := send(t, c, "GET", g.AdminURL+"/settings/api-keys", nil); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login" {
		t.Errorf("settings without a session = %d to %q, want 303 to /login", resp.StatusCode, resp.Header.Get("Location"))
	}
	for name, form := range map[string]url.Values{
		"wrong password": {"username": {"admin"}, "password": {"not the password"}},
		"unknown user":   {"username": {"mallory"}, "password": {adminPassword}},
	} {
		resp, body := send(t, newClient(t), "POST", g.AdminURL+"/login", form)
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "not right") || strings.Contains(body, adminPassword) {
			t.Errorf("%s: %d, want 401 with a message and no password echoed", name, resp.StatusCode)
		}
	}
	login(t, g, c)
	resp, _ := send(t, c, "GET", g.AdminURL+"/settings/api-keys", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("settings after login = %d, want 200", resp.StatusCode)
	}
	for h, want := range map[string]string{"X-Frame-Options": "DENY", "Cache-Control": "no-store"} {
		if got := resp.Header.Get(h); got != want {
			t.Errorf("%s = %q, want %q", h, got, want)
		}
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
		t.Errorf("Content-Security-Policy = %q, want scripts from self only", csp)
	}
	u, _ := url.Parse(g.AdminURL)
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == "gatehouse_session" && ck.Value == "" {
			t.Error("empty session cookie")
		}
	}
}

func TestSessionCookieFlags(t *testing.T) {
	t.Parallel()
	g := mustGateway(t)
	resp, _ := send(t, newClient(t), "POST", g.AdminURL+"/login", url.Values{"username": {"admin"}, "password": {adminPassword}})
	sc := resp.Header.Get("Set-Cookie")
	for _, want := range []string{"gatehouse_session=", "HttpOnly", "SameSite=Strict", "Path=/"} {
		if !strings.Contains(sc, want) {
			t.Errorf("Set-Cookie = %q, want %s", sc, want)
		}
	}
}

func TestLoginThrottled(t *testing.T) {
	t.Parallel()
	g := mustGateway(t)
	c := newClient(t)
	for i := range 5 {
		if resp, _ := send(t, c, "POST", g.AdminURL+"/login", url.Values{"username": {"admin"}, "password": {"guess"}}); resp.StatusCode != 401 {
			t.Fatalf("failure %d = %d, want 401", i+1, resp.StatusCode)
		}
	}
	// Even the right password waits now.
	resp, body := send(t, c, "POST", g.AdminURL+"/login", url.Values{"username": {"admin"}, "password": {adminPassword}})
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" || !strings.Contains(body, "Too many") {
		t.Fatalf("after 5 failures = %d (Retry-After %q), want 429 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	g.Clock.Add(2 * time.Second)
	if resp, _ := send(t, c, "POST", g.AdminURL+"/login", url.Values{"username": {"admin"}, "password": {adminPassword}}); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("after waiting = %d, want 303 (logged in)", resp.StatusCode)
	}
}

// TestLoginThrottledAcrossNodes: failures seen by one node slow down the
// next attempt on every node, and on a restarted one; a made-up username is
// counted like a real one.
func TestLoginThrottledAcrossNodes(t *testing.T) {
	t.Parallel()
	a := mustGateway(t)
	b := a.MustStartNode(t)
	try := func(g *gateway, user, pw string) int {
		t.Helper()
		resp, _ := send(t, newClient(t), "POST", g.AdminURL+"/login", url.Values{"username": {user}, "password": {pw}})
		return resp.StatusCode
	}
	for i := range 5 {
		g := a
		if i%2 == 1 {
			g = b
		}
		if got := try(g, "admin", "guess"); got != http.StatusUnauthorized {
			t.Fatalf("failure %d = %d, want 401", i+1, got)
		}
	}
	for name, g := range map[string]*gateway{"A": a, "B": b, "restarted": a.MustStartNode(t)} {
		if got := try(g, "admin", adminPassword); got != http.StatusTooManyRequests {
			t.Errorf("right password on node %s after 5 failures = %d, want 429", name, got)
		}
	}
	a.Clock.Add(2 * time.Second)
	if got := try(b, "admin", adminPassword); got != http.StatusSeeOther {
		t.Fatalf("right password after the wait = %d, want 303", got)
	}
	// The success cleared the counts, so they start from zero again; a
	// made-up name is counted like a real one.
	if got := try(a, "admin", "guess"); got != http.StatusUnauthorized {
		t.Errorf("failure after a success = %d, want 401", got)
	}
	if got := try(a, "mallory", "guess"); got != http.StatusUnauthorized {
		t.Errorf("made-up user = %d, want 401", got)
	}
	counts, err := a.Store().FindLoginFailures(context.Background(), []string{"user:admin", "user:mallory", "ip:127.0.0.1"}, a.Clock.Now().Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(counts) != 3 || counts[0].Subject != "ip:127.0.0.1" || counts[0].Count != 2 || counts[1].Subject != "user:admin" || counts[1].Count != 1 || counts[2].Subject != "user:mallory" || counts[2].Count != 1 {
		t.Errorf("counts = %+v, want the address with 2 failures, admin and mallory with 1", counts)
	}
}

func TestSessionExpiresAndLogout(t *testing.T) {
	t.Parallel()
	g := mustGateway(t)
	c := newClient(t)
	login(t, g, c)
	g.Clock.Add(13 * time.Hour)
	if resp, _ := send(t, c, "GET", g.AdminURL+"/settings/api-keys", nil); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("after 13 h = %d, want 303 to /login (session expired)", resp.StatusCode)
	}

	c = newClient(t)
	csrf := login(t, g, c)
	u, _ := url.Parse(g.AdminURL)
	stolen := c.Jar.Cookies(u)
	if resp, _ := send(t, c, "POST", g.AdminURL+"/logout", url.Values{"csrf": {csrf}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("logout = %d, want 303", resp.StatusCode)
	}
	replay := newClient(t)
	replay.Jar.SetCookies(u, stolen)
	if resp, _ := send(t, replay, "GET", g.AdminURL+"/settings/api-keys", nil); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("old cookie after logout = %d, want 303 to /login", resp.StatusCode)
	}
}

// TestLogoutEndsSessionsEverywhere: a logout, or a new password, ends the
// user's sessions on every node at once, and survives a restart (it is in
// the store); logging in again works at once.
func TestLogoutEndsSessionsEverywhere(t *testing.T) {
	t.Parallel()
	a := mustGateway(t)
	b := a.MustStartNode(t)
	page := func(g *gateway, cookie string) int {
		t.Helper()
		resp, _ := send(t, newClient(t), "GET", g.AdminURL+"/settings/api-keys", nil, "Cookie", cookie)
		return resp.StatusCode
	}
	cookieOf := func(c *http.Client) string {
		u, _ := url.Parse(a.AdminURL)
		for _, ck := range c.Jar.Cookies(u) {
			if ck.Name == "gatehouse_session" {
				return ck.Name + "=" + ck.Value
			}
		}
		t.Fatal("no session cookie")
		return ""
	}

	c := newClient(t)
	csrf := login(t, a, c)
	stolen := cookieOf(c)
	if got := page(b, stolen); got != http.StatusOK {
		t.Fatalf("session of node A on node B = %d, want 200 (one cluster)", got)
	}
	if resp, _ := send(t, c, "POST", a.AdminURL+"/logout", url.Values{"csrf": {csrf}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("logout = %d, want 303", resp.StatusCode)
	}
	for name, g := range map[string]*gateway{"A": a, "B": b} {
		if got := page(g, stolen); got != http.StatusSeeOther {
			t.Errorf("logged-out cookie on node %s = %d, want 303 to /login", name, got)
		}
	}
	restarted := a.MustStartNode(t)
	if got := page(restarted, stolen); got != http.StatusSeeOther {
		t.Errorf("logged-out cookie on a restarted node = %d, want 303 to /login", got)
	}

	// Logging in again, in the same instant, works; a new password ends it.
	c = newClient(t)
	login(t, b, c)
	again := cookieOf(c)
	if got := page(a, again); got != http.StatusOK {
		t.Fatalf("new session after the logout = %d, want 200", got)
	}
	a.Clock.Add(time.Second)
	hash, err := password.Hash("another long password")
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Store().CreateUser(context.Background(), &gatehouse.User{Username: "admin", PasswordHash: hash, CreatedAt: a.Clock.Now()}); err != nil {
		t.Fatal(err)
	}
	if got := page(b, again); got != http.StatusSeeOther {
		t.Errorf("session after the password was replaced = %d, want 303 to /login", got)
	}

	// Deleting the user ends their sessions too.
	c = newClient(t)
	resp, body := send(t, c, "POST", a.AdminURL+"/login", url.Values{"username": {"admin"}, "password": {"another long password"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login with the new password = %d %s, want 303", resp.StatusCode, body)
	}
	last := cookieOf(c)
	if got := page(b, last); got != http.StatusOK {
		t.Fatalf("session with the new password = %d, want 200", got)
	}
	if err := a.Store().DeleteUser(context.Background(), "admin"); err != nil {
		t.Fatal(err)
	}
	if got := page(a, last); got != http.StatusSeeOther {
		t.Errorf("session of a deleted user = %d, want 303 to /login", got)
	}
}

func TestCSRF(t *testing.T) {
	t.Parallel()
	g := mustGateway(t)
	c := newClient(t)
	csrf := login(t, g, c)
	if resp, _ := send(t, c, "POST", g.AdminURL+"/settings/api-keys", url.Values{"name": {"no token"}}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("form without CSRF token = %d, want 403", resp.StatusCode)
	}
	if resp, _ := send(t, c, "POST", g.AdminURL+"/settings/api-keys", url.Values{"name": {"bad token"}, "csrf": {csrf + "x"}}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("form with a wrong CSRF token = %d, want 403", resp.StatusCode)
	}
	// The management API with a session: CSRF header required for changes.
	resp, body := send(t, c, "POST", g.AdminURL+"/api/v2/api-keys", nil, "Content-Type", "application/json")
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("management API POST with a session and no X-CSRF-Token = %d %s, want 403", resp.StatusCode, body)
	}
	if _, n, _ := g.Keys().List(context.Background(), 0, 10); n != 0 {
		t.Fatalf("%d keys after refused requests, want 0", n)
	}
	req, _ := http.NewRequest("POST", g.AdminURL+"/api/v2/api-keys", strings.NewReader(`{"name":"via session"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-CSRF-Token", csrf)
	r2, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r2.Body.Close()
	if r2.StatusCode != http.StatusCreated {
		t.Errorf("management API POST with session and token = %d, want 201", r2.StatusCode)
	}
	if resp, _ := send(t, c, "GET", g.AdminURL+"/api/v2/api-keys", nil); resp.StatusCode != 200 {
		t.Errorf("management API GET with a session = %d, want 200", resp.StatusCode)
	}
}

// TestDataPlaneRefusesSessions: the data plane's listener is another
// origin; a Settings session is worth nothing there, so a page an upstream
// serves cannot use it. (Cookies are not bound to a port: the browser sends
// the session cookie there too.)
func TestDataPlaneRefusesSessions(t *testing.T) {
	t.Parallel()
	g := mustGateway(t)
	c := newClient(t)
	csrf := login(t, g, c)
	if resp, body := send(t, c, "GET", g.URL+"/api/v2/api-keys", nil); resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, `"missing_key"`) {
		t.Errorf("data plane GET /api/v2/api-keys with a session = %d %s, want 401 missing_key", resp.StatusCode, body)
	}
	req, _ := http.NewRequest("POST", g.URL+"/api/v2/api-keys", strings.NewReader(`{"name":"via data plane","scopes":["*:write"]}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-CSRF-Token", csrf)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("data plane POST /api/v2/api-keys with session and CSRF token = %d, want 401", resp.StatusCode)
	}
	if _, n, _ := g.Keys().List(context.Background(), 0, 10); n != 0 {
		t.Errorf("%d keys after a session call on the data plane, want 0", n)
	}
	for _, p := range []string{"/settings/api-keys", "/login", "/metrics"} {
		if resp, _ := send(t, c, "GET", g.URL+p, nil); resp.StatusCode != http.StatusNotFound {
			t.Errorf("data plane GET %s = %d, want 404", p, resp.StatusCode)
		}
	}
}

func TestCreateFormErrors(t *testing.T) {
	t.Parallel()
	g := mustGateway(t)
	c := newClient(t)
	csrf := login(t, g, c)
	if resp, body := send(t, c, "POST", g.AdminURL+"/settings/api-keys", url.Values{"name": {"Taken"}, "csrf": {csrf}}); resp.StatusCode != http.StatusCreated || !strings.Contains(body, "gth_") {
		t.Fatalf("create = %d, want 201 showing the key once", resp.StatusCode)
	}
	yesterday := g.Clock.Now().Add(-24 * time.Hour).Format(time.DateOnly)
	tests := []struct {
		name   string
		form   url.Values
		status int
		want   string
	}{
		{"duplicate", url.Values{"name": {"taken"}}, 409, "already exists"},
		{"empty", url.Values{"name": {"   "}}, 400, "Name is required"},
		{"past date", url.Values{"name": {"old"}, "validUntil": {yesterday}}, 400, "future"},
		{"no access", url.Values{"name": {"none"}, "scope:assets": {"none"}, "scope:data": {"none"}}, 400, "at least one route"},
	}
	for _, tt := range tests {
		tt.form.Set("csrf", csrf)
		resp, body := send(t, c, "POST", g.AdminURL+"/settings/api-keys", tt.form)
		if resp.StatusCode != tt.status || !strings.Contains(body, tt.want) || !strings.Contains(body, "data-autoopen") {
			t.Errorf("%s: %d, want %d with %q in the reopened form", tt.name, resp.StatusCode, tt.status, tt.want)
		}
	}
	if _, n, _ := g.Keys().List(context.Background(), 0, 10); n != 1 {
		t.Errorf("%d keys, want only the first", n)
	}
	resp, body := send(t, c, "POST", g.AdminURL+"/settings/api-keys", url.Values{"name": {"mixed"}, "scope:assets": {"write"}, "scope:data": {"none"}, "csrf": {csrf}})
	if resp.StatusCode != http.StatusCreated || !strings.Contains(body, "assets:write") {
		t.Errorf("create with mixed access = %d, want 201 listing assets:write", resp.StatusCode)
	}
}

func TestRenew(t *testing.T) {
	t.Parallel()
	g := mustGateway(t)
	ctx := context.Background()
	tomorrow := g.Clock.Now().Add(24 * time.Hour)
	k, _, err := g.Keys().Create(ctx, keys.CreateRequest{Name: "nightly", ValidUntil: &tomorrow}, keys.Admin("test"))
	if err != nil {
		t.Fatal(err)
	}
	g.Clock.Add(48 * time.Hour)
	c := newClient(t)
	csrf := login(t, g, c)
	renewURL := g.AdminURL + "/settings/api-keys/" + k.ID + "/renew"
	yesterday := g.Clock.Now().Add(-24 * time.Hour).Format(time.DateOnly)
	tests := []struct {
		name   string
		form   url.Values
		status int
		want   string
	}{
		{"no date and no box", url.Values{}, 400, "Pick a new expiration date"},
		{"past date", url.Values{"validUntil": {yesterday}}, 400, "future date"},
		{"not a date", url.Values{"validUntil": {"soon"}}, 400, "future date"},
	}
	for _, tt := range tests {
		tt.form.Set("csrf", csrf)
		resp, body := send(t, c, "POST", renewURL, tt.form)
		if resp.StatusCode != tt.status || !strings.Contains(body, tt.want) || !strings.Contains(body, `id="page-error"`) {
			t.Errorf("%s: %d, want %d with %q shown on the page", tt.name, resp.StatusCode, tt.status, tt.want)
		}
		if got, _ := g.Keys().Get(ctx, k.ID); !got.Expired(g.Clock.Now()) {
			t.Fatalf("%s: the key was renewed", tt.name)
		}
	}

	next := g.Clock.Now().AddDate(0, 1, 0).Format(time.DateOnly)
	if resp, _ := send(t, c, "POST", renewURL, url.Values{"csrf": {csrf}, "validUntil": {next}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("renew to %s = %d, want 303", next, resp.StatusCode)
	}
	if got, _ := g.Keys().Get(ctx, k.ID); got.Expired(g.Clock.Now()) || got.ValidUntil == nil || got.ValidUntil.Format(time.DateOnly) != next {
		t.Errorf("after renewal: validUntil = %v, want %s and not expired", got.ValidUntil, next)
	}
	// "No expiration" wins over a date sent along.
	if resp, _ := send(t, c, "POST", renewURL, url.Values{"csrf": {csrf}, "validUntil": {next}, "noExpiry": {"1"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("renew without expiry = %d, want 303", resp.StatusCode)
	}
	if got, _ := g.Keys().Get(ctx, k.ID); got.ValidUntil != nil {
		t.Errorf("after renewal without expiry: validUntil = %v, want none", got.ValidUntil)
	}
	if resp, _ := send(t, c, "POST", g.AdminURL+"/settings/api-keys/key_missing/renew", url.Values{"csrf": {csrf}, "noExpiry": {"1"}}); resp.StatusCode != http.StatusNotFound {
		t.Errorf("renew of a missing key = %d, want 404", resp.StatusCode)
	}
}

func TestDetailsPage(t *testing.T) {
	t.Parallel()
	g := mustGateway(t)
	k, secret, err := g.Keys().Create(context.Background(), keys.CreateRequest{Name: "BMS <integration>"}, keys.Admin("admin:admin"))
	if err != nil {
		t.Fatal(err)
	}
	const jwk = `{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}`
	if _, _, err := g.Keys().AddSigningKey(context.Background(), k.ID, []byte(jwk), keys.Admin("admin:admin")); err != nil {
		t.Fatal(err)
	}
	c := newClient(t)
	login(t, g, c)
	resp, body := send(t, c, "GET", g.AdminURL+"/settings/api-keys/"+k.ID, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("details = %d, want 200", resp.StatusCode)
	}
	for _, want := range []string{"BMS &lt;integration&gt;", k.Hint, "*:read", "admin:admin", ">create<", "Requests (last 7 days)", "Copy key",
		"Signing keys", "<code>kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k</code>", ">add_signing_key<"} {
		if !strings.Contains(body, want) {
			t.Errorf("details page lacks %q", want)
		}
	}
	if n := strings.Count(body, ": 0;"); n != 7 {
		t.Errorf("request chart has %d empty days, want 7", n)
	}
	if strings.Contains(body, secret.Reveal()) {
		t.Error("details page shows the plain key")
	}
	if resp, _ := send(t, c, "GET", g.AdminURL+"/settings/api-keys/key_missing", nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("details of a missing key = %d, want 404", resp.StatusCode)
	}
}
