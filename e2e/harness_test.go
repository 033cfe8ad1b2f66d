package e2e_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gatehouse/config"
	"gatehouse/keys"
	"gatehouse/server"
)

// seen is one request as it reached the upstream.
type seen struct {
	Method     string
	RequestURI string // as sent on the wire by the gateway
	Host       string
	Header     http.Header
	Body       string
}

// upstream records every request that reaches it. Paths under /v2/hang
// wait for the client to go away; every other path answers "ok".
type upstream struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []seen
}

func newUpstream(t *testing.T) *upstream {
	t.Helper()
	u := &upstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		u.mu.Lock()
		u.reqs = append(u.reqs, seen{r.Method, r.RequestURI, r.Host, r.Header.Clone(), string(body)})
		u.mu.Unlock()
		w.Header().Set("Content-Type", "text/plain")
		w.Write([]byte("ok"))
	}))
	t.Cleanup(u.Close)
	return u
}

// take returns what reached the upstream since the last take.
func (u *upstream) take() []seen {
	u.mu.Lock()
	defer u.mu.Unlock()
	out := u.reqs
	u.reqs = nil
	return out
}

// logBuffer is a log sink safe for concurrent writes.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// clock is the gateway's injected time; tests move it instead of sleeping.
type clock struct{ offset atomic.Int64 }

func (c *clock) now() time.Time            { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *clock) advance(d time.Duration)   { c.offset.Add(int64(d)) }
func (g *gateway) advance(d time.Duration) { g.clock.advance(d) }
func (g *gateway) now() time.Time          { return g.clock.now() }
func (g *gateway) url(path string) string  { return "http://" + g.addr + path }
func (g *gateway) logs() string            { return g.log.String() }
func (g *gateway) rememberSecret(s string) {
	g.mu.Lock()
	g.secrets = append(g.secrets, s)
	g.mu.Unlock()
}

// gateway is a running gatehouse before a recording upstream.
type gateway struct {
	addr string // the data plane's listener
	// adminAddr is the administrators' listener (Settings UI, sessions).
	adminAddr string
	s         *server.Server
	up        *upstream
	log       *logBuffer
	clock     *clock
	dir       string
	cfg       *config.Config

	mu      sync.Mutex
	secrets []string // every plain key the test saw, for the log scan
}

// The routes every test gateway has. The platform route is the catch-all
// for /api/v2, so that a path that slips out of /api/v2/assets would land
// on a route its key has no scope for.
const (
	adminPassword = "correct horse battery staple"
)

// startGateway runs a gateway on a real listener. change, if not nil, may
// edit the config before it is validated. When the test ends, the
// gateway's whole log is scanned for every plain key the test saw.
func startGateway(t *testing.T, change func(*config.Config)) *gateway {
	t.Helper()
	up := newUpstream(t)
	dir := t.TempDir()
	cfg := config.Default()
	cfg.Storage = "sqlite:" + filepath.Join(dir, "gatehouse.db")
	cfg.SecretKeyFile = filepath.Join(dir, "secret.key")
	cfg.ReadHeaderTimeout = config.Duration(time.Second)
	cfg.ShutdownTimeout = config.Duration(5 * time.Second)
	cfg.Routes = []config.Route{
		{Name: "assets", Path: "/api/v2/assets", Upstream: up.URL + "/v2/assets", Scope: "assets"},
		{Name: "platform", Path: "/api/v2", Upstream: up.URL + "/v2", Scope: "platform"},
		{Name: "hooks", Path: "/apps-public", Upstream: up.URL + "/apps-public", Public: true},
		{Name: "files", Path: "/files", Upstream: up.URL + "/store/", Scope: "files"},
	}
	if change != nil {
		change(cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	g := &gateway{up: up, log: &logBuffer{}, clock: &clock{}, dir: dir, cfg: cfg}
	ctx, cancel := context.WithCancel(context.Background())
	s, err := server.Open(ctx, cfg, server.Options{
		Logger:        slog.New(slog.NewJSONHandler(g.log, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:           g.clock.now,
		AdminPassword: adminPassword,
	})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	adminLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln, adminLn) }()
	g.addr, g.adminAddr, g.s = ln.Addr().String(), adminLn.Addr().String(), s
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve returned %v", err)
		}
		s.Close()
		g.checkLogs(t)
	})
	return g
}

