package keyindex_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"gatehouse"
	"gatehouse/gatehousetest"
	"gatehouse/keyindex"
)

func TestLoad(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	gw, _ := twoHandles(t)
	var keys []*gatehouse.APIKey
	for _, name := range []string{"alpha", "beta", "gamma"} {
		k, _ := createKey(t, gw, name, nil)
		keys = append(keys, k)
	}
	x := keyindex.New(gw, keyindex.Options{})
	if x.Usable(time.Now()) {
		t.Errorf("Usable before Load = true, want false")
	}
	if err := x.Load(ctx); err != nil {
		t.Fatalf("Load() = %v", err)
	}
	if got, want := x.Len(), 3; got != want {
		t.Errorf("Len() = %d, want %d", got, want)
	}
	for _, want := range keys {
		if got, ok := x.Lookup(want.Digest); !ok || got.ID != want.ID || got.Name != want.Name {
			t.Errorf("Lookup(digest of %s) = %+v, %v; want the key", want.Name, got, ok)
		}
		if got, ok := x.Get(want.ID); !ok || got.Digest != want.Digest {
			t.Errorf("Get(%s) = %+v, %v; want the key", want.ID, got, ok)
		}
	}
	if _, ok := x.Lookup(gatehouse.NewSecret().Digest()); ok {
		t.Errorf("Lookup(unknown digest) found a key")
	}
	if _, ok := x.Get("key_unknown"); ok {
		t.Errorf("Get(unknown ID) found a key")
	}
	if !x.Usable(time.Now()) {
		t.Errorf("Usable after Load = false, want true")
	}
}

func TestLoadPages(t *testing.T) {
	t.Parallel()
	gw, _ := twoHandles(t)
	// More than one page of 1000 keys.
	const n = 1001
	for i := range n {
		createKey(t, gw, "key-"+itoa(i), nil)
	}
	x := keyindex.New(gw, keyindex.Options{})
	if err := x.Load(t.Context()); err != nil {
		t.Fatalf("Load() = %v", err)
	}
	if got := x.Len(); got != n {
		t.Errorf("Len() = %d, want %d", got, n)
	}
}

func TestSyncSeesChangesOfAnotherProcess(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	gw, cli := twoHandles(t)
	kept, _ := createKey(t, gw, "kept", nil)
	x := keyindex.New(gw, keyindex.Options{})
	if err := x.Load(ctx); err != nil {
		t.Fatalf("Load() = %v", err)
	}

	created, _ := createKey(t, cli, "created", nil)
	if _, ok := x.Lookup(created.Digest); ok {
		t.Fatalf("Lookup(created) before Sync found the key")
	}
	if err := x.Sync(ctx); err != nil {
		t.Fatalf("Sync() = %v", err)
	}
	if _, ok := x.Lookup(created.Digest); !ok {
		t.Fatalf("Lookup(created) after Sync: not found")
	}

	until := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	if _, err := cli.RenewKey(ctx, created.ID, gatehouse.KeyRenewal{ValidUntil: &until}, "cli:test"); err != nil {
		t.Fatalf("RenewKey() = %v", err)
	}
	if err := x.Sync(ctx); err != nil {
		t.Fatalf("Sync() = %v", err)
	}
	if k, ok := x.Lookup(created.Digest); !ok || k.ValidUntil == nil || !k.ValidUntil.Equal(until) {
		t.Fatalf("Lookup(renewed) = %+v, %v; want ValidUntil %v", k, ok, until)
	}

	if err := cli.DeleteKey(ctx, created.ID, "cli:test"); err != nil {
		t.Fatalf("DeleteKey() = %v", err)
	}
	if err := x.Sync(ctx); err != nil {
		t.Fatalf("Sync() = %v", err)
	}
	if _, ok := x.Lookup(created.Digest); ok {
		t.Errorf("Lookup(deleted) after Sync found the key")
	}
	if _, ok := x.Get(created.ID); ok {
		t.Errorf("Get(deleted) after Sync found the key")
	}
	if _, ok := x.Lookup(kept.Digest); !ok {
		t.Errorf("Lookup(kept) after Sync: not found")
	}
	if got, want := x.Len(), 1; got != want {
		t.Errorf("Len() = %d, want %d", got, want)
	}
}

func TestSyncReloadsWhenChangesWerePruned(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	gw, cli := twoHandles(t)
	cli.KeepChanges = 1
	gone, _ := createKey(t, cli, "gone", nil)
	x := keyindex.New(gw, keyindex.Options{})
	if err := x.Load(ctx); err != nil {
		t.Fatalf("Load() = %v", err)
	}
	if err := cli.DeleteKey(ctx, gone.ID, "cli:test"); err != nil {
		t.Fatalf("DeleteKey() = %v", err)
	}
	var added []*gatehouse.APIKey
	for _, name := range []string{"a", "b", "c"} {
		k, _ := createKey(t, cli, name, nil)
		added = append(added, k)
	}
	if err := x.Sync(ctx); err != nil {
		t.Fatalf("Sync() = %v", err)
	}
	if got, want := x.Len(), 3; got != want {
		t.Errorf("Len() = %d, want %d", got, want)
	}
	if _, ok := x.Get(gone.ID); ok {
		t.Errorf("Get(deleted) found the key")
	}
	for _, k := range added {
		if _, ok := x.Lookup(k.Digest); !ok {
			t.Errorf("Lookup(%s): not found", k.Name)
		}
	}
}

