package server

import (
	"testing"
	"time"

	"gatehouse"
)

// TestRequestDurationDoesNotAllocate: observing a request of a route, or
// of the gateway's own, costs no allocation.
func TestRequestDurationDoesNotAllocate(t *testing.T) {
	d := newRequestDuration([]gatehouse.Route{{Name: "assets"}})
	for _, route := range []string{"assets", gatehouse.RouteLabelOwn, gatehouse.RouteLabelNone} {
		if n := testing.AllocsPerRun(100, func() { d.observe(route, time.Millisecond) }); n != 0 {
			t.Errorf("observe(%q): %v allocations, want 0", route, n)
		}
	}
}
