package keys

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"gatehouse"
)

// LoadMasterKey reads the 32-byte master key at path, creating it when it
// does not exist; see EnsureMasterKey.
func LoadMasterKey(path string) ([]byte, error) {
	key, _, err := EnsureMasterKey(path)
	return key, err
}

// EnsureMasterKey reads the 32-byte master key at path, creating it (mode
// 0600, missing directories 0700) with bytes from crypto/rand when it does
// not exist. created reports whether this call wrote the file: of
// processes that create it at once, one did, and all return its key. The
// file holds the raw 32 bytes, or 64 hex digits. A key file that group or
// others may read is refused.
func EnsureMasterKey(path string) (key []byte, created bool, err error) {
	key, err = readMasterKey(path)
	if errors.Is(err, fs.ErrNotExist) {
		if created, err = createMasterKey(path); err != nil {
			return nil, false, err
		}
		key, err = readMasterKey(path)
	}
	if err != nil {
		return nil, false, err
	}
	return key, created, nil
}

// fingerprintLabel is what Fingerprint authenticates under the master key.
// A new derivation takes a new label (v2), never a changed meaning of this
// one: fingerprints are stored.
const fingerprintLabel = "gatehouse master key fingerprint v1"

// Fingerprint returns the fingerprint of a master key: 64 hex digits of
// HMAC-SHA256(master, "gatehouse master key fingerprint v1"). Two nodes
// have the same master key exactly when their fingerprints are equal. A
// fingerprint is a MAC of a fixed label, not a hash of the key itself, so
// it serves no other purpose than telling keys apart and reveals nothing
// about the key: it may be stored and logged.
func Fingerprint(master []byte) string {
	m := hmac.New(sha256.New, master)
	m.Write([]byte(fingerprintLabel))
	return hex.EncodeToString(m.Sum(nil))
}

// ShortFingerprint returns the short form of a fingerprint for messages:
// its first 16 hex digits (8 bytes), or all of it when it is shorter.
func ShortFingerprint(fingerprint string) string {
	const n = 16
	if len(fingerprint) <= n {
		return fingerprint
	}
	return fingerprint[:n]
}

func readMasterKey(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("master key %s: mode %v lets others read it; run chmod 600 %s", path, fi.Mode().Perm(), path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read master key: %w", err)
	}
	switch {
	case len(b) == gatehouse.MasterKeyLen:
		return b, nil
	case len(strings.TrimSpace(string(b))) == 2*gatehouse.MasterKeyLen:
		k, err := hex.DecodeString(strings.TrimSpace(string(b)))
		if err == nil {
			return k, nil
		}
	}
	return nil, fmt.Errorf("master key %s: want %d raw bytes or %d hex digits", path, gatehouse.MasterKeyLen, 2*gatehouse.MasterKeyLen)
}

// createMasterKey writes a new key to a temporary file and links it into
// place, so that two processes starting at once agree on one key. created
// is false when another process linked its key first.
func createMasterKey(path string) (created bool, err error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return false, fmt.Errorf("create master key directory: %w", err)
	}
	f, err := os.CreateTemp(dir, ".secret-*.tmp")
	if err != nil {
		return false, fmt.Errorf("create master key: %w", err)
	}
	defer os.Remove(f.Name())
	key := make([]byte, gatehouse.MasterKeyLen)
	rand.Read(key)
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return false, fmt.Errorf("create master key: %w", err)
	}
	if _, err := f.Write(key); err != nil {
		f.Close()
		return false, fmt.Errorf("write master key: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return false, fmt.Errorf("sync master key: %w", err)
	}
	if err := f.Close(); err != nil {
		return false, fmt.Errorf("close master key: %w", err)
	}
	switch err := os.Link(f.Name(), path); {
	case errors.Is(err, fs.ErrExist):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("install master key: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return true, nil
}
