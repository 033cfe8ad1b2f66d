package usage_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gatehouse"
	"gatehouse/gatehousetest"
	"gatehouse/sqlite"
	"gatehouse/usage"
)

var hour0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func createKey(tb testing.TB, s gatehouse.KeyStore, name string) *gatehouse.APIKey {
	tb.Helper()
	secret := gatehouse.NewSecret()
	k := &gatehouse.APIKey{
		ID: gatehouse.NewKeyID(), Name: name, Digest: secret.Digest(), Sealed: []byte("sealed"),
		Hint: secret.Hint(), Scopes: gatehouse.DefaultScopes(false), CreatedAt: hour0.Add(-24 * time.Hour),
		CreatedBy: "cli:test",
	}
	if err := s.CreateKey(context.Background(), k); err != nil {
		tb.Fatalf("CreateKey(%q) = %v", name, err)
	}
	return k
}

// counts returns a key's hourly counts from the store.
func counts(tb testing.TB, s gatehouse.UsageStore, keyID string) map[time.Time]int64 {
	tb.Helper()
	us, err := s.FindUsage(context.Background(), keyID, hour0.Add(-24*time.Hour))
	if err != nil {
		tb.Fatalf("FindUsage(%s) = %v", keyID, err)
	}
	m := map[time.Time]int64{}
	for _, u := range us {
		m[u.Hour] = u.Count
	}
	return m
}

func lastUsed(tb testing.TB, s gatehouse.KeyStore, keyID string) *time.Time {
	tb.Helper()
	k, err := s.FindKeyByID(context.Background(), keyID)
	if err != nil {
		tb.Fatalf("FindKeyByID(%s) = %v", keyID, err)
	}
	return k.LastUsedAt
}

func equalCounts(a, b map[time.Time]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for h, n := range a {
		if b[h] != n {
			return false
		}
	}
	return true
}

func TestRecordAndFlush(t *testing.T) {
	t.Parallel()
	store := gatehousetest.MustOpenSQLite(t)
	a, b := createKey(t, store, "a"), createKey(t, store, "b")
	r := usage.New(store, usage.Options{})
	for i := range 5 {
		r.Record(a.ID, hour0.Add(time.Duration(i)*time.Minute))
	}
	r.Record(a.ID, hour0.Add(61*time.Minute))
	latest := hour0.Add(90*time.Minute + 1234*time.Microsecond)
	r.Record(a.ID, latest)
	r.Record(a.ID, hour0.Add(70*time.Minute)) // out of order: not the latest
	r.Record(b.ID, hour0.Add(30*time.Minute))

	if lastUsed(t, store, a.ID) != nil {
		t.Fatalf("LastUsedAt set before Flush: Record wrote to the store")
	}
	if err := r.Flush(t.Context()); err != nil {
		t.Fatalf("Flush() = %v", err)
	}
	wantA := map[time.Time]int64{hour0: 5, hour0.Add(time.Hour): 3}
	if got := counts(t, store, a.ID); !equalCounts(got, wantA) {
		t.Errorf("usage of a = %v, want %v", got, wantA)
	}
	if got := counts(t, store, b.ID); !equalCounts(got, map[time.Time]int64{hour0: 1}) {
		t.Errorf("usage of b = %v, want 1 in %v", got, hour0)
	}
	if got := lastUsed(t, store, a.ID); got == nil || !got.Equal(latest.Truncate(time.Millisecond)) {
		t.Errorf("LastUsedAt of a = %v, want %v", got, latest.Truncate(time.Millisecond))
	}

	// A flush with nothing new adds nothing.
	if err := r.Flush(t.Context()); err != nil {
		t.Fatalf("second Flush() = %v", err)
	}
	if got := counts(t, store, a.ID); !equalCounts(got, wantA) {
		t.Errorf("usage of a after an empty flush = %v, want %v", got, wantA)
	}
	// New requests add to the same bucket.
	r.Record(a.ID, hour0.Add(2*time.Minute))
	if err := r.Flush(t.Context()); err != nil {
		t.Fatalf("third Flush() = %v", err)
	}
	if got := counts(t, store, a.ID)[hour0]; got != 6 {
		t.Errorf("usage of a at %v = %d, want 6", hour0, got)
	}
}

