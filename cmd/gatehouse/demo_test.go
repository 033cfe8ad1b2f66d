package main_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"gatehouse/gatehousetest"
)

// banner is what `gatehouse serve --demo` prints for a newcomer.
type banner struct {
	dataURL, adminURL string
	// commands are the shell commands it gives, as printed.
	commands []string
	// export is the value of its "export GATEHOUSE_CONFIG=" line.
	export string
}

// startDemo runs `gatehouse serve --demo` in dir, on free ports, with the
// GATEHOUSE_* variables of env only, and returns its banner.
func startDemo(t *testing.T, dir string, env ...string) (*exec.Cmd, banner) {
	t.Helper()
	srv := exec.Command(binary, "serve", "--demo")
	srv.Dir = dir
	srv.Env = append(cleanEnv(), append([]string{"GATEHOUSE_LISTEN=127.0.0.1:0", "GATEHOUSE_ADMIN_LISTEN=127.0.0.1:0", "GATEHOUSE_LOG_FORMAT=text"}, env...)...)
	stderr := startBinary(t, srv)
	done := make(chan banner, 1)
	var seen []string
	go func() {
		var b banner
		in := false
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			seen = append(seen, line)
			switch {
			case strings.HasPrefix(line, "Gatehouse is running"):
				in = true
			case !in:
			case strings.HasPrefix(line, "Data plane:"):
				b.dataURL = strings.Fields(line)[2]
			case strings.HasPrefix(line, "Settings UI:"):
				b.adminURL = strings.TrimSuffix(strings.Fields(line)[2], "/settings/api-keys")
			case strings.HasPrefix(line, "gatehouse "), strings.HasPrefix(line, "curl "):
				b.commands = append(b.commands, line)
			case strings.HasPrefix(line, "export GATEHOUSE_CONFIG="):
				b.export = unquote(t, strings.TrimPrefix(line, "export GATEHOUSE_CONFIG="))
				done <- b
				io.Copy(io.Discard, stderr)
				return
			}
		}
		close(done)
	}()
	select {
	case b, ok := <-done:
		if !ok {
			t.Fatalf("serve --demo ended without a banner:\n%s", strings.Join(seen, "\n"))
		}
		return srv, b
	case <-time.After(30 * time.Second):
		t.Fatal("serve --demo printed no banner within 30s")
	}
	return nil, banner{}
}

// TestDemoBannerWorksAsWritten follows what `gatehouse serve --demo`
// prints, word for word, from another directory and without its
// environment: the key it creates, with the demo's scopes, works on the
// demo's routes; the Settings UI's administrator can be created; and after
// a restart in a shell that exported GATEHOUSE_CONFIG as it suggests, the
// old key still works and the banner's commands work again.
func TestDemoBannerWorksAsWritten(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	elsewhere := t.TempDir() // the operator's second terminal
	srv, b := startDemo(t, dir)
	if b.dataURL == "" || b.adminURL == "" || b.export == "" {
		t.Fatalf("banner = %+v, want the data plane and Settings UI URLs and the config", b)
	}
	if fi, err := os.Stat(b.export); err != nil || fi.Mode().Perm() != 0o600 || !filepath.IsAbs(b.export) {
		t.Fatalf("the banner's config %s: %v, %v; want an absolute path to a 0600 file", b.export, fi, err)
	}
	key := followBanner(t, b, elsewhere, "demo")

	// The config exported once, as the banner suggests, serves the plain commands.
	if out := runIn(t, elsewhere, "", []string{"GATEHOUSE_CONFIG=" + b.export}, binary, "keys", "list"); !strings.Contains(out, "demo") {
		t.Errorf("keys list with GATEHOUSE_CONFIG from the banner = %q, want the demo key", out)
	}

	// Restart in a shell that exported GATEHOUSE_CONFIG: the demo's routes
	// move to the new demo's port, and the banner's commands work again.
	srv.Process.Signal(syscall.SIGTERM)
	srv.Wait()
	_, b2 := startDemo(t, dir, "GATEHOUSE_CONFIG="+b.export)
	if b2.export != b.export {
		t.Errorf("after a restart the config is %s, want %s again", b2.export, b.export)
	}
	for _, path := range []string{"/api/v2/assets", "/api/v2/data"} {
		if code := getUntil(t, b2.dataURL+path, key, http.StatusOK); code != http.StatusOK {
			t.Errorf("the first key on %s after a restart: %d, want 200", path, code)
		}
	}
	followBanner(t, b2, elsewhere, "demo-2")
}

