package main_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// startBinary starts srv (a command of the built binary) and returns its
// stderr; the process is killed when the test ends.
func startBinary(t *testing.T, srv *exec.Cmd) io.Reader {
	t.Helper()
	stderr, err := srv.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Process.Kill(); srv.Wait() })
	return stderr
}

// startServer runs `gatehouse serve` on the env's config and returns its
// base URL once it listens.
func (e *env) startServer(t *testing.T) (*exec.Cmd, string) {
	t.Helper()
	srv, base, _ := e.startServerLogs(t)
	return srv, base
}

// startServerLogs is startServer, and also returns the server's log lines
// from its start on (the latest 1000 kept if nobody reads them).
func (e *env) startServerLogs(t *testing.T) (*exec.Cmd, string, <-chan string) {
	t.Helper()
	srv := exec.Command(binary, "serve", "--config", e.config, "--log-format", "json")
	srv.Dir = e.dir
	stderr := startBinary(t, srv)
	urlRE := regexp.MustCompile(`"msg":"gatehouse listening".*"url":"(http://[^"]+)"`)
	found := make(chan string, 1)
	logs := make(chan string, 1000)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := urlRE.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
			}
			select {
			case logs <- sc.Text():
			default:
			}
		}
		close(logs)
	}()
	select {
	case u := <-found:
		return srv, u, logs
	case <-time.After(30 * time.Second):
		t.Fatal("server did not listen within 30s")
	}
	return nil, "", nil
}

// waitLog reads logs until a line holds want, for at most 10s.
func waitLog(t *testing.T, logs <-chan string, want string) string {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case line, ok := <-logs:
			if !ok {
				t.Fatalf("the server exited before logging %q", want)
			}
			if strings.Contains(line, want) {
				return line
			}
		case <-deadline:
			t.Fatalf("no log line with %q within 10s", want)
		}
	}
}

