package proxy_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"gatehouse"
	"gatehouse/gatehousetest"
	"gatehouse/keyauth"
	"gatehouse/proxy"
)

// index is a map-backed keyauth.Index (the index has its own tests).
type index struct {
	keys map[gatehouse.Digest]*gatehouse.APIKey
}

func (x *index) Lookup(d gatehouse.Digest) (*gatehouse.APIKey, bool) {
	k, ok := x.keys[d]
	return k, ok
}
func (x *index) Usable(time.Time) bool { return true }

// CatchUp has nothing to catch up with: every key is in the map.
func (x *index) CatchUp(context.Context) error { return nil }

type fixture struct {
	gw       *httptest.Server
	up       *gatehousetest.Upstream
	idx      *index
	watchers sync.Map // key ID → context.CancelCauseFunc
}

func (f *fixture) key(t *testing.T, id, name string, until *time.Time, scopes ...string) string {
	t.Helper()
	s := gatehouse.NewSecret()
	sc, err := gatehouse.ParseScopes(scopes)
	if err != nil {
		t.Fatal(err)
	}
	f.idx.keys[s.Digest()] = &gatehouse.APIKey{ID: id, Name: name, Digest: s.Digest(), ValidUntil: until, Scopes: sc}
	return s.Reveal()
}

func newFixture(t *testing.T, upstream http.HandlerFunc, timeout time.Duration) *fixture {
	t.Helper()
	f := &fixture{up: gatehousetest.NewUpstream(t, upstream), idx: &index{keys: map[gatehouse.Digest]*gatehouse.APIKey{}}}
	table, err := proxy.NewTable([]gatehouse.Route{
		{Name: "assets", Path: "/api/v2/assets", Upstream: f.up.URL + "/v2/assets", Scope: "assets", Timeout: timeout, WebSocket: true},
		{Name: "platform", Path: "/api/v2", Upstream: f.up.URL + "/v2", Scope: "platform", Timeout: timeout},
		{Name: "hooks", Path: "/apps-public", Upstream: f.up.URL + "/apps-public", Public: true, Timeout: timeout},
		{Name: "down", Path: "/down", Upstream: "http://127.0.0.1:1/x", Scope: "assets", Timeout: timeout},
	})
	if err != nil {
		t.Fatal(err)
	}
	h := &proxy.Handler{
		Table:    table,
		Verifier: &keyauth.Verifier{Index: f.idx},
		Watch: func(ctx context.Context, id string, _ gatehouse.Digest) (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancelCause(ctx)
			f.watchers.Store(id, cancel)
			return ctx, func() { cancel(context.Canceled) }
		},
	}
	h.Init()
	f.gw = httptest.NewServer(h)
	t.Cleanup(f.gw.Close)
	return f
}

