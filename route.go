package gatehouse

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
)

// What a route gets where its config does not say.
const (
	// DefaultRouteTimeout is how long an upstream has to send its response
	// headers.
	DefaultRouteTimeout = 30 * time.Second
	// DefaultRouteWebSocket is whether websocket upgrades pass.
	DefaultRouteWebSocket = true
)

// ReservedPaths are the gateway's own endpoints, never proxied: no route may
// use them or a path below them, on either listener.
var ReservedPaths = []string{"/healthz", "/readyz", "/metrics", "/openapi.json", "/login", "/logout", "/settings", "/api/v2/api-keys"}

// The route labels of the gateway's own requests: what the access log's
// metrics (gatehouse_proxy_requests_total and the request duration
// histogram) count them under in place of a route's name.
const (
	// RouteLabelOwn labels the gateway's own endpoints: health, /metrics,
	// /openapi.json, the Settings UI.
	RouteLabelOwn = "gatehouse"
	// RouteLabelMgmt labels the management API.
	RouteLabelMgmt = "mgmt"
	// RouteLabelNone labels a request that no route serves.
	RouteLabelNone = "none"
)

// ReservedRouteNames are the route labels of the gateway's own requests: no
// route may take one as its name, or its requests would be counted with
// the gateway's own.
var ReservedRouteNames = []string{RouteLabelOwn, RouteLabelMgmt, RouteLabelNone}

// Route sends the requests under a path prefix to an upstream. A list of
// routes is served only once ValidateRoutes accepts it.
type Route struct {
	// Name identifies the route in logs and metrics. Required, unique,
	// none of ReservedRouteNames.
	Name string
	// Path is the prefix, matched on whole path segments (Matches). It
	// starts with /, ends with / only if it is /, and is plain: no //, dot
	// segments, %, ;, ?, # or control characters. Unique.
	Path string
	// Upstream is the URL whose scheme, host and path replace the prefix:
	// http or https, with a host and no credentials, query or fragment.
	Upstream string
	// Scope is the scope name keys need (<scope>:read or <scope>:write).
	// Required unless the route is public, which takes none.
	Scope string
	// Public routes ask for no key.
	Public bool
	// Timeout is how long the upstream has to send its response headers.
	// Positive.
	Timeout time.Duration
	// WebSocket allows websocket upgrades on the route; no other upgrade is
	// ever forwarded.
	WebSocket bool
	// TLSCAFile is a PEM file of the CAs that an https:// upstream's
	// certificate is checked against. Empty: the system's roots. Only an
	// https:// upstream takes one.
	TLSCAFile string
	// Bearer routes also accept an "Authorization: Bearer" JWT when the
	// request has no X-API-Key (contract §9). Not on public or signed
	// routes.
	Bearer bool
	// Signed routes need, on every write, an RFC 9421 signature by a
	// signing key registered on the request's API key (contract §9). Not
	// on public routes.
	Signed bool
}

// Matches reports whether path is the route's path or lies below it on
// whole segments: /api/v2/assets matches /api/v2/assets and
// /api/v2/assets/158, not /api/v2/assets-bulk.
func (r *Route) Matches(path string) bool {
	return HasPathPrefix(path, r.Path)
}

// UpstreamURL returns Upstream parsed, or what is wrong with it.
func (r *Route) UpstreamURL() (*url.URL, error) {
	u, err := url.Parse(r.Upstream)
	if err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" && u.User == nil && u.RawQuery == "" && u.Fragment == "" {
		return u, nil
	}
	shown := r.Upstream
	if err == nil && u.User != nil {
		shown = u.Redacted()
	}
	return nil, fmt.Errorf("must be an http:// or https:// URL with a host and no credentials, query or fragment (got %q)", shown)
}

// HasPathPrefix reports whether prefix matches path on whole segments.
func HasPathPrefix(path, prefix string) bool {
	if prefix == "/" {
		return strings.HasPrefix(path, "/")
	}
	return strings.HasPrefix(path, prefix) && (len(path) == len(prefix) || path[len(prefix)] == '/')
}

// ReservedPath returns the reserved path (ReservedPaths) that path is or
// lies below, and whether there is one. Matching ignores case, so that no
// spelling of the gateway's own endpoints can reach an upstream.
func ReservedPath(path string) (string, bool) {
	lower := strings.ToLower(path)
	for _, own := range ReservedPaths {
		if HasPathPrefix(lower, own) {
			return own, true
		}
	}
	return "", false
}

