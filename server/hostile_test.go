package server_test

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
	"strings"
	"sync"
	"testing"
	"time"

	"gatehouse/config"
	"gatehouse/keys"
	"gatehouse/server"
)

// recording is an upstream that records every request that reaches it.
type recording struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []seenRequest
}

type seenRequest struct {
	URI    string
	Header http.Header
}

func (r *recording) take() []seenRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.reqs
	r.reqs = nil
	return out
}

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// hostileGateway serves a gateway on a real listener (so the server's own
// limits and timeouts apply) before a recording upstream, logging to logs.
func hostileGateway(t *testing.T) (addr string, up *recording, s *server.Server, logs *syncBuffer) {
	t.Helper()
	up = &recording{}
	up.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		up.mu.Lock()
		up.reqs = append(up.reqs, seenRequest{r.RequestURI, r.Header.Clone()})
		up.mu.Unlock()
		w.Write([]byte("ok"))
	}))
	t.Cleanup(up.Close)
	dir := t.TempDir()
	cfg := config.Default()
	cfg.Storage = "sqlite:" + dir + "/g.db"
	cfg.SecretKeyFile = dir + "/secret.key"
	cfg.ReadHeaderTimeout = config.Duration(time.Second)
	cfg.Routes = []config.Route{
		{Name: "assets", Path: "/api/v2/assets", Upstream: up.URL + "/v2/assets", Scope: "assets"},
		{Name: "hooks", Path: "/apps-public", Upstream: up.URL + "/apps-public", Public: true},
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	logs = &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	s, err := server.Open(ctx, cfg, server.Options{Logger: slog.New(slog.NewJSONHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	t.Cleanup(func() { cancel(); <-done; s.Close() })
	return ln.Addr().String(), up, s, logs
}

// rawRequest sends bytes as they are and returns the status of the first
// answer (0 when the connection closed without one).
func rawRequest(t *testing.T, addr, request string) (int, string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, request)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestHostileRequests(t *testing.T) {
	t.Parallel()
	addr, up, s, logs := hostileGateway(t)
	ctx := context.Background()
	_, sec, err := s.Keys().Create(ctx, keys.CreateRequest{Name: "reader", Scopes: []string{"assets:read"}}, "test")
	if err != nil {
		t.Fatal(err)
	}
	key := sec.Reveal()
	get := func(target string, headers ...string) string {
		return "GET " + target + " HTTP/1.1\r\nHost: gw.example\r\n" + strings.Join(headers, "") + "Connection: close\r\n\r\n"
	}
	k := "X-API-Key: " + key + "\r\n"
	tests := []struct {
		name, request string
		status        int
		// upstream is the request URI the upstream must receive; "" means
		// nothing may reach it.
		upstream string
	}{
		{"dot-dot", get("/api/v2/assets/../admin", k), 400, ""},
		{"encoded dot-dot", get("/api/v2/assets/%2e%2e/admin", k), 400, ""},
		{"encoded dot upper", get("/api/v2/assets/%2E%2E/admin", k), 400, ""},
		{"double slash", get("/api/v2//assets", k), 400, ""},
		{"encoded slash", get("/api/v2/assets%2fx", k), 400, ""},
		{"encoded backslash", get("/api/v2/assets%5cx", k), 400, ""},
		{"path parameter", get("/api/v2/assets;jsessionid=x", k), 400, ""},
		{"trailing dot", get("/api/v2/assets/.", k), 400, ""},
		{"trailing slash", get("/api/v2/assets/", k), 200, "/v2/assets/"},
		{"mixed case", get("/API/v2/assets", k), 404, ""},
		{"absolute-form target", get("http://evil.example/api/v2/assets/1", k), 200, "/v2/assets/1"},
		{"host of another site", "GET /api/v2/assets/2 HTTP/1.1\r\nHost: bank.example\r\n" + k + "Connection: close\r\n\r\n", 200, "/v2/assets/2"},
		{"two keys", get("/api/v2/assets", k, k), 401, ""},
		{"connection lists the key", get("/api/v2/assets/3", k, "Connection: X-API-Key\r\n"), 200, "/v2/assets/3"},
		{"connection lists identity", get("/api/v2/assets/4", k, "Connection: X-Gatehouse-Key-Id, X-Gatehouse-Key-Name\r\n"), 200, "/v2/assets/4"},
		{"spoofed forwarding", get("/api/v2/assets/5", k, "X-Forwarded-For: 10.0.0.1\r\nX-Forwarded-Host: admin.internal\r\nX-Forwarded-Proto: https\r\n"), 200, "/v2/assets/5"},
		{"h2c upgrade", get("/api/v2/assets/6", k, "Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n"), 200, "/v2/assets/6"},
		{"empty key", get("/api/v2/assets", "X-API-Key: \r\n"), 401, ""},
		{"10 KB key", get("/api/v2/assets", "X-API-Key: gth_"+strings.Repeat("A", 10<<10)+"\r\n"), 401, ""},
		{"non-ASCII key", get("/api/v2/assets", "X-API-Key: gth_ключ\r\n"), 401, ""},
		{"key in the query", get("/api/v2/assets?api_key=" + key + "&X-API-Key=" + key), 401, ""},
		{"oversized headers", get("/api/v2/assets", k, "X-Junk: "+strings.Repeat("j", 70<<10)+"\r\n"), 431, ""},
		{"two Content-Lengths", "POST /apps-public/y HTTP/1.1\r\nHost: gw\r\nContent-Length: 3\r\nContent-Length: 30\r\n\r\nabc", 400, ""},
	}
	for _, tt := range tests {
		status, body := rawRequest(t, addr, tt.request)
		got := up.take()
		if tt.status >= 0 && status != tt.status {
			t.Errorf("%s: status %d %.100s, want %d", tt.name, status, body, tt.status)
		}
		if tt.upstream == "" {
			if len(got) != 0 {
				t.Errorf("%s: upstream received %v, want nothing", tt.name, got[0].URI)
			}
			continue
		}
		if len(got) != 1 || got[0].URI != tt.upstream {
			var uris []string
			for _, g := range got {
				uris = append(uris, g.URI)
			}
			t.Errorf("%s: upstream received %v, want exactly %s", tt.name, uris, tt.upstream)
			continue
		}
		h := got[0].Header
		if h.Get("X-API-Key") != "" || h.Get("Upgrade") != "" || h.Get("X-Forwarded-For") != "127.0.0.1" || h.Get("X-Forwarded-Host") == "admin.internal" {
			t.Errorf("%s: upstream headers %v: want no key, no upgrade, X-Forwarded-* set by the gateway", tt.name, h)
		}
		if !strings.HasPrefix(tt.upstream, "/apps-public") && h.Get("X-Gatehouse-Key-Id") == "" {
			t.Errorf("%s: upstream got no X-Gatehouse-Key-Id", tt.name)
		}
	}

	// Content-Length with Transfer-Encoding: the gateway frames the body by
	// Transfer-Encoding (RFC 9112) and re-frames what it forwards, so the
	// bytes after the chunked body are a request of their own that meets
	// every check: a keyless request to a keyed route is refused, never
	// smuggled through to the upstream.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, "POST /apps-public/x HTTP/1.1\r\nHost: gw\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"+
		"GET /api/v2/assets/smuggled HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n")
	br := bufio.NewReader(c)
	var statuses []int
	for range 2 {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			break
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		statuses = append(statuses, resp.StatusCode)
	}
	if got := up.take(); len(got) > 1 || (len(got) == 1 && got[0].URI != "/apps-public/x") || len(statuses) == 2 && statuses[1] != 401 {
		t.Errorf("CL and TE: answers %v, upstream received %v; want at most the public POST through and the keyless GET refused", statuses, got)
	}

	if strings.Contains(logs.String(), key) || strings.Contains(logs.String(), key[4:20]) {
		t.Error("the gateway's log holds the key")
	}
}

func TestSlowClientCutOff(t *testing.T) {
	t.Parallel()
	addr, up, _, _ := hostileGateway(t)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET /apps-public/x HTTP/1.1\r\nHost: gw\r\n") // and never the end of the headers
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	start := time.Now()
	_, err = io.ReadAll(c)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("connection still open after 5s, want it cut after read_header_timeout (1s)")
	}
	t.Logf("slow client cut off after %v", time.Since(start).Round(10*time.Millisecond))
	if got := up.take(); len(got) != 0 {
		t.Errorf("upstream received %v from a client that never finished its headers", got)
	}
}

func TestManagementAPIAbuse(t *testing.T) {
	t.Parallel()
	addr, _, s, logs := hostileGateway(t)
	ctx := context.Background()
	_, adminSecret, err := s.Keys().Create(ctx, keys.CreateRequest{Name: "admin", Scopes: []string{"api-keys:write"}}, "test")
	if err != nil {
		t.Fatal(err)
	}
	admin := adminSecret.Reveal()
	post := func(body, contentType string) (int, string) {
		return rawRequest(t, addr, fmt.Sprintf("POST /api/v2/api-keys HTTP/1.1\r\nHost: gw\r\nX-API-Key: %s\r\nContent-Type: %s\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", admin, contentType, len(body), body))
	}
	var plain []string
	for _, tt := range []struct {
		name, body, contentType string
		status                  int
	}{
		{"SQL metacharacters", `{"name":"x'); DROP TABLE api_keys;--"}`, "application/json", 201},
		{"unicode", `{"name":"Fühler 🌡️ 温度"}`, "application/json", 201},
		{"100 characters", `{"name":"` + strings.Repeat("ü", 100) + `"}`, "application/json", 201},
		{"101 characters", `{"name":"` + strings.Repeat("ü", 101) + `"}`, "application/json", 400},
		{"huge name", `{"name":"` + strings.Repeat("n", 60<<10) + `"}`, "application/json", 400},
		{"over the body limit", `{"name":"` + strings.Repeat("n", 70<<10) + `"}`, "application/json", 413},
		{"deep nesting", strings.Repeat(`{"a":`, 1000) + `1` + strings.Repeat(`}`, 1000), "application/json", 400},
		{"form content type", `name=x`, "application/x-www-form-urlencoded", 415},
		{"text content type", `{"name":"x"}`, "text/plain", 415},
	} {
		status, body := post(tt.body, tt.contentType)
		if status != tt.status {
			t.Errorf("%s: %d %.200s, want %d", tt.name, status, body, tt.status)
		}
		if status == 201 {
			var k struct{ Key, Name string }
			json.Unmarshal([]byte(body), &k)
			plain = append(plain, k.Key)
			if !strings.Contains(tt.body, k.Name) {
				t.Errorf("%s: stored name %q, want it verbatim", tt.name, k.Name)
			}
		}
	}
	if _, err := s.Store().FindKeyByName(ctx, "x'); DROP TABLE api_keys;--"); err != nil {
		t.Errorf("find the SQL-metacharacter name: %v", err)
	}

	// 10,000 keys, paged through.
	const n = 10000
	for i := range n {
		if _, _, err := s.Keys().Create(ctx, keys.CreateRequest{Name: fmt.Sprintf("bulk-%05d", i)}, "test"); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string]bool{}
	for offset := 0; ; offset += 1000 {
		status, body := rawRequest(t, addr, fmt.Sprintf("GET /api/v2/api-keys?offset=%d&size=1000 HTTP/1.1\r\nHost: gw\r\nX-API-Key: %s\r\nConnection: close\r\n\r\n", offset, admin))
		var page []struct{ ID string }
		if status != 200 || json.Unmarshal([]byte(body), &page) != nil {
			t.Fatalf("page at %d: %d", offset, status)
		}
		for _, k := range page {
			if seen[k.ID] {
				t.Fatalf("key %s listed twice", k.ID)
			}
			seen[k.ID] = true
		}
		if len(page) < 1000 {
			break
		}
	}
	if want := n + 1 + len(plain); len(seen) != want {
		t.Errorf("paged through %d keys, want %d", len(seen), want)
	}
	for _, p := range append(plain, admin) {
		if strings.Contains(logs.String(), p) {
			t.Error("the gateway's log holds a plain key")
		}
	}
}
