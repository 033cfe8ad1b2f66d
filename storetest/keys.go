package storetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"gatehouse"
)

// runKeys runs the contract of gatehouse.KeyStore: the keys, their audit
// log (audit.go) and the change log (changes.go).
func runKeys(t *testing.T, open opener) {
	run(t, open, []test{
		{"CreateKey", testCreateKey},
		{"FindKeyNotFound", testFindKeyNotFound},
		{"NameTaken", testNameTaken},
		{"ConcurrentCreateSameName", testConcurrentCreateSameName},
		{"FindKeys", testFindKeys},
		{"ForEachKey", testForEachKey},
		{"RenewKey", testRenewKey},
		{"RenewKeyNotFound", testRenewKeyNotFound},
		{"DeleteKey", testDeleteKey},
		{"RollKey", testRollKey},
		{"SetKeyDisabled", testSetKeyDisabled},
		{"UpdateKey", testUpdateKey},
		{"DayTwoNotFound", testDayTwoNotFound},
		{"PreviousLastUsedAt", testPreviousLastUsedAt},
		{"AuditEvents", testAuditEvents},
		{"Changes", testChanges},
		{"ConcurrentChanges", testConcurrentChanges},
		{"SigningKeys", testSigningKeys},
	})
}

func testCreateKey(t *testing.T, open opener) {
	s := open(t)
	ctx := context.Background()

	full := newKey("Full Key", base)
	bare := newKey("Bare Key", base.Add(time.Millisecond))
	bare.ValidUntil = nil
	bare.RateLimit = gatehouse.RateLimit{}
	bare.Scopes = gatehouse.DefaultScopes(false)
	odd := newKey("Ünïcödé 🔑 key", base.Add(2*time.Millisecond))
	odd.RateLimit = gatehouse.RateLimit{Requests: 5, Per: 250 * time.Millisecond}
	odd.Scopes = gatehouse.Scopes{{Name: gatehouse.ScopeAPIKeys, Access: gatehouse.AccessRead}}
	// A time given in another zone comes back as the same instant in UTC.
	inZone := time.Date(2030, 1, 2, 3, 4, 5, 0, time.FixedZone("CET", 3600))
	odd.ValidUntil = &inZone
	odd.CreatedBy = "key:key_0123456789abcdefghij"

	for _, k := range []*gatehouse.APIKey{full, bare, odd} {
		want := *k
		mustCreate(t, s, k)
		t.Run(want.Name, func(t *testing.T) {
			checkKey(t, "FindKeyByID", mustFind(t, s, want.ID), &want)
			for _, name := range []string{want.Name, strings.ToUpper(want.Name), strings.ToLower(want.Name)} {
				got, err := s.FindKeyByName(ctx, name)
				if err != nil {
					t.Fatalf("FindKeyByName(%q) = %v", name, err)
				}
				checkKey(t, fmt.Sprintf("FindKeyByName(%q)", name), got, &want)
			}
		})
	}
}

func testFindKeyNotFound(t *testing.T, open opener) {
	s := open(t)
	ctx := context.Background()
	mustCreate(t, s, newKey("present", base))

	_, err := s.FindKeyByID(ctx, gatehouse.NewKeyID())
	wantCode(t, "FindKeyByID(unknown)", err, gatehouse.ENotFound)
	_, err = s.FindKeyByName(ctx, "absent")
	wantCode(t, "FindKeyByName(unknown)", err, gatehouse.ENotFound)
	_, err = s.FindKeyByName(ctx, "presen")
	wantCode(t, "FindKeyByName(prefix)", err, gatehouse.ENotFound)
}

func testNameTaken(t *testing.T, open opener) {
	tests := []struct {
		name, first, second string
	}{
		{"Same", "Billing", "Billing"},
		{"Upper", "Billing", "BILLING"},
		{"Lower", "Billing", "billing"},
		{"NonASCII", "Ärger Über", "ärger über"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := open(t)
			first := newKey(tt.first, base)
			mustCreate(t, s, first)
			rev := mustRevision(t, s)

			second := newKey(tt.second, base.Add(time.Second))
			err := s.CreateKey(context.Background(), second)
			wantCode(t, fmt.Sprintf("CreateKey(%q) after %q", tt.second, tt.first), err, gatehouse.ENameTaken)

			_, err = s.FindKeyByID(context.Background(), second.ID)
			wantCode(t, "FindKeyByID(refused key)", err, gatehouse.ENotFound)
			if got := mustFind(t, s, first.ID); got.Name != tt.first {
				t.Errorf("first key's name = %q, want %q", got.Name, tt.first)
			}
			if got := mustRevision(t, s); got != rev {
				t.Errorf("Revision() after refused create = %d, want %d", got, rev)
			}
			keys, total, err := s.FindKeys(context.Background(), gatehouse.KeyFilter{})
			if err != nil {
				t.Fatal(err)
			} else if total != 1 || len(keys) != 1 {
				t.Errorf("FindKeys() = %d keys, total %d; want 1, 1", len(keys), total)
			}
		})
	}
}

