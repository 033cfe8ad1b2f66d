package certfile

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gatehouse/gatehousetest"
)

// serial returns the serial number of the certificate a handshake gets
// now, the files looked at whatever the time since the last look.
func serial(t *testing.T, h *Holder) int64 {
	t.Helper()
	h.next.Store(0)
	c, err := h.GetCertificate(nil)
	if err != nil || c == nil || c.Leaf == nil {
		t.Fatalf("GetCertificate = %v, %v", c, err)
	}
	return c.Leaf.SerialNumber.Int64()
}

// TestHolder: a renewed pair is served; a pair broken halfway, or files
// gone, keep the certificate served and are logged once per change.
func TestHolder(t *testing.T) {
	t.Parallel()
	ca := gatehousetest.NewCA(t)
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if _, err := Load(cert, key, nil); err == nil {
		t.Fatal("Load of missing files succeeded")
	}
	ca.MustWritePair(t, cert, key, 1)
	var log gatehousetest.LogBuffer
	h, err := Load(cert, key, slog.New(slog.NewTextHandler(&log, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if got := serial(t, h); got != 1 {
		t.Fatalf("serial %d, want 1", got)
	}

	// The key of a new pair written, not yet its certificate.
	other := t.TempDir()
	ca.MustWritePair(t, filepath.Join(other, "c"), filepath.Join(other, "k"), 2)
	newKey, _ := os.ReadFile(filepath.Join(other, "k"))
	if err := os.WriteFile(key, newKey, 0o600); err != nil {
		t.Fatal(err)
	}
	if got := serial(t, h); got != 1 {
		t.Errorf("with a broken pair: serial %d, want 1", got)
	}
	serial(t, h)
	if n := strings.Count(log.String(), "cannot be used"); n != 1 {
		t.Errorf("%d warnings for one broken pair, want 1:\n%s", n, log.String())
	}
	newCert, _ := os.ReadFile(filepath.Join(other, "c"))
	if err := os.WriteFile(cert, newCert, 0o600); err != nil {
		t.Fatal(err)
	}
	if got := serial(t, h); got != 2 {
		t.Errorf("with the pair complete: serial %d, want 2", got)
	}

	os.Remove(cert)
	if got := serial(t, h); got != 2 {
		t.Errorf("with the files gone: serial %d, want 2", got)
	}
	serial(t, h)
	if n := strings.Count(log.String(), "cannot be read"); n != 1 {
		t.Errorf("%d warnings for files gone, want 1:\n%s", n, log.String())
	}
}

// TestReadLimits: what is not a regular file, or too large, is not read.
func TestReadLimits(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	big := filepath.Join(dir, "big.pem")
	if err := os.WriteFile(big, make([]byte, MaxFileBytes+1), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{dir: "is not a regular file", big: "is larger than"} {
		if _, err := ReadPool(name); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ReadPool(%s) = %v, want an error with %q", name, err, want)
		}
	}
}
