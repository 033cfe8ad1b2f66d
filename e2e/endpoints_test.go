package e2e_test

import (
	"strings"
	"testing"
	"time"

	"gatehouse"
)

// TestOwnEndpoints: health, readiness, /metrics and openapi.json are
// served where they belong, and nothing else of the gateway's own is on
// the data plane.
func TestOwnEndpoints(t *testing.T) {
	t.Parallel()
	g := startGateway(t, nil)
	_, data := g.key(t, "metrics", "assets:read")
	do(t, "GET", g.URL+"/api/v2/assets", data, "", "")
	do(t, "GET", g.URL+"/api/v2/assets", "gth_nope", "", "")

	if r := do(t, "GET", g.URL+"/healthz", "", "", ""); r.Status != 200 {
		t.Errorf("/healthz = %d, want 200", r.Status)
	}
	if r := do(t, "GET", g.URL+"/readyz", "", "", ""); r.Status != 200 {
		t.Errorf("/readyz = %d %s, want 200", r.Status, r.Body)
	}
	r := do(t, "GET", g.AdminURL+"/metrics", "", "", "")
	if r.Status != 200 {
		t.Fatalf("/metrics = %d, want 200", r.Status)
	}
	for _, want := range []string{"gatehouse_proxy_requests_total", "gatehouse_proxy_upstream_duration_seconds", "gatehouse_keyauth_rejections_total", "gatehouse_keys_expiring_soon"} {
		if !strings.Contains(r.Body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	for _, base := range []string{g.URL, g.AdminURL} {
		for _, p := range []string{"/healthz", "/readyz"} {
			if r := do(t, "GET", base+p, "", "", ""); r.Status != 200 {
				t.Errorf("%s%s = %d %s, want 200", base, p, r.Status, r.Body)
			}
		}
		if r := do(t, "GET", base+"/openapi.json", "", "", ""); r.Status != 200 || !strings.Contains(r.Body, "/api/v2/api-keys") {
			t.Errorf("%s/openapi.json = %d, want 200 describing /api/v2/api-keys", base, r.Status)
		}
		if r := do(t, "GET", base+"/nowhere", "", "", ""); r.Status != 404 || r.code() != gatehouse.ENoRoute {
			t.Errorf("%s/nowhere = %d %s, want 404 no_route", base, r.Status, r.Body)
		}
	}
	// The administrators' endpoints are not on the data plane's listener,
	// and never proxied.
	for _, p := range []string{"/metrics", "/login", "/logout", "/settings", "/settings/api-keys", "/SETTINGS/api-keys"} {
		if r := do(t, "GET", g.URL+p, "", "", ""); r.Status != 404 || r.code() != gatehouse.ENoRoute {
			t.Errorf("data plane %s = %d %s, want 404 no_route", p, r.Status, r.Body)
		}
	}
	// Nothing is proxied on the administrators' listener.
	if r := do(t, "GET", g.AdminURL+"/api/v2/assets/158", data, "", ""); r.Status != 404 || r.code() != gatehouse.ENoRoute {
		t.Errorf("admin listener /api/v2/assets/158 = %d %s, want 404 no_route", r.Status, r.Body)
	}
	if hits := g.up.Requests(); len(hits) != 1 {
		t.Errorf("upstream hits = %v, want exactly the one authorised request", hits)
	}
}

func TestReadyzWhenStoreDown(t *testing.T) {
	t.Parallel()
	g := startGateway(t, nil)
	g.Store().Close()
	waitStatus(t, g.URL+"/readyz", "", 503, 2*time.Second)
	if r := do(t, "GET", g.URL+"/healthz", "", "", ""); r.Status != 200 {
		t.Errorf("/healthz = %d with the store closed, want 200 (the process still serves)", r.Status)
	}
}