// raw sends a hand-written request, so that no client cleans the target.
func raw(t *testing.T, addr, request string) (int, string) {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(addr, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, request); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("read response to %q: %v", request, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func code(body string) string {
	var e struct {
		Error struct{ Code string } `json:"error"`
	}
	json.Unmarshal([]byte(body), &e)
	return e.Error.Code
}

func TestContractTable(t *testing.T) {
	t.Parallel()
	slow := make(chan struct{})
	t.Cleanup(func() { close(slow) })
	f := newFixture(t, func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/slow") {
			select {
			case <-slow:
			case <-r.Context().Done():
			}
		}
		w.Write([]byte("ok"))
	}, 300*time.Millisecond)
	past := time.Now().Add(-time.Hour)
	reader := f.key(t, "r", "reader", nil, "assets:read")
	expired := f.key(t, "e", "expired", &past, "assets:read")
	writer := f.key(t, "w", "writer", nil, "assets:write")
	unknown := gatehouse.NewSecret().Reveal()
	req := func(method, target string, headers ...string) string {
		return fmt.Sprintf("%s %s HTTP/1.1\r\nHost: gw\r\n%sConnection: close\r\n\r\n", method, target, strings.Join(headers, ""))
	}
	k := func(key string) string { return "X-API-Key: " + key + "\r\n" }
	tests := []struct {
		name, request string
		status        int
		code          string
	}{
		{"dot-dot", req("GET", "/api/v2/assets/../platform", k(reader)), 400, "bad_path"},
		{"no route", req("GET", "/elsewhere", k(reader)), 404, "no_route"},
		{"CONNECT, before the key", req("CONNECT", "/api/v2/assets"), 405, "method_not_allowed"},
		{"TRACE", req("TRACE", "/api/v2/assets", k(writer)), 405, "method_not_allowed"},
		{"missing key", req("GET", "/api/v2/assets"), 401, "missing_key"},
		{"malformed key", req("GET", "/api/v2/assets", k("gth_abc")), 401, "invalid_key"},
		{"unknown key", req("GET", "/api/v2/assets", k(unknown)), 401, "invalid_key"},
		{"two keys", req("GET", "/api/v2/assets", k(reader), k(reader)), 401, "invalid_key"},
		{"expired", req("GET", "/api/v2/assets", k(expired)), 401, "key_expired"},
		{"read key writes", req("DELETE", "/api/v2/assets/1", k(reader)), 403, "insufficient_scope"},
		{"other route's scope", req("GET", "/api/v2/other", k(writer)), 403, "insufficient_scope"},
		{"upstream down", req("GET", "/down", k(reader)), 502, "upstream_unavailable"},
		{"upstream timeout", req("GET", "/api/v2/assets/slow", k(reader)), 504, "upstream_timeout"},
		{"ok", req("GET", "/api/v2/assets/1", k(reader)), 200, ""},
		{"write ok", req("POST", "/api/v2/assets/1", k(writer), "Content-Length: 0\r\n"), 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := raw(t, f.gw.URL, tt.request)
			if status != tt.status || (tt.code != "" && code(body) != tt.code) {
				t.Errorf("%s: %d %s, want %d %s", tt.name, status, body, tt.status, tt.code)
			}
		})
	}
	for _, s := range f.up.Requests() {
		if s.Header.Get("X-Gatehouse-Key-Id") == "" {
			t.Errorf("upstream got %s %s without X-Gatehouse-Key-Id", s.Method, s.RequestURI)
		}
	}
}

func TestPathTricksNeverReachUpstream(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil, time.Second)
	key := f.key(t, "a", "all", nil, "assets:write", "platform:write")
	for _, target := range []string{
		"/api/v2/assets/../platform", "/api/v2/assets/%2e%2e/platform", "/api/v2/assets/%2E%2E/x",
		"/api/v2/assets/.%2e/x", "/api/v2/assets/./x", "/api/v2/assets/.", "/api/v2//assets", "/api/v2/assets%2f..%2fx",
		"/api/v2/assets%2F1", "/api/v2/assets%5c1", "/api/v2/assets\\1", "/api/v2/assets;jsessionid=x",
		"/api/v2/assets/..;/x", "/api/v2/assets/%00", "/api/v2/assets/%252e%252e/x",
		"http://evil.example/api/v2/assets/../x",
	} {
		status, body := raw(t, f.gw.URL, "GET "+target+" HTTP/1.1\r\nHost: gw\r\nX-API-Key: "+key+"\r\nConnection: close\r\n\r\n")
		if status != 400 || code(body) != "bad_path" {
			t.Errorf("GET %s = %d %s, want 400 bad_path", target, status, body)
		}
	}
	// Go's server itself refuses an invalid escape before any handler.
	if status, body := raw(t, f.gw.URL, "GET /api/v2/assets/%zz HTTP/1.1\r\nHost: gw\r\nX-API-Key: "+key+"\r\nConnection: close\r\n\r\n"); status != 400 {
		t.Errorf("GET /api/v2/assets/%%zz = %d %s, want 400", status, body)
	}
	if got := f.up.Requests(); len(got) != 0 {
		t.Errorf("upstream received %v, want nothing", got)
	}
}