// RouteError is a problem with one field of one route of a list.
type RouteError struct {
	// Index is the route's place in the list.
	Index int
	// Field is the field, named as in a config file: name, path, upstream,
	// scope or timeout.
	Field string
	// Problem says what is wrong, e.g. `must start with / (got "a")`.
	Problem string
}

// Error returns the problem under the route's key in a config file, e.g.
// `routes[1].path: must start with / (got "a")`.
func (e *RouteError) Error() string {
	return fmt.Sprintf("routes[%d].%s: %s", e.Index, e.Field, e.Problem)
}

// ValidateRoutes reports whether routes can be served together: the
// fields of each (no name of ReservedRouteNames), and no name or path used
// twice. Its error is an
// errors.Join of a *RouteError for each problem, in the order of the routes
// and, within a route, of its fields; Unwrap() []error lists them.
func ValidateRoutes(routes []Route) error {
	var errs []error
	names := map[string]int{}
	paths := map[string]int{}
	for i := range routes {
		r := &routes[i]
		bad := func(field, format string, args ...any) {
			errs = append(errs, &RouteError{Index: i, Field: field, Problem: fmt.Sprintf(format, args...)})
		}
		if r.Name == "" {
			bad("name", "is required")
		} else if slices.Contains(ReservedRouteNames, r.Name) {
			bad("name", "%q is reserved: the gateway's metrics count its own requests under it", r.Name)
		} else if j, dup := names[r.Name]; dup {
			bad("name", "%q is also the name of routes[%d]", r.Name, j)
		} else {
			names[r.Name] = i
		}
		switch {
		case r.Path == "" || r.Path[0] != '/':
			bad("path", "must start with / (got %q)", r.Path)
		case len(r.Path) > 1 && strings.HasSuffix(r.Path, "/"):
			bad("path", "must not end with / (got %q)", r.Path)
		case !plainPath(r.Path):
			bad("path", "must be a plain path without //, dot segments, %%, ;, ?, # or control characters (got %q)", r.Path)
		default:
			if j, dup := paths[r.Path]; dup {
				bad("path", "%q is also the path of routes[%d]", r.Path, j)
			}
			paths[r.Path] = i
			if own, ok := ReservedPath(r.Path); ok {
				bad("path", "%q is the gateway's own endpoint %s and is never proxied", r.Path, own)
			}
		}
		if u, err := r.UpstreamURL(); err != nil {
			bad("upstream", "%s", err)
		} else if r.TLSCAFile != "" && u.Scheme != "https" {
			bad("tls_ca_file", "only an https:// upstream is checked against a CA (the upstream is %s://)", u.Scheme)
		}
		if r.Public {
			if r.Scope != "" {
				bad("scope", "a public route asks for no key, so it takes no scope")
			}
			if r.Bearer {
				bad("bearer", "a public route asks for no credentials, so it takes no bearer")
			}
			if r.Signed {
				bad("signed", "a public route asks for no key, so its writes cannot be signed by one")
			}
		} else {
			switch {
			case r.Scope == "":
				bad("scope", "is required unless the route is public")
			case r.Scope == ScopeAll || r.Scope == ScopeAPIKeys:
				bad("scope", "%q is reserved", r.Scope)
			default:
				if _, err := ParseScope(r.Scope + ":read"); err != nil {
					bad("scope", "%q may hold only letters, digits, -, _ and .", r.Scope)
				}
			}
		}
		if r.Bearer && r.Signed {
			bad("signed", "a route is bearer or signed, not both: signatures are made with an API key's signing key, which a Bearer token has not")
		}
		if r.Timeout <= 0 {
			bad("timeout", "must be a positive duration such as 30s")
		}
	}
	return errors.Join(errs...)
}

// plainPath reports whether p, a path that starts with /, has no empty or
// dot segment, no \, %, ;, ?, # and no ASCII control character (which no
// request path can match).
func plainPath(p string) bool {
	if strings.Contains(p, "//") || strings.ContainsAny(p, "\\%;?#") {
		return false
	}
	if strings.ContainsFunc(p, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return false
	}
	for _, s := range strings.Split(p, "/") {
		if s == "." || s == ".." {
			return false
		}
	}
	return true
}
