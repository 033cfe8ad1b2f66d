package storetest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"gatehouse"
)

// runCluster runs the contract of gatehouse.ClusterStore: the master key's
// fingerprint.
func runCluster(t *testing.T, open opener) {
	run(t, open, []test{
		{"ClaimMasterKey", testClaimMasterKey},
		{"ConcurrentClaimMasterKey", testConcurrentClaimMasterKey},
	})
}

// fingerprint returns a fingerprint as keys.Fingerprint makes them: 64 hex
// digits, here all c.
func fingerprint(c string) string { return strings.Repeat(c, 64) }

func mustMasterKeyFingerprint(tb testing.TB, s gatehouse.ClusterStore) string {
	tb.Helper()
	fp, err := s.MasterKeyFingerprint(context.Background())
	if err != nil {
		tb.Fatalf("MasterKeyFingerprint() = %v", err)
	}
	return fp
}

// testClaimMasterKey: a new store has no fingerprint; the first claim
// records its own; later claims, with another fingerprint or the same,
// return the first and change nothing.
func testClaimMasterKey(t *testing.T, open opener) {
	s := open(t)
	ctx := context.Background()
	if got := mustMasterKeyFingerprint(t, s); got != "" {
		t.Fatalf("MasterKeyFingerprint() of a new store = %q, want \"\"", got)
	}
	a, b := fingerprint("a"), fingerprint("b")
	for _, c := range []struct{ claim, want string }{{a, a}, {b, a}, {a, a}} {
		got, err := s.ClaimMasterKey(ctx, c.claim)
		if err != nil {
			t.Fatalf("ClaimMasterKey(%.8s…) = %v", c.claim, err)
		}
		if got != c.want {
			t.Errorf("ClaimMasterKey(%.8s…) = %.8s…, want %.8s…", c.claim, got, c.want)
		}
		if got := mustMasterKeyFingerprint(t, s); got != a {
			t.Errorf("MasterKeyFingerprint() after ClaimMasterKey(%.8s…) = %.8s…, want %.8s…", c.claim, got, a)
		}
	}
	if _, err := s.ClaimMasterKey(ctx, ""); err == nil {
		t.Error(`ClaimMasterKey("") = nil error, want one`)
	}
}

// testConcurrentClaimMasterKey: of claims with different fingerprints at
// once on a new store, one wins and every claim returns the winner's.
func testConcurrentClaimMasterKey(t *testing.T, open opener) {
	s := open(t)
	const n = 8
	got := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { got[i], errs[i] = s.ClaimMasterKey(context.Background(), fingerprint(fmt.Sprint(i))) })
	}
	wg.Wait()
	winner := mustMasterKeyFingerprint(t, s)
	if winner == "" {
		t.Fatal("MasterKeyFingerprint() after the claims = \"\", want the winner's")
	}
	won := false
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("ClaimMasterKey #%d = %v", i, errs[i])
		}
		if got[i] != winner {
			t.Errorf("ClaimMasterKey #%d = %.8s…, want the recorded %.8s…", i, got[i], winner)
		}
		won = won || winner == fingerprint(fmt.Sprint(i))
	}
	if !won {
		t.Errorf("recorded fingerprint %.8s… is none of the claims'", winner)
	}
}
