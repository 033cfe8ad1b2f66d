package deploy

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestSystemdUnit: systemd-analyze verify accepts gatehouse.service
// without a warning (an unknown or misspelt directive is only a warning to
// systemd), and the unit keeps its hardening.
func TestSystemdUnit(t *testing.T) {
	t.Parallel()
	unit, err := os.ReadFile("gatehouse.service")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"User=gatehouse", "ExecStart=/usr/local/bin/gatehouse serve ", "StateDirectory=gatehouse",
		"NoNewPrivileges=yes", "ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes",
		"CapabilityBoundingSet=CAP_NET_BIND_SERVICE", "SystemCallFilter=@system-service",
		"RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6", "ExecReload=/bin/kill -HUP $MAINPID",
	} {
		if !bytes.Contains(unit, []byte("\n"+want)) {
			t.Errorf("gatehouse.service has no line %q", want)
		}
	}
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed (Debian: apt-get install systemd); .ci/run installs it")
	}
	// verify checks that ExecStart names an executable: the test's own
	// binary stands in for /usr/local/bin/gatehouse.
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "gatehouse.service")
	if err := os.WriteFile(path, bytes.ReplaceAll(unit, []byte("/usr/local/bin/gatehouse"), []byte(self)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", "--man=no", path).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "" {
		t.Errorf("systemd-analyze verify gatehouse.service: %v\n%s", err, out)
	}
}