func TestRoutingAndRewrite(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil, time.Second)
	key := f.key(t, "a", "all", nil, "assets:read", "platform:read")
	tests := []struct{ target, want string }{
		{"/api/v2/assets", "/v2/assets"},
		{"/api/v2/assets/158?x=1&y=%2F", "/v2/assets/158?x=1&y=%2F"},
		{"/api/v2/assets-bulk", "/v2/assets-bulk"}, // the platform route, not assets
		{"/api/v2/%61ssets/1", "/v2/assets/1"},     // matched and forwarded decoded: assets
		{"/api/v2/assets/caf%C3%A9", "/v2/assets/caf%C3%A9"},
		{"/api/v2/assets/", "/v2/assets/"},
		{"http://other.example/api/v2/assets/7", "/v2/assets/7"},
	}
	for _, tt := range tests {
		status, body := raw(t, f.gw.URL, "GET "+tt.target+" HTTP/1.1\r\nHost: gw\r\nX-API-Key: "+key+"\r\nConnection: close\r\n\r\n")
		var got struct{ URI string }
		json.Unmarshal([]byte(body), &got)
		if status != 200 || got.URI != tt.want {
			t.Errorf("GET %s: upstream got %q (status %d), want %q", tt.target, got.URI, status, tt.want)
		}
	}
}

// TestRedirectsStayBehindTheGateway: a Location into the route's upstream
// prefix, on the upstream's host or host-relative, becomes the client's
// path; anything else is passed on as the upstream sent it.
func TestRedirectsStayBehindTheGateway(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", r.URL.Query().Get("to"))
		w.WriteHeader(http.StatusFound)
	}, time.Second)
	key := f.key(t, "a", "all", nil, "assets:read", "platform:read")
	up := f.up.URL // http://127.0.0.1:port
	tests := []struct{ path, to, want string }{
		{"/api/v2/assets/158", up + "/v2/assets/158/", "/api/v2/assets/158/"},
		{"/api/v2/assets", up + "/v2/assets?page=2#top", "/api/v2/assets?page=2#top"},
		{"/api/v2/assets", "/v2/assets/caf%C3%A9", "/api/v2/assets/caf%C3%A9"},
		{"/api/v2/assets", strings.Replace(up, "http://", "//", 1) + "/v2/assets/1", "/api/v2/assets/1"},
		{"/api/v2/assets", "/v2/assets", "/api/v2/assets"},
		{"/api/v2/other", "/v2/assets-bulk", "/api/v2/assets-bulk"}, // the platform route's prefix is /v2
		{"/apps-public/x", "/apps-public/y", "/apps-public/y"},
		// Left alone: another site, another scheme, outside the prefix, relative.
		{"/api/v2/assets", "https://example.com/v2/assets/1", "https://example.com/v2/assets/1"},
		{"/api/v2/assets", strings.Replace(up, "http://", "https://", 1) + "/v2/assets/1", strings.Replace(up, "http://", "https://", 1) + "/v2/assets/1"},
		{"/api/v2/assets", "/login", "/login"},
		{"/api/v2/assets", "/v2/assetsX", "/v2/assetsX"},
		{"/api/v2/assets", "158/", "158/"},
		{"/api/v2/assets", "mailto:ops@example.com", "mailto:ops@example.com"},
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, tt := range tests {
		req, _ := http.NewRequest("GET", f.gw.URL+tt.path+"?to="+url.QueryEscape(tt.to), nil)
		req.Header.Set(keyauth.Header, key)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.Header.Get("Location"); resp.StatusCode != http.StatusFound || got != tt.want {
			t.Errorf("%s redirected to %q: client got %d %q, want 302 %q", tt.path, tt.to, resp.StatusCode, got, tt.want)
		}
	}
}

