package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"gatehouse"
)

// signingKey returns a signing key with a made-up thumbprint.
func signingKey(n int) gatehouse.SigningKey {
	return gatehouse.SigningKey{
		KeyID:     fmt.Sprintf("thumb-%02d", n),
		JWK:       fmt.Sprintf(`{"crv":"Ed25519","kty":"OKP","x":"x%02d"}`, n),
		CreatedAt: base.Add(time.Duration(n) * time.Minute),
	}
}

// testSigningKeys: signing keys are added and removed, each audited and
// recorded as a change, kept in order, and read back by every way of
// reading keys; a key holds at most MaxSigningKeys and no key twice.
func testSigningKeys(t *testing.T, open opener) {
	ctx := context.Background()
	s := open(t)
	k := newKey("signer", base)
	mustCreate(t, s, k)
	if got := mustFind(t, s, k.ID).SigningKeys; len(got) != 0 {
		t.Fatalf("a new key's SigningKeys = %v, want none", got)
	}
	rev := mustRevision(t, s)
	got, err := s.AddSigningKey(ctx, k.ID, signingKey(1), "admin:bob")
	if err != nil {
		t.Fatalf("AddSigningKey = %v", err)
	}
	if len(got.SigningKeys) != 1 || got.SigningKeys[0] != signingKey(1) {
		t.Fatalf("AddSigningKey returned %+v, want the one signing key %+v", got.SigningKeys, signingKey(1))
	}
	mustChanges(t, s, rev, []gatehouse.KeyChange{{Revision: rev + 1, KeyID: k.ID}})
	if _, err := s.AddSigningKey(ctx, k.ID, signingKey(2), "key:key_x"); err != nil {
		t.Fatal(err)
	}
	// The same key again changes nothing.
	rev = mustRevision(t, s)
	if again, err := s.AddSigningKey(ctx, k.ID, signingKey(1), "admin:bob"); err != nil || len(again.SigningKeys) != 2 {
		t.Fatalf("AddSigningKey(a key it has) = %v, %v; want the two keys", again, err)
	}
	if r := mustRevision(t, s); r != rev {
		t.Errorf("AddSigningKey(a key it has) recorded a change (revision %d → %d)", rev, r)
	}
	want := []gatehouse.SigningKey{signingKey(1), signingKey(2)}
	check := func(how string, k *gatehouse.APIKey) {
		t.Helper()
		if fmt.Sprint(k.SigningKeys) != fmt.Sprint(want) {
			t.Errorf("%s: SigningKeys = %v, want %v", how, k.SigningKeys, want)
		}
	}
	check("FindKeyByID", mustFind(t, s, k.ID))
	byName, err := s.FindKeyByName(ctx, "signer")
	if err != nil {
		t.Fatal(err)
	}
	check("FindKeyByName", byName)
	list, _, err := s.FindKeys(ctx, gatehouse.KeyFilter{})
	if err != nil || len(list) != 1 {
		t.Fatalf("FindKeys = %v, %v", list, err)
	}
	check("FindKeys", list[0])
	if err := s.ForEachKey(ctx, func(k *gatehouse.APIKey) error { check("ForEachKey", k); return nil }); err != nil {
		t.Fatal(err)
	}
	renewed, err := s.RenewKey(ctx, k.ID, gatehouse.KeyRenewal{}, "admin:bob")
	if err != nil {
		t.Fatal(err)
	}
	check("RenewKey", renewed)

	removed, err := s.RemoveSigningKey(ctx, k.ID, "thumb-01", "admin:carol")
	if err != nil || len(removed.SigningKeys) != 1 || removed.SigningKeys[0].KeyID != "thumb-02" {
		t.Fatalf("RemoveSigningKey = %+v, %v; want thumb-02 left", removed, err)
	}
	_, err = s.RemoveSigningKey(ctx, k.ID, "thumb-01", "admin:carol")
	wantCode(t, "RemoveSigningKey(a removed key)", err, gatehouse.ENotFound)
	_, err = s.RemoveSigningKey(ctx, "key_missing", "thumb-02", "admin:carol")
	wantCode(t, "RemoveSigningKey(a missing key)", err, gatehouse.ENotFound)
	_, err = s.AddSigningKey(ctx, "key_missing", signingKey(3), "admin:carol")
	wantCode(t, "AddSigningKey(a missing key)", err, gatehouse.ENotFound)

	events, err := s.FindAuditEvents(ctx, k.ID)
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range events {
		actions = append(actions, e.Action+" "+e.Actor)
	}
	wantActions := fmt.Sprint([]string{"create admin:alice", "add_signing_key admin:bob", "add_signing_key key:key_x",
		"renew admin:bob", "remove_signing_key admin:carol"})
	if fmt.Sprint(actions) != wantActions {
		t.Errorf("audit = %v, want %v", actions, wantActions)
	}

	// At most MaxSigningKeys, also when added concurrently.
	var wg sync.WaitGroup
	for i := range gatehouse.MaxSigningKeys + 3 {
		wg.Go(func() { s.AddSigningKey(ctx, k.ID, signingKey(10+i), "admin:bob") })
	}
	wg.Wait()
	if n := len(mustFind(t, s, k.ID).SigningKeys); n != gatehouse.MaxSigningKeys {
		t.Errorf("after concurrent adds the key has %d signing keys, want %d", n, gatehouse.MaxSigningKeys)
	}
	_, err = s.AddSigningKey(ctx, k.ID, signingKey(99), "admin:bob")
	wantCode(t, "AddSigningKey(one too many)", err, gatehouse.EInvalidRequest)
}
