package webui

import (
	"context"
	"time"

	"gatehouse"
)

// userSubject and addrSubject prefix the two kinds of subject.
const (
	userSubject = "user:"
	addrSubject = "ip:"
)

const (
	// freeFailures is how many failures a subject has before it waits.
	freeFailures = 5
	// maxWait is the longest wait, and how long a count lasts after its
	// last failure.
	maxWait = 15 * time.Minute
)

// throttle slows down repeated failed logins, per username and per client
// address: after freeFailures failures each further attempt must wait twice
// as long as the last, up to maxWait. A success clears the count. The
// counts live in the store, so every node of a cluster, and a restarted
// node, slows down the same attacker.
type throttle struct {
	store gatehouse.KeyStore
}

// wait returns how long the subjects must still wait before an attempt.
func (t throttle) wait(ctx context.Context, now time.Time, subjects ...string) (time.Duration, error) {
	counts, err := t.store.FindLoginFailures(ctx, subjects, now.Add(-maxWait))
	if err != nil {
		return 0, err
	}
	var longest time.Duration
	for _, f := range counts {
		if f.Count < freeFailures {
			continue
		}
		if d := f.Last.Add(backoff(f.Count)).Sub(now); d > longest {
			longest = d
		}
	}
	return longest, nil
}

// backoff is the wait after n failures (n >= freeFailures): 1 s, then
// twice as long each time, up to maxWait.
func backoff(n int) time.Duration {
	d := time.Second << min(n-freeFailures, 20)
	return min(d, maxWait)
}

func (t throttle) fail(ctx context.Context, now time.Time, subjects ...string) error {
	return t.store.RecordLoginFailure(ctx, subjects, now, now.Add(-maxWait))
}

func (t throttle) succeed(ctx context.Context, subjects ...string) error {
	return t.store.ClearLoginFailures(ctx, subjects)
}