func TestHeaderHygiene(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil, time.Second)
	key := f.key(t, "key_1", "Café ✓", nil, "assets:read")
	status, body := raw(t, f.gw.URL, "GET /api/v2/assets HTTP/1.1\r\nHost: gw.example\r\nX-API-Key: "+key+
		"\r\nX-Gatehouse-Key-Id: forged\r\nX-Gatehouse-Admin: yes\r\nConnection: X-Gatehouse-Key-Id, X-Gatehouse-Key-Name, close\r\n"+
		"X-Forwarded-For: 6.6.6.6\r\nX-Forwarded-Host: evil\r\nX-Request-Id: abc-123\r\n\r\n")
	if status != 200 {
		t.Fatalf("status %d %s, want 200", status, body)
	}
	got := f.up.Requests()
	if len(got) != 1 {
		t.Fatalf("upstream got %d requests, want 1", len(got))
	}
	h := got[0].Header
	for name, want := range map[string]string{
		"X-Api-Key": "", "X-Gatehouse-Admin": "", "X-Gatehouse-Key-Id": "key_1",
		"X-Gatehouse-Key-Name": "=?utf-8?q?Caf=C3=A9_=E2=9C=93?=", "X-Forwarded-For": "127.0.0.1",
		"X-Forwarded-Host": "gw.example", "X-Forwarded-Proto": "http", "X-Request-Id": "abc-123",
	} {
		if g := strings.Join(h.Values(name), ","); g != want {
			t.Errorf("upstream %s = %q, want %q", name, g, want)
		}
	}

	// A public route asks for no key but still strips it.
	raw(t, f.gw.URL, "POST /apps-public/hook HTTP/1.1\r\nHost: gw\r\nX-API-Key: "+key+"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
	got = f.up.Requests()
	if len(got) != 2 || got[1].Header.Get("X-API-Key") != "" || got[1].Header.Get("X-Gatehouse-Key-Id") != "" || got[1].Header.Get("X-Request-Id") == "" {
		t.Errorf("public route: upstream got %+v, want no key, no identity, a request ID", got[len(got)-1])
	}
}

func TestNoUpgradeButWebsocket(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil, time.Second)
	key := f.key(t, "a", "all", nil, "assets:read", "platform:read")
	raw(t, f.gw.URL, "GET /api/v2/assets HTTP/1.1\r\nHost: gw\r\nX-API-Key: "+key+"\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n")
	raw(t, f.gw.URL, "GET /api/v2/x HTTP/1.1\r\nHost: gw\r\nX-API-Key: "+key+"\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
	for _, s := range f.up.Requests() {
		if s.Header.Get("Upgrade") != "" || s.Header.Get("HTTP2-Settings") != "" {
			t.Errorf("upstream got Upgrade %q on %s, want none (h2c, or websocket on a route without it)", s.Header.Get("Upgrade"), s.RequestURI)
		}
	}
}

