package storetest

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"gatehouse"
)

// runWebhooks runs the contract of gatehouse.WebhookStore: the outbox.
func runWebhooks(t *testing.T, open opener) {
	run(t, open, []test{
		{"KeyChangeEvents", testKeyChangeEvents},
		{"DayTwoEvents", testDayTwoEvents},
		{"ClaimAndUpdate", testClaimAndUpdate},
		{"ConcurrentClaims", testConcurrentClaims},
		{"ScheduleKeyEvents", testScheduleKeyEvents},
		{"ConcurrentSchedules", testConcurrentSchedules},
	})
}

// mustClaim claims every event due at now, for a minute.
func mustClaim(tb testing.TB, s gatehouse.WebhookStore, now time.Time) []*gatehouse.WebhookEvent {
	tb.Helper()
	events, err := s.ClaimWebhookEvents(context.Background(), now, time.Minute, 1000)
	if err != nil {
		tb.Fatalf("ClaimWebhookEvents() = %v", err)
	}
	return events
}

// mustDeliver claims every event due at now and records each as
// delivered.
func mustDeliver(tb testing.TB, s gatehouse.WebhookStore, now time.Time) []*gatehouse.WebhookEvent {
	tb.Helper()
	events := mustClaim(tb, s, now)
	for _, e := range events {
		e.Attempts, e.DeliveredAt = 1, &now
		if ok, err := s.UpdateWebhookEvent(context.Background(), e); err != nil || !ok {
			tb.Fatalf("UpdateWebhookEvent(%s) = %v, %v", e.ID, ok, err)
		}
	}
	return events
}

// types returns the type and key ID of each event.
func types(events []*gatehouse.WebhookEvent) []string {
	var out []string
	for _, e := range events {
		out = append(out, e.Type+" "+e.Key.ID)
	}
	return out
}

// testKeyChangeEvents: creating, renewing and deleting a key each add an
// event with the key as it was then, in the order of the changes; a
// change that fails adds none; no event holds the key's digest or sealed
// secret.
func testKeyChangeEvents(t *testing.T, open opener) {
	s := open(t)
	ctx := context.Background()
	k := newKey("one", base)
	mustCreate(t, s, k)
	until := base.Add(90 * 24 * time.Hour)
	if _, err := s.RenewKey(ctx, k.ID, gatehouse.KeyRenewal{ValidUntil: &until}, "admin:bob"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteKey(ctx, k.ID, "admin:bob"); err != nil {
		t.Fatal(err)
	}
	// Failures add nothing.
	wantCode(t, "CreateKey(taken name)", func() error {
		mustCreate(t, s, newKey("two", base))
		return s.CreateKey(ctx, newKey("TWO", base))
	}(), gatehouse.ENameTaken)
	wantCode(t, "DeleteKey(unknown)", s.DeleteKey(ctx, "nope", "admin:bob"), gatehouse.ENotFound)
	_, err := s.RenewKey(ctx, "nope", gatehouse.KeyRenewal{}, "admin:bob")
	wantCode(t, "RenewKey(unknown)", err, gatehouse.ENotFound)

	events := mustClaim(t, s, time.Now().Add(time.Second))
	got := types(events)
	if len(got) != 4 || got[0] != gatehouse.EventKeyCreated+" "+k.ID || got[1] != gatehouse.EventKeyRenewed+" "+k.ID ||
		got[2] != gatehouse.EventKeyDeleted+" "+k.ID || got[3][:len(gatehouse.EventKeyCreated)] != gatehouse.EventKeyCreated {
		t.Fatalf("events after create, renew, delete, create = %q, want created, renewed, deleted of %s, then created", got, k.ID)
	}
	ids := map[string]bool{}
	for i, e := range events {
		if len(e.ID) < 20 || e.ID[:4] != "msg_" || ids[e.ID] {
			t.Errorf("event %d: ID = %q, want a new msg_ ID", i, e.ID)
		}
		ids[e.ID] = true
		if e.Key.Digest != (gatehouse.Digest{}) || len(e.Key.Sealed) != 0 {
			t.Errorf("event %d (%s): the key snapshot holds its digest or sealed secret", i, e.Type)
		}
		if e.Attempts != 0 || e.DeliveredAt != nil || e.Failed || len(e.Done) != 0 {
			t.Errorf("event %d (%s): new event has attempts %d, delivered %v, failed %v, done %q", i, e.Type, e.Attempts, e.DeliveredAt, e.Failed, e.Done)
		}
	}
	// The snapshot is the key as it was.
	want := *k
	want.Digest, want.Sealed = gatehouse.Digest{}, nil
	checkKey(t, "created event's key", events[0].Key, &want)
	if d := diffTimePtr(events[1].Key.ValidUntil, &until); d != "" {
		t.Errorf("renewed event's key: ValidUntil %s", d)
	}
	if events[2].Key.Name != "one" {
		t.Errorf("deleted event's key: Name = %q, want %q", events[2].Key.Name, "one")
	}
	// Nothing in the outbox holds the digest or the sealed bytes.
	for _, e := range events {
		b, err := gatehouse.SnapshotKey(e.Key)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte("sealed:")) {
			t.Errorf("event %s: snapshot %s holds the sealed secret", e.ID, b)
		}
	}
}

