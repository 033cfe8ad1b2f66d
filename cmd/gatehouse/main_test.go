package main_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// binary is the gatehouse command built once for all tests.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "gatehouse-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "gatehouse")
	build := exec.Command("go", "build", "-race", "-o", binary, ".")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build gatehouse: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// env is a temporary data directory with a config routing /api/v2/assets to
// a real upstream.
type env struct {
	dir, config string
	upstream    *httptest.Server
}

func newEnv(t *testing.T) *env {
	t.Helper()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"path":%q,"key_id":%q,"api_key":%q}`, r.URL.Path, r.Header.Get("X-Gatehouse-Key-Id"), r.Header.Get("X-API-Key"))
	}))
	t.Cleanup(up.Close)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "gatehouse.yaml")
	body := fmt.Sprintf(`listen: "127.0.0.1:0"
admin_listen: "127.0.0.1:0"
storage: "sqlite:%s/data/gatehouse.db"
secret_key_file: "%s/data/secret.key"
shutdown_timeout: 5s
routes:
  - name: assets
    path: /api/v2/assets
    upstream: %s/v2/assets
    scope: assets
`, dir, dir, up.URL)
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return &env{dir: dir, config: cfg, upstream: up}
}

// run runs the binary and returns stdout, stderr and the exit code.
func (e *env) run(t *testing.T, stdin string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), "GATEHOUSE_LOG_FORMAT=text")
	cmd.Dir = e.dir
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run %v: %v", args, err)
	}
	return out.String(), errb.String(), code
}

// ok runs the binary and fails the test unless it exits 0.
func (e *env) ok(t *testing.T, args ...string) string {
	t.Helper()
	out, errOut, code := e.run(t, "", args...)
	if code != 0 {
		t.Fatalf("gatehouse %s: exit %d, stderr %q", strings.Join(args, " "), code, errOut)
	}
	return out
}

type createdKey struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Key        string     `json:"key"`
	KeyHint    string     `json:"keyHint"`
	ValidUntil *time.Time `json:"validUntil"`
	Scopes     []string   `json:"scopes"`
	Expired    bool       `json:"expired"`
}

func TestKeysLifecycle(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var k createdKey
	out := e.ok(t, "keys", "create", "--config", e.config, "--name", "  Integration A  ", "--valid-until", "2099-01-31T00:00:00Z", "--scope", "assets:read", "--json")
	if err := json.Unmarshal([]byte(out), &k); err != nil {
		t.Fatalf("keys create --json printed %q: %v", out, err)
	}
	if !strings.HasPrefix(k.Key, "gth_") || k.Name != "Integration A" || k.ValidUntil == nil || len(k.Scopes) != 1 || k.Scopes[0] != "assets:read" {
		t.Fatalf("created key = %+v, want gth_ key, trimmed name, validUntil, [assets:read]", k)
	}

	// Flags may stand after the NAME|ID argument.
	var shown createdKey
	if err := json.Unmarshal([]byte(e.ok(t, "keys", "show", "integration a", "--config", e.config, "--json")), &shown); err != nil {
		t.Fatal(err)
	}
	if shown.ID != k.ID || shown.Key != "" {
		t.Errorf("keys show = %+v, want id %s and no plain key", shown, k.ID)
	}

	var list []createdKey
	if err := json.Unmarshal([]byte(e.ok(t, "keys", "list", "--json", "--config", e.config)), &list); err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].ID != k.ID {
		t.Fatalf("keys list = %+v, want the one key", list)
	}
	if got := strings.TrimSpace(e.ok(t, "keys", "reveal", "--config", e.config, k.ID)); got != k.Key {
		t.Errorf("keys reveal = %q, want the created key", got)
	}
	if out := e.ok(t, "keys", "renew", k.ID, "--no-expiry", "--config", e.config); !strings.Contains(out, "never") {
		t.Errorf("keys renew --no-expiry printed %q, want it to say never", out)
	}
	if _, errOut, code := e.run(t, "", "keys", "create", "--config", e.config, "--name", "INTEGRATION A"); code == 0 || !strings.Contains(errOut, "already exists") || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
		t.Errorf("duplicate name: exit %d, stderr %q; want non-zero and one line saying the name already exists", code, errOut)
	}
	e.ok(t, "keys", "delete", "--config", e.config, "Integration A", "--yes")
	if _, errOut, code := e.run(t, "", "keys", "show", "--config", e.config, k.ID); code == 0 || !strings.Contains(errOut, "No key") {
		t.Errorf("show after delete: exit %d, stderr %q; want non-zero and 'No key'", code, errOut)
	}
	if strings.Contains(readAll(t, filepath.Join(e.dir, "data", "gatehouse.db")), k.Key) {
		t.Error("the database file holds the plain key")
	}
}

func TestKeysBadInput(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no name", []string{"keys", "create"}, "--name"},
		{"past date", []string{"keys", "create", "--name", "x", "--valid-until", "2001-01-01T00:00:00Z"}, "past"},
		{"bad date", []string{"keys", "create", "--name", "x", "--valid-until", "tomorrow"}, "valid-until"},
		{"unknown scope", []string{"keys", "create", "--name", "x", "--scope", "billing:read"}, "billing"},
		{"bad rate", []string{"keys", "create", "--name", "x", "--rate", "fast"}, "rate"},
		{"long name", []string{"keys", "create", "--name", strings.Repeat("n", 101)}, "101"},
		{"renew without date", []string{"keys", "renew", "x"}, "--no-expiry"},
		{"unknown command", []string{"keys", "frobnicate"}, "frobnicate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, errOut, code := e.run(t, "", append(tt.args, "--config", e.config)...)
			if code == 0 || !strings.Contains(errOut, tt.want) {
				t.Errorf("gatehouse %v: exit %d, stderr %q; want non-zero and %q", tt.args, code, errOut, tt.want)
			}
		})
	}
	var list []createdKey
	if err := json.Unmarshal([]byte(e.ok(t, "keys", "list", "--json", "--config", e.config)), &list); err != nil || len(list) != 0 {
		t.Errorf("keys after bad input = %v (%v), want none", list, err)
	}
}

func TestConfigCheck(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	if out := e.ok(t, "config", "check", "--config", e.config); !strings.Contains(out, "OK") {
		t.Errorf("config check printed %q, want OK", out)
	}
	bad := filepath.Join(e.dir, "bad.yaml")
	os.WriteFile(bad, []byte("routes:\n  - name: a\n    path: /a\n    upstream: ftp://x\n    scope: a\n"), 0o600)
	if _, errOut, code := e.run(t, "", "config", "check", "--config", bad); code == 0 || !strings.Contains(errOut, "routes[0].upstream") {
		t.Errorf("config check of a bad config: exit %d, stderr %q; want non-zero naming routes[0].upstream", code, errOut)
	}
}

// TestCLIChangeSeenByRunningServer runs `gatehouse serve` and changes keys
// with the CLI beside it: the server must see each change within a second.
func TestCLIChangeSeenByRunningServer(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	srv, base, logs := e.startServerLogs(t)
	var seen []string
	get := func(key string) int {
		req, _ := http.NewRequest("GET", base+"/api/v2/assets/158", nil)
		req.Header.Set("X-API-Key", key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	waitFor := func(key string, want int) time.Duration {
		t.Helper()
		start := time.Now()
		for time.Since(start) < time.Second {
			if get(key) == want {
				return time.Since(start)
			}
			time.Sleep(10 * time.Millisecond) // polling interval, not a wait for an event
		}
		t.Fatalf("GET with key: status %d after 1s, want %d", get(key), want)
		return 0
	}

	var k createdKey
	if err := json.Unmarshal([]byte(e.ok(t, "keys", "create", "--config", e.config, "--name", "live", "--json")), &k); err != nil {
		t.Fatal(err)
	}
	t.Logf("created key usable after %v", waitFor(k.Key, http.StatusOK))
	e.ok(t, "keys", "delete", "--config", e.config, "live", "--yes")
	t.Logf("deleted key refused after %v", waitFor(k.Key, http.StatusUnauthorized))

	if err := srv.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("server exit after SIGTERM: %v, want status 0", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("server did not exit within 10s of SIGTERM")
	}
	for line := range logs {
		seen = append(seen, line)
	}
	if all := strings.Join(seen, "\n"); strings.Contains(all, k.Key) {
		t.Error("the server log holds a plain key")
	}
}

func readAll(t *testing.T, path string) string {
	t.Helper()
	var b strings.Builder
	for _, p := range []string{path, path + "-wal"} {
		data, err := os.ReadFile(p)
		if err == nil {
			b.Write(data)
		}
	}
	return b.String()
}

// slowUpstreams maps a slow upstream's URL to a channel closed when its
// first request arrives.
var slowUpstreams sync.Map

// newSlowUpstream answers only when release is closed.
func newSlowUpstream(t *testing.T, release chan struct{}) string {
	started := make(chan struct{})
	var once sync.Once
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		once.Do(func() { close(started) })
		<-release
		w.Write([]byte("done"))
	}))
	t.Cleanup(func() { up.CloseClientConnections(); up.Close() })
	slowUpstreams.Store(up.URL, started)
	return up.URL
}

func slowStarted(url string) chan struct{} {
	c, _ := slowUpstreams.Load(url)
	return c.(chan struct{})
}

func TestAdminUsers(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	if out := e.ok(t, "admin", "list-users", "--config", e.config); !strings.Contains(out, "No admin users") {
		t.Errorf("list-users on an empty store printed %q, want it to say there are none", out)
	}
	if _, errOut, code := e.run(t, "short\n", "admin", "create-user", "--config", e.config, "--username", "ops", "--password-stdin"); code == 0 || !strings.Contains(errOut, "at least 12") {
		t.Errorf("short password: exit %d, stderr %q; want non-zero and the length rule", code, errOut)
	}
	for _, name := range []string{"ops", "auditor"} {
		if out, errOut, code := e.run(t, "a long enough password\n", "admin", "create-user", "--config", e.config, "--username", name, "--password-stdin"); code != 0 || !strings.Contains(out, "can now log in") {
			t.Fatalf("create-user %s: exit %d, stdout %q, stderr %q", name, code, out, errOut)
		}
	}
	var users []struct {
		Username  string    `json:"username"`
		CreatedAt time.Time `json:"createdAt"`
	}
	out := e.ok(t, "admin", "list-users", "--json", "--config", e.config)
	if err := json.Unmarshal([]byte(out), &users); err != nil {
		t.Fatalf("list-users --json printed %q: %v", out, err)
	}
	if len(users) != 2 || users[0].Username != "auditor" || users[1].Username != "ops" || users[0].CreatedAt.IsZero() {
		t.Errorf("list-users --json = %+v, want auditor and ops with their creation times", users)
	}
	if strings.Contains(out, "argon2") || strings.Contains(e.ok(t, "admin", "list-users", "--config", e.config), "argon2") {
		t.Error("list-users printed a password hash")
	}
	if out := e.ok(t, "admin", "delete-user", "--config", e.config, "--username", "ops"); !strings.Contains(out, "Deleted admin user") || strings.Contains(out, "No admin user is left") {
		t.Errorf("delete-user ops printed %q", out)
	}
	if _, errOut, code := e.run(t, "", "admin", "delete-user", "--config", e.config, "--username", "ops"); code != 1 || !strings.Contains(errOut, "No user") {
		t.Errorf("delete-user of a deleted user: exit %d, stderr %q; want 1 and 'No user'", code, errOut)
	}
	if out := e.ok(t, "admin", "delete-user", "--config", e.config, "--username", "auditor"); !strings.Contains(out, "No admin user is left") {
		t.Errorf("deleting the last admin printed %q, want a warning", out)
	}
	if _, _, code := e.run(t, "", "admin", "delete-user", "--config", e.config); code != 2 {
		t.Errorf("delete-user without --username: exit %d, want 2", code)
	}
}