func TestTwoNodesAddUp(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "gatehouse.db")
	storeA, storeB := gatehousetest.MustOpenSQLiteAt(t, path), gatehousetest.MustOpenSQLiteAt(t, path)
	k := createKey(t, storeA, "shared")
	nodeA, nodeB := usage.New(storeA, usage.Options{}), usage.New(storeB, usage.Options{})
	for i := range 7 {
		nodeA.Record(k.ID, hour0.Add(time.Duration(i)*time.Second))
	}
	for i := range 4 {
		nodeB.Record(k.ID, hour0.Add(time.Duration(i)*time.Minute))
	}
	for round := range 2 { // flushing twice must not count twice
		for _, n := range []*usage.Recorder{nodeA, nodeB} {
			if err := n.Flush(t.Context()); err != nil {
				t.Fatalf("round %d: Flush() = %v", round, err)
			}
		}
	}
	if got := counts(t, storeA, k.ID)[hour0]; got != 11 {
		t.Errorf("usage = %d, want 7+4 = 11", got)
	}
	if got := lastUsed(t, storeA, k.ID); got == nil || !got.Equal(hour0.Add(3*time.Minute)) {
		t.Errorf("LastUsedAt = %v, want %v (node B's latest)", got, hour0.Add(3*time.Minute))
	}
}

// flaky is the real store with RecordUsage failing while fail is set.
type flaky struct {
	*sqlite.Store
	fail atomic.Bool
}

func (f *flaky) RecordUsage(ctx context.Context, u []gatehouse.Usage) error {
	if f.fail.Load() {
		return errors.New("database is locked")
	}
	return f.Store.RecordUsage(ctx, u)
}

func TestFailedFlushKeepsCounts(t *testing.T) {
	t.Parallel()
	store := &flaky{Store: gatehousetest.MustOpenSQLite(t)}
	k := createKey(t, store, "k")
	r := usage.New(store, usage.Options{})
	store.fail.Store(true)
	r.Record(k.ID, hour0)
	r.Record(k.ID, hour0.Add(time.Second))
	if err := r.Flush(t.Context()); err == nil {
		t.Fatalf("Flush() on a failing store = nil, want an error")
	}
	r.Record(k.ID, hour0.Add(2*time.Second))
	if err := r.Flush(t.Context()); err == nil {
		t.Fatalf("second Flush() on a failing store = nil, want an error")
	}
	store.fail.Store(false)
	if err := r.Flush(t.Context()); err != nil {
		t.Fatalf("Flush() after recovery = %v", err)
	}
	if got := counts(t, store, k.ID)[hour0]; got != 3 {
		t.Errorf("usage = %d, want 3 (kept across failed flushes, written once)", got)
	}
}

func TestFailedFlushDropsOldestBeyondMaxPending(t *testing.T) {
	t.Parallel()
	store := &flaky{Store: gatehousetest.MustOpenSQLite(t)}
	k := createKey(t, store, "k")
	r := usage.New(store, usage.Options{MaxPending: 2})
	store.fail.Store(true)
	for h := range 4 {
		r.Record(k.ID, hour0.Add(time.Duration(h)*time.Hour))
	}
	if err := r.Flush(t.Context()); err == nil {
		t.Fatalf("Flush() on a failing store = nil, want an error")
	}
	store.fail.Store(false)
	if err := r.Flush(t.Context()); err != nil {
		t.Fatalf("Flush() after recovery = %v", err)
	}
	want := map[time.Time]int64{hour0.Add(2 * time.Hour): 1, hour0.Add(3 * time.Hour): 1}
	if got := counts(t, store, k.ID); !equalCounts(got, want) {
		t.Errorf("usage = %v, want the 2 newest hours %v", got, want)
	}
}

func TestRunFlushes(t *testing.T) {
	t.Parallel()
	store := gatehousetest.MustOpenSQLite(t)
	k := createKey(t, store, "k")
	r := usage.New(store, usage.Options{FlushInterval: 20 * time.Millisecond})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	r.Record(k.ID, hour0)
	deadline := time.After(2 * time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for counts(t, store, k.ID)[hour0] != 1 {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("Run did not flush within 2s")
		}
	}
}

