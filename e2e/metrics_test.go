package e2e_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"gatehouse/config"
)

// metricName finds the metrics that the gateway's code defines.
var metricName = regexp.MustCompile(`Name:\s*"(gatehouse_[a-z_]+)"`)

// TestEveryMetricIsServed: every metric defined anywhere in the code is on
// /metrics, so that none is made and then forgotten unregistered.
func TestEveryMetricIsServed(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("../*/*.go")
	if err != nil {
		t.Fatal(err)
	}
	defined := map[string]string{}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") || strings.HasPrefix(f, "../bench/") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range metricName.FindAllStringSubmatch(string(src), -1) {
			defined[m[1]] = f
		}
	}
	if len(defined) < 5 {
		t.Fatalf("found only %d metric definitions in the code: %v", len(defined), defined)
	}
	redisURL := os.Getenv("GATEHOUSE_TEST_REDIS")
	g := startGateway(t, func(c *config.Config) {
		if redisURL != "" {
			c.Redis = redisURL
		}
	})
	_, key := g.key(t, "metrics", "assets:read")
	if r := do(t, "GET", g.URL+"/api/v2/assets/158", key, "", ""); r.Status != 200 {
		t.Fatalf("GET with a key = %d %s, want 200", r.Status, r.Body)
	}
	r := do(t, "GET", g.AdminURL+"/metrics", "", "", "")
	if r.Status != 200 {
		t.Fatalf("/metrics = %d, want 200", r.Status)
	}
	served := r.Body
	for name, file := range defined {
		if redisURL == "" && strings.HasPrefix(name, "gatehouse_ratelimit_redis_") {
			t.Logf("%s (%s) is served only with Redis: set GATEHOUSE_TEST_REDIS to check it", name, file)
			continue
		}
		if !strings.Contains(served, "\n"+name) && !strings.HasPrefix(served, name) {
			t.Errorf("%s, defined in %s, is not on /metrics", name, file)
		}
	}
}
