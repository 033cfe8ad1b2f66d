package e2e_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"gatehouse/config"
	"gatehouse/gatehousetest"
	"gatehouse/keys"
)

// reloadRoutes are the routes of the reload tests: assets and a slow
// endpoint on a, the websocket on ws, and public hooks on a.
func reloadRoutes(a, ws string) []config.Route {
	return []config.Route{
		{Name: "assets", Path: "/api/v2/assets", Upstream: a + "/v2/assets", Scope: "assets"},
		{Name: "slow", Path: "/api/v2/slow", Upstream: a + "/slow", Scope: "assets"},
		{Name: "data-listener", Path: "/api/v2/data-listener", Upstream: ws + "/v2/data-listener", Scope: "data"},
		{Name: "hooks", Path: "/apps-public", Upstream: a + "/apps-public", Public: true},
	}
}

// reloaded returns a checked copy of g's config with its routes replaced.
func reloaded(t *testing.T, g *gateway, routes []config.Route) func() (*config.Config, error) {
	t.Helper()
	cfg := *g.Config
	cfg.Routes = routes
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	return func() (*config.Config, error) { return &cfg, nil }
}

// get sends GET path with key to the data plane and returns the status
// and body.
func (g *gateway) get(t *testing.T, client *http.Client, path, key string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", g.URL+path, nil)
	if key != "" {
		req.Header.Set("X-API-Key", key)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestReloadWhileInFlight: a reload adds, changes and removes routes while
// a slow request and a websocket are in flight; both finish on the routes
// they matched, and new requests see the new routes at once.
func TestReloadWhileInFlight(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	arrived := make(chan struct{}, 1)
	a := gatehousetest.NewUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/slow") {
			arrived <- struct{}{}
			<-release
		}
		io.WriteString(w, "a "+r.URL.Path)
	})
	b := gatehousetest.NewUpstream(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "b "+r.URL.Path) })
	ws := gatehousetest.NewUpstream(t, gatehousetest.WebSocketEcho)
	g := startGateway(t, func(c *config.Config) { c.Routes = reloadRoutes(a.URL, ws.URL) })
	_, key := g.key(t, "reload", "assets:read", "data:read")

	slow := make(chan string, 1)
	go func() {
		req, _ := http.NewRequest("GET", g.URL+"/api/v2/slow/report", nil)
		req.Header.Set("X-API-Key", key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			slow <- err.Error()
			return
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		slow <- resp.Status + " " + string(body)
	}()
	<-arrived
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(g.URL, "http")+"/api/v2/data-listener", &websocket.DialOptions{HTTPHeader: http.Header{"X-API-Key": {key}}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	echo := func(msg string) {
		t.Helper()
		if err := c.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
			t.Fatalf("websocket write: %v", err)
		}
		if _, got, err := c.Read(ctx); err != nil || string(got) != msg {
			t.Fatalf("websocket echo = %q, %v; want %q", got, err, msg)
		}
	}
	echo("before")

	// assets moves to b, reports is new, hooks goes; slow and the
	// websocket's route are removed too, while their requests are in flight.
	if err := g.Reload(reloaded(t, g, []config.Route{
		{Name: "assets", Path: "/api/v2/assets", Upstream: b.URL + "/v2/assets", Scope: "assets"},
		{Name: "reports", Path: "/reports", Upstream: b.URL + "/r", Public: true},
		{Name: "meters", Path: "/api/v2/meters", Upstream: b.URL + "/v2/meters", Scope: "meters"},
	})); err != nil {
		t.Fatal(err)
	}
	// A key may be given the scope of a route the reload added.
	_, meterKey := g.key(t, "meters", "meters:read")
	if status, body := g.get(t, http.DefaultClient, "/api/v2/meters/9", meterKey); status != 200 || body != "b /v2/meters/9" {
		t.Errorf("GET /api/v2/meters/9 with a key of the new scope = %d %q, want 200 from b", status, body)
	}
	for _, tc := range []struct {
		path   string
		status int
		body   string
	}{
		{"/api/v2/assets/7", 200, "b /v2/assets/7"},
		{"/reports/x", 200, "b /r/x"},
		{"/apps-public/x", 404, "no_route"},
		{"/api/v2/slow/x", 404, "no_route"},
	} {
		if status, body := g.get(t, http.DefaultClient, tc.path, key); status != tc.status || !strings.Contains(body, tc.body) {
			t.Errorf("after the reload, GET %s = %d %q, want %d with %q", tc.path, status, body, tc.status, tc.body)
		}
	}
	echo("after")
	close(release)
	if got := <-slow; got != "200 OK a /slow/report" {
		t.Errorf("the slow request in flight during the reload = %q, want 200 from a", got)
	}
	echo("after the slow request")
	c.Close(websocket.StatusNormalClosure, "")

	log := g.Log.String()
	if !strings.Contains(log, `"msg":"config reloaded","routes":3,"added":"reports,meters","changed":"assets","removed":"slow,data-listener,hooks"`) {
		t.Errorf("no reload line naming the routes added, changed and removed in the log:\n%s", log)
	}
	if r := do(t, "GET", g.AdminURL+"/metrics", "", "", ""); !strings.Contains(r.Body, `gatehouse_config_reload_total{result="ok"} 1`) {
		t.Errorf("/metrics has no ok reload:\n%s", r.Body)
	}
}

