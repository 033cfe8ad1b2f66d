package config_test

import (
	"testing"
	"time"

	"gatehouse"
	"gatehouse/config"
	"gatehouse/proxy"
)

// FuzzRoutesAgree: whatever config Parse and Validate accept, the data
// plane's route table accepts too (so a config that passes
// `gatehouse config check` starts), and every route scope makes valid
// scopes.
func FuzzRoutesAgree(f *testing.F) {
	f.Fuzz(func(t *testing.T, yaml string) {
		c := config.Default()
		if err := config.Parse([]byte(yaml), c); err != nil {
			return
		}
		if err := c.Validate(); err != nil {
			return
		}
		routes := make([]proxy.Route, len(c.Routes))
		for i, r := range c.Routes {
			routes[i] = proxy.Route{Name: r.Name, Path: r.Path, Upstream: r.UpstreamURL, Scope: r.Scope,
				Public: r.Public, Timeout: time.Duration(r.Timeout)}
		}
		if _, err := proxy.NewTable(routes); err != nil {
			t.Fatalf("config validated, route table refused it: %v\n%s", err, yaml)
		}
		for _, n := range c.ScopeNames() {
			for _, s := range []string{n + ":read", n + ":write"} {
				if _, err := gatehouse.ParseScope(s); err != nil {
					t.Fatalf("route scope %q makes the invalid scope %q: %v", n, s, err)
				}
			}
			if n == gatehouse.ScopeAll || n == gatehouse.ScopeAPIKeys {
				t.Fatalf("a route has the reserved scope %q", n)
			}
		}
		if c.ReadHeaderTimeout <= 0 {
			t.Fatalf("read_header_timeout %v validated: slow clients would never be cut off", c.ReadHeaderTimeout)
		}
	})
}
