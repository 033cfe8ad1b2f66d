package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"gatehouse"
)

func testChanges(t *testing.T, open opener) {
	s := open(t)
	ctx := context.Background()

	if r := mustRevision(t, s); r != 0 {
		t.Errorf("Revision() of an empty store = %d, want 0", r)
	}
	mustChanges(t, s, 0, nil)

	k1 := newKey("one", base)
	k2 := newKey("two", base)
	var revs []int64
	step := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		r := mustRevision(t, s)
		if n := len(revs); n > 0 && r <= revs[n-1] {
			t.Fatalf("Revision() after %s = %d, want > %d", what, r, revs[n-1])
		} else if r <= 0 {
			t.Fatalf("Revision() after %s = %d, want > 0", what, r)
		}
		revs = append(revs, r)
	}
	step("create one", s.CreateKey(ctx, k1))
	_, err := s.RenewKey(ctx, k1.ID, gatehouse.KeyRenewal{}, "admin:alice")
	step("renew one", err)
	step("create two", s.CreateKey(ctx, k2))
	step("delete one", s.DeleteKey(ctx, k1.ID, "admin:alice"))

	want := []gatehouse.KeyChange{
		{Revision: revs[0], KeyID: k1.ID},
		{Revision: revs[1], KeyID: k1.ID},
		{Revision: revs[2], KeyID: k2.ID},
		{Revision: revs[3], KeyID: k1.ID},
	}
	mustChanges(t, s, 0, want)
	mustChanges(t, s, revs[0], want[1:])
	mustChanges(t, s, revs[1], want[2:])
	mustChanges(t, s, revs[3], nil)

	// What changes no key records no change, nor does what fails.
	last := revs[3]
	h := base.Truncate(time.Hour)
	if err := s.RecordUsage(ctx, []gatehouse.Usage{{KeyID: k2.ID, Hour: h, Count: 1, LastUsedAt: h}}); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordAudit(ctx, gatehouse.AuditEvent{KeyID: k2.ID, Action: gatehouse.AuditReveal, Actor: "admin:alice", At: base}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateKey(ctx, newKey("TWO", base)); gatehouse.ErrorCode(err) != gatehouse.ENameTaken {
		t.Fatalf("CreateKey(TWO) = %v, want %s", err, gatehouse.ENameTaken)
	}
	if err := s.DeleteKey(ctx, k1.ID, "admin:alice"); gatehouse.ErrorCode(err) != gatehouse.ENotFound {
		t.Fatalf("DeleteKey(deleted) = %v, want %s", err, gatehouse.ENotFound)
	}
	if r := mustRevision(t, s); r != last {
		t.Errorf("Revision() = %d after usage, reveal and failures, want %d", r, last)
	}
	mustChanges(t, s, last, nil)
}

func testConcurrentChanges(t *testing.T, open opener) {
	s := open(t)
	ctx := context.Background()
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		k := newKey(fmt.Sprintf("parallel-%d", i), base)
		wg.Go(func() {
			if errs[i] = s.CreateKey(ctx, k); errs[i] == nil {
				_, errs[i] = s.RenewKey(ctx, k.ID, gatehouse.KeyRenewal{}, "admin:alice")
			}
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("writer %d: %v", i, err)
		}
	}
	changes, ok, err := s.FindChanges(ctx, 0)
	if err != nil || !ok {
		t.Fatalf("FindChanges(0) = ok %v, %v", ok, err)
	}
	if len(changes) != 2*n {
		t.Fatalf("FindChanges(0) = %d changes, want %d", len(changes), 2*n)
	}
	for i := 1; i < len(changes); i++ {
		if changes[i].Revision <= changes[i-1].Revision {
			t.Errorf("change %d has revision %d after %d", i, changes[i].Revision, changes[i-1].Revision)
		}
	}
	if r := mustRevision(t, s); r != changes[len(changes)-1].Revision {
		t.Errorf("Revision() = %d, want the last change's %d", r, changes[len(changes)-1].Revision)
	}
}

// mustChanges checks that FindChanges(since) is ok and returns want.
func mustChanges(tb testing.TB, s gatehouse.KeyStore, since int64, want []gatehouse.KeyChange) {
	tb.Helper()
	got, ok, err := s.FindChanges(context.Background(), since)
	if err != nil {
		tb.Fatalf("FindChanges(%d) = %v", since, err)
	}
	if !ok {
		tb.Fatalf("FindChanges(%d) is not ok, want the changes", since)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		tb.Errorf("FindChanges(%d) = %v, want %v", since, got, want)
	}
}
