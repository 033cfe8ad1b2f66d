package webui

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strings"
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
	// maxNameLen is the longest username kept as it is in a subject
	// (admin create-user allows 64 bytes); a longer one is kept as its
	// SHA-256, so that made-up names cannot put big rows in the store.
	maxNameLen = 64
)

// userSubjectOf is the subject of a username, case-insensitively, whether
// or not such a user exists.
func userSubjectOf(name string) string {
	name = strings.ToLower(name)
	if len(name) > maxNameLen {
		sum := sha256.Sum256([]byte(name))
		return userSubject + "sha256:" + hex.EncodeToString(sum[:])
	}
	return userSubject + name
}

// failureStore is what a throttle needs of the store: the counts of
// failed logins by subject, which it reads, counts and clears.
type failureStore interface {
	FindLoginFailures(ctx context.Context, subjects []string, since time.Time) ([]gatehouse.LoginFailures, error)
	RecordLoginFailure(ctx context.Context, subjects []string, at, since time.Time) ([]gatehouse.LoginFailures, error)
	ClearLoginFailures(ctx context.Context, subjects []string) error
}

// throttle slows down repeated failed logins, per username and per client
// address: after freeFailures failures each further attempt must wait twice
// as long as the last, up to maxWait. A success clears the count. The
// counts live in the store, so every node of a cluster, and a restarted
// node, slows down the same attacker.
//
// An attempt is counted as a failure before its password is checked, and
// the store counts atomically, so each of a parallel burst sees the
// attempts before it: a burst gets no more checks than a sequence would.
//
// A username is counted whether or not the user exists: counting only real
// users would throttle a burst against a real name and not against a
// made-up one, telling which names exist. Made-up names do not grow the
// store without bound: every counted attempt is counted against its
// address too, which is throttled the same way, a count is forgotten
// maxWait after its last failure (the store prunes quiet counts on every
// failure), and a long name is kept as its digest.
type throttle struct {
	store failureStore
}

// attempt counts a login attempt by subjects as a failure, before its
// password is checked, and returns how long they must wait instead, or 0
// when the password may be checked. An attempt that must wait already
// when it arrives is not counted, so that asking again during a wait does
// not lengthen it.
func (t throttle) attempt(ctx context.Context, now time.Time, subjects ...string) (time.Duration, error) {
	since := now.Add(-maxWait)
	before, err := t.store.FindLoginFailures(ctx, subjects, since)
	if err != nil {
		return 0, err
	}
	if d := waitAfter(before, now); d > 0 {
		return d, nil
	}
	after, err := t.store.RecordLoginFailure(ctx, subjects, now, since)
	if err != nil {
		return 0, err
	}
	// An attempt past the free failures may go on only if nobody else
	// was counted between the look above, which found that the wait had
	// passed, and this count. Otherwise it lost a race to another attempt
	// and waits after it.
	seen := map[string]int{}
	for _, f := range before {
		seen[f.Subject] = f.Count
	}
	var raced []gatehouse.LoginFailures
	for _, f := range after {
		if f.Count > freeFailures && f.Count != seen[f.Subject]+1 {
			raced = append(raced, f)
		}
	}
	return waitAfter(raced, now), nil
}

// waitAfter returns how long after now the subjects with counts must still
// wait.
func waitAfter(counts []gatehouse.LoginFailures, now time.Time) time.Duration {
	var longest time.Duration
	for _, f := range counts {
		if f.Count < freeFailures {
			continue
		}
		if d := f.Last.Add(backoff(f.Count)).Sub(now); d > longest {
			longest = d
		}
	}
	return longest
}

// backoff is the wait after n failures (n >= freeFailures): 1 s, then
// twice as long each time, up to maxWait.
func backoff(n int) time.Duration {
	d := time.Second << min(n-freeFailures, 20)
	return min(d, maxWait)
}

// succeed forgets the failures of subjects: a successful login.
func (t throttle) succeed(ctx context.Context, subjects ...string) error {
	return t.store.ClearLoginFailures(ctx, subjects)
}
