package storetest

import (
	"context"
	"testing"
	"time"

	"gatehouse"
)

// runUsage runs the contract of gatehouse.UsageStore: the hourly counts and
// each key's LastUsedAt.
func runUsage(t *testing.T, open opener) {
	run(t, open, []test{
		{"RecordUsage", testRecordUsage},
		{"RecordUsageUnknownKey", testRecordUsageUnknownKey},
	})
}

func testRecordUsage(t *testing.T, open opener) {
	s := open(t)
	ctx := context.Background()
	k := newKey("busy", base)
	other := newKey("idle", base)
	mustCreate(t, s, k)
	mustCreate(t, s, other)
	rev := mustRevision(t, s)

	h1 := base.Truncate(time.Hour).Add(time.Hour)
	h2 := h1.Add(time.Hour)
	t1 := h1.Add(10*time.Minute + 5*time.Millisecond)
	t2 := h2.Add(59 * time.Minute)
	batches := [][]gatehouse.Usage{
		{{KeyID: k.ID, Hour: h1, Count: 3, LastUsedAt: t1}},
		{
			// An older time in the same hour adds to the count but does not
			// move LastUsedAt back.
			{KeyID: k.ID, Hour: h1, Count: 2, LastUsedAt: h1.Add(time.Minute)},
			{KeyID: k.ID, Hour: h2, Count: 1, LastUsedAt: t2},
		},
		// A late batch about the earlier hour.
		{{KeyID: k.ID, Hour: h1, Count: 4, LastUsedAt: h1.Add(2 * time.Minute)}},
	}
	for i, b := range batches {
		if err := s.RecordUsage(ctx, b); err != nil {
			t.Fatalf("RecordUsage(batch %d) = %v", i, err)
		}
	}
	if err := s.RecordUsage(ctx, nil); err != nil {
		t.Errorf("RecordUsage(nil) = %v", err)
	}

	got := mustFind(t, s, k.ID)
	if d := diffTimePtr(got.LastUsedAt, &t2); d != "" {
		t.Errorf("LastUsedAt %s", d)
	}
	if got := mustFind(t, s, other.ID); got.LastUsedAt != nil {
		t.Errorf("unused key's LastUsedAt = %v, want nil", got.LastUsedAt)
	}
	if r := mustRevision(t, s); r != rev {
		t.Errorf("Revision() after RecordUsage = %d, want %d (usage is no change)", r, rev)
	}

	tests := []struct {
		name  string
		keyID string
		since time.Time
		want  []gatehouse.Usage
	}{
		{"All", k.ID, h1.Add(-24 * time.Hour), []gatehouse.Usage{
			{KeyID: k.ID, Hour: h1, Count: 9, LastUsedAt: t1},
			{KeyID: k.ID, Hour: h2, Count: 1, LastUsedAt: t2},
		}},
		{"SinceFirstHour", k.ID, h1, []gatehouse.Usage{
			{KeyID: k.ID, Hour: h1, Count: 9, LastUsedAt: t1},
			{KeyID: k.ID, Hour: h2, Count: 1, LastUsedAt: t2},
		}},
		{"SinceSecondHour", k.ID, h2, []gatehouse.Usage{
			{KeyID: k.ID, Hour: h2, Count: 1, LastUsedAt: t2},
		}},
		{"SinceLater", k.ID, h2.Add(time.Hour), nil},
		{"UnusedKey", other.ID, h1, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.FindUsage(ctx, tt.keyID, tt.since)
			if err != nil {
				t.Fatalf("FindUsage() = %v", err)
			}
			checkUsage(t, got, tt.want)
		})
	}

	// Moving LastUsedAt forward again works after a step that did not.
	t3 := t2.Add(time.Hour)
	if err := s.RecordUsage(ctx, []gatehouse.Usage{{KeyID: k.ID, Hour: t3.Truncate(time.Hour), Count: 1, LastUsedAt: t3}}); err != nil {
		t.Fatal(err)
	}
	if d := diffTimePtr(mustFind(t, s, k.ID).LastUsedAt, &t3); d != "" {
		t.Errorf("LastUsedAt after a later use %s", d)
	}
}

func testRecordUsageUnknownKey(t *testing.T, open opener) {
	s := open(t)
	ctx := context.Background()
	live := newKey("live", base)
	dead := newKey("dead", base)
	mustCreate(t, s, live)
	mustCreate(t, s, dead)
	h := base.Truncate(time.Hour)
	at := h.Add(time.Minute)
	if err := s.RecordUsage(ctx, []gatehouse.Usage{{KeyID: dead.ID, Hour: h, Count: 1, LastUsedAt: at}}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteKey(ctx, dead.ID, "admin:alice"); err != nil {
		t.Fatal(err)
	}

	// Usage of deleted and unknown keys is dropped; the rest of the batch
	// is kept.
	err := s.RecordUsage(ctx, []gatehouse.Usage{
		{KeyID: dead.ID, Hour: h, Count: 5, LastUsedAt: at},
		{KeyID: gatehouse.NewKeyID(), Hour: h, Count: 5, LastUsedAt: at},
		{KeyID: live.ID, Hour: h, Count: 2, LastUsedAt: at},
	})
	if err != nil {
		t.Fatalf("RecordUsage() with deleted and unknown keys = %v, want nil", err)
	}
	got, err := s.FindUsage(ctx, live.ID, h)
	if err != nil {
		t.Fatal(err)
	}
	checkUsage(t, got, []gatehouse.Usage{{KeyID: live.ID, Hour: h, Count: 2, LastUsedAt: at}})
	got, err = s.FindUsage(ctx, dead.ID, h)
	if err != nil {
		t.Fatalf("FindUsage(deleted) = %v", err)
	} else if len(got) != 0 {
		t.Errorf("FindUsage(deleted) = %+v, want none", got)
	}
	_, err = s.FindKeyByID(ctx, dead.ID)
	wantCode(t, "FindKeyByID(deleted) after usage", err, gatehouse.ENotFound)
}

func checkUsage(tb testing.TB, got, want []gatehouse.Usage) {
	tb.Helper()
	if len(got) != len(want) {
		tb.Fatalf("usage = %+v, want %+v", got, want)
	}
	for i := range got {
		g, w := got[i], want[i]
		if g.KeyID != w.KeyID || g.Count != w.Count {
			tb.Errorf("usage[%d] = %+v, want %+v", i, g, w)
		}
		if d := diffTime(g.Hour, w.Hour); d != "" {
			tb.Errorf("usage[%d].Hour %s", i, d)
		}
		if d := diffTime(g.LastUsedAt, w.LastUsedAt); d != "" {
			tb.Errorf("usage[%d].LastUsedAt %s", i, d)
		}
	}
}
