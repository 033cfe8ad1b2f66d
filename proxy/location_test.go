package proxy

import (
	"net/url"
	"testing"
)

// TestPublicLocationNeverLeavesTheHost: a rewritten Location is always a
// path on the gateway, never one that reads as another host.
func TestPublicLocationNeverLeavesTheHost(t *testing.T) {
	t.Parallel()
	up, _ := url.Parse("http://10.0.0.5:3000/v2")
	root := &Route{Path: "/", Upstream: up}
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