// testClaimAndUpdate: a claimed event is nobody else's until its lease
// ends or its claimant records the attempt; a retry is due at its
// NextAttemptAt; a delivered or failed event is never claimed again; a
// claimant whose lease ran out cannot overwrite the next one's attempt.
func testClaimAndUpdate(t *testing.T, open opener) {
	s := open(t)
	ctx := context.Background()
	k := newKey("one", base)
	mustCreate(t, s, k)
	now := time.Now().Add(time.Second).UTC().Truncate(time.Millisecond)

	first := mustClaim(t, s, now)
	if len(first) != 1 {
		t.Fatalf("first claim got %d events, want 1", len(first))
	}
	if again := mustClaim(t, s, now.Add(30*time.Second)); len(again) != 0 {
		t.Fatalf("claim during the lease got %q, want none", types(again))
	}
	// The lease runs out: another sender takes the event.
	second := mustClaim(t, s, now.Add(61*time.Second))
	if len(second) != 1 || second[0].ID != first[0].ID {
		t.Fatalf("claim after the lease got %q, want the event again", types(second))
	}
	// The first claimant is too late.
	e := first[0]
	e.Attempts, e.LastResult = 1, "late"
	if ok, err := s.UpdateWebhookEvent(ctx, e); err != nil || ok {
		t.Fatalf("UpdateWebhookEvent(an expired claim) = %v, %v; want false, nil", ok, err)
	}
	// The second records a failure and a retry in 5 seconds.
	e = second[0]
	last := now.Add(61 * time.Second)
	e.Attempts, e.LastAttemptAt, e.LastResult, e.NextAttemptAt = 1, &last, "500 Internal Server Error", last.Add(5*time.Second)
	e.Done = []string{"ep_a"}
	if ok, err := s.UpdateWebhookEvent(ctx, e); err != nil || !ok {
		t.Fatalf("UpdateWebhookEvent(the live claim) = %v, %v; want true, nil", ok, err)
	}
	failed, err := s.FindWebhookEvents(ctx, gatehouse.WebhookFilter{Failed: true})
	if err != nil || len(failed) != 1 || failed[0].LastResult != e.LastResult || failed[0].Attempts != 1 ||
		!slices.Equal(failed[0].Done, []string{"ep_a"}) || diffTimePtr(failed[0].LastAttemptAt, &last) != "" {
		t.Fatalf("FindWebhookEvents(failed) = %+v, %v; want the event with its attempt", failed, err)
	}
	if got := mustClaim(t, s, last.Add(4*time.Second)); len(got) != 0 {
		t.Fatalf("claim before the retry is due got %q, want none", types(got))
	}
	retry := mustClaim(t, s, last.Add(5*time.Second))
	if len(retry) != 1 || retry[0].Attempts != 1 || !slices.Equal(retry[0].Done, []string{"ep_a"}) {
		t.Fatalf("claim when the retry is due = %+v, want the event after 1 attempt", retry)
	}
	e = retry[0]
	at := last.Add(5 * time.Second)
	e.Attempts, e.DeliveredAt, e.Done = 2, &at, []string{"ep_a", "ep_b"}
	if ok, err := s.UpdateWebhookEvent(ctx, e); err != nil || !ok {
		t.Fatalf("UpdateWebhookEvent(delivered) = %v, %v", ok, err)
	}
	if got := mustClaim(t, s, at.Add(time.Hour)); len(got) != 0 {
		t.Fatalf("claim after delivery got %q, want none", types(got))
	}
	if pending, err := s.FindWebhookEvents(ctx, gatehouse.WebhookFilter{}); err != nil || len(pending) != 0 {
		t.Fatalf("FindWebhookEvents() after delivery = %q, %v; want none", types(pending), err)
	}

	// A failed event (retries used up) is listed, and never claimed.
	if err := s.DeleteKey(ctx, k.ID, "admin:alice"); err != nil {
		t.Fatal(err)
	}
	del := mustClaim(t, s, at.Add(time.Hour))
	if len(del) != 1 {
		t.Fatalf("claim after delete = %q, want the deleted event", types(del))
	}
	del[0].Attempts, del[0].Failed, del[0].LastResult = 8, true, "timeout"
	if ok, err := s.UpdateWebhookEvent(ctx, del[0]); err != nil || !ok {
		t.Fatalf("UpdateWebhookEvent(failed) = %v, %v", ok, err)
	}
	if got := mustClaim(t, s, at.Add(48*time.Hour)); len(got) != 0 {
		t.Fatalf("claim after failure got %q, want none", types(got))
	}
	failed, err = s.FindWebhookEvents(ctx, gatehouse.WebhookFilter{Failed: true})
	if err != nil || len(failed) != 1 || !failed[0].Failed || failed[0].Type != gatehouse.EventKeyDeleted {
		t.Fatalf("FindWebhookEvents(failed) = %q, %v; want the failed deletion", types(failed), err)
	}
}