func TestRunSeesChangesWithinOneSecond(t *testing.T) {
	t.Parallel()
	gw, cli := twoHandles(t)
	x := keyindex.New(gw, keyindex.Options{})
	if err := x.Load(t.Context()); err != nil {
		t.Fatalf("Load() = %v", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { x.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	k, _ := createKey(t, cli, "from-cli", nil)
	gatehousetest.Eventually(t, time.Second, "created key seen by Run", func() bool {
		_, ok := x.Lookup(k.Digest)
		return ok
	})
	if err := cli.DeleteKey(t.Context(), k.ID, "cli:test"); err != nil {
		t.Fatalf("DeleteKey() = %v", err)
	}
	gatehousetest.Eventually(t, time.Second, "deleted key dropped by Run", func() bool {
		_, ok := x.Lookup(k.Digest)
		return !ok
	})
}

func TestWatch(t *testing.T) {
	t.Parallel()

	t.Run("DeleteCancels", func(t *testing.T) {
		t.Parallel()
		gw, cli := twoHandles(t)
		k, _ := createKey(t, gw, "streaming", nil)
		other, _ := createKey(t, gw, "other", nil)
		x := keyindex.New(gw, keyindex.Options{})
		if err := x.Load(t.Context()); err != nil {
			t.Fatalf("Load() = %v", err)
		}
		wctx, stop := x.Watch(t.Context(), k.ID, k.Digest)
		defer stop()
		octx, ostop := x.Watch(t.Context(), other.ID, other.Digest)
		defer ostop()
		if err := cli.DeleteKey(t.Context(), k.ID, "cli:test"); err != nil {
			t.Fatalf("DeleteKey() = %v", err)
		}
		if wctx.Err() != nil {
			t.Fatalf("watch ended before the index synced")
		}
		if err := x.Sync(t.Context()); err != nil {
			t.Fatalf("Sync() = %v", err)
		}
		// Sync cancels before it returns.
		if !errors.Is(context.Cause(wctx), keyindex.ErrKeyRemoved) {
			t.Errorf("Cause = %v, want ErrKeyRemoved", context.Cause(wctx))
		}
		if octx.Err() != nil {
			t.Errorf("watch of another key ended: %v", context.Cause(octx))
		}
		gatehousetest.Eventually(t, time.Second, "cancelled watch released", func() bool { return x.OpenWatches() == 1 })
	})

	t.Run("ExpiryCancels", func(t *testing.T) {
		t.Parallel()
		gw, _ := twoHandles(t)
		clk := newClock()
		k, _ := createKey(t, gw, "expiring", ptr(clk.Now().Add(time.Hour)))
		x := keyindex.New(gw, keyindex.Options{Now: clk.Now})
		if err := x.Load(t.Context()); err != nil {
			t.Fatalf("Load() = %v", err)
		}
		wctx, stop := x.Watch(t.Context(), k.ID, k.Digest)
		defer stop()
		clk.Add(59 * time.Minute)
		select {
		case <-wctx.Done():
			t.Fatalf("watch ended before expiry: %v", context.Cause(wctx))
		case <-time.After(500 * time.Millisecond): // more than two checks
		}
		clk.Add(time.Minute)
		waitDone(t, wctx, 2*time.Second, "expired key")
		if !errors.Is(context.Cause(wctx), keyindex.ErrKeyExpired) {
			t.Errorf("Cause = %v, want ErrKeyExpired", context.Cause(wctx))
		}
	})

	t.Run("ReloadCancels", func(t *testing.T) {
		t.Parallel()
		gw, _ := twoHandles(t)
		k, _ := newKey("replaced", nil)
		x := keyindex.New(gw, keyindex.Options{})
		x.Replace([]*gatehouse.APIKey{k})
		wctx, stop := x.Watch(t.Context(), k.ID, k.Digest)
		defer stop()
		if err := x.Load(t.Context()); err != nil { // the store does not have k
			t.Fatalf("Load() = %v", err)
		}
		if !errors.Is(context.Cause(wctx), keyindex.ErrKeyRemoved) {
			t.Errorf("Cause = %v, want ErrKeyRemoved", context.Cause(wctx))
		}
	})

	t.Run("UnknownOrExpiredKeyEndsAtOnce", func(t *testing.T) {
		t.Parallel()
		clk := newClock()
		expired, _ := newKey("expired", ptr(clk.Now().Add(-time.Second)))
		x := keyindex.New(nil, keyindex.Options{Now: clk.Now})
		x.Replace([]*gatehouse.APIKey{expired})
		tests := []struct {
			name, id string
			digest   gatehouse.Digest
			want     error
		}{
			{"Unknown", "key_unknown", gatehouse.Digest{}, keyindex.ErrKeyRemoved},
			{"Expired", expired.ID, expired.Digest, keyindex.ErrKeyExpired},
		}
		for _, tt := range tests {
			wctx, stop := x.Watch(t.Context(), tt.id, tt.digest)
			stop()
			if !errors.Is(context.Cause(wctx), tt.want) {
				t.Errorf("%s: Cause = %v, want %v", tt.name, context.Cause(wctx), tt.want)
			}
		}
		if n := x.OpenWatches(); n != 0 {
			t.Errorf("OpenWatches() = %d, want 0", n)
		}
	})

	t.Run("CancelReleases", func(t *testing.T) {
		t.Parallel()
		k, _ := newKey("k", nil)
		x := keyindex.New(nil, keyindex.Options{})
		x.Replace([]*gatehouse.APIKey{k})
		parent, cancelParent := context.WithCancel(t.Context())
		_, stop1 := x.Watch(parent, k.ID, k.Digest)
		_, stop2 := x.Watch(t.Context(), k.ID, k.Digest)
		if n := x.OpenWatches(); n != 2 {
			t.Fatalf("OpenWatches() = %d, want 2", n)
		}
		stop2()
		if n := x.OpenWatches(); n != 1 {
			t.Errorf("OpenWatches() after stop = %d, want 1", n)
		}
		cancelParent() // the parent's end releases the watch too
		gatehousetest.Eventually(t, time.Second, "watch of a cancelled parent released", func() bool { return x.OpenWatches() == 0 })
		stop1() // harmless after release
	})
}

func TestUsable(t *testing.T) {
	t.Parallel()
	gw := gatehousetest.MustOpenSQLite(t)
	k, _ := createKey(t, gw, "k", nil)
	clk := newClock()
	x := keyindex.New(gw, keyindex.Options{Now: clk.Now, MaxStale: time.Minute})
	if err := x.Load(t.Context()); err != nil {
		t.Fatalf("Load() = %v", err)
	}
	gw.Close()
	clk.Add(30 * time.Second)
	if err := x.Sync(t.Context()); err == nil {
		t.Fatalf("Sync() on a closed store = nil, want an error")
	}
	if !x.Usable(clk.Now()) {
		t.Errorf("Usable 30s after the last sync = false, want true")
	}
	if _, ok := x.Lookup(k.Digest); !ok {
		t.Errorf("Lookup during the outage: not found, want the loaded key")
	}
	clk.Add(31 * time.Second)
	if x.Usable(clk.Now()) {
		t.Errorf("Usable 61s after the last sync (MaxStale 1m) = true, want false")
	}
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	clk := newClock()
	now := clk.Now()
	var keys []*gatehouse.APIKey
	for _, until := range []*time.Time{
		nil,
		ptr(now.Add(-time.Hour)),         // expired
		ptr(now.Add(3 * 24 * time.Hour)), // soon
		ptr(now.Add(7 * 24 * time.Hour)), // soon, at the edge
		ptr(now.Add(8 * 24 * time.Hour)), // not soon
	} {
		k, _ := newKey("k", until)
		keys = append(keys, k)
	}
	gw, _ := twoHandles(t)
	reg := prometheus.NewRegistry()
	x := keyindex.New(gw, keyindex.Options{Now: clk.Now, Registerer: reg})
	if err := x.Load(t.Context()); err != nil {
		t.Fatalf("Load() = %v", err)
	}
	x.Replace(keys)
	gw.Close()
	x.Sync(t.Context()) // fails: counted

	want := map[string]float64{
		"gatehouse_keys_expiring_soon":                   2,
		"gatehouse_keyindex_keys":                        5,
		"gatehouse_keyindex_sync_errors_total":           1,
		"gatehouse_keyindex_last_sync_timestamp_seconds": float64(now.Unix()),
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("Gather() = %v", err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		m := mf.GetMetric()[0]
		switch {
		case m.Gauge != nil:
			got[mf.GetName()] = m.Gauge.GetValue()
		case m.Counter != nil:
			got[mf.GetName()] = m.Counter.GetValue()
		}
	}
	for name, w := range want {
		if g, ok := got[name]; !ok || g != w {
			t.Errorf("%s = %v (present %v), want %v", name, g, ok, w)
		}
	}
}

func itoa(i int) string {
	return string(rune('a'+i%26)) + string(rune('a'+i/26%26)) + string(rune('a'+i/676%26))
}