// followBanner runs the banner's commands as printed, the key created by the
// first in place of "<the key>", and returns that key.
func followBanner(t *testing.T, b banner, dir, wantName string) string {
	t.Helper()
	var key string
	created, called, refused, admin := false, 0, false, false
	for _, line := range b.commands {
		words := shellWords(t, line)
		switch words[0] {
		case "gatehouse":
			words[0] = binary
			stdin := ""
			switch {
			case strings.Contains(line, " keys create "):
				if !strings.Contains(line, "--name "+wantName+" ") || !strings.Contains(line, "--scope data:read") {
					t.Errorf("the banner creates %q, want a key named %s with the scope data:read", line, wantName)
				}
				cmd := exec.Command(words[0], words[1:]...)
				cmd.Dir, cmd.Env = dir, cleanEnv()
				var out, errOut bytes.Buffer
				cmd.Stdout, cmd.Stderr = &out, &errOut
				if err := cmd.Run(); err != nil {
					t.Fatalf("%s: %v, stderr %q", line, err, errOut.String())
				}
				key = strings.TrimSpace(out.String())
				if !strings.HasPrefix(key, "gth_") || strings.Contains(key, "\n") {
					t.Fatalf("%s printed %q, want the key alone", line, key)
				}
				// The hint it prints works as written too.
				hint := errOut.String()
				i, j := strings.Index(hint, "`gatehouse keys reveal"), strings.LastIndex(hint, "`")
				if i < 0 || j <= i {
					t.Fatalf("keys create printed no reveal hint: %q", hint)
				}
				reveal := shellWords(t, hint[i+1:j])
				if got := strings.TrimSpace(runIn(t, dir, "", nil, binary, reveal[1:]...)); got != key {
					t.Errorf("%s = %q, want the key created", hint[i+1:j], got)
				}
				created = true
				continue
			case strings.Contains(line, " admin create-user "):
				stdin = "a long enough password\n"
				admin = true
			}
			runIn(t, dir, stdin, nil, words[0], words[1:]...)
		case "curl":
			if !created {
				t.Fatalf("the banner calls the API before it creates a key: %q", line)
			}
			var header []string
			for i := 1; i < len(words)-1; i++ {
				if words[i] == "-H" {
					header = append(header, words[i+1])
					i++
				}
			}
			url := words[len(words)-1]
			switch {
			case len(header) == 1 && header[0] == "X-API-Key: <the key>":
				if code := getUntil(t, url, key, http.StatusOK); code != http.StatusOK {
					t.Errorf("%s: %d, want 200 within a second", line, code)
				}
				called++
			case len(header) == 0:
				code, body := get(t, url, "")
				if code != http.StatusUnauthorized || !strings.Contains(body, `"missing_key"`) {
					t.Errorf("%s: %d %s, want 401 missing_key", line, code, body)
				}
				refused = true
			default:
				t.Errorf("unexpected curl in the banner: %q", line)
			}
		}
	}
	if !created || called < 2 || !refused || !admin {
		t.Errorf("banner %q: created %v, called %d routes with the key, refused without %v, admin %v; want all of them", b.commands, created, called, refused, admin)
	}
	if code, _ := get(t, b.adminURL+"/login", ""); code != http.StatusOK {
		t.Errorf("the Settings UI's login page: %d, want 200", code)
	}
	return key
}

