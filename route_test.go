package gatehouse_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"gatehouse"
)

func TestHasPathPrefix(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, path, prefix string
		want               bool
	}{
		{"same", "/api/v2/assets", "/api/v2/assets", true},
		{"below", "/api/v2/assets/158", "/api/v2/assets", true},
		{"longer segment", "/api/v2/assets-bulk", "/api/v2/assets", false},
		{"above", "/api/v2", "/api/v2/assets", false},
		{"root", "/anything", "/", true},
		{"root and no slash", "anything", "/", false},
		{"case", "/API/v2/assets", "/api/v2/assets", false},
	}
	for _, tt := range tests {
		if got := gatehouse.HasPathPrefix(tt.path, tt.prefix); got != tt.want {
			t.Errorf("%s: HasPathPrefix(%q, %q) = %v, want %v", tt.name, tt.path, tt.prefix, got, tt.want)
		}
	}
}

func TestReservedPath(t *testing.T) {
	t.Parallel()
	tests := []struct {
		path, want string
		ok         bool
	}{
		{"/healthz", "/healthz", true},
		{"/Settings/api-keys", "/settings", true},
		{"/API/V2/API-KEYS/abc", "/api/v2/api-keys", true},
		{"/api/v2/api-keysx", "", false},
		{"/api/v2/assets", "", false},
		{"/metricsfoo", "", false},
	}
	for _, tt := range tests {
		if got, ok := gatehouse.ReservedPath(tt.path); got != tt.want || ok != tt.ok {
			t.Errorf("ReservedPath(%q) = %q, %v; want %q, %v", tt.path, got, ok, tt.want, tt.ok)
		}
	}
}

func TestValidateRoutes(t *testing.T) {
	t.Parallel()
	ok := []gatehouse.Route{
		{Name: "assets", Path: "/api/v2/assets", Upstream: "http://127.0.0.1:3000/v2/assets", Scope: "assets", Timeout: time.Second},
		{Name: "hooks", Path: "/", Upstream: "https://h", Public: true, Timeout: time.Second, WebSocket: true},
	}
	if err := gatehouse.ValidateRoutes(ok); err != nil {
		t.Fatalf("ValidateRoutes(valid) = %v", err)
	}
	up := "http://127.0.0.1:1"
	tests := []struct {
		name  string
		route gatehouse.Route
		field string
	}{
		{"no name", gatehouse.Route{Path: "/a", Upstream: up, Scope: "a", Timeout: time.Second}, "name"},
		{"relative path", gatehouse.Route{Name: "a", Path: "a", Upstream: up, Scope: "a", Timeout: time.Second}, "path"},
		{"reserved path", gatehouse.Route{Name: "a", Path: "/Login/x", Upstream: up, Scope: "a", Timeout: time.Second}, "path"},
		{"no upstream", gatehouse.Route{Name: "a", Path: "/a", Scope: "a", Timeout: time.Second}, "upstream"},
		{"no scope", gatehouse.Route{Name: "a", Path: "/a", Upstream: up, Timeout: time.Second}, "scope"},
		{"no timeout", gatehouse.Route{Name: "a", Path: "/a", Upstream: up, Scope: "a"}, "timeout"},
	}
	for _, tt := range tests {
		err := gatehouse.ValidateRoutes([]gatehouse.Route{ok[0], tt.route})
		var re *gatehouse.RouteError
		if !errors.As(err, &re) || re.Index != 1 || re.Field != tt.field {
			t.Errorf("%s: ValidateRoutes = %v, want a problem with routes[1].%s", tt.name, err, tt.field)
		}
	}
}

func TestRouteUpstreamURL(t *testing.T) {
	t.Parallel()
	r := gatehouse.Route{Upstream: "https://h:8443/v2/assets"}
	if u, err := r.UpstreamURL(); err != nil || u.Host != "h:8443" || u.Path != "/v2/assets" {
		t.Errorf("UpstreamURL() = %v, %v; want https://h:8443/v2/assets", u, err)
	}
	r.Upstream = "http://user:secret@h/"
	if _, err := r.UpstreamURL(); err == nil || strings.Contains(err.Error(), "secret") {
		t.Errorf("UpstreamURL() of a URL with a password = %v, want an error that hides it", err)
	}
}

// TestReservedRouteNames: no route may be named like the labels the
// gateway counts its own requests under, and a name that only looks like
// one (another case, a prefix) is a name like any other.
func TestReservedRouteNames(t *testing.T) {
	t.Parallel()
	route := func(name string) gatehouse.Route {
		return gatehouse.Route{Name: name, Path: "/a", Upstream: "http://127.0.0.1:1", Scope: "a", Timeout: time.Second}
	}
	for _, name := range []string{"gatehouse", "mgmt", "none"} {
		err := gatehouse.ValidateRoutes([]gatehouse.Route{route(name)})
		want := `routes[0].name: "` + name + `" is reserved: the gateway's metrics count its own requests under it`
		if err == nil || err.Error() != want {
			t.Errorf("ValidateRoutes(a route named %q) = %v, want %q", name, err, want)
		}
	}
	for _, name := range []string{"Mgmt", "none2", "gatehouse-api"} {
		if err := gatehouse.ValidateRoutes([]gatehouse.Route{route(name)}); err != nil {
			t.Errorf("ValidateRoutes(a route named %q) = %v, want nil", name, err)
		}
	}
}
