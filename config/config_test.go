package config_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gatehouse/config"
)

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "gatehouse.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadDefaults(t *testing.T) {
	t.Parallel()
	c, err := config.Load("", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.Listen, "127.0.0.1:8080"; got != want {
		t.Errorf("Listen = %q, want %q", got, want)
	}
	if got, want := c.AdminListen, "127.0.0.1:8081"; got != want {
		t.Errorf("AdminListen = %q, want %q", got, want)
	}
	if got, want := time.Duration(c.ShutdownTimeout), 15*time.Second; got != want {
		t.Errorf("ShutdownTimeout = %v, want %v", got, want)
	}
	if got, want := time.Duration(c.BodyTimeout), 60*time.Second; got != want {
		t.Errorf("BodyTimeout = %v, want %v", got, want)
	}
	if !c.DefaultRateLimit.IsZero() {
		t.Errorf("DefaultRateLimit = %v, want none", c.DefaultRateLimit)
	}
}

func TestLoadFileAndEnv(t *testing.T) {
	t.Parallel()
	p := writeFile(t, `
listen: "127.0.0.1:9000"
rate_limit: "100/s"
routes:
  - name: assets
    path: /api/v2/assets
    upstream: http://127.0.0.1:3000/v2/assets
    scope: assets
  - name: hooks
    path: /apps-public
    upstream: http://127.0.0.1:3001/apps-public
    public: true
    timeout: 5s
`)
	env := map[string]string{"GATEHOUSE_LISTEN": "127.0.0.1:9100", "GATEHOUSE_SHUTDOWN_TIMEOUT": "3s", "GATEHOUSE_USAGE_FLUSH_INTERVAL": "1m", "GATEHOUSE_EXPIRY_WARNING": "72h", "GATEHOUSE_BODY_TIMEOUT": "90s"}
	c, err := config.Load(p, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.Listen, "127.0.0.1:9100"; got != want {
		t.Errorf("Listen = %q, want %q (env wins over file)", got, want)
	}
	if got, want := time.Duration(c.ShutdownTimeout), 3*time.Second; got != want {
		t.Errorf("ShutdownTimeout = %v, want %v", got, want)
	}
	if got, want := time.Duration(c.UsageFlushInterval), time.Minute; got != want {
		t.Errorf("UsageFlushInterval = %v, want %v", got, want)
	}
	if got, want := time.Duration(c.ExpiryWarning), 72*time.Hour; got != want {
		t.Errorf("ExpiryWarning = %v, want %v", got, want)
	}
	if got, want := time.Duration(c.BodyTimeout), 90*time.Second; got != want {
		t.Errorf("BodyTimeout = %v, want %v", got, want)
	}
	if got, want := c.DefaultRateLimit.Requests, 100; got != want {
		t.Errorf("DefaultRateLimit.Requests = %d, want %d", got, want)
	}
	if len(c.ParsedRoutes) != 2 {
		t.Fatalf("ParsedRoutes = %+v, want 2 routes", c.ParsedRoutes)
	}
	if got, want := c.ParsedRoutes[0].Timeout, 30*time.Second; got != want {
		t.Errorf("ParsedRoutes[0].Timeout = %v, want default %v", got, want)
	}
	if got, want := c.ParsedRoutes[1].Timeout, 5*time.Second; got != want {
		t.Errorf("ParsedRoutes[1].Timeout = %v, want %v", got, want)
	}
	if u, err := c.ParsedRoutes[1].UpstreamURL(); err != nil || u.Path != "/apps-public" {
		t.Errorf("ParsedRoutes[1].UpstreamURL() = %v, %v; want the path /apps-public", u, err)
	}
	if got, want := c.AdminListen, "127.0.0.1:8081"; got != want {
		t.Errorf("AdminListen = %q, want the default %q", got, want)
	}
	if got := c.ScopeNames(); len(got) != 1 || got[0] != "assets" {
		t.Errorf("ScopeNames() = %v, want [assets]", got)
	}
}

func TestLoadRoutesFromEnv(t *testing.T) {
	t.Parallel()
	env := map[string]string{"GATEHOUSE_ROUTES": `[{"name":"a","path":"/a","upstream":"http://127.0.0.1:1/a","scope":"a"}]`}
	c, err := config.Load("", func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Routes) != 1 || c.Routes[0].Scope != "a" {
		t.Fatalf("Routes = %+v, want one route with scope a", c.Routes)
	}
}

func TestRouteDefaults(t *testing.T) {
	t.Parallel()
	c := config.Default()
	c.Routes = []config.Route{
		{Name: "a", Path: "/a", Upstream: "http://127.0.0.1:1/a", Scope: "a"},
		{Name: "b", Path: "/b", Upstream: "http://127.0.0.1:1/b", Scope: "b", Timeout: config.Duration(time.Second), WebSocket: new(false)},
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	for i, want := range []struct {
		timeout   time.Duration
		websocket bool
	}{{30 * time.Second, true}, {time.Second, false}} {
		r := c.ParsedRoutes[i]
		if r.Timeout != want.timeout || r.WebSocket != want.websocket {
			t.Errorf("ParsedRoutes[%d]: Timeout %v, WebSocket %v; want %v, %v", i, r.Timeout, r.WebSocket, want.timeout, want.websocket)
		}
	}
	c.Routes = append(c.Routes, config.Route{Name: "a", Path: "/c", Upstream: "http://127.0.0.1:1/c", Scope: "c"})
	if err := c.Validate(); err == nil || c.ParsedRoutes != nil {
		t.Errorf("Validate() of a route list with a name twice = %v, ParsedRoutes %v; want an error and none", err, c.ParsedRoutes)
	}
}

func TestLoadInvalid(t *testing.T) {
	t.Parallel()
	route := func(extra string) string {
		return "routes:\n  - name: a\n    path: /a\n    upstream: http://127.0.0.1:1/a\n    scope: a\n" + extra
	}
	tests := []struct {
		name, yaml, want string
	}{
		{"unknown key", "lisen: x\n", "lisen"},
		{"bad listen", "listen: nope\n", "listen"},
		{"bad admin listen", "admin_listen: nope\n", "admin_listen"},
		{"admin listen same as listen", "listen: 127.0.0.1:9000\nadmin_listen: 127.0.0.1:9000\n", "must differ from listen"},
		{"admin listen on listen's port of every address", "listen: :9000\nadmin_listen: 127.0.0.1:9000\n", "must differ from listen"},
		{"admin listen by the default port", "admin_listen: 127.0.0.1:8080\n", "must differ from listen"},
		{"bad storage", "storage: mysql://x\n", "storage"},
		{"bad rate", "rate_limit: fast\n", "rate_limit"},
		{"bad duration", "shutdown_timeout: soon\n", "soon"},
		{"negative duration", "read_header_timeout: -1s\n", "read_header_timeout"},
		{"zero body timeout", "body_timeout: 0s\n", "body_timeout"},
		{"bad body timeout", "body_timeout: 1 minute\n", "1 minute"},
		{"bad redis", "redis: 127.0.0.1:6379\n", "redis"},
		{"bad log format", "log_format: xml\n", "log_format"},
		{"route without scope", "routes:\n  - name: a\n    path: /a\n    upstream: http://127.0.0.1:1/a\n", "routes[0].scope"},
		{"route bad upstream", "routes:\n  - name: a\n    path: /a\n    upstream: ftp://x\n    scope: a\n", "routes[0].upstream"},
		{"route trailing slash", "routes:\n  - name: a\n    path: /a/\n    upstream: http://127.0.0.1:1/a\n    scope: a\n", "routes[0].path"},
		{"route dot segment", "routes:\n  - name: a\n    path: /a/../b\n    upstream: http://127.0.0.1:1/a\n    scope: a\n", "routes[0].path"},
		{"zero expiry warning", "expiry_warning: 0s\n", "expiry_warning"},
		{"usage flush too often", "usage_flush_interval: 10ms\n", "usage_flush_interval"},
		{"route control character", "routes:\n  - name: a\n    path: \"/a\\tb\"\n    upstream: http://127.0.0.1:1/a\n    scope: a\n", "control characters"},
		{"route reserved path", "routes:\n  - name: a\n    path: /api/v2/api-keys\n    upstream: http://127.0.0.1:1/a\n    scope: a\n", "never proxied"},
		{"route star scope", "routes:\n  - name: a\n    path: /a\n    upstream: http://127.0.0.1:1/a\n    scope: \"*\"\n", "reserved"},
		{"duplicate route name", route("  - name: a\n    path: /b\n    upstream: http://127.0.0.1:1/b\n    scope: b\n"), "routes[1].name"},
		{"duplicate route path", route("  - name: b\n    path: /a\n    upstream: http://127.0.0.1:1/b\n    scope: b\n"), "routes[1].path"},
		{"public with scope", "routes:\n  - name: a\n    path: /a\n    upstream: http://127.0.0.1:1/a\n    scope: a\n    public: true\n", "public"},
		{"duplicate yaml key", "listen: 127.0.0.1:1\nlisten: 127.0.0.1:2\n", "listen"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := config.Load(writeFile(t, tt.yaml), nil)
			if err == nil {
				t.Fatalf("Load(%q) = nil error, want one naming %q", tt.yaml, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Load error = %q, want it to name %q", err, tt.want)
			}
		})
	}
}

// TestRouteProblems pins the text and the order of every problem a route
// can have, as `gatehouse config check` prints them (there after the file's
// name: "config: gatehouse.yaml:2: routes[0].name: is required").
func TestRouteProblems(t *testing.T) {
	t.Parallel()
	c := config.Default()
	yaml := `routes:
  - {name: "", path: a, upstream: "ftp://x"}
  - {name: b, path: /b/, upstream: "http://user:pw@h/", scope: "*"}
  - {name: b, path: /a//b, upstream: "http://h?q=1", scope: "a b", timeout: -1s}
  - {name: c, path: /healthz/x, upstream: "%zz", public: true, scope: x}
  - {name: d, path: /d, upstream: "http://h", scope: api-keys}
  - {name: e, path: /d, upstream: "http://h#f", scope: e}
  - {name: f, path: /d, upstream: "HTTP://h/a b?", scope: f}
  - {name: g, path: /API/V2/API-KEYS, upstream: "ftp://h/a b", scope: g}
  - {name: h, path: "/a\x01", upstream: "//h/x", scope: h}
  - {name: i, path: /a/./b, upstream: "http:/h", scope: i}
  - {name: j, path: "/a?b", upstream: "http://h", scope: j, websocket: false}
  - {name: k, path: /login, upstream: "http://h", scope: k}
  - {name: l, path: /login, upstream: "http://h", scope: l, timeout: 0s}
  - {name: m, path: /, upstream: "https://h", public: true}
  - {name: mgmt, path: /n, upstream: "https://h", scope: n}
`
	if err := config.Parse([]byte(yaml), c); err != nil {
		t.Fatal(err)
	}
	upstream := "upstream: must be an http:// or https:// URL with a host and no credentials, query or fragment"
	plain := "path: must be a plain path without //, dot segments, %, ;, ?, # or control characters"
	want := strings.Join([]string{
		`config: line 2: routes[0].name: is required`,
		`config: line 2: routes[0].path: must start with / (got "a")`,
		`config: line 2: routes[0].` + upstream + ` (got "ftp://x")`,
		`config: line 2: routes[0].scope: is required unless the route is public`,
		`config: line 3: routes[1].path: must not end with / (got "/b/")`,
		`config: line 3: routes[1].` + upstream + ` (got "http://user:xxxxx@h/")`,
		`config: line 3: routes[1].scope: "*" is reserved`,
		`config: line 4: routes[2].name: "b" is also the name of routes[1]`,
		`config: line 4: routes[2].` + plain + ` (got "/a//b")`,
		`config: line 4: routes[2].` + upstream + ` (got "http://h?q=1")`,
		`config: line 4: routes[2].scope: "a b" may hold only letters, digits, -, _ and .`,
		`config: line 4: routes[2].timeout: must be a positive duration such as 30s`,
		`config: line 5: routes[3].path: "/healthz/x" is the gateway's own endpoint /healthz and is never proxied`,
		`config: line 5: routes[3].` + upstream + ` (got "%zz")`,
		`config: line 5: routes[3].scope: a public route asks for no key, so it takes no scope`,
		`config: line 6: routes[4].scope: "api-keys" is reserved`,
		`config: line 7: routes[5].path: "/d" is also the path of routes[4]`,
		`config: line 7: routes[5].` + upstream + ` (got "http://h#f")`,
		`config: line 8: routes[6].path: "/d" is also the path of routes[5]`,
		`config: line 9: routes[7].path: "/API/V2/API-KEYS" is the gateway's own endpoint /api/v2/api-keys and is never proxied`,
		`config: line 9: routes[7].` + upstream + ` (got "ftp://h/a b")`,
		`config: line 10: routes[8].` + plain + ` (got "/a\x01")`,
		`config: line 10: routes[8].` + upstream + ` (got "//h/x")`,
		`config: line 11: routes[9].` + plain + ` (got "/a/./b")`,
		`config: line 11: routes[9].` + upstream + ` (got "http:/h")`,
		`config: line 12: routes[10].` + plain + ` (got "/a?b")`,
		`config: line 13: routes[11].path: "/login" is the gateway's own endpoint /login and is never proxied`,
		`config: line 14: routes[12].path: "/login" is also the path of routes[11]`,
		`config: line 14: routes[12].path: "/login" is the gateway's own endpoint /login and is never proxied`,
		`config: line 16: routes[14].name: "mgmt" is reserved: the gateway's metrics count its own requests under it`,
	}, "\n")
	err := c.Validate()
	if err == nil {
		t.Fatal("Validate() = nil error, want the routes' problems")
	}
	if got := err.Error(); got != want {
		t.Errorf("Validate() =\n%s\nwant\n%s", got, want)
	}
}

// TestTrustedProxies: trusted_proxies is a list of addresses and CIDR
// ranges in the file, comma-separated in GATEHOUSE_TRUSTED_PROXIES, empty
// by default; a bad entry is named.
func TestTrustedProxies(t *testing.T) {
	t.Parallel()
	p := writeFile(t, "trusted_proxies: [10.0.0.0/8, \"2001:db8::1\"]\n")
	c, err := config.Load(p, func(string) string { return "" })
	if err != nil {
		t.Fatalf("Load() = %v", err)
	}
	if got := fmt.Sprint(c.ParsedTrustedProxies); got != "[10.0.0.0/8 2001:db8::1/128]" {
		t.Errorf("ParsedTrustedProxies = %s", got)
	}
	env := map[string]string{"GATEHOUSE_TRUSTED_PROXIES": "192.0.2.0/24, 198.51.100.7"}
	if c, err = config.Load(p, func(k string) string { return env[k] }); err != nil {
		t.Fatalf("Load() with env = %v", err)
	}
	if got := fmt.Sprint(c.ParsedTrustedProxies); got != "[192.0.2.0/24 198.51.100.7/32]" {
		t.Errorf("ParsedTrustedProxies from env = %s", got)
	}
	if c, err = config.Load("", func(string) string { return "" }); err != nil || len(c.ParsedTrustedProxies) != 0 {
		t.Errorf("default trusted proxies = %v, %v; want none", c.ParsedTrustedProxies, err)
	}
	_, err = config.Load(writeFile(t, "trusted_proxies: [10.0.0.0/8, example.com]\n"), func(string) string { return "" })
	if err == nil || !strings.Contains(err.Error(), "trusted_proxies[1]") || !strings.Contains(err.Error(), "example.com") {
		t.Errorf("Load(bad trusted proxy) = %v, want a problem naming trusted_proxies[1]", err)
	}
}
