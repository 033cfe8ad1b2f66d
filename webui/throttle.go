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

// wait returns how long the subjects must still wait before an attempt,
// and which of them have failures counted (for succeed to clear).
func (t throttle) wait(ctx context.Context, now time.Time, subjects ...string) (time.Duration, []string, error) {
	counts, err := t.store.FindLoginFailures(ctx, subjects, now.Add(-maxWait))
	if err != nil {
		return 0, nil, err
	}
	var longest time.Duration
	var counted []string
	for _, f := range counts {
		counted = append(counted, f.Subject)
		if f.Count < freeFailures {
			continue
		}
		if d := f.Last.Add(backoff(f.Count)).Sub(now); d > longest {
			longest = d
		}
	}
	return longest, counted, nil
}

// backoff is the wait after n failures (n >= freeFailures): 1 s, then
// twice as long each time, up to maxWait.
func backoff(n int) time.Duration {
	d := time.Second << min(n-freeFailures, 20)
	return min(d, maxWait)
}

func (t throttle) fail(ctx context.Context, now time.Time, subjects ...string) error {
	_, err := t.store.RecordLoginFailure(ctx, subjects, now, now.Add(-maxWait))
	return err
}

// succeed forgets the failures of subjects, those wait found counted: a
// login with none costs no write.
func (t throttle) succeed(ctx context.Context, counted []string) error {
	if len(counted) == 0 {
		return nil
	}
	return t.store.ClearLoginFailures(ctx, counted)
}
