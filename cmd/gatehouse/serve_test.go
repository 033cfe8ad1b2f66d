package main

import (
	"fmt"
	"testing"
	"time"

	"gatehouse/config"
	"gatehouse/demo"
)

// TestAddDemoRoutes: the demo's routes join the config's, with the route
// defaults, except where the config already routes their path.
func TestAddDemoRoutes(t *testing.T) {
	t.Parallel()
	cfg := config.Default()
	cfg.Routes = []config.Route{{Name: "mine", Path: "/api/v2/data", Upstream: "http://127.0.0.1:1/data", Scope: "mine"}}
	if err := addDemoRoutes(cfg, &demo.Server{URL: "http://127.0.0.1:2"}); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range cfg.ParsedRoutes {
		got = append(got, r.Name)
		if r.Timeout != 30*time.Second || !r.WebSocket {
			t.Errorf("route %s: Timeout %v, WebSocket %v; want 30s, true", r.Name, r.Timeout, r.WebSocket)
		}
	}
	if want := "[mine assets data-listener]"; fmt.Sprint(got) != want {
		t.Errorf("routes = %v, want %s", got, want)
	}
}