// getUntil GETs url with the key until it answers want, for a second at
// most (the server sees a key the CLI created within one), and checks that
// a 200 comes from the demo API.
func getUntil(t *testing.T, url, key string, want int) int {
	t.Helper()
	deadline := time.Now().Add(time.Second)
	for {
		code, body := get(t, url, key)
		if code == http.StatusOK && !strings.Contains(body, `"158"`) && !strings.Contains(body, `"assetId":"158"`) {
			t.Errorf("GET %s: 200 with %q, want the demo's assets or readings", url, body)
		}
		if code == want || time.Now().After(deadline) {
			return code
		}
		time.Sleep(10 * time.Millisecond) // polling interval, not a wait for an event
	}
}

func get(t *testing.T, url, key string) (int, string) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("X-API-Key", key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return resp.StatusCode, string(body)
}

// runIn runs a command in dir with no GATEHOUSE_* variables but env, and
// returns its stdout; it fails the test unless the command succeeds.
func runIn(t *testing.T, dir, stdin string, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir, cmd.Env, cmd.Stdin = dir, append(cleanEnv(), env...), strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v, stderr %q", name, strings.Join(args, " "), err, errOut.String())
	}
	return out.String()
}

// cleanEnv is the test's environment without GATEHOUSE_* variables.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GATEHOUSE_") {
			env = append(env, kv)
		}
	}
	return env
}

// shellWords splits a command line as a POSIX shell would, for the quoting
// the banner uses: words, '...' and "..." without expansions.
func shellWords(t *testing.T, line string) []string {
	t.Helper()
	var words []string
	var w strings.Builder
	inWord := false
	for i := 0; i < len(line); i++ {
		switch ch := line[i]; ch {
		case ' ', '\t':
			if inWord {
				words = append(words, w.String())
				w.Reset()
				inWord = false
			}
		case '\'', '"':
			j := strings.IndexByte(line[i+1:], ch)
			if j < 0 {
				t.Fatalf("unbalanced %c in %q", ch, line)
			}
			if ch == '"' && strings.ContainsAny(line[i+1:i+1+j], "$`\\") {
				t.Fatalf("expansion in %q: the test cannot run it", line)
			}
			w.WriteString(line[i+1 : i+1+j])
			i += j + 1
			inWord = true
		case '$', '`', '\\', '|', '&', ';', '<', '>', '(', ')':
			t.Fatalf("shell syntax %c in %q: the test cannot run it", ch, line)
		default:
			w.WriteByte(ch)
			inWord = true
		}
	}
	if inWord {
		words = append(words, w.String())
	}
	return words
}

func unquote(t *testing.T, s string) string {
	t.Helper()
	w := shellWords(t, s)
	if len(w) != 1 {
		t.Fatalf("%q is not one word", s)
	}
	return w[0]
}