// checkLogs fails the test if any plain key it saw is in the gateway's log,
// whole or as its secret part without the prefix.
func (g *gateway) checkLogs(t *testing.T) {
	t.Helper()
	logs := g.logs()
	g.mu.Lock()
	defer g.mu.Unlock()
	found := false
	for _, s := range g.secrets {
		if strings.Contains(logs, s) || len(s) > 24 && strings.Contains(logs, s[4:24]) {
			t.Errorf("the gateway's log holds the plain key %s…", s[:8])
			found = true
		}
	}
	if len(g.secrets) > 0 && !found {
		t.Logf("log scan: %d bytes of log, %d plain keys, none found", len(logs), len(g.secrets))
	}
}

// key creates a key through the key service and returns its id and plain
// key.
func (g *gateway) key(t *testing.T, name string, scopes ...string) (id, plain string) {
	t.Helper()
	return g.keyUntil(t, name, nil, scopes...)
}

func (g *gateway) keyUntil(t *testing.T, name string, until *time.Time, scopes ...string) (id, plain string) {
	t.Helper()
	k, sec, err := g.s.Keys().Create(context.Background(), keys.CreateRequest{Name: name, Scopes: scopes, ValidUntil: until}, keys.Admin("e2e"))
	if err != nil {
		t.Fatalf("create key %q: %v", name, err)
	}
	g.rememberSecret(sec.Reveal())
	return k.ID, sec.Reveal()
}

// reply is an answer read off a raw connection.
type reply struct {
	Status int // 0 when the connection closed without an answer
	Header http.Header
	Body   string
	Err    error
}

func (r reply) String() string {
	if r.Status == 0 {
		return fmt.Sprintf("no answer (%v)", r.Err)
	}
	return fmt.Sprintf("%d %.160s", r.Status, r.Body)
}

// code is the error code of a JSON error body, or "".
func (r reply) code() string {
	var e struct {
		Error struct{ Code string }
	}
	json.Unmarshal([]byte(r.Body), &e)
	return e.Error.Code
}

// raw sends request bytes as they are to the data plane's listener and
// reads up to n answers off the same connection (pipelined), stopping at
// the first that cannot be read.
func (g *gateway) raw(t *testing.T, request string, n int) []reply {
	t.Helper()
	return rawTo(t, g.addr, request, n)
}

// oneAdmin sends one raw request to the administrators' listener.
func (g *gateway) oneAdmin(t *testing.T, request string) reply {
	t.Helper()
	return rawTo(t, g.adminAddr, request, 1)[0]
}

func rawTo(t *testing.T, addr, request string, n int) []reply {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	go io.WriteString(c, request) // a request too large for the server is refused before it is all written
	br := bufio.NewReader(c)
	var out []reply
	for range n {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			out = append(out, reply{Err: err})
			break
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		out = append(out, reply{resp.StatusCode, resp.Header, string(b), err})
	}
	return out
}

// one sends one raw request and returns its answer.
func (g *gateway) one(t *testing.T, request string) reply {
	t.Helper()
	return g.raw(t, request, 1)[0]
}

// req builds a request with Connection: close; headers are whole lines
// without their CRLF.
func req(method, target string, headers ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: gw.example\r\n", method, target)
	for _, h := range headers {
		b.WriteString(h + "\r\n")
	}
	b.WriteString("Connection: close\r\n\r\n")
	return b.String()
}

// withBody builds a request with a body and its Content-Length.
func withBody(method, target, contentType, body string, headers ...string) string {
	hs := append([]string{"Content-Type: " + contentType, fmt.Sprintf("Content-Length: %d", len(body))}, headers...)
	return req(method, target, hs...) + body
}

func apiKey(k string) string { return "X-API-Key: " + k }

// do sends a request with Go's client (for cases Go does not normalise).
func (g *gateway) do(t *testing.T, method, path, key, contentType, body string) reply {
	t.Helper()
	r, err := http.NewRequest(method, g.url(path), strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		r.Header.Set("X-API-Key", key)
	}
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return reply{resp.StatusCode, resp.Header, string(b), err}
}

// createOverAPI creates a key through the management API and remembers its
// plain key.
func (g *gateway) createOverAPI(t *testing.T, admin, body string) (reply, string) {
	t.Helper()
	r := g.do(t, "POST", "/api/v2/api-keys", admin, "application/json", body)
	var k struct{ ID, Key string }
	if r.Status == http.StatusCreated {
		if err := json.Unmarshal([]byte(r.Body), &k); err != nil || k.Key == "" {
			t.Fatalf("201 without a key: %s", r.Body)
		}
		g.rememberSecret(k.Key)
	}
	return r, k.ID
}

// waitStatus sends request until it gets status, for at most 5s.
func (g *gateway) waitStatus(t *testing.T, request string, status int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := g.one(t, request)
		if got.Status == status {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("still %v after 5s, want %d", got, status)
		}
		time.Sleep(20 * time.Millisecond) // poll interval
	}
}
