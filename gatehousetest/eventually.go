package gatehousetest

import (
	"testing"
	"time"
)

// Eventually polls cond every few milliseconds until it holds, and fails
// tb with what if it does not within the given time. It is how tests wait
// for something that happens on another goroutine, node or process,
// rather than sleeping for a guess.
func Eventually(tb testing.TB, within time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.After(within)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline:
			tb.Fatalf("%s: not within %v", what, within)
		}
	}
}
