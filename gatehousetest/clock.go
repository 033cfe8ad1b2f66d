package gatehousetest

import (
	"sync"
	"time"
)

// Clock is a time that tests move instead of sleeping: pass its Now where
// code takes a Now func() time.Time. It is safe for concurrent use.
type Clock struct {
	mu     sync.Mutex
	wall   bool // the real time plus offset; else start plus offset
	start  time.Time
	offset time.Duration
}

// NewClock returns a clock that stands still at start until Add moves it.
func NewClock(start time.Time) *Clock {
	return &Clock{start: start}
}

// NewWallClock returns a clock that runs with the real time, ahead of it
// by however far Add has moved it: for a whole gateway, whose background
// work runs on the real time.
func NewWallClock() *Clock {
	return &Clock{wall: true}
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.wall {
		return time.Now().Add(c.offset)
	}
	return c.start.Add(c.offset)
}

// Add moves the clock by d.
func (c *Clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
}
