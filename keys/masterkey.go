package keys

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"gatehouse"
)

// LoadMasterKey reads the 32-byte master key at path, creating it (mode
// 0600, missing directories 0700) with bytes from crypto/rand when it does
// not exist. The file holds the raw 32 bytes, or 64 hex digits. A key file
// that group or others may read is refused.
func LoadMasterKey(path string) ([]byte, error) {
	key, err := readMasterKey(path)
	if errors.Is(err, fs.ErrNotExist) {
		if err := createMasterKey(path); err != nil {
			return nil, err
		}
		key, err = readMasterKey(path)
	}
	return key, err
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
// place, so that two processes starting at once agree on one key.
func createMasterKey(path string) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create master key directory: %w", err)
	}
	f, err := os.CreateTemp(dir, ".secret-*.tmp")
	if err != nil {
		return fmt.Errorf("create master key: %w", err)
	}
	defer os.Remove(f.Name())
	key := make([]byte, gatehouse.MasterKeyLen)
	rand.Read(key)
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return fmt.Errorf("create master key: %w", err)
	}
	if _, err := f.Write(key); err != nil {
		f.Close()
		return fmt.Errorf("write master key: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync master key: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close master key: %w", err)
	}
	if err := os.Link(f.Name(), path); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("install master key: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
