package webui_test

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"gatehouse/config"
	"gatehouse/gatehousetest"
	"gatehouse/gatehousetest/gatewaytest"
)

const adminPassword = gatewaytest.AdminPassword

// gateway is a running gateway: AdminURL is the administrators' listener
// (the Settings UI), URL the data plane's.
type gateway = gatewaytest.Gateway

// mustGateway runs a whole gateway (store, index, data plane, management
// API and this UI) on a temp-dir SQLite store with an "admin" user and a
// real upstream behind /api/v2/assets and /api/v2/data; its clock stands
// still until the test moves it.
func mustGateway(t testing.TB) *gateway {
	t.Helper()
	up := gatehousetest.NewUpstream(t, nil)
	cfg := gatewaytest.Config(t, up.URL, func(c *config.Config) {
		c.Routes = []config.Route{
			{Name: "assets", Path: "/api/v2/assets", Upstream: up.URL + "/v2/assets", Scope: "assets"},
			{Name: "data", Path: "/api/v2/data", Upstream: up.URL + "/v2/data", Scope: "data"},
		}
	})
	return gatewaytest.MustStart(t, cfg, gatewaytest.Options{Clock: gatehousetest.NewClock(time.Now())})
}

// browser is an HTTP client with cookies that does not follow redirects.
func newClient(t testing.TB) *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func send(t testing.TB, c *http.Client, method, u string, form url.Values, header ...string) (*http.Response, string) {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// login logs c in as admin and returns the page's CSRF token.
func login(t testing.TB, g *gateway, c *http.Client) string {
	t.Helper()
	resp, body := send(t, c, "POST", g.AdminURL+"/login", url.Values{"username": {"admin"}, "password": {adminPassword}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login = %d %s, want 303", resp.StatusCode, body)
	}
	return csrfOf(t, g, c)
}

var csrfRE = regexp.MustCompile(`name="csrf-token" content="([^"]+)"`)

func csrfOf(t testing.TB, g *gateway, c *http.Client) string {
	t.Helper()
	resp, body := send(t, c, "GET", g.AdminURL+"/settings/api-keys", nil)
	m := csrfRE.FindStringSubmatch(body)
	if resp.StatusCode != 200 || m == nil {
		t.Fatalf("GET /settings/api-keys = %d without a CSRF token", resp.StatusCode)
	}
	return m[1]
}
