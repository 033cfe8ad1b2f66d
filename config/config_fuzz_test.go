package config_test

import (
	"net/url"
	"strings"
	"testing"

	"gatehouse"
	"gatehouse/config"
)

// FuzzParse: no YAML input panics the parser, its problems and those of
// Validate come one per line (each line starts with "config: "), and a
// config that validates
// has only routes with plain absolute paths and http(s) upstreams, route
// scopes that make valid, unreserved scopes, and a positive
// read_header_timeout.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"listen: 127.0.0.1:8080\n",
		"routes:\n  - name: a\n    path: /a\n    upstream: http://127.0.0.1:1/a\n    scope: a\n",
		"routes:\n  - {name: a, path: /, upstream: 'https://h', public: true}\n",
		"rate_limit: 10/s\nshutdown_timeout: 1s\n",
		"routes: [[[[",
		"&a [*a, *a]",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c := config.Default()
		if err := config.Parse([]byte(s), c); err != nil {
			onePerLine(t, err)
			return
		}
		if err := c.Validate(); err != nil {
			onePerLine(t, err)
			return
		}
		if len(c.ParsedRoutes) != len(c.Routes) {
			t.Fatalf("%d routes validated, %d parsed", len(c.Routes), len(c.ParsedRoutes))
		}
		for _, r := range c.ParsedRoutes {
			if !strings.HasPrefix(r.Path, "/") || strings.Contains(r.Path, "//") || hasDotSegment(r.Path) {
				t.Fatalf("route path %q validated", r.Path)
			}
			if u, err := url.Parse(r.Upstream); err != nil || (u.Scheme != "http" && u.Scheme != "https") {
				t.Fatalf("route upstream %q validated", r.Upstream)
			}
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

// onePerLine fails unless every line of err is a problem of its own.
func onePerLine(t *testing.T, err error) {
	t.Helper()
	for line := range strings.SplitSeq(err.Error(), "\n") {
		if !strings.HasPrefix(line, "config: ") {
			t.Fatalf("the line %q of the error\n%s\nis not a problem of its own", line, err)
		}
	}
}

// hasDotSegment reports whether p has a "." or ".." segment ("/a../b" has
// none: dots inside a name are a name).
func hasDotSegment(p string) bool {
	for _, seg := range strings.Split(p, "/") {
		if seg == "." || seg == ".." {
			return true
		}
	}
	return false
}
