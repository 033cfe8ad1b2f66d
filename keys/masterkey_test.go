package keys_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"path/filepath"
	"sync"
	"testing"

	"gatehouse/keys"
)

// TestFingerprint: the derivation is fixed (fingerprints are stored, so a
// change would stop every cluster), tells keys apart, and is not a plain
// hash of the key.
func TestFingerprint(t *testing.T) {
	t.Parallel()
	master := make([]byte, 32)
	for i := range master {
		master[i] = byte(i)
	}
	// HMAC-SHA256 with key 00 01 … 1f of "gatehouse master key fingerprint
	// v1", as openssl dgst -sha256 -mac HMAC computes it.
	const want = "45cdad3bc84e86e8ab58d0e371bc6f5ea7cd835203663416a410ab7108c561dc"
	if got := keys.Fingerprint(master); got != want {
		t.Errorf("Fingerprint(00…1f) = %s, want %s", got, want)
	}
	if got, want := keys.ShortFingerprint(want), "45cdad3bc84e86e8"; got != want {
		t.Errorf("ShortFingerprint(%s) = %s, want %s", want, got, want)
	}
	if got := keys.ShortFingerprint("abc"); got != "abc" {
		t.Errorf(`ShortFingerprint("abc") = %q, want "abc"`, got)
	}
	plain := sha256.Sum256(master)
	if keys.Fingerprint(master) == hex.EncodeToString(plain[:]) {
		t.Error("Fingerprint is SHA-256 of the key")
	}
	other := bytes.Clone(master)
	other[31] ^= 1
	if keys.Fingerprint(other) == keys.Fingerprint(master) {
		t.Error("two master keys have the same fingerprint")
	}
}

// TestEnsureMasterKeyCreated: of processes that find no key file at once,
// exactly one reports that it created the file, and all get its key; a
// later load reports none created.
func TestEnsureMasterKeyCreated(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "data", "secret.key")
	const n = 8
	got := make([][]byte, n)
	created := make([]bool, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { got[i], created[i], errs[i] = keys.EnsureMasterKey(path) })
	}
	wg.Wait()
	creators := 0
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("EnsureMasterKey #%d = %v", i, errs[i])
		}
		if !bytes.Equal(got[i], got[0]) {
			t.Errorf("EnsureMasterKey #%d returned another key than #0", i)
		}
		if created[i] {
			creators++
		}
	}
	if creators != 1 {
		t.Errorf("%d calls reported that they created the key file, want 1", creators)
	}
	key, again, err := keys.EnsureMasterKey(path)
	if err != nil || again || !bytes.Equal(key, got[0]) {
		t.Errorf("EnsureMasterKey of an existing file = (same key %v, created %v, %v), want (true, false, nil)", bytes.Equal(key, got[0]), again, err)
	}
}
