package main_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gatehouse/keys"
)

// TestKeysRefuseAnotherMasterKey: a key command with another master key
// file than the store's keys are sealed under exits 1 with one line naming
// both short fingerprints, and changes nothing.
func TestKeysRefuseAnotherMasterKey(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.ok(t, "keys", "create", "--config", e.config, "--name", "first")

	body, err := os.ReadFile(e.config)
	if err != nil {
		t.Fatal(err)
	}
	ours := filepath.Join(e.dir, "data", "secret.key")
	other := filepath.Join(e.dir, "other", "secret.key")
	otherConfig := filepath.Join(e.dir, "other.yaml")
	if err := os.WriteFile(otherConfig, []byte(strings.Replace(string(body), ours, other, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"keys", "create", "--config", otherConfig, "--name", "second"},
		{"keys", "reveal", "--config", otherConfig, "first"},
	} {
		_, errOut, code := e.run(t, "", args...)
		want := []string{"master key mismatch", other, fingerprint(t, other), fingerprint(t, ours)}
		if code != 1 || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
			t.Errorf("gatehouse %s: exit %d, stderr %q; want exit 1 and one line", strings.Join(args, " "), code, errOut)
		}
		for _, w := range want {
			if !strings.Contains(errOut, w) {
				t.Errorf("gatehouse %s: stderr %q, want it to say %q", strings.Join(args, " "), errOut, w)
			}
		}
	}
	if out := e.ok(t, "keys", "list", "--config", e.config); strings.Contains(out, "second") {
		t.Errorf("keys list = %q, want no key created with the other master key", out)
	}
}

// fingerprint returns the short fingerprint of the master key in the file
// at path.
func fingerprint(t *testing.T, path string) string {
	t.Helper()
	master, err := keys.LoadMasterKey(path)
	if err != nil {
		t.Fatal(err)
	}
	return keys.ShortFingerprint(keys.Fingerprint(master))
}
