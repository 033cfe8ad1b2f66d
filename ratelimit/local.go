package ratelimit

import (
	"context"
	"sync"
	"time"

	"gatehouse"
)

// localShards is the number of independently locked parts of a Local's
// state.
const localShards = 64

// minSweep is the size below which a shard is never swept.
const minSweep = 1024

// Local is an in-process GCRA limiter. Its state per key is one
// timestamp (the theoretical arrival time of the next request); a key
// whose timestamp has passed is idle and its entry is dropped without
// changing any decision. Allow does not allocate for a key already seen.
//
// With several gateway nodes, each node limits on its own: use Redis for
// one limit across the cluster.
type Local struct {
	shards [localShards]localShard
}

type localShard struct {
	mu sync.Mutex
	// tat is each key's theoretical arrival time, in Unix nanoseconds.
	tat map[string]int64
	// sweepAt is the size at which idle entries are dropped next.
	sweepAt int
	_       [40]byte // keeps shards on separate cache lines
}

// NewLocal returns an empty in-process limiter.
func NewLocal() *Local {
	l := &Local{}
	for i := range l.shards {
		l.shards[i].tat = make(map[string]int64)
		l.shards[i].sweepAt = minSweep
	}
	return l
}

// Allow implements Limiter. It never returns an error for a valid limit.
func (l *Local) Allow(_ context.Context, key string, limit gatehouse.RateLimit, now time.Time) (gatehouse.RateDecision, error) {
	if unlimited, err := check(limit); unlimited || err != nil {
		return unlimitedDecision, err
	}
	s := &l.shards[shardOf(key)]
	t := now.UnixNano()
	s.mu.Lock()
	defer s.mu.Unlock()
	tat, seen := s.tat[key]
	d, next := gcra(tat, t, limit)
	if d.Allowed {
		if !seen && len(s.tat) >= s.sweepAt {
			s.sweep(t)
		}
		s.tat[key] = next
	}
	return d, nil
}

// sweep drops the entries of idle keys, which GCRA treats the same as
// unknown keys.
func (s *localShard) sweep(now int64) {
	for k, tat := range s.tat {
		if tat <= now {
			delete(s.tat, k)
		}
	}
	s.sweepAt = max(2*len(s.tat), minSweep)
}

// gcra decides one request at now given the key's theoretical arrival
// time tat (0 for a new key), with a burst of limit.Requests. It returns
// the decision and, when allowed, the new tat. The arithmetic is the same
// as redis_rate's script, so both limiters answer alike.
func gcra(tat, now int64, limit gatehouse.RateLimit) (gatehouse.RateDecision, int64) {
	interval := int64(emissionInterval(limit))
	burst := interval * int64(limit.Requests)
	tat = max(tat, now)
	next := tat + interval
	diff := now - (next - burst)
	d := gatehouse.RateDecision{Limit: limit.Requests}
	if diff < 0 {
		d.RetryAfter = time.Duration(-diff)
		d.ResetAfter = time.Duration(tat - now)
		return d, tat
	}
	d.Allowed = true
	d.Remaining = int(diff / interval)
	d.ResetAfter = time.Duration(next - now)
	return d, next
}

// shardOf picks a key's shard with FNV-1a, without allocating.
func shardOf(key string) int {
	h := uint32(2166136261)
	for i := 0; i < len(key); i++ {
		h ^= uint32(key[i])
		h *= 16777619
	}
	return int(h % localShards)
}
