package webui_test

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"gatehouse/config"
	"gatehouse/server"
)

const adminPassword = "correct horse battery staple"

// clock is a time that tests move by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// gateway is a running gateway: URL is the administrators' listener (the
// Settings UI), DataURL the data plane's.
type gateway struct {
	*server.Server
	URL      string
	DataURL  string
	Clock    *clock
	upstream *httptest.Server
	cfg      *config.Config
}

// mustGateway runs a whole gateway (store, index, data plane, management
// API and this UI) on a temp-dir SQLite store with an "admin" user and a
// real upstream behind /api/v2/assets.
func mustGateway(t testing.TB) *gateway {
	t.Helper()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"id":"158"}`)
	}))
	t.Cleanup(up.Close)
	dir := t.TempDir()
	cfg := config.Default()
	cfg.Storage = "sqlite:" + filepath.Join(dir, "g.db")
	cfg.SecretKeyFile = filepath.Join(dir, "secret.key")
	cfg.Routes = []config.Route{
		{Name: "assets", Path: "/api/v2/assets", Upstream: up.URL + "/v2/assets", Scope: "assets"},
		{Name: "data", Path: "/api/v2/data", Upstream: up.URL + "/v2/data", Scope: "data"},
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	g := openNode(t, cfg, &clock{t: time.Now()})
	g.upstream = up
	return g
}

// openNode runs a gateway on cfg: a second one on the same cfg is a second
// node of the same cluster (the same store and master key).
func openNode(t testing.TB, cfg *config.Config, clk *clock) *gateway {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s, err := server.Open(ctx, cfg, server.Options{Now: clk.Now, AdminPassword: adminPassword})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	data := httptest.NewServer(s.DataHandler())
	admin := httptest.NewServer(s.AdminHandler())
	t.Cleanup(func() { data.Close(); admin.Close(); cancel(); <-done; s.Close() })
	return &gateway{Server: s, URL: admin.URL, DataURL: data.URL, Clock: clk, cfg: cfg}
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
	resp, body := send(t, c, "POST", g.URL+"/login", url.Values{"username": {"admin"}, "password": {adminPassword}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login = %d %s, want 303", resp.StatusCode, body)
	}
	return csrfOf(t, g, c)
}

var csrfRE = regexp.MustCompile(`name="csrf-token" content="([^"]+)"`)

func csrfOf(t testing.TB, g *gateway, c *http.Client) string {
	t.Helper()
	resp, body := send(t, c, "GET", g.URL+"/settings/api-keys", nil)
	m := csrfRE.FindStringSubmatch(body)
	if resp.StatusCode != 200 || m == nil {
		t.Fatalf("GET /settings/api-keys = %d without a CSRF token", resp.StatusCode)
	}
	return m[1]
}
