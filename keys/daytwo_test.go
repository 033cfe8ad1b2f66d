package keys_test

import (
	"context"
	"testing"
	"time"

	"gatehouse"
	"gatehouse/keys"
)

func TestRollDisableUpdate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	svc := mustService(t)
	admin := keys.Admin("admin:alice")
	k, first, err := svc.Create(ctx, keys.CreateRequest{Name: "rolled", Scopes: []string{"assets:read"},
		AllowedIPs: []string{"192.0.2.1", "10.0.0.0/8"}, ReadOnlyGrace: time.Hour}, admin)
	if err != nil {
		t.Fatal(err)
	}
	if len(k.AllowedIPs) != 2 || k.ReadOnlyGrace != time.Hour {
		t.Fatalf("created key: AllowedIPs %v, ReadOnlyGrace %v", k.AllowedIPs, k.ReadOnlyGrace)
	}

	rolled, second, err := svc.Roll(ctx, k.ID, 24*time.Hour, admin)
	if err != nil {
		t.Fatalf("Roll() = %v", err)
	}
	if rolled.Digest != second.Digest() || rolled.PreviousDigest == nil || *rolled.PreviousDigest != first.Digest() || !rolled.InOverlap(time.Now()) {
		t.Fatalf("rolled key: want the new digest, the old one as previous, inside the overlap")
	}
	// Reveal ("Copy key") gives the new secret.
	if got, err := svc.Reveal(ctx, k.ID, admin); err != nil || got.Reveal() != second.Reveal() {
		t.Errorf("Reveal after roll = %v, want the new secret", err)
	}
	for _, bad := range []time.Duration{-time.Second, 721 * time.Hour} {
		if _, _, err := svc.Roll(ctx, k.ID, bad, admin); gatehouse.ErrorCode(err) != gatehouse.EInvalidRequest {
			t.Errorf("Roll(overlap %v) = %v, want invalid_request", bad, err)
		}
	}

	if got, err := svc.SetDisabled(ctx, k.ID, true, admin); err != nil || !got.Disabled {
		t.Fatalf("SetDisabled(true) = %v, %v", got, err)
	}
	if got, err := svc.SetDisabled(ctx, k.ID, false, admin); err != nil || got.Disabled {
		t.Fatalf("SetDisabled(false) = %v, %v", got, err)
	}

	name, none := "renamed", []string{}
	var grace time.Duration
	got, err := svc.Update(ctx, k.ID, keys.UpdateRequest{Name: &name, AllowedIPs: &none, ReadOnlyGrace: &grace}, admin)
	if err != nil {
		t.Fatalf("Update() = %v", err)
	}
	if got.Name != "renamed" || len(got.AllowedIPs) != 0 || got.ReadOnlyGrace != 0 || got.Scopes.Strings()[0] != "assets:read" {
		t.Errorf("updated key = %+v", got)
	}
	for _, tt := range []struct {
		name string
		req  keys.UpdateRequest
		code string
	}{
		{"BadAddress", keys.UpdateRequest{AllowedIPs: &[]string{"nope"}}, gatehouse.EInvalidRequest},
		{"LongGrace", keys.UpdateRequest{ReadOnlyGrace: new(721 * time.Hour)}, gatehouse.EInvalidRequest},
		{"EmptyName", keys.UpdateRequest{Name: new(" ")}, gatehouse.EInvalidRequest},
		{"UnknownScope", keys.UpdateRequest{Scopes: &[]string{"nowhere:read"}}, gatehouse.EUnknownScope},
	} {
		if _, err := svc.Update(ctx, k.ID, tt.req, admin); gatehouse.ErrorCode(err) != tt.code {
			t.Errorf("Update(%s) = %v, want %s", tt.name, err, tt.code)
		}
	}

	d, err := svc.Details(ctx, k.ID)
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range d.Audit {
		actions = append(actions, e.Action)
	}
	if got, want := actions, []string{"create", "roll", "reveal", "disable", "enable", "update"}; len(got) != len(want) || got[1] != "roll" || got[5] != "update" {
		t.Errorf("audit = %v, want %v", got, want)
	}
}

// TestKeyCallerBoundDayTwo: a key may roll, disable or change only keys
// within its scopes, and not give a key scopes beyond its own.
func TestKeyCallerBoundDayTwo(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	svc := mustService(t)
	admin := keys.Admin("admin:alice")
	mgr, _, err := svc.Create(ctx, keys.CreateRequest{Name: "mgr", Scopes: []string{"api-keys:write", "assets:read"}}, admin)
	if err != nil {
		t.Fatal(err)
	}
	big, _, err := svc.Create(ctx, keys.CreateRequest{Name: "big", Scopes: []string{"assets:write"}}, admin)
	if err != nil {
		t.Fatal(err)
	}
	small, _, err := svc.Create(ctx, keys.CreateRequest{Name: "small", Scopes: []string{"assets:read"}}, admin)
	if err != nil {
		t.Fatal(err)
	}
	c := keys.KeyCaller(mgr)
	if _, _, err := svc.Roll(ctx, big.ID, 0, c); gatehouse.ErrorCode(err) != gatehouse.EInsufficientScope {
		t.Errorf("Roll(beyond) = %v, want insufficient_scope", err)
	}
	if _, err := svc.SetDisabled(ctx, big.ID, true, c); gatehouse.ErrorCode(err) != gatehouse.EInsufficientScope {
		t.Errorf("SetDisabled(beyond) = %v, want insufficient_scope", err)
	}
	if _, err := svc.Update(ctx, small.ID, keys.UpdateRequest{Scopes: &[]string{"assets:write"}}, c); gatehouse.ErrorCode(err) != gatehouse.EInsufficientScope {
		t.Errorf("Update(grant beyond) = %v, want insufficient_scope", err)
	}
	if _, _, err := svc.Roll(ctx, small.ID, time.Hour, c); err != nil {
		t.Errorf("Roll(within) = %v", err)
	}
}