// TestReloadRefused: a config that does not load, or whose routes cannot
// be built, changes nothing; it is logged and counted. A change that needs
// a restart is named and not applied.
func TestReloadRefused(t *testing.T) {
	t.Parallel()
	a := gatehousetest.NewUpstream(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "a "+r.URL.Path) })
	g := startGateway(t, func(c *config.Config) { c.Routes = reloadRoutes(a.URL, a.URL) })
	_, key := g.key(t, "refused", "assets:read")

	broken := errors.New(`config: gatehouse.yaml:3: routes[0].path: must start with / (got "api")`)
	if err := g.Reload(func() (*config.Config, error) { return nil, broken }); !errors.Is(err, broken) {
		t.Fatalf("Reload(a config that does not load) = %v, want its error", err)
	}
	cfg := *g.Config
	cfg.ParsedRoutes = append(cfg.ParsedRoutes[:0:0], cfg.ParsedRoutes...)
	cfg.ParsedRoutes[0].Upstream = "https://127.0.0.1:1"
	cfg.ParsedRoutes[0].TLSCAFile = filepath.Join(t.TempDir(), "gone.pem")
	if err := g.Reload(func() (*config.Config, error) { return &cfg, nil }); err == nil || !strings.Contains(err.Error(), "route assets: tls_ca_file: stat ") {
		t.Fatalf("Reload(a CA file gone) = %v, want an error naming the route and the file", err)
	}
	for _, path := range []string{"/api/v2/assets/1", "/apps-public/x"} {
		if status, body := g.get(t, http.DefaultClient, path, key); status != 200 || !strings.HasPrefix(body, "a ") {
			t.Errorf("after refused reloads, GET %s = %d %q, want 200 from a", path, status, body)
		}
	}
	log := g.Log.String()
	if n := strings.Count(log, `"msg":"config reload refused; the running config stays"`); n != 2 || !strings.Contains(log, `routes[0].path: must start with /`) {
		t.Errorf("%d refusals logged, want 2, with why:\n%s", n, log)
	}
	if r := do(t, "GET", g.AdminURL+"/metrics", "", "", ""); !strings.Contains(r.Body, `gatehouse_config_reload_total{result="error"} 2`) || !strings.Contains(r.Body, `gatehouse_config_reload_total{result="ok"} 0`) {
		t.Errorf("/metrics does not count 2 refused reloads:\n%s", r.Body)
	}

	restart := *g.Config
	restart.ShutdownTimeout = config.Duration(time.Minute)
	restart.Listen = "127.0.0.1:1"
	if err := g.Reload(func() (*config.Config, error) { return &restart, nil }); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(g.Log.String(), `these keys changed but take effect only after a restart; they keep their running values","keys":"listen,shutdown_timeout"`) {
		t.Errorf("the keys that need a restart are not named:\n%s", g.Log.String())
	}
}

