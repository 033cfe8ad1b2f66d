package proxy

import (
	"net/url"
	"strings"
	"testing"

	"gatehouse"
)

// TestPublicLocationNeverLeavesTheHost: a rewritten Location is always a
// path on the gateway, never one that reads as another host.
func TestPublicLocationNeverLeavesTheHost(t *testing.T) {
	t.Parallel()
	up, _ := url.Parse("http://10.0.0.5:3000/v2")
	root := &route{Route: &gatehouse.Route{Path: "/"}, target: up}
	tests := []struct {
		loc, want string
		ok        bool
	}{
		{"/v2/assets", "/assets", true},
		{"/v2", "/", true},
		{"http://10.0.0.5:3000/v2/x", "/x", true},
		{"HTTP://10.0.0.5:3000/v2/x", "/x", true},
		{"/v2//evil.example/x", "", false},
		{"http://10.0.0.5:3000/v2//evil.example", "", false},
		{"/v2/\\evil.example", "", false},
		{"http://user@10.0.0.5:3000/v2/x", "", false},
		{"http://10.0.0.5:3001/v2/x", "", false},
		{"/v2x", "", false},
	}
	for _, tt := range tests {
		got, ok := root.publicLocation(tt.loc)
		if got != tt.want || ok != tt.ok {
			t.Errorf("publicLocation(%q) = %q, %v; want %q, %v", tt.loc, got, ok, tt.want, tt.ok)
		}
	}
}

// FuzzPublicLocation: whatever Location an upstream sends, a rewritten one
// is a path on the gateway inside the route's prefix, never a reference to
// another host.
func FuzzPublicLocation(f *testing.F) {
	for _, s := range []string{"/v2/assets/1", "http://10.0.0.5:3000/v2/x?y#z", "//10.0.0.5:3000/v2", "/v2//evil", "/v2/\\evil", "/v2/%2e%2e/x", "http://10.0.0.5:3000/v2/../../etc"} {
		f.Add(s)
	}
	up, _ := url.Parse("http://10.0.0.5:3000/v2")
	routes := []*route{{Route: &gatehouse.Route{Path: "/api/v2/assets"}, target: up}, {Route: &gatehouse.Route{Path: "/"}, target: up}}
	f.Fuzz(func(t *testing.T, loc string) {
		for _, r := range routes {
			got, ok := r.publicLocation(loc)
			if !ok {
				continue
			}
			u, err := url.Parse(got)
			switch {
			case err != nil:
				t.Fatalf("publicLocation(%q) = %q, which does not parse: %v", loc, got, err)
			case u.Scheme != "" || u.Host != "" || strings.HasPrefix(got, "//") || strings.HasPrefix(got, "/\\"):
				t.Fatalf("publicLocation(%q) = %q: another host", loc, got)
			case !gatehouse.HasPathPrefix(u.Path, r.Path):
				t.Fatalf("publicLocation(%q) = %q: outside the route %s", loc, got, r.Path)
			}
		}
	})
}