// testConcurrentClaims: senders claiming at once get each event once.
func testConcurrentClaims(t *testing.T, open opener) {
	s := open(t)
	const n = 60
	for i := range n {
		mustCreate(t, s, newKey(fmt.Sprintf("k%02d", i), base))
	}
	now := time.Now().Add(time.Second)
	var (
		mu  sync.Mutex
		got = map[string]int{}
		wg  sync.WaitGroup
	)
	for range 4 {
		wg.Go(func() {
			for {
				events, err := s.ClaimWebhookEvents(context.Background(), now, time.Minute, 7)
				if err != nil {
					t.Errorf("ClaimWebhookEvents() = %v", err)
					return
				}
				if len(events) == 0 {
					return
				}
				mu.Lock()
				for _, e := range events {
					got[e.ID]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(got) != n {
		t.Errorf("claimed %d events, want %d", len(got), n)
	}
	for id, c := range got {
		if c != 1 {
			t.Errorf("event %s claimed %d times, want once", id, c)
		}
	}
}

// testScheduleKeyEvents: key.expiring once when a key enters the window
// (or is created inside it), key.expired once when its validUntil passes,
// also when nobody called for the moment itself; again for a new
// validUntil after a renewal.
func testScheduleKeyEvents(t *testing.T, open opener) {
	s := open(t)
	ctx := context.Background()
	const window = 24 * time.Hour
	now := time.Now().UTC().Truncate(time.Millisecond)
	schedule := func(at time.Time, want int) {
		t.Helper()
		n, err := s.ScheduleKeyEvents(ctx, at, window)
		if err != nil {
			t.Fatalf("ScheduleKeyEvents(%s) = %v", at, err)
		}
		if n != want {
			t.Fatalf("ScheduleKeyEvents(%s) added %d events, want %d", at, n, want)
		}
	}
	withExpiry := func(name string, until time.Time) *gatehouse.APIKey {
		k := newKey(name, now.Add(-time.Hour))
		until = until.Truncate(time.Millisecond)
		k.ValidUntil = &until
		mustCreate(t, s, k)
		return k
	}
	schedule(now, 0)                                          // the first call starts the schedule
	inside := withExpiry("inside", now.Add(time.Hour))        // created inside the window
	later := withExpiry("later", now.Add(window+2*time.Hour)) // enters the window in two hours
	withExpiry("never", now.Add(365*24*time.Hour))
	noExpiry := newKey("no-expiry", now)
	noExpiry.ValidUntil = nil
	mustCreate(t, s, noExpiry)
	mustDeliver(t, s, now.Add(time.Minute)) // the created events

	schedule(now.Add(time.Second), 1)
	schedule(now.Add(2*time.Second), 0) // once
	got := mustDeliver(t, s, now.Add(time.Minute))
	if len(got) != 1 || got[0].Type != gatehouse.EventKeyExpiring || got[0].Key.ID != inside.ID {
		t.Fatalf("after creating a key inside the window: events %q, want key.expiring of %s", types(got), inside.ID)
	}
	// Nobody calls for three hours: "inside" expired, "later" entered the
	// window, each at its moment.
	schedule(now.Add(3*time.Hour), 2)
	schedule(now.Add(3*time.Hour+time.Second), 0)
	got = mustDeliver(t, s, now.Add(4*time.Hour))
	slices.SortFunc(got, func(a, b *gatehouse.WebhookEvent) int { return a.At.Compare(b.At) })
	if len(got) != 2 || got[0].Type != gatehouse.EventKeyExpired || got[0].Key.ID != inside.ID ||
		got[1].Type != gatehouse.EventKeyExpiring || got[1].Key.ID != later.ID {
		t.Fatalf("after three hours: events %q, want key.expired of %s and key.expiring of %s", types(got), inside.ID, later.ID)
	}
	if d := diffTime(got[0].At, *inside.ValidUntil); d != "" {
		t.Errorf("key.expired At %s", d)
	}
	if d := diffTime(got[1].At, later.ValidUntil.Add(-window)); d != "" {
		t.Errorf("key.expiring At %s", d)
	}
	if !got[0].Key.Expired(got[0].At) {
		t.Errorf("key.expired's key is not expired at the event's time")
	}
	// Renewed into the window again: a new period, new events.
	until := now.Add(5 * time.Hour).Truncate(time.Millisecond)
	if _, err := s.RenewKey(ctx, inside.ID, gatehouse.KeyRenewal{ValidUntil: &until}, "admin:alice"); err != nil {
		t.Fatal(err)
	}
	schedule(now.Add(3*time.Hour+2*time.Second), 1)
	schedule(now.Add(6*time.Hour), 1)
	got = mustDeliver(t, s, now.Add(7*time.Hour))
	if want := []string{gatehouse.EventKeyRenewed + " " + inside.ID, gatehouse.EventKeyExpiring + " " + inside.ID,
		gatehouse.EventKeyExpired + " " + inside.ID}; !slices.Equal(types(got), want) {
		t.Fatalf("after a renewal: events %q, want %q", types(got), want)
	}
}

// testConcurrentSchedules: nodes scheduling at once add each event once.
func testConcurrentSchedules(t *testing.T, open opener) {
	s := open(t)
	now := time.Now().UTC().Truncate(time.Millisecond)
	if _, err := s.ScheduleKeyEvents(context.Background(), now, time.Hour); err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		k := newKey(fmt.Sprintf("k%d", i), now.Add(-time.Hour))
		until := now.Add(time.Duration(i+1) * time.Minute)
		k.ValidUntil = &until
		mustCreate(t, s, k)
	}
	mustDeliver(t, s, now.Add(time.Minute))
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for i := range 5 {
				if _, err := s.ScheduleKeyEvents(context.Background(), now.Add(time.Duration(i*3)*time.Minute), time.Hour); err != nil {
					t.Errorf("ScheduleKeyEvents() = %v", err)
				}
			}
		})
	}
	wg.Wait()
	if _, err := s.ScheduleKeyEvents(context.Background(), now.Add(time.Hour), time.Hour); err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, e := range mustDeliver(t, s, now.Add(2*time.Hour)) {
		got[e.Type+" "+e.Key.ID]++
	}
	if len(got) != 20 {
		t.Errorf("got %d distinct events, want 20 (expiring and expired of 10 keys)", len(got))
	}
	for what, n := range got {
		if n != 1 {
			t.Errorf("%s added %d times, want once", what, n)
		}
	}
}

// testDayTwoEvents: rolling, updating, disabling and enabling a key each
// add their event, without either secret's digest; the end of a roll's
// overlap adds key.previous_expired once, also when nobody called for the
// moment itself.
func testDayTwoEvents(t *testing.T, open opener) {
	s := open(t)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Millisecond)
	if _, err := s.ScheduleKeyEvents(ctx, now, time.Hour); err != nil {
		t.Fatal(err)
	}
	k := newKey("one", now)
	mustCreate(t, s, k)
	mustDeliver(t, s, now.Add(time.Minute))

	sec := gatehouse.NewSecret()
	overlapEnd := now.Add(2 * time.Hour)
	if _, err := s.RollKey(ctx, k.ID, gatehouse.KeyRoll{Digest: sec.Digest(), Sealed: []byte("sealed:new"), Hint: sec.Hint(),
		PreviousValidUntil: overlapEnd}, "admin:bob"); err != nil {
		t.Fatal(err)
	}
	name := "renamed"
	if _, err := s.UpdateKey(ctx, k.ID, gatehouse.KeyUpdate{Name: &name}, "admin:bob"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetKeyDisabled(ctx, k.ID, true, "admin:bob"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetKeyDisabled(ctx, k.ID, false, "admin:bob"); err != nil {
		t.Fatal(err)
	}
	_, err := s.UpdateKey(ctx, "nope", gatehouse.KeyUpdate{Name: &name}, "admin:bob")
	wantCode(t, "UpdateKey(unknown)", err, gatehouse.ENotFound)

	got := mustDeliver(t, s, now.Add(time.Minute))
	want := []string{gatehouse.EventKeyRolled + " " + k.ID, gatehouse.EventKeyUpdated + " " + k.ID,
		gatehouse.EventKeyDisabled + " " + k.ID, gatehouse.EventKeyEnabled + " " + k.ID}
	if !slices.Equal(types(got), want) {
		t.Fatalf("events = %q, want %q", types(got), want)
	}
	for _, e := range got {
		if e.Key.PreviousDigest != nil || e.Key.Digest != (gatehouse.Digest{}) || len(e.Key.Sealed) != 0 {
			t.Errorf("%s: the key snapshot holds a digest or the sealed secret", e.Type)
		}
	}
	if d := diffTimePtr(got[0].Key.PreviousValidUntil, &overlapEnd); d != "" {
		t.Errorf("key.rolled's key: PreviousValidUntil %s", d)
	}
	if got[1].Key.Name != "renamed" || !got[2].Key.Disabled || got[3].Key.Disabled {
		t.Errorf("key.updated's name %q, key.disabled's Disabled %v, key.enabled's %v; want renamed, true, false",
			got[1].Key.Name, got[2].Key.Disabled, got[3].Key.Disabled)
	}

	// Nobody calls until after the overlap's end.
	if n, err := s.ScheduleKeyEvents(ctx, now.Add(3*time.Hour), time.Hour); err != nil || n != 1 {
		t.Fatalf("ScheduleKeyEvents(after the overlap) = %d, %v; want 1", n, err)
	}
	if n, err := s.ScheduleKeyEvents(ctx, now.Add(4*time.Hour), time.Hour); err != nil || n != 0 {
		t.Fatalf("ScheduleKeyEvents(again) = %d, %v; want 0", n, err)
	}
	got = mustDeliver(t, s, now.Add(4*time.Hour))
	if len(got) != 1 || got[0].Type != gatehouse.EventKeyPreviousExpired || got[0].Key.ID != k.ID {
		t.Fatalf("after the overlap: events %q, want key.previous_expired of %s", types(got), k.ID)
	}
	if d := diffTime(got[0].At, overlapEnd); d != "" {
		t.Errorf("key.previous_expired At %s", d)
	}
}
