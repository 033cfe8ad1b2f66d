// Package proxy is the data plane: the route table, path safety, and
// forwarding through httputil.ReverseProxy with the key check in front.
package proxy

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"gatehouse"
)

// Route sends requests under a path prefix to an upstream.
type Route struct {
	// Name identifies the route in logs and metrics.
	Name string
	// Path is the prefix, matched on whole path segments.
	Path string
	// Upstream replaces the prefix: its scheme, host and path.
	Upstream *url.URL
	// Scope is the scope name keys need; empty on public routes.
	Scope string
	// Public routes ask for no key.
	Public bool
	// Timeout is how long the upstream has to send its response headers.
	// Zero means 30s.
	Timeout time.Duration
	// WebSocket allows websocket upgrades on the route; other upgrades are
	// never forwarded.
	WebSocket bool

	transport http.RoundTripper // set by Handler.Init
	// duration is the route's child of the upstream duration histogram,
	// set by Handler.Init so that a request does not look it up.
	duration prometheus.Observer
}

// Table is an immutable set of routes.
type Table struct {
	routes []*Route // longest path first
}

// NewTable checks the routes and returns their table.
func NewTable(routes []Route) (*Table, error) {
	t := &Table{}
	names, paths := map[string]bool{}, map[string]bool{}
	var errs []error
	for i, r := range routes {
		bad := func(format string, args ...any) {
			errs = append(errs, fmt.Errorf("route %d (%s): %s", i, r.Name, fmt.Sprintf(format, args...)))
		}
		switch {
		case r.Name == "":
			bad("name is required")
		case names[r.Name]:
			bad("name is taken by another route")
		}
		names[r.Name] = true
		switch {
		case !strings.HasPrefix(r.Path, "/"):
			bad("path must start with /")
		case len(r.Path) > 1 && strings.HasSuffix(r.Path, "/"):
			bad("path must not end with /")
		case !safePath(r.Path):
			bad("path must be plain: no //, dot segments or escapes")
		case paths[r.Path]:
			bad("path is taken by another route")
		}
		paths[r.Path] = true
		if r.Upstream == nil || (r.Upstream.Scheme != "http" && r.Upstream.Scheme != "https") || r.Upstream.Host == "" {
			bad("upstream must be an http or https URL with a host")
		}
		if !r.Public && (r.Scope == "" || r.Scope == gatehouse.ScopeAll || r.Scope == gatehouse.ScopeAPIKeys) {
			bad("scope must be a route scope name (not empty, * or api-keys)")
		}
		if r.Timeout <= 0 {
			r.Timeout = 30 * time.Second
		}
		t.routes = append(t.routes, &r)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	sort.SliceStable(t.routes, func(i, j int) bool { return len(t.routes[i].Path) > len(t.routes[j].Path) })
	return t, nil
}

// Match returns the route whose path is the longest prefix of path on
// whole segments: /api/v2/assets matches /api/v2/assets and
// /api/v2/assets/158, not /api/v2/assets-bulk.
func (t *Table) Match(path string) (*Route, bool) {
	for _, r := range t.routes {
		if segmentPrefix(path, r.Path) {
			return r, true
		}
	}
	return nil, false
}

// Scopes returns the distinct scope names of the routes.
func (t *Table) Scopes() []string {
	var out []string
	seen := map[string]bool{}
	for _, r := range t.routes {
		if r.Scope != "" && !seen[r.Scope] {
			seen[r.Scope] = true
			out = append(out, r.Scope)
		}
	}
	sort.Strings(out)
	return out
}

func segmentPrefix(path, prefix string) bool {
	if prefix == "/" {
		return strings.HasPrefix(path, "/")
	}
	return strings.HasPrefix(path, prefix) && (len(path) == len(prefix) || path[len(prefix)] == '/')
}

// upstreamPath replaces the route's prefix of path (decoded) with the
// upstream's path.
func (r *Route) upstreamPath(path string) string {
	rest := path
	if r.Path != "/" {
		rest = path[len(r.Path):]
	}
	base := r.Upstream.Path
	switch {
	case rest == "":
		if base == "" {
			return "/"
		}
		return base
	case strings.HasSuffix(base, "/"):
		return base + strings.TrimPrefix(rest, "/")
	}
	return base + rest
}

// publicPath maps a path on the upstream back to the path a client uses:
// the inverse of upstreamPath. It reports false for a path outside the
// upstream's prefix.
func (r *Route) publicPath(upstream string) (string, bool) {
	base := strings.TrimSuffix(r.Upstream.Path, "/")
	if !strings.HasPrefix(upstream, "/") || base != "" && !segmentPrefix(upstream, base) {
		return "", false
	}
	public := strings.TrimSuffix(r.Path, "/") + upstream[len(base):]
	switch {
	case public == "":
		public = "/"
	case strings.HasPrefix(public, "//"), strings.HasPrefix(public, "/\\"):
		return "", false // would read as another host
	}
	return public, true
}

// publicLocation rewrites a Location header of the upstream that points
// into the route's upstream prefix, on the upstream's own host or
// host-relative, into the path a client uses, so that a redirect neither
// leads clients to the upstream's address nor out of the gateway. Anything
// else (another site, a path outside the prefix, a relative reference) is
// left as it is.
func (r *Route) publicLocation(loc string) (string, bool) {
	u, err := url.Parse(loc)
	if err != nil || u.Opaque != "" || u.User != nil {
		return "", false
	}
	switch {
	case u.Host != "":
		if !strings.EqualFold(u.Host, r.Upstream.Host) || u.Scheme != "" && !strings.EqualFold(u.Scheme, r.Upstream.Scheme) {
			return "", false
		}
	case u.Scheme != "":
		return "", false
	}
	p, ok := r.publicPath(u.Path)
	if !ok {
		return "", false
	}
	out := url.URL{Path: p, RawQuery: u.RawQuery, ForceQuery: u.ForceQuery, Fragment: u.Fragment}
	return out.String(), true
}
