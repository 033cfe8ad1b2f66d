package storetest

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"gatehouse"
)

// The changes of contract §8: roll, disable and enable, update. Each is
// audited, records a change, and leaves other keys alone.

// mustAudited fails tb unless the key's last audit event is action by
// actor, and the store's revision moved past rev.
func mustAudited(tb testing.TB, s gatehouse.KeyStore, id, action, actor string, rev int64) {
	tb.Helper()
	events, err := s.FindAuditEvents(context.Background(), id)
	if err != nil {
		tb.Fatal(err)
	}
	if len(events) == 0 || events[len(events)-1].Action != action || events[len(events)-1].Actor != actor {
		tb.Errorf("audit events = %+v, want the last to be %s by %s", events, action, actor)
	}
	if r := mustRevision(tb, s); r <= rev {
		tb.Errorf("Revision() after %s = %d, want > %d", action, r, rev)
	}
	changes, ok, err := s.FindChanges(context.Background(), rev)
	if err != nil || !ok || len(changes) == 0 || changes[len(changes)-1].KeyID != id {
		tb.Errorf("FindChanges(%d) after %s = %+v, %v, %v; want a change of %s", rev, action, changes, ok, err, id)
	}
}

func testRollKey(t *testing.T, open opener) {
	s := open(t)
	ctx := context.Background()
	k := newKey("rolled", base)
	other := newKey("untouched", base.Add(time.Second))
	mustCreate(t, s, k)
	mustCreate(t, s, other)
	used := base.Add(time.Hour)
	if err := s.RecordUsage(ctx, []gatehouse.Usage{{KeyID: k.ID, Hour: used, Count: 1, LastUsedAt: used}}); err != nil {
		t.Fatal(err)
	}

	for i, overlap := range []time.Duration{24 * time.Hour, 0} {
		before := mustFind(t, s, k.ID)
		rev := mustRevision(t, s)
		secret := gatehouse.NewSecret()
		until := base.Add(2*time.Hour + overlap)
		roll := gatehouse.KeyRoll{
			Digest: secret.Digest(), Sealed: []byte("sealed again"), Hint: secret.Hint(),
			PreviousValidUntil: until,
		}
		got, err := s.RollKey(ctx, k.ID, roll, "admin:bob")
		if err != nil {
			t.Fatalf("RollKey(#%d) = %v", i+1, err)
		}
		// Everything stays but the secret; the old secret is the previous
		// one, unused since the roll. A second roll replaces the previous
		// secret of the first.
		want := *before
		want.Digest, want.Sealed, want.Hint = roll.Digest, roll.Sealed, roll.Hint
		old := before.Digest
		want.PreviousDigest = &old
		want.PreviousValidUntil = &until
		want.PreviousLastUsedAt = nil
		checkKey(t, "RollKey()", got, &want)
		checkKey(t, "FindKeyByID() after roll", mustFind(t, s, k.ID), &want)
		mustAudited(t, s, k.ID, gatehouse.AuditRoll, "admin:bob", rev)
	}
	checkKey(t, "other key after roll", mustFind(t, s, other.ID), other)
}

func testSetKeyDisabled(t *testing.T, open opener) {
	s := open(t)
	ctx := context.Background()
	k := newKey("paused", base)
	other := newKey("untouched", base.Add(time.Second))
	mustCreate(t, s, k)
	mustCreate(t, s, other)
	for _, disabled := range []bool{true, true, false} {
		rev := mustRevision(t, s)
		got, err := s.SetKeyDisabled(ctx, k.ID, disabled, "key:"+other.ID)
		if err != nil {
			t.Fatalf("SetKeyDisabled(%v) = %v", disabled, err)
		}
		want := *k
		want.Disabled = disabled
		checkKey(t, "SetKeyDisabled()", got, &want)
		checkKey(t, "FindKeyByID() after SetKeyDisabled", mustFind(t, s, k.ID), &want)
		action := gatehouse.AuditEnable
		if disabled {
			action = gatehouse.AuditDisable
		}
		mustAudited(t, s, k.ID, action, "key:"+other.ID, rev)
	}
	checkKey(t, "other key", mustFind(t, s, other.ID), other)
}

