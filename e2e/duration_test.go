package e2e_test

import (
	"strconv"
	"strings"
	"testing"
)

// metricValue returns the value of the sample line that starts with
// series (name and labels) in the Prometheus text served, and whether
// there is one.
func metricValue(served, series string) (float64, bool) {
	for line := range strings.SplitSeq(served, "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			return f, err == nil
		}
	}
	return 0, false
}

// TestRequestDurationHistogram: gatehouse_proxy_request_duration_seconds
// has a child for every route and for each label of the gateway's own
// requests from the start, and counts each request once under the label
// that gatehouse_proxy_requests_total counts it under.
func TestRequestDurationHistogram(t *testing.T) {
	t.Parallel()
	g := startGateway(t, nil)
	count := func(route string) float64 {
		t.Helper()
		r := do(t, "GET", g.AdminURL+"/metrics", "", "", "")
		if r.Status != 200 {
			t.Fatalf("/metrics = %d, want 200", r.Status)
		}
		v, ok := metricValue(r.Body, `gatehouse_proxy_request_duration_seconds_count{route="`+route+`"}`)
		if !ok {
			t.Fatalf("no gatehouse_proxy_request_duration_seconds for route %q on /metrics", route)
		}
		return v
	}
	served := do(t, "GET", g.AdminURL+"/metrics", "", "", "").Body
	for _, route := range []string{"assets", "platform", "gatehouse", "mgmt", "none"} {
		if n, ok := metricValue(served, `gatehouse_proxy_request_duration_seconds_count{route="`+route+`"}`); !ok || n != 0 {
			t.Errorf("route %q before any request: count %v (on /metrics: %v), want 0", route, n, ok)
		}
	}
	_, key := g.key(t, "duration", "assets:read")
	for _, req := range []struct{ path, key string }{
		{"/api/v2/assets/158", key}, // assets
		{"/api/v2/assets/159", key}, // assets
		{"/nowhere", ""},            // none
		{"/healthz", ""},            // gatehouse
		{"/api/v2/api-keys", ""},    // mgmt (401)
	} {
		do(t, "GET", g.URL+req.path, req.key, "", "")
	}
	// The scrapes above are the gateway's own requests too.
	for route, want := range map[string]float64{"assets": 2, "platform": 0, "none": 1, "mgmt": 1} {
		if n := count(route); n != want {
			t.Errorf("route %q: %v requests counted, want %v", route, n, want)
		}
	}
	if n := count("gatehouse"); n < 2 {
		t.Errorf("route gatehouse: %v requests counted, want /healthz and the scrapes", n)
	}
}
