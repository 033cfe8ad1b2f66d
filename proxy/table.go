// Package proxy is the data plane: the route table, path safety, and
// forwarding through httputil.ReverseProxy with the key check in front.
package proxy

import (
	"crypto/x509"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"gatehouse"
	"gatehouse/certfile"
)

// route is a route of the table with what the handler keeps for it.
type route struct {
	*gatehouse.Route
	// target is the Route's Upstream, parsed.
	target *url.URL
	// rootCAs are the CAs of the route's tls_ca_file, read by NewTable;
	// nil for the system's roots.
	rootCAs   *x509.CertPool
	transport http.RoundTripper // set by Handler.Init
	// up is the lean engine's connections to the upstream, set by
	// Handler.Init for a plain http:// upstream (nil: the stdlib path).
	up *upstream
	// duration is the route's child of the upstream duration histogram,
	// and open and closed its children of the long-lived answers' gauge and
	// counter (by closeReason), set by Handler.Init so that a request does
	// not look them up.
	duration prometheus.Observer
	open     prometheus.Gauge
	closed   [closeReasons]prometheus.Counter
}

// Table is an immutable set of routes.
type Table struct {
	routes []*route // longest path first
}

// NewTable returns the table of routes, which gatehouse.ValidateRoutes
// must accept. It reads the CA file of each route that has one.
func NewTable(routes []gatehouse.Route) (*Table, error) {
	if err := gatehouse.ValidateRoutes(routes); err != nil {
		return nil, err
	}
	t := &Table{}
	for _, r := range routes {
		target, err := r.UpstreamURL()
		if err != nil {
			return nil, err // ValidateRoutes checked it
		}
		rt := &route{Route: &r, target: target}
		if r.TLSCAFile != "" {
			if rt.rootCAs, err = certfile.ReadPool(r.TLSCAFile); err != nil {
				return nil, fmt.Errorf("route %s: tls_ca_file: %w", r.Name, err)
			}
		}
		t.routes = append(t.routes, rt)
	}
	sort.SliceStable(t.routes, func(i, j int) bool { return len(t.routes[i].Path) > len(t.routes[j].Path) })
	return t, nil
}

// Match returns the route whose path is the longest prefix of path on
// whole segments: /api/v2/assets matches /api/v2/assets and
// /api/v2/assets/158, not /api/v2/assets-bulk.
func (t *Table) Match(path string) (*gatehouse.Route, bool) {
	r, ok := t.match(path)
	if !ok {
		return nil, false
	}
	return r.Route, true
}

func (t *Table) match(path string) (*route, bool) {
	for _, r := range t.routes {
		if r.Matches(path) {
			return r, true
		}
	}
	return nil, false
}

// upstreamPath replaces the route's prefix of path (decoded) with the
// upstream's path.
func (r *route) upstreamPath(path string) string {
	rest := path
	if r.Path != "/" {
		rest = path[len(r.Path):]
	}
	base := r.target.Path
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
func (r *route) publicPath(upstream string) (string, bool) {
	base := strings.TrimSuffix(r.target.Path, "/")
	if !strings.HasPrefix(upstream, "/") || base != "" && !gatehouse.HasPathPrefix(upstream, base) {
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
func (r *route) publicLocation(loc string) (string, bool) {
	u, err := url.Parse(loc)
	if err != nil || u.Opaque != "" || u.User != nil {
		return "", false
	}
	switch {
	case u.Host != "":
		if !strings.EqualFold(u.Host, r.target.Host) || u.Scheme != "" && !strings.EqualFold(u.Scheme, r.target.Scheme) {
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
