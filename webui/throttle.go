package webui

import (
	"strings"
	"sync"
	"time"
)

// throttle slows down repeated failed logins, per username and per client
// address: after freeFailures failures each further attempt must wait twice
// as long as the last, up to maxWait. A success clears the count.
type throttle struct {
	mu   sync.Mutex
	seen map[string]*failures
}

type failures struct {
	n    int
	last time.Time
}

// userSubject and addrSubject prefix the two kinds of subject.
const (
	userSubject = "user:"
	addrSubject = "ip:"
)

const (
	freeFailures = 5
	maxWait      = 15 * time.Minute
	maxTracked   = 10000
)

func newThrottle() *throttle { return &throttle{seen: map[string]*failures{}} }

// wait returns how long the subjects must still wait before an attempt.
func (t *throttle) wait(now time.Time, subjects ...string) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	var longest time.Duration
	for _, s := range subjects {
		f := t.seen[s]
		if f == nil || f.n < freeFailures {
			continue
		}
		if d := f.last.Add(backoff(f.n)).Sub(now); d > longest {
			longest = d
		}
	}
	return longest
}

func backoff(n int) time.Duration {
	d := time.Second << min(n-freeFailures, 20)
	return min(d, maxWait)
}

func (t *throttle) fail(now time.Time, subjects ...string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.seen) >= maxTracked {
		for k, f := range t.seen {
			if now.Sub(f.last) > maxWait {
				delete(t.seen, k)
			}
		}
	}
	for _, s := range subjects {
		f := t.seen[s]
		if f == nil {
			// A full table takes no new address, but always a user: only
			// existing users are counted by name, so they are few, and
			// failures with made-up names or from many addresses must not
			// crowd a real user out of the table.
			if len(t.seen) >= maxTracked && !strings.HasPrefix(s, userSubject) {
				continue
			}
			f = &failures{}
			t.seen[s] = f
		}
		if now.Sub(f.last) > maxWait {
			f.n = 0
		}
		f.n++
		f.last = now
	}
}

func (t *throttle) succeed(subjects ...string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, s := range subjects {
		delete(t.seen, s)
	}
}