// TestJSONLogsOnly: with --log-format json every line on stderr is JSON:
// the demo's banner is a record naming its commands, and a failure at
// start is a record too, not the plain one-line message.
func TestJSONLogsOnly(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	srv := exec.Command(binary, "serve", "--demo", "--log-format", "json")
	srv.Dir = dir
	srv.Env = append(cleanEnv(), "GATEHOUSE_LISTEN=127.0.0.1:0", "GATEHOUSE_ADMIN_LISTEN=127.0.0.1:0")
	stderr := startBinary(t, srv)
	banner := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if !json.Valid(sc.Bytes()) {
				t.Errorf("a stderr line in JSON mode is not JSON: %q", sc.Text())
			}
			if strings.Contains(sc.Text(), `"create_key"`) {
				banner <- sc.Text()
			}
		}
		close(banner)
	}()
	select {
	case line, ok := <-banner:
		var rec struct{ CreateKey, CallAPI string }
		if err := json.Unmarshal([]byte(strings.NewReplacer(`"create_key"`, `"CreateKey"`, `"call_api"`, `"CallAPI"`).Replace(line)), &rec); !ok || err != nil ||
			!strings.Contains(rec.CreateKey, "keys create --config") || !strings.Contains(rec.CallAPI, "/api/v2/assets") {
			t.Errorf("the demo's banner record = %q, want its commands", line)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no banner record within 30s")
	}

	// A failure at start: the data plane's port is taken.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cmd := exec.Command(binary, "serve", "--log-format", "json")
	cmd.Dir = t.TempDir()
	cmd.Env = append(cleanEnv(), "GATEHOUSE_LISTEN="+ln.Addr().String(), "GATEHOUSE_ADMIN_LISTEN=127.0.0.1:0")
	var errOut bytes.Buffer
	cmd.Stderr = &errOut
	if err := cmd.Run(); err == nil {
		t.Fatal("serve on a taken port exited 0")
	}
	lines := strings.Split(strings.TrimSpace(errOut.String()), "\n")
	for _, l := range lines {
		if !json.Valid([]byte(l)) {
			t.Errorf("a stderr line of a failed start in JSON mode is not JSON: %q", l)
		}
	}
	if last := lines[len(lines)-1]; !strings.Contains(last, `"level":"ERROR"`) || !strings.Contains(last, "listen on") {
		t.Errorf("the failed start's last line = %q, want an ERROR record saying why", last)
	}

	// A config that does not load.
	cmd = exec.Command(binary, "serve", "--log-format", "json")
	cmd.Dir = t.TempDir()
	cmd.Env = append(cleanEnv(), "GATEHOUSE_LISTEN=nope")
	errOut.Reset()
	cmd.Stderr = &errOut
	if err := cmd.Run(); err == nil {
		t.Fatal("serve with a bad listen exited 0")
	}
	if l := strings.TrimSpace(errOut.String()); !json.Valid([]byte(l)) || !strings.Contains(l, "listen") {
		t.Errorf("a config error in JSON mode = %q, want one JSON record naming the key", l)
	}
}

// TestLogLevel: log_level warn leaves out the info records (the start
// line and the access log's lines among them) and keeps the warnings.
func TestLogLevel(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	// Ports chosen here, since the start line that names them is info.
	addr := func() string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		return ln.Addr().String()
	}
	data := addr()
	srv := exec.Command(binary, "serve", "--config", e.config, "--log-format", "json")
	srv.Dir = e.dir
	srv.Env = append(cleanEnv(), "GATEHOUSE_LOG_LEVEL=warn", "GATEHOUSE_LISTEN="+data, "GATEHOUSE_ADMIN_LISTEN="+addr())
	var errOut gatehousetest.LogBuffer
	srv.Stderr = &errOut
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Process.Kill(); srv.Wait() })
	for deadline := time.Now().Add(30 * time.Second); ; {
		resp, err := http.Get("http://" + data + "/healthz")
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the server did not answer within 30s: %v", err)
		}
		time.Sleep(20 * time.Millisecond) // poll interval
	}
	// A reload with a key that needs a restart: a warning.
	cfg, _ := os.ReadFile(e.config)
	if err := os.WriteFile(e.config, bytes.Replace(cfg, []byte("shutdown_timeout: 5s"), []byte("shutdown_timeout: 9s"), 1), 0o600); err != nil {
		t.Fatal(err)
	}
	srv.Process.Signal(syscall.SIGHUP)
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(errOut.String(), "take effect only after a restart"); {
		if time.Now().After(deadline) {
			t.Fatalf("no warning for a reload within 10s: %q", errOut.String())
		}
		time.Sleep(20 * time.Millisecond) // poll interval
	}
	srv.Process.Signal(syscall.SIGTERM)
	srv.Wait()
	logs := strings.TrimSpace(errOut.String())
	if !strings.Contains(logs, `"level":"WARN","msg":"config reload: these keys changed`) {
		t.Errorf("log_level warn: no reload warning in %q", logs)
	}
	if strings.Contains(logs, `"level":"INFO"`) {
		t.Errorf("log_level warn: info records in %q", logs)
	}
}
