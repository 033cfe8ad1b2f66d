package e2e_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"gatehouse/config"
)

// TestDiskFull runs the gateway on a small tmpfs and fills it: writes fail
// with a clear 503, reads and the data plane keep working. It needs root to
// mount; without it, it skips.
func TestDiskFull(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	mnt := filepath.Join(dir, "small")
	os.Mkdir(mnt, 0o700)
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a small tmpfs to fill (needs root): %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", mnt).Run() })
	g := startGateway(t, func(c *config.Config) { c.Storage = "sqlite:" + filepath.Join(mnt, "g.db") })
	_, admin := g.key(t, "admin", "api-keys:write", "*:write")
	_, data := g.key(t, "data", "assets:read")

	// Fill the disk to the last byte.
	f, err := os.Create(filepath.Join(mnt, "filler"))
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 64<<10)
	for {
		if _, err := f.Write(chunk); err != nil {
			break
		}
	}
	for {
		if _, err := f.Write(chunk[:512]); err != nil {
			break
		}
	}
	f.Close()

	created := 0
	var last reply
	// The WAL may still have room for a few pages: write until it is full.
	for i := range 200 {
		r, _ := g.createOverAPI(t, admin, `{"name":"`+strings.Repeat("n", 90)+string(rune('a'+i%26))+string(rune('a'+i/26))+`"}`)
		last = r
		if r.Status != 201 {
			break
		}
		created++
	}
	if last.Status != 503 || last.code() != "store_unavailable" {
		t.Fatalf("create on a full disk = %d %s, want 503 store_unavailable", last.Status, last.Body)
	}
	t.Logf("full disk: %d creates fit, then %d %s", created, last.Status, last.Body)
	if r := do(t, "GET", g.URL+"/api/v2/assets/1", data, "", ""); r.Status != 200 {
		t.Errorf("data plane on a full disk = %d %s, want 200", r.Status, r.Body)
	}
	if r := do(t, "GET", g.URL+"/api/v2/api-keys", admin, "", ""); r.Status != 200 {
		t.Errorf("list on a full disk = %d, want 200", r.Status)
	}
}
