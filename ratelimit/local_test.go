package ratelimit_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"gatehouse"
	"gatehouse/ratelimit"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// step is one request at t0+at and what the limiter must answer.
type step struct {
	at         time.Duration
	allowed    bool
	remaining  int
	retryAfter time.Duration
	resetAfter time.Duration
}

func TestLocal(t *testing.T) {
	t.Parallel()
	threePerSecond := gatehouse.RateLimit{Requests: 3, Per: time.Second}
	third := time.Second / 3
	tests := []struct {
		name  string
		limit gatehouse.RateLimit
		steps []step
	}{
		{
			name:  "BurstThenDenied",
			limit: threePerSecond,
			steps: []step{
				{at: 0, allowed: true, remaining: 2, resetAfter: third},
				{at: 0, allowed: true, remaining: 1, resetAfter: 2 * third},
				{at: 0, allowed: true, remaining: 0, resetAfter: 3 * third},
				{at: 0, allowed: false, retryAfter: third, resetAfter: 3 * third},
				{at: 100 * time.Millisecond, allowed: false, retryAfter: third - 100*time.Millisecond, resetAfter: 3*third - 100*time.Millisecond},
			},
		},
		{
			name:  "OneCellBackAfterTheInterval",
			limit: threePerSecond,
			steps: []step{
				{at: 0, allowed: true, remaining: 2, resetAfter: third},
				{at: 0, allowed: true, remaining: 1, resetAfter: 2 * third},
				{at: 0, allowed: true, remaining: 0, resetAfter: 3 * third},
				{at: third, allowed: true, remaining: 0, resetAfter: 3 * third},
				{at: third, allowed: false, retryAfter: third, resetAfter: 3 * third},
			},
		},
		{
			name:  "RefillsAfterThePeriod",
			limit: threePerSecond,
			steps: []step{
				{at: 0, allowed: true, remaining: 2, resetAfter: third},
				{at: 0, allowed: true, remaining: 1, resetAfter: 2 * third},
				{at: 0, allowed: true, remaining: 0, resetAfter: 3 * third},
				{at: 0, allowed: false, retryAfter: third, resetAfter: 3 * third},
				{at: time.Second, allowed: true, remaining: 2, resetAfter: third},
			},
		},
		{
			name:  "OnePerMinute",
			limit: gatehouse.RateLimit{Requests: 1, Per: time.Minute},
			steps: []step{
				{at: 0, allowed: true, remaining: 0, resetAfter: time.Minute},
				{at: 59 * time.Second, allowed: false, retryAfter: time.Second, resetAfter: time.Second},
				{at: time.Minute, allowed: true, remaining: 0, resetAfter: time.Minute},
			},
		},
		{
			name:  "ZeroLimitAllowsEverything",
			limit: gatehouse.RateLimit{},
			steps: []step{{at: 0, allowed: true}, {at: 0, allowed: true}, {at: 0, allowed: true}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l := ratelimit.NewLocal()
			for i, s := range tt.steps {
				d, err := l.Allow(context.Background(), "key_a", tt.limit, t0.Add(s.at))
				if err != nil {
					t.Fatalf("step %d: Allow() = %v", i, err)
				}
				want := gatehouse.RateDecision{
					Allowed: s.allowed, Limit: tt.limit.Requests, Remaining: s.remaining,
					RetryAfter: s.retryAfter, ResetAfter: s.resetAfter,
				}
				if d != want {
					t.Errorf("step %d (t0+%v): Allow() = %+v, want %+v", i, s.at, d, want)
				}
			}
		})
	}
}

func TestLocalKeysAreIndependent(t *testing.T) {
	t.Parallel()
	l := ratelimit.NewLocal()
	limit := gatehouse.RateLimit{Requests: 1, Per: time.Hour}
	for _, key := range []string{"key_a", "key_b"} {
		if d, _ := l.Allow(context.Background(), key, limit, t0); !d.Allowed {
			t.Errorf("first request of %s denied", key)
		}
	}
	if d, _ := l.Allow(context.Background(), "key_a", limit, t0); d.Allowed {
		t.Errorf("second request of key_a allowed, want denied")
	}
}

func TestLocalInvalidLimit(t *testing.T) {
	t.Parallel()
	l := ratelimit.NewLocal()
	for _, limit := range []gatehouse.RateLimit{{Requests: 5, Per: 0}, {Requests: -1, Per: time.Second}} {
		if _, err := l.Allow(context.Background(), "k", limit, t0); err == nil {
			t.Errorf("Allow(limit %+v) = nil error, want one", limit)
		}
	}
}

func TestLocalEvictsIdleKeys(t *testing.T) {
	t.Parallel()
	l := ratelimit.NewLocal()
	limit := gatehouse.RateLimit{Requests: 10, Per: time.Second}
	const n = 200_000
	for i := range n {
		l.Allow(context.Background(), "key_"+strconv.Itoa(i), limit, t0)
	}
	if got := l.Entries(); got < n/2 {
		t.Fatalf("Entries() after %d busy keys = %d: busy keys were dropped", n, got)
	}
	// A second later every key is idle; new keys make the shards sweep.
	later := t0.Add(2 * time.Second)
	for i := range n {
		l.Allow(context.Background(), "new_"+strconv.Itoa(i), limit, later)
	}
	if got := l.Entries(); got > n+n/2 {
		t.Errorf("Entries() = %d after %d idle and %d busy keys: idle keys were kept", got, n, n)
	}
}

func TestLocalAllowDoesNotAllocate(t *testing.T) {
	l := ratelimit.NewLocal()
	limit := gatehouse.RateLimit{Requests: 1_000_000, Per: time.Second}
	ctx := context.Background()
	l.Allow(ctx, "key_a", limit, t0)
	now := t0
	allocs := testing.AllocsPerRun(1000, func() {
		now = now.Add(time.Microsecond)
		l.Allow(ctx, "key_a", limit, now)
	})
	if allocs != 0 {
		t.Errorf("Allow on a known key: %v allocations, want 0", allocs)
	}
}

func BenchmarkLocalAllow(b *testing.B) {
	l := ratelimit.NewLocal()
	limit := gatehouse.RateLimit{Requests: 1_000_000_000, Per: time.Second}
	keys := make([]string, 1000)
	for i := range keys {
		keys[i] = gatehouse.NewKeyID()
	}
	ctx := context.Background()
	now := t0
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		now = now.Add(time.Microsecond)
		if d, _ := l.Allow(ctx, keys[i%len(keys)], limit, now); !d.Allowed {
			b.Fatal("denied")
		}
	}
}

func BenchmarkLocalAllowParallel(b *testing.B) {
	l := ratelimit.NewLocal()
	limit := gatehouse.RateLimit{Requests: 1_000_000_000, Per: time.Second}
	keys := make([]string, 1000)
	for i := range keys {
		keys[i] = gatehouse.NewKeyID()
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		now := t0
		for i := 0; pb.Next(); i++ {
			now = now.Add(time.Microsecond)
			l.Allow(ctx, keys[i%len(keys)], limit, now)
		}
	})
}
