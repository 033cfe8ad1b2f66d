package keyindex_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"

	"gatehouse/keyindex"
	"gatehouse/sqlite"
)

// countingStore is the real SQLite store, counting its revision reads.
type countingStore struct {
	*sqlite.Store
	revisions atomic.Int64
}

func (s *countingStore) Revision(ctx context.Context) (int64, error) {
	s.revisions.Add(1)
	return s.Store.Revision(ctx)
}

// TestCatchUpSeesAKeyCreatedElsewhere: a key the CLI (another store handle)
// created a moment ago is in the index after one CatchUp, with no poll.
func TestCatchUpSeesAKeyCreatedElsewhere(t *testing.T) {
	t.Parallel()
	gw, cli := twoHandles(t)
	x := keyindex.New(gw, keyindex.Options{})
	if err := x.Load(t.Context()); err != nil {
		t.Fatal(err)
	}
	k, secret := createKey(t, cli, "made by the CLI", nil)
	if _, ok := x.Lookup(secret.Digest()); ok {
		t.Fatal("the index knows the key before any sync")
	}
	if err := x.CatchUp(t.Context()); err != nil {
		t.Fatalf("CatchUp = %v", err)
	}
	if got, ok := x.Lookup(secret.Digest()); !ok || got.ID != k.ID {
		t.Errorf("Lookup after CatchUp = %v, %v; want the key made by the CLI", got, ok)
	}
}

// TestCatchUpCoalesces: a burst of concurrent catch-ups (a flood of
// unknown well-formed keys) shares syncs: far fewer revision reads than
// callers, and every caller returns after a sync that began after it
// asked (checked by a key created just before the burst).
func TestCatchUpCoalesces(t *testing.T) {
	t.Parallel()
	gw, cli := twoHandles(t)
	st := &countingStore{Store: gw}
	x := keyindex.New(st, keyindex.Options{})
	if err := x.Load(t.Context()); err != nil {
		t.Fatal(err)
	}
	_, secret := createKey(t, cli, "just made", nil)
	before := st.revisions.Load()
	const callers = 200
	var wg sync.WaitGroup
	var missed atomic.Int64
	for range callers {
		wg.Go(func() {
			if err := x.CatchUp(context.Background()); err != nil {
				t.Errorf("CatchUp = %v", err)
			}
			if _, ok := x.Lookup(secret.Digest()); !ok {
				missed.Add(1)
			}
		})
	}
	wg.Wait()
	reads := st.revisions.Load() - before
	t.Logf("%d concurrent catch-ups cost %d revision reads", callers, reads)
	if reads < 1 || reads > callers/10 {
		t.Errorf("%d concurrent catch-ups cost %d revision reads, want between 1 and %d", callers, reads, callers/10)
	}
	if n := missed.Load(); n != 0 {
		t.Errorf("%d callers still missed the key after their catch-up", n)
	}
}
