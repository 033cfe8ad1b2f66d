package keyindex_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"gatehouse"
	"gatehouse/keyindex"
)

// mustRoll rolls k in the store s with the overlap (from clk's now) and
// returns the new secret.
func mustRoll(tb testing.TB, s gatehouse.KeyStore, id string, until time.Time) gatehouse.Secret {
	tb.Helper()
	secret := gatehouse.NewSecret()
	if _, err := s.RollKey(context.Background(), id, gatehouse.KeyRoll{
		Digest: secret.Digest(), Sealed: []byte("sealed"), Hint: secret.Hint(), PreviousValidUntil: until,
	}, "cli:test"); err != nil {
		tb.Fatalf("RollKey() = %v", err)
	}
	return secret
}

// TestRolledKeyHasTwoDigests: after a roll the index finds the key by its
// new and its previous digest; a second roll drops the first secret.
func TestRolledKeyHasTwoDigests(t *testing.T) {
	t.Parallel()
	gw, cli := twoHandles(t)
	k, first := createKey(t, gw, "rolled", nil)
	x := keyindex.New(gw, keyindex.Options{})
	if err := x.Load(t.Context()); err != nil {
		t.Fatal(err)
	}
	second := mustRoll(t, cli, k.ID, time.Now().Add(time.Hour))
	if err := x.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	for name, d := range map[string]gatehouse.Digest{"first": first.Digest(), "second": second.Digest()} {
		if got, ok := x.Lookup(d); !ok || got.ID != k.ID {
			t.Errorf("Lookup(%s secret) = %v, %v; want the key", name, got, ok)
		}
	}
	third := mustRoll(t, cli, k.ID, time.Now().Add(time.Hour))
	if err := x.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, ok := x.Lookup(first.Digest()); ok {
		t.Errorf("Lookup(first secret) after a second roll found the key; want at most two secrets")
	}
	for name, d := range map[string]gatehouse.Digest{"second": second.Digest(), "third": third.Digest()} {
		if got, ok := x.Lookup(d); !ok || got.ID != k.ID {
			t.Errorf("Lookup(%s secret) = %v, %v; want the key", name, got, ok)
		}
	}
	if n := x.Len(); n != 1 {
		t.Errorf("Len() = %d, want 1", n)
	}
	// A load builds the same table.
	if err := x.Load(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, ok := x.Lookup(first.Digest()); ok {
		t.Errorf("Lookup(first secret) after Load found the key")
	}
	if got, ok := x.Lookup(second.Digest()); !ok || got.ID != k.ID {
		t.Errorf("Lookup(second secret) after Load = %v, %v; want the key", got, ok)
	}
	// Deleting the key drops both digests.
	if err := cli.DeleteKey(t.Context(), k.ID, "cli:test"); err != nil {
		t.Fatal(err)
	}
	if err := x.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	for _, d := range []gatehouse.Digest{second.Digest(), third.Digest()} {
		if _, ok := x.Lookup(d); ok {
			t.Errorf("Lookup() after delete found the key")
		}
	}
}

func TestWatchDayTwo(t *testing.T) {
	t.Parallel()

	t.Run("OverlapEndClosesPreviousSecret", func(t *testing.T) {
		t.Parallel()
		gw, cli := twoHandles(t)
		clk := newClock()
		k, old := createKey(t, gw, "rolled", nil)
		x := keyindex.New(gw, keyindex.Options{Now: clk.Now})
		if err := x.Load(t.Context()); err != nil {
			t.Fatal(err)
		}
		oldWatch, stopOld := x.Watch(t.Context(), k.ID, old.Digest())
		defer stopOld()
		next := mustRoll(t, cli, k.ID, clk.Now().Add(time.Hour))
		if err := x.Sync(t.Context()); err != nil {
			t.Fatal(err)
		}
		newWatch, stopNew := x.Watch(t.Context(), k.ID, next.Digest())
		defer stopNew()
		if oldWatch.Err() != nil {
			t.Fatalf("the previous secret's watch ended inside the overlap: %v", context.Cause(oldWatch))
		}
		clk.Add(time.Hour)
		waitDone(t, oldWatch, 2*time.Second, "previous secret after the overlap")
		if !errors.Is(context.Cause(oldWatch), keyindex.ErrKeyRolled) {
			t.Errorf("Cause = %v, want ErrKeyRolled", context.Cause(oldWatch))
		}
		if newWatch.Err() != nil {
			t.Errorf("the new secret's watch ended: %v", context.Cause(newWatch))
		}
	})

	t.Run("RollWithoutOverlapClosesAtSync", func(t *testing.T) {
		t.Parallel()
		gw, cli := twoHandles(t)
		clk := newClock()
		k, old := createKey(t, gw, "rolled", nil)
		x := keyindex.New(gw, keyindex.Options{Now: clk.Now})
		if err := x.Load(t.Context()); err != nil {
			t.Fatal(err)
		}
		w, stop := x.Watch(t.Context(), k.ID, old.Digest())
		defer stop()
		mustRoll(t, cli, k.ID, clk.Now())
		if err := x.Sync(t.Context()); err != nil {
			t.Fatal(err)
		}
		// Sync cancels before it returns.
		if !errors.Is(context.Cause(w), keyindex.ErrKeyRolled) {
			t.Errorf("Cause = %v, want ErrKeyRolled", context.Cause(w))
		}
	})

	t.Run("DisableCloses", func(t *testing.T) {
		t.Parallel()
		gw, cli := twoHandles(t)
		k, secret := createKey(t, gw, "paused", nil)
		x := keyindex.New(gw, keyindex.Options{})
		if err := x.Load(t.Context()); err != nil {
			t.Fatal(err)
		}
		w, stop := x.Watch(t.Context(), k.ID, secret.Digest())
		defer stop()
		if _, err := cli.SetKeyDisabled(t.Context(), k.ID, true, "cli:test"); err != nil {
			t.Fatal(err)
		}
		if err := x.Sync(t.Context()); err != nil {
			t.Fatal(err)
		}
		if !errors.Is(context.Cause(w), keyindex.ErrKeyDisabled) {
			t.Errorf("Cause = %v, want ErrKeyDisabled", context.Cause(w))
		}
		// A disabled key cannot be watched.
		w2, stop2 := x.Watch(t.Context(), k.ID, secret.Digest())
		stop2()
		if !errors.Is(context.Cause(w2), keyindex.ErrKeyDisabled) {
			t.Errorf("Watch(disabled) Cause = %v, want ErrKeyDisabled", context.Cause(w2))
		}
	})

	t.Run("GraceKeepsUntilItEnds", func(t *testing.T) {
		t.Parallel()
		clk := newClock()
		k, secret := newKey("graceful", ptr(clk.Now().Add(-time.Minute)))
		k.ReadOnlyGrace = time.Hour
		x := keyindex.New(nil, keyindex.Options{Now: clk.Now})
		x.Replace([]*gatehouse.APIKey{k})
		w, stop := x.Watch(t.Context(), k.ID, secret.Digest())
		defer stop()
		if w.Err() != nil {
			t.Fatalf("watch of a key inside its grace ended: %v", context.Cause(w))
		}
		clk.Add(time.Hour)
		waitDone(t, w, 2*time.Second, "key after its grace")
		if !errors.Is(context.Cause(w), keyindex.ErrKeyExpired) {
			t.Errorf("Cause = %v, want ErrKeyExpired", context.Cause(w))
		}
	})
}