// TestSIGHUPReloads: SIGHUP re-reads the config file: a route added is
// served; a broken file changes nothing and is logged with the problem that
// `gatehouse config check` gives for it.
func TestSIGHUPReloads(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	srv, base, logs := e.startServerLogs(t)
	get := func(path string) int {
		t.Helper()
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := get("/hooks/x"); got != 404 {
		t.Fatalf("GET /hooks/x before the reload = %d, want 404", got)
	}
	cfg, _ := os.ReadFile(e.config)
	added := strings.Replace(string(cfg), "routes:\n", "routes:\n  - name: hooks\n    path: /hooks\n    upstream: "+e.upstream.URL+"/hooks\n    public: true\n", 1)
	if err := os.WriteFile(e.config, []byte(added), 0o600); err != nil {
		t.Fatal(err)
	}
	srv.Process.Signal(syscall.SIGHUP)
	waitLog(t, logs, `"msg":"config reloaded"`)
	if got := get("/hooks/x"); got != 200 {
		t.Fatalf("GET /hooks/x after the reload = %d, want 200", got)
	}

	if err := os.WriteFile(e.config, []byte(added+"rate_limit: lots\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, check, code := e.run(t, "", "config", "check", "--config", e.config)
	problem := strings.TrimSpace(check)
	if code == 0 || !strings.Contains(problem, "rate_limit") {
		t.Fatalf("config check of the broken file = %d %q, want a rate_limit problem", code, check)
	}
	srv.Process.Signal(syscall.SIGHUP)
	line := waitLog(t, logs, "config reload refused")
	if !strings.Contains(line, strings.ReplaceAll(strings.TrimPrefix(problem, "gatehouse: "), `"`, `\"`)) {
		t.Errorf("reload refusal %s does not say what config check says: %s", line, problem)
	}
	if got := get("/hooks/x"); got != 200 {
		t.Errorf("GET /hooks/x after a refused reload = %d, want 200", got)
	}
}

// TestSecondSignalEndsTheDrain: a second SIGINT while a slow request keeps
// the drain waiting (shutdown_timeout 5s) ends the wait at once: the
// process exits 0 well before the timeout, the request cut.
func TestSecondSignalEndsTheDrain(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	release := make(chan struct{})
	defer close(release)
	slow := newSlowUpstream(t, release)
	cfg, _ := os.ReadFile(e.config)
	os.WriteFile(e.config, []byte(strings.Replace(string(cfg), "routes:\n", "routes:\n  - name: slow\n    path: /api/v2/slow\n    upstream: "+slow+"/slow\n    scope: assets\n", 1)), 0o600)
	var k createdKey
	json.Unmarshal([]byte(e.ok(t, "keys", "create", "--config", e.config, "--name", "drain", "--json")), &k)
	srv, base, logs := e.startServerLogs(t)
	go func() {
		req, _ := http.NewRequest("GET", base+"/api/v2/slow", nil)
		req.Header.Set("X-API-Key", k.Key)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}()
	<-slowStarted(slow) // the request is at the upstream
	exited := make(chan error, 1)
	go func() { exited <- srv.Wait() }()
	start := time.Now()
	srv.Process.Signal(os.Interrupt)
	waitLog(t, logs, "draining in-flight requests")
	srv.Process.Signal(os.Interrupt)
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("exit after a second SIGINT: %v, want status 0", err)
		}
		if took := time.Since(start); took > 4*time.Second {
			t.Errorf("exit %v after the first SIGINT, want well within shutdown_timeout (5s)", took)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no exit within 10s of a second SIGINT")
	}
}

// TestKill9DuringCreates kills the server with SIGKILL in the middle of a
// burst of creates: every key answered 201 is there after a restart, reveals
// the same key and authenticates; nothing is half-written.
func TestKill9DuringCreates(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var admin createdKey
	if err := json.Unmarshal([]byte(e.ok(t, "keys", "create", "--config", e.config, "--name", "admin", "--scope", "api-keys:write", "--scope", "assets:read", "--json")), &admin); err != nil {
		t.Fatal(err)
	}
	srv, base := e.startServer(t)

	var mu sync.Mutex
	acked := map[string]string{} // id → plain key
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				body := fmt.Sprintf(`{"name":"burst-%d-%d","scopes":["assets:read"]}`, w, i)
				req, _ := http.NewRequest("POST", base+"/api/v2/api-keys", strings.NewReader(body))
				req.Header.Set("X-API-Key", admin.Key)
				req.Header.Set("Content-Type", "application/json")
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					return // the server is gone
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusCreated {
					var k createdKey
					if json.Unmarshal(b, &k) == nil {
						mu.Lock()
						acked[k.ID] = k.Key
						mu.Unlock()
					}
				}
			}
		})
	}
	// Kill once a good number of creates were acknowledged.
	deadline := time.Now().Add(20 * time.Second)
	for {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= 30 || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond) // poll interval
	}
	srv.Process.Signal(syscall.SIGKILL)
	srv.Wait()
	close(stop)
	wg.Wait()
	if len(acked) == 0 {
		t.Fatal("no create was acknowledged before the kill")
	}

	_, base = e.startServer(t)
	var list []createdKey
	if err := json.Unmarshal([]byte(e.ok(t, "keys", "list", "--json", "--config", e.config)), &list); err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, k := range list {
		listed[k.ID] = true
		if k.Name == "" || len(k.Scopes) == 0 {
			t.Errorf("half-written key after the kill: %+v", k)
		}
	}
	for id, plain := range acked {
		if !listed[id] {
			t.Errorf("key %s was answered 201 before the kill but is gone", id)
			continue
		}
		rreq, _ := http.NewRequest("POST", base+"/api/v2/api-keys/"+id+"/reveal", nil)
		rreq.Header.Set("X-API-Key", admin.Key)
		rresp, err := http.DefaultClient.Do(rreq)
		if err != nil {
			t.Fatal(err)
		}
		var revealed struct{ Key string }
		json.NewDecoder(rresp.Body).Decode(&revealed)
		rresp.Body.Close()
		if revealed.Key != plain {
			t.Errorf("key %s reveals another key after the kill (status %d)", id, rresp.StatusCode)
		}
		req, _ := http.NewRequest("GET", base+"/api/v2/assets", nil)
		req.Header.Set("X-API-Key", plain)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("key %s after the kill: %d, want 200", id, resp.StatusCode)
		}
	}
	t.Logf("%d creates acknowledged before SIGKILL, all present and working after the restart (%d keys listed)", len(acked), len(list))
}

// TestSIGTERMDrains sends SIGTERM while a slow request is in flight: the
// request completes with 200 and the process exits 0.
func TestSIGTERMDrains(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	release := make(chan struct{})
	slow := newSlowUpstream(t, release)
	cfg, _ := os.ReadFile(e.config)
	os.WriteFile(e.config, []byte(strings.Replace(string(cfg), "routes:\n", "routes:\n  - name: slow\n    path: /api/v2/slow\n    upstream: "+slow+"/slow\n    scope: assets\n", 1)), 0o600)
	var k createdKey
	json.Unmarshal([]byte(e.ok(t, "keys", "create", "--config", e.config, "--name", "drain", "--json")), &k)
	srv, base := e.startServer(t)

	result := make(chan int, 1)
	go func() {
		req, _ := http.NewRequest("GET", base+"/api/v2/slow", nil)
		req.Header.Set("X-API-Key", k.Key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			result <- 0
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		result <- resp.StatusCode
	}()
	<-slowStarted(slow) // the request is at the upstream
	srv.Process.Signal(syscall.SIGTERM)
	exited := make(chan error, 1)
	go func() { exited <- srv.Wait() }()
	// New connections are refused at once while the old request drains.
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := http.Get(base + "/healthz"); err != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the server still accepts connections 5s after SIGTERM")
		}
		time.Sleep(10 * time.Millisecond) // poll interval
	}
	close(release)
	if got := <-result; got != 200 {
		t.Errorf("in-flight request across SIGTERM = %d, want 200", got)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("exit after SIGTERM: %v, want status 0", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no exit within 10s of SIGTERM")
	}
}
