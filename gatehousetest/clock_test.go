package gatehousetest_test

import (
	"testing"
	"time"

	"gatehouse/gatehousetest"
)

func TestClock(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	c := gatehousetest.NewClock(start)
	if got := c.Now(); !got.Equal(start) {
		t.Errorf("Now() = %v, want %v", got, start)
	}
	c.Add(time.Hour)
	if got, want := c.Now(), start.Add(time.Hour); !got.Equal(want) {
		t.Errorf("Now() after Add(1h) = %v, want %v", got, want)
	}

	w := gatehousetest.NewWallClock()
	before := time.Now()
	w.Add(time.Hour)
	got := w.Now()
	if lo, hi := before.Add(time.Hour), time.Now().Add(time.Hour); got.Before(lo) || got.After(hi) {
		t.Errorf("wall clock Now() after Add(1h) = %v, want between %v and %v", got, lo, hi)
	}
}