func TestWebsocketClosedWhenKeyRevoked(t *testing.T) {
	t.Parallel()
	f := newFixture(t, gatehousetest.WebSocketEcho, time.Second)
	key := f.key(t, "ws", "ws", nil, "assets:read")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, strings.Replace(f.gw.URL, "http", "ws", 1)+"/api/v2/assets/stream", &websocket.DialOptions{HTTPHeader: http.Header{"X-API-Key": {key}}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	if err := c.Write(ctx, websocket.MessageText, []byte("hello")); err != nil {
		t.Fatal(err)
	}
	if _, msg, err := c.Read(ctx); err != nil || string(msg) != "hello" {
		t.Fatalf("echo = %q, %v; want hello", msg, err)
	}
	if s := f.up.Requests(); len(s) != 1 || s[0].Header.Get("X-API-Key") != "" {
		t.Fatalf("upstream saw %+v, want one upgrade without the key", s)
	}

	cancelWatch, _ := f.watchers.Load("ws")
	revoked := time.Now()
	cancelWatch.(context.CancelCauseFunc)(fmt.Errorf("key deleted"))
	rctx, rcancel := context.WithTimeout(ctx, time.Second)
	defer rcancel()
	if _, _, err := c.Read(rctx); err == nil || rctx.Err() != nil {
		t.Fatalf("read after revoke: %v (context %v), want the connection closed within 1s", err, rctx.Err())
	}
	t.Logf("websocket closed %v after the key was revoked", time.Since(revoked))
}

func TestStreamPassesThrough(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	f := newFixture(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-ndjson")
		fmt.Fprintln(w, `{"n":1}`)
		w.(http.Flusher).Flush()
		<-release
		fmt.Fprintln(w, `{"n":2}`)
	}, time.Second)
	key := f.key(t, "s", "s", nil, "assets:read")
	req, _ := http.NewRequest("GET", f.gw.URL+"/api/v2/assets/stream", nil)
	req.Header.Set("X-API-Key", key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	line, err := br.ReadString('\n')
	if err != nil || line != "{\"n\":1}\n" {
		t.Fatalf("first line = %q, %v; want it before the upstream finishes", line, err)
	}
	close(release)
	if line, _ := br.ReadString('\n'); line != "{\"n\":2}\n" {
		t.Errorf("second line = %q", line)
	}
}

func TestNewTableRefuses(t *testing.T) {
	t.Parallel()
	up, sec := "http://127.0.0.1:1", time.Second
	if _, err := proxy.NewTable([]gatehouse.Route{{Name: "a", Path: "/a", Upstream: up, Scope: "a", Timeout: sec}}); err != nil {
		t.Fatalf("NewTable(valid) = %v", err)
	}
	for name, r := range map[string]gatehouse.Route{
		"no name":       {Path: "/a", Upstream: up, Scope: "a", Timeout: sec},
		"relative path": {Name: "a", Path: "a", Upstream: up, Scope: "a", Timeout: sec},
		"trailing /":    {Name: "a", Path: "/a/", Upstream: up, Scope: "a", Timeout: sec},
		"dot segment":   {Name: "a", Path: "/a/../b", Upstream: up, Scope: "a", Timeout: sec},
		"no upstream":   {Name: "a", Path: "/a", Scope: "a", Timeout: sec},
		"no scope":      {Name: "a", Path: "/a", Upstream: up, Timeout: sec},
		"star scope":    {Name: "a", Path: "/a", Upstream: up, Scope: "*", Timeout: sec},
		"no timeout":    {Name: "a", Path: "/a", Upstream: up, Scope: "a"},
	} {
		if _, err := proxy.NewTable([]gatehouse.Route{r}); err == nil {
			t.Errorf("NewTable(%s) = nil error, want one", name)
		}
	}
}

// TestWatchOnlyForAnswersThatLast: a short keyed answer of known length
// never starts a watch of its key; one still being sent past its first half
// second does, and the watch's end cuts it.
func TestWatchOnlyForAnswersThatLast(t *testing.T) {
	t.Parallel()
	const chunk = 8 << 10 // more than the gateway buffers before it writes
	const size = 40 * chunk
	f := newFixture(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(size))
		if !strings.HasSuffix(r.URL.Path, "/slow") {
			w.Write([]byte(strings.Repeat("x", size)))
			return
		}
		tick := time.NewTicker(50 * time.Millisecond) // the upstream's pace
		defer tick.Stop()
		for range size / chunk {
			if _, err := w.Write([]byte(strings.Repeat("x", chunk))); err != nil {
				return
			}
			w.(http.Flusher).Flush()
			select {
			case <-tick.C:
			case <-r.Context().Done():
				return
			}
		}
	}, time.Second)
	short := f.key(t, "short", "short", nil, "assets:read")
	long := f.key(t, "long", "long", nil, "assets:read")
	get := func(key, path string) *http.Response {
		req, _ := http.NewRequest("GET", f.gw.URL+path, nil)
		req.Header.Set("X-API-Key", key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}

	resp := get(short, "/api/v2/assets/1")
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || len(b) != size || err != nil {
		t.Fatalf("short answer: %d, %d bytes, %v", resp.StatusCode, len(b), err)
	}
	if _, ok := f.watchers.Load("short"); ok {
		t.Error("a short answer started a watch of its key")
	}

	resp = get(long, "/api/v2/assets/slow")
	defer resp.Body.Close()
	read := make(chan int, 1)
	go func() {
		n, _ := io.Copy(io.Discard, resp.Body)
		read <- int(n)
	}()
	deadline := time.Now().Add(3 * time.Second)
	for {
		if cancel, ok := f.watchers.Load("long"); ok {
			cancel.(context.CancelCauseFunc)(fmt.Errorf("key deleted"))
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("an answer still being sent after 3s started no watch of its key")
		}
		time.Sleep(10 * time.Millisecond) // poll interval
	}
	select {
	case n := <-read:
		if n >= size {
			t.Errorf("the whole answer arrived (%d bytes) after the watch ended", n)
		}
	case <-time.After(time.Second):
		t.Error("the answer still flows 1s after the watch ended")
	}
}