func TestConcurrentRecordAndFlush(t *testing.T) {
	t.Parallel()
	store := gatehousetest.MustOpenSQLite(t)
	keys := []*gatehouse.APIKey{createKey(t, store, "a"), createKey(t, store, "b")}
	r := usage.New(store, usage.Options{})
	const workers, each = 4, 500
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				r.Record(keys[(w+i)%2].ID, hour0.Add(time.Duration(i)*time.Millisecond))
			}
		})
	}
	stop := make(chan struct{})
	flushed := make(chan error, 1)
	go func() {
		for {
			if err := r.Flush(t.Context()); err != nil {
				flushed <- err
				return
			}
			select {
			case <-stop:
				flushed <- r.Flush(t.Context())
				return
			default:
			}
		}
	}()
	wg.Wait()
	close(stop)
	if err := <-flushed; err != nil {
		t.Fatalf("Flush() = %v", err)
	}
	total := counts(t, store, keys[0].ID)[hour0] + counts(t, store, keys[1].ID)[hour0]
	if total != workers*each {
		t.Errorf("total usage = %d, want %d", total, workers*each)
	}
}

func TestRecordDoesNotAllocate(t *testing.T) {
	r := usage.New(nil, usage.Options{})
	r.Record("key_a", hour0)
	now := hour0
	allocs := testing.AllocsPerRun(1000, func() {
		now = now.Add(time.Millisecond)
		r.Record("key_a", now)
	})
	if allocs != 0 {
		t.Errorf("Record of a recently used key: %v allocations, want 0", allocs)
	}
}

func BenchmarkRecord(b *testing.B) {
	r := usage.New(nil, usage.Options{})
	keys := make([]string, 1000)
	for i := range keys {
		keys[i] = gatehouse.NewKeyID()
	}
	now := hour0
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		r.Record(keys[i%len(keys)], now)
	}
}

func BenchmarkRecordParallel(b *testing.B) {
	r := usage.New(nil, usage.Options{})
	keys := make([]string, 1000)
	for i := range keys {
		keys[i] = gatehouse.NewKeyID()
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for i := 0; pb.Next(); i++ {
			r.Record(keys[i%len(keys)], hour0)
		}
	})
}

// TestRecordPrevious: a request with a rolled key's previous secret counts
// like any other and moves the key's PreviousLastUsedAt; one with the
// current secret leaves it.
func TestRecordPrevious(t *testing.T) {
	t.Parallel()
	store := gatehousetest.MustOpenSQLite(t)
	k := createKey(t, store, "rolled")
	r := usage.New(store, usage.Options{})
	prev := hour0.Add(10 * time.Minute)
	r.RecordPrevious(k.ID, prev)
	r.Record(k.ID, hour0.Add(20*time.Minute))
	if err := r.Flush(t.Context()); err != nil {
		t.Fatalf("Flush() = %v", err)
	}
	if got := counts(t, store, k.ID); !equalCounts(got, map[time.Time]int64{hour0: 2}) {
		t.Errorf("usage = %v, want 2 in %v", got, hour0)
	}
	got, err := store.FindKeyByID(t.Context(), k.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.PreviousLastUsedAt == nil || !got.PreviousLastUsedAt.Equal(prev) {
		t.Errorf("PreviousLastUsedAt = %v, want %v", got.PreviousLastUsedAt, prev)
	}
	// A flush of the current secret's use alone keeps it.
	r.Record(k.ID, hour0.Add(30*time.Minute))
	if err := r.Flush(t.Context()); err != nil {
		t.Fatalf("Flush() = %v", err)
	}
	if got, _ := store.FindKeyByID(t.Context(), k.ID); got.PreviousLastUsedAt == nil || !got.PreviousLastUsedAt.Equal(prev) {
		t.Errorf("PreviousLastUsedAt after current use = %v, want %v", got.PreviousLastUsedAt, prev)
	}
}