func testConcurrentCreateSameName(t *testing.T, open opener) {
	s := open(t)
	const n = 4
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		k := newKey(fmt.Sprintf("Racing %c", "aAaA"[i]), base.Add(time.Duration(i)*time.Millisecond))
		wg.Go(func() { errs[i] = s.CreateKey(context.Background(), k) })
	}
	wg.Wait()
	ok := 0
	for i, err := range errs {
		switch gatehouse.ErrorCode(err) {
		case "":
			ok++
		case gatehouse.ENameTaken:
		default:
			t.Errorf("CreateKey #%d = %v, want nil or %s", i, err, gatehouse.ENameTaken)
		}
	}
	if ok != 1 {
		t.Errorf("%d of %d concurrent creates with one name succeeded, want 1", ok, n)
	}
	_, total, err := s.FindKeys(context.Background(), gatehouse.KeyFilter{})
	if err != nil {
		t.Fatal(err)
	} else if total != 1 {
		t.Errorf("FindKeys total = %d, want 1", total)
	}
}

func testFindKeys(t *testing.T, open opener) {
	s := open(t)
	ctx := context.Background()

	keys, total, err := s.FindKeys(ctx, gatehouse.KeyFilter{})
	if err != nil {
		t.Fatalf("FindKeys on an empty store = %v", err)
	} else if len(keys) != 0 || total != 0 {
		t.Fatalf("FindKeys on an empty store = %d keys, total %d; want none", len(keys), total)
	}

	// Created out of order; c1 and c2 share a creation time, so their IDs
	// decide, compared byte by byte as Go compares strings ("B" < "a").
	c0 := newKey("c0", base)
	c1 := newKey("c1", base.Add(time.Minute))
	c1.ID = "key_BBBBBBBBBBBBBBBBBBBB"
	c2 := newKey("c2", base.Add(time.Minute))
	c2.ID = "key_aaaaaaaaaaaaaaaaaaaa"
	c3 := newKey("c3", base.Add(time.Hour))
	c4 := newKey("c4", base.Add(2*time.Hour))
	for _, k := range []*gatehouse.APIKey{c3, c2, c0, c4, c1} {
		mustCreate(t, s, k)
	}
	all := []string{"c0", "c1", "c2", "c3", "c4"}

	tests := []struct {
		name          string
		offset, limit int
		want          []string
	}{
		{"All", 0, 0, all},
		{"FirstPage", 0, 2, all[:2]},
		{"SecondPage", 2, 2, all[2:4]},
		{"LastPartialPage", 4, 2, all[4:]},
		{"OffsetOnly", 3, 0, all[3:]},
		{"LimitAboveTotal", 0, 100, all},
		{"PastTheEnd", 5, 10, nil},
		{"FarPastTheEnd", 100, 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			keys, total, err := s.FindKeys(ctx, gatehouse.KeyFilter{Offset: tt.offset, Limit: tt.limit})
			if err != nil {
				t.Fatalf("FindKeys(%d, %d) = %v", tt.offset, tt.limit, err)
			}
			if total != len(all) {
				t.Errorf("total = %d, want %d", total, len(all))
			}
			var names []string
			for _, k := range keys {
				names = append(names, k.Name)
			}
			if fmt.Sprint(names) != fmt.Sprint(tt.want) {
				t.Errorf("FindKeys(%d, %d) = %v, want %v", tt.offset, tt.limit, names, tt.want)
			}
		})
	}

	// Every field comes back from a listing as it was stored.
	keys, _, err = s.FindKeys(ctx, gatehouse.KeyFilter{Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) == 1 {
		checkKey(t, "FindKeys()[0]", keys[0], c0)
	}
}

