package storetest

import (
	"context"
	"testing"
	"time"

	"gatehouse"
)

func testAuditEvents(t *testing.T, open opener) {
	s := open(t)
	ctx := context.Background()
	k := newKey("audited", base)
	k.CreatedBy = "cli:root"
	other := newKey("other", base)
	mustCreate(t, s, k)
	mustCreate(t, s, other)

	revealedAt := base.Add(90 * time.Second)
	if err := s.RecordAudit(ctx, gatehouse.AuditEvent{
		KeyID: k.ID, Action: gatehouse.AuditReveal, Actor: "admin:alice", At: revealedAt,
	}); err != nil {
		t.Fatalf("RecordAudit() = %v", err)
	}
	if _, err := s.RenewKey(ctx, k.ID, gatehouse.KeyRenewal{}, "key:key_renewer"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteKey(ctx, k.ID, "admin:bob"); err != nil {
		t.Fatal(err)
	}

	// The log survives the key's deletion.
	events, err := s.FindAuditEvents(ctx, k.ID)
	if err != nil {
		t.Fatalf("FindAuditEvents() = %v", err)
	}
	want := []gatehouse.AuditEvent{
		{KeyID: k.ID, Action: gatehouse.AuditCreate, Actor: "cli:root"},
		{KeyID: k.ID, Action: gatehouse.AuditReveal, Actor: "admin:alice", At: revealedAt},
		{KeyID: k.ID, Action: gatehouse.AuditRenew, Actor: "key:key_renewer"},
		{KeyID: k.ID, Action: gatehouse.AuditDelete, Actor: "admin:bob"},
	}
	if len(events) != len(want) {
		t.Fatalf("FindAuditEvents() = %+v, want %d events", events, len(want))
	}
	for i, e := range events {
		w := want[i]
		if e.KeyID != w.KeyID || e.Action != w.Action || e.Actor != w.Actor {
			t.Errorf("event %d = %+v, want %+v", i, e, w)
		}
		if e.At.IsZero() || e.At.Location() != time.UTC {
			t.Errorf("event %d: At = %v, want a time in UTC", i, e.At)
		}
		if !w.At.IsZero() && !e.At.Equal(w.At) {
			t.Errorf("event %d: At = %v, want %v", i, e.At, w.At)
		}
	}

	// Other keys' logs are apart.
	events, err = s.FindAuditEvents(ctx, other.ID)
	if err != nil {
		t.Fatal(err)
	} else if len(events) != 1 || events[0].Action != gatehouse.AuditCreate || events[0].Actor != other.CreatedBy {
		t.Errorf("other key's events = %+v, want one create by %s", events, other.CreatedBy)
	}
	events, err = s.FindAuditEvents(ctx, gatehouse.NewKeyID())
	if err != nil {
		t.Errorf("FindAuditEvents(unknown) = %v, want no error", err)
	} else if len(events) != 0 {
		t.Errorf("FindAuditEvents(unknown) = %+v, want none", events)
	}
}