// TestReloadUnderLoad: requests sent without a pause while the routes are
// reloaded 40 times (an upstream swapped, a route added and removed) all
// succeed.
func TestReloadUnderLoad(t *testing.T) {
	t.Parallel()
	a := gatehousetest.NewUpstream(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "a") })
	b := gatehousetest.NewUpstream(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "b") })
	g := startGateway(t, func(c *config.Config) { c.Routes = reloadRoutes(a.URL, a.URL) })
	_, key := g.key(t, "load", "assets:read")
	configs := []func() (*config.Config, error){
		reloaded(t, g, reloadRoutes(b.URL, a.URL)),
		reloaded(t, g, append(reloadRoutes(a.URL, b.URL), config.Route{Name: "extra", Path: "/extra", Upstream: b.URL, Public: true})),
	}

	var stop atomic.Bool
	var sent, failed atomic.Int64
	var wg sync.WaitGroup
	defer func() { stop.Store(true); wg.Wait() }()
	for range 4 {
		wg.Go(func() {
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
			defer client.CloseIdleConnections()
			for !stop.Load() {
				req, _ := http.NewRequest("GET", g.URL+"/api/v2/assets/1", nil)
				req.Header.Set("X-API-Key", key)
				resp, err := client.Do(req)
				sent.Add(1)
				if err != nil {
					failed.Add(1)
					t.Errorf("GET during reloads: %v", err)
					continue
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || (string(body) != "a" && string(body) != "b") {
					failed.Add(1)
					t.Errorf("GET during reloads = %d %q, want 200 from a or b", resp.StatusCode, body)
				}
			}
		})
	}
	// waitSent polls until n more requests were sent.
	waitSent := func(n int64) {
		for want, deadline := sent.Load()+n, time.Now().Add(10*time.Second); sent.Load() < want; {
			if time.Now().After(deadline) {
				t.Fatalf("fewer than %d requests in 10s", n)
			}
			time.Sleep(time.Millisecond) // poll interval
		}
	}
	waitSent(20)
	for i := range 40 {
		if err := g.Reload(configs[i%2]); err != nil {
			t.Fatal(err)
		}
		waitSent(5)
	}
	stop.Store(true)
	wg.Wait()
	t.Logf("%d requests during 40 reloads, %d failed", sent.Load(), failed.Load())
	if failed.Load() != 0 {
		t.Errorf("%d of %d requests failed during reloads", failed.Load(), sent.Load())
	}
}

// TestReloadTrustedProxies: trusted_proxies changes with a reload: a key
// bound to an address passes through a proxy only once the proxy is
// trusted, and no longer once it is not.
func TestReloadTrustedProxies(t *testing.T) {
	t.Parallel()
	g := startGateway(t, nil)
	_, key := g.MustCreateKey(t, keys.CreateRequest{Name: "bound", Scopes: []string{"assets:read"}, AllowedIPs: []string{"203.0.113.7"}})
	behindProxy := func() int {
		t.Helper()
		req, _ := http.NewRequest("GET", g.URL+"/api/v2/assets/1", nil)
		req.Header.Set("X-API-Key", key)
		req.Header.Set("X-Forwarded-For", "203.0.113.7")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := behindProxy(); got != http.StatusForbidden {
		t.Fatalf("through an untrusted proxy = %d, want 403", got)
	}
	trusted := *g.Config
	trusted.TrustedProxies = []string{"127.0.0.1"}
	if err := trusted.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := g.Reload(func() (*config.Config, error) { return &trusted, nil }); err != nil {
		t.Fatal(err)
	}
	if got := behindProxy(); got != 200 {
		t.Errorf("through a proxy trusted by the reload = %d, want 200", got)
	}
	untrusted := *g.Config
	if err := g.Reload(func() (*config.Config, error) { return &untrusted, nil }); err != nil {
		t.Fatal(err)
	}
	if got := behindProxy(); got != http.StatusForbidden {
		t.Errorf("through a proxy no longer trusted = %d, want 403", got)
	}
	if strings.Contains(g.Log.String(), "take effect only after a restart") {
		t.Errorf("trusted_proxies named as needing a restart:\n%s", g.Log.String())
	}
}