func testRenewKey(t *testing.T, open opener) {
	later := base.Add(365 * 24 * time.Hour)
	tests := []struct {
		name    string
		renewal gatehouse.KeyRenewal
		// want* are the key's fields after the renewal.
		wantUntil *time.Time
		wantRate  gatehouse.RateLimit
	}{
		{
			name:      "NewExpiryKeepRate",
			renewal:   gatehouse.KeyRenewal{ValidUntil: &later},
			wantUntil: &later,
			wantRate:  gatehouse.RateLimit{Requests: 100, Per: time.Second},
		},
		{
			name:     "NoExpiryKeepRate",
			renewal:  gatehouse.KeyRenewal{},
			wantRate: gatehouse.RateLimit{Requests: 100, Per: time.Second},
		},
		{
			name:      "ReplaceRate",
			renewal:   gatehouse.KeyRenewal{ValidUntil: &later, RateLimit: &gatehouse.RateLimit{Requests: 7, Per: time.Minute}},
			wantUntil: &later,
			wantRate:  gatehouse.RateLimit{Requests: 7, Per: time.Minute},
		},
		{
			name:    "RemoveRate",
			renewal: gatehouse.KeyRenewal{RateLimit: &gatehouse.RateLimit{}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := open(t)
			ctx := context.Background()
			k := newKey("renewed", base)
			other := newKey("untouched", base.Add(time.Second))
			mustCreate(t, s, k)
			mustCreate(t, s, other)
			rev := mustRevision(t, s)

			want := *k
			want.ValidUntil = tt.wantUntil
			want.RateLimit = tt.wantRate
			got, err := s.RenewKey(ctx, k.ID, tt.renewal, "admin:bob")
			if err != nil {
				t.Fatalf("RenewKey() = %v", err)
			}
			checkKey(t, "RenewKey()", got, &want)
			checkKey(t, "FindKeyByID() after renew", mustFind(t, s, k.ID), &want)
			checkKey(t, "other key after renew", mustFind(t, s, other.ID), other)

			if r := mustRevision(t, s); r <= rev {
				t.Errorf("Revision() after renew = %d, want > %d", r, rev)
			}
			events, err := s.FindAuditEvents(ctx, k.ID)
			if err != nil {
				t.Fatal(err)
			}
			if n := len(events); n != 2 || events[1].Action != gatehouse.AuditRenew || events[1].Actor != "admin:bob" {
				t.Errorf("audit events after renew = %+v, want create then renew by admin:bob", events)
			}
		})
	}
}

func testRenewKeyNotFound(t *testing.T, open opener) {
	s := open(t)
	ctx := context.Background()
	k := newKey("gone", base)
	mustCreate(t, s, k)
	if err := s.DeleteKey(ctx, k.ID, "admin:alice"); err != nil {
		t.Fatal(err)
	}
	rev := mustRevision(t, s)
	for _, id := range []string{gatehouse.NewKeyID(), k.ID} {
		_, err := s.RenewKey(ctx, id, gatehouse.KeyRenewal{}, "admin:alice")
		wantCode(t, "RenewKey("+id+")", err, gatehouse.ENotFound)
	}
	if got := mustRevision(t, s); got != rev {
		t.Errorf("Revision() after failed renewals = %d, want %d", got, rev)
	}
}

func testDeleteKey(t *testing.T, open opener) {
	s := open(t)
	ctx := context.Background()
	doomed := newKey("Doomed", base)
	kept := newKey("Kept", base.Add(time.Second))
	mustCreate(t, s, doomed)
	mustCreate(t, s, kept)

	if err := s.DeleteKey(ctx, doomed.ID, "admin:alice"); err != nil {
		t.Fatalf("DeleteKey() = %v", err)
	}
	_, err := s.FindKeyByID(ctx, doomed.ID)
	wantCode(t, "FindKeyByID(deleted)", err, gatehouse.ENotFound)
	_, err = s.FindKeyByName(ctx, "doomed")
	wantCode(t, "FindKeyByName(deleted)", err, gatehouse.ENotFound)
	err = s.DeleteKey(ctx, doomed.ID, "admin:alice")
	wantCode(t, "DeleteKey(deleted)", err, gatehouse.ENotFound)
	err = s.DeleteKey(ctx, gatehouse.NewKeyID(), "admin:alice")
	wantCode(t, "DeleteKey(unknown)", err, gatehouse.ENotFound)

	keys, total, err := s.FindKeys(ctx, gatehouse.KeyFilter{})
	if err != nil {
		t.Fatal(err)
	} else if total != 1 || len(keys) != 1 || keys[0].ID != kept.ID {
		t.Errorf("FindKeys() after delete = %d keys, total %d; want only %q", len(keys), total, kept.Name)
	}
	checkKey(t, "kept key", mustFind(t, s, kept.ID), kept)

	// The name is free again.
	again := newKey("DOOMED", base.Add(2*time.Second))
	mustCreate(t, s, again)
	checkKey(t, "key with the deleted key's name", mustFind(t, s, again.ID), again)
}

func testForEachKey(t *testing.T, open opener) {
	ctx := context.Background()
	s := open(t)
	want := map[string]bool{}
	for i := range 5 {
		k := newKey(fmt.Sprintf("each-%d", i), base.Add(time.Duration(i)*time.Second))
		mustCreate(t, s, k)
		want[k.ID] = true
	}
	got := map[string]bool{}
	if err := s.ForEachKey(ctx, func(k *gatehouse.APIKey) error {
		if got[k.ID] {
			t.Errorf("ForEachKey gave %s twice", k.ID)
		}
		got[k.ID] = true
		if k.Name == "" || len(k.Sealed) == 0 || len(k.Scopes) == 0 {
			t.Errorf("ForEachKey gave an incomplete key %+v", k)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Errorf("ForEachKey gave %d keys, want %d", len(got), len(want))
	}
	stop := errors.New("stop")
	n := 0
	if err := s.ForEachKey(ctx, func(*gatehouse.APIKey) error { n++; return stop }); err != stop || n != 1 {
		t.Errorf("ForEachKey stopping at once = %v after %d calls, want the callback's error after 1", err, n)
	}
}
