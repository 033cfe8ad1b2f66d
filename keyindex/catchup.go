package keyindex

import (
	"context"
	"sync"
	"time"
)

// DefaultCatchUpInterval is the shortest time between two syncs that
// CatchUp starts: a flood of unknown well-formed keys costs the store at
// most one revision read per interval, never one per request.
const DefaultCatchUpInterval = 5 * time.Millisecond

// catchUpTimeout bounds one sync started by CatchUp.
const catchUpTimeout = 2 * time.Second

// catchUp batches the callers of CatchUp into rounds: each round is one
// sync that starts after every caller of the round arrived, so that it sees
// what was committed before they asked; callers that arrive while a round
// runs wait for the next. At most one round runs at a time, and rounds
// start at least CatchUpInterval apart.
type catchUp struct {
	mu      sync.Mutex
	next    *round // the round that new callers join; nil when none is due
	running bool   // a goroutine runs the rounds
}

// round is one sync shared by its callers.
type round struct {
	done chan struct{}
	err  error
}

// CatchUp brings the index up to what the store holds now: it returns
// after a sync that started after the call, or when ctx ends. The key check
// calls it when a well-formed key (good checksum) is not in the index, so
// that a key created a moment ago by the CLI or another node works on its
// very first request, before the next poll. Concurrent calls share one
// sync, and syncs started this way are at least CatchUpInterval apart.
func (x *Index) CatchUp(ctx context.Context) error {
	c := &x.catchUp
	c.mu.Lock()
	r := c.next
	if r == nil {
		r = &round{done: make(chan struct{})}
		c.next = r
	}
	if !c.running {
		c.running = true
		go x.runRounds()
	}
	c.mu.Unlock()
	select {
	case <-r.done:
		return r.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// runRounds runs the rounds that are due, one at a time, and ends when
// none is.
func (x *Index) runRounds() {
	c := &x.catchUp
	var last time.Time
	for {
		if wait := x.opts.CatchUpInterval - time.Since(last); !last.IsZero() && wait > 0 {
			// The pace: callers of this round wait a few ms more.
			time.Sleep(wait)
		}
		c.mu.Lock()
		r := c.next
		c.next = nil
		if r == nil {
			c.running = false
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()
		last = time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), catchUpTimeout)
		r.err = x.Sync(ctx)
		cancel()
		close(r.done)
	}
}