func testUpdateKey(t *testing.T, open opener) {
	name := "Renamed"
	scopes := gatehouse.Scopes{{Name: "data", Access: gatehouse.AccessWrite}}
	rate := gatehouse.RateLimit{Requests: 5, Per: time.Minute}
	ips := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	grace := time.Hour
	var noIPs []netip.Prefix
	var noGrace time.Duration
	var noRate gatehouse.RateLimit
	tests := []struct {
		name   string
		update gatehouse.KeyUpdate
		want   func(k *gatehouse.APIKey)
	}{
		{"Nothing", gatehouse.KeyUpdate{}, func(*gatehouse.APIKey) {}},
		{"Everything", gatehouse.KeyUpdate{Name: &name, Scopes: &scopes, RateLimit: &rate, AllowedIPs: &ips, ReadOnlyGrace: &grace},
			func(k *gatehouse.APIKey) {
				k.Name, k.Scopes, k.RateLimit, k.AllowedIPs, k.ReadOnlyGrace = name, scopes, rate, ips, grace
			}},
		{"Clear", gatehouse.KeyUpdate{RateLimit: &noRate, AllowedIPs: &noIPs, ReadOnlyGrace: &noGrace},
			func(k *gatehouse.APIKey) { k.RateLimit, k.AllowedIPs, k.ReadOnlyGrace = noRate, nil, 0 }},
		{"SameNameOtherCase", gatehouse.KeyUpdate{Name: new("UPDATED")},
			func(k *gatehouse.APIKey) { k.Name = "UPDATED" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := open(t)
			k := newKey("updated", base)
			other := newKey("untouched", base.Add(time.Second))
			mustCreate(t, s, k)
			mustCreate(t, s, other)
			rev := mustRevision(t, s)
			got, err := s.UpdateKey(context.Background(), k.ID, tt.update, "cli:carol")
			if err != nil {
				t.Fatalf("UpdateKey() = %v", err)
			}
			want := *k
			tt.want(&want)
			checkKey(t, "UpdateKey()", got, &want)
			checkKey(t, "FindKeyByID() after update", mustFind(t, s, k.ID), &want)
			checkKey(t, "other key after update", mustFind(t, s, other.ID), other)
			mustAudited(t, s, k.ID, gatehouse.AuditUpdate, "cli:carol", rev)
			if _, err := s.FindKeyByName(context.Background(), want.Name); err != nil {
				t.Errorf("FindKeyByName(%q) after update = %v", want.Name, err)
			}
		})
	}

	t.Run("NameTaken", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		k := newKey("one", base)
		other := newKey("two", base.Add(time.Second))
		mustCreate(t, s, k)
		mustCreate(t, s, other)
		rev := mustRevision(t, s)
		_, err := s.UpdateKey(context.Background(), k.ID, gatehouse.KeyUpdate{Name: new("TWO"), ReadOnlyGrace: &grace}, "admin:alice")
		wantCode(t, "UpdateKey(name of another key)", err, gatehouse.ENameTaken)
		checkKey(t, "key after refused update", mustFind(t, s, k.ID), k)
		if r := mustRevision(t, s); r != rev {
			t.Errorf("Revision() after refused update = %d, want %d", r, rev)
		}
	})
}

func testDayTwoNotFound(t *testing.T, open opener) {
	s := open(t)
	ctx := context.Background()
	const id = "key_doesnotexist"
	secret := gatehouse.NewSecret()
	_, err := s.RollKey(ctx, id, gatehouse.KeyRoll{Digest: secret.Digest(), Sealed: []byte("x"), Hint: secret.Hint(), PreviousValidUntil: base}, "admin:alice")
	wantCode(t, "RollKey(unknown)", err, gatehouse.ENotFound)
	_, err = s.SetKeyDisabled(ctx, id, true, "admin:alice")
	wantCode(t, "SetKeyDisabled(unknown)", err, gatehouse.ENotFound)
	_, err = s.UpdateKey(ctx, id, gatehouse.KeyUpdate{Name: new("x")}, "admin:alice")
	wantCode(t, "UpdateKey(unknown)", err, gatehouse.ENotFound)
	if r := mustRevision(t, s); r != 0 {
		t.Errorf("Revision() after refused changes = %d, want 0", r)
	}
}

// testPreviousLastUsedAt: usage of the previous secret moves
// PreviousLastUsedAt forward, never back; usage of the current one alone
// leaves it.
func testPreviousLastUsedAt(t *testing.T, open opener) {
	s := open(t)
	ctx := context.Background()
	k := newKey("overlapping", base)
	mustCreate(t, s, k)
	secret := gatehouse.NewSecret()
	if _, err := s.RollKey(ctx, k.ID, gatehouse.KeyRoll{Digest: secret.Digest(), Sealed: []byte("x"), Hint: secret.Hint(),
		PreviousValidUntil: base.Add(time.Hour)}, "admin:alice"); err != nil {
		t.Fatal(err)
	}
	h := base.Truncate(time.Hour)
	t1, t2, t3 := base.Add(time.Minute), base.Add(2*time.Minute), base.Add(3*time.Minute)
	batches := [][]gatehouse.Usage{
		{{KeyID: k.ID, Hour: h, Count: 1, LastUsedAt: t1}},
		{{KeyID: k.ID, Hour: h, Count: 2, LastUsedAt: t2, PreviousLastUsedAt: t2}},
		{{KeyID: k.ID, Hour: h, Count: 2, LastUsedAt: t3, PreviousLastUsedAt: t1}},
	}
	for i, b := range batches {
		if err := s.RecordUsage(ctx, b); err != nil {
			t.Fatalf("RecordUsage(batch %d) = %v", i, err)
		}
	}
	got := mustFind(t, s, k.ID)
	if d := diffTimePtr(got.PreviousLastUsedAt, &t2); d != "" {
		t.Errorf("PreviousLastUsedAt %s", d)
	}
	if d := diffTimePtr(got.LastUsedAt, &t3); d != "" {
		t.Errorf("LastUsedAt %s", d)
	}
}
