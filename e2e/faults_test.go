package e2e_test

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gatehouse"
	"gatehouse/config"
	"gatehouse/gatehousetest"
)

// TestUpstreamFaults: refused, hanging, reset mid-body and slow streaming
// upstreams; each costs only its own request.
func TestUpstreamFaults(t *testing.T) {
	t.Parallel()
	next := make(chan struct{})
	faulty := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/hang":
			<-r.Context().Done()
		case "/reset":
			w.Header().Set("Content-Length", "1000")
			w.Write([]byte(strings.Repeat("x", 100)))
			w.(http.Flusher).Flush()
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				conn.(*net.TCPConn).SetLinger(0) // a RST, not a FIN
				conn.Close()
			}
		case "/stream":
			w.Header().Set("Content-Type", "application/x-ndjson")
			for i := range 3 {
				io.WriteString(w, `{"n":`+string(rune('0'+i))+"}\n")
				w.(http.Flusher).Flush()
				select { // the next line only once the client has read this one
				case <-next:
				case <-r.Context().Done():
					return
				case <-time.After(5 * time.Second):
					return
				}
			}
		default:
			w.Write([]byte("ok"))
		}
	}))
	t.Cleanup(faulty.Close)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := "http://" + ln.Addr().String()
	ln.Close() // nothing listens there now
	g := startGateway(t, func(c *config.Config) {
		c.Routes = append(c.Routes,
			config.Route{Name: "faulty", Path: "/faulty", Upstream: faulty.URL, Scope: "faulty", Timeout: config.Duration(300 * time.Millisecond)},
			config.Route{Name: "down", Path: "/down", Upstream: refused, Scope: "faulty"})
	})
	_, key := g.key(t, "faults", "faulty:read")

	if r := g.one(t, req("GET", "/down/x", apiKey(key))); r.Status != 502 || r.code() != "upstream_unavailable" {
		t.Errorf("refusing upstream: %v, want 502 upstream_unavailable", r)
	}
	start := time.Now()
	if r := g.one(t, req("GET", "/faulty/hang", apiKey(key))); r.Status != 504 || r.code() != "upstream_timeout" {
		t.Errorf("hanging upstream: %v, want 504 upstream_timeout", r)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("hanging upstream answered after %v, want about the route timeout (300ms)", took)
	}
	// Cut short: either no answer at all (Go's proxy aborts the response it
	// cannot finish), a 502, or a 200 whose body ends early; never a whole
	// answer.
	r := g.one(t, req("GET", "/faulty/reset", apiKey(key)))
	if r.Status == 200 && (r.Err == nil || len(r.Body) >= 1000) || r.Status != 0 && r.Status != 200 && r.Status != 502 {
		t.Errorf("upstream reset mid-body: %d, %d bytes, err %v; want it cut short", r.Status, len(r.Body), r.Err)
	}

	// A slow stream: each line reaches the client before the upstream
	// writes the next, past the route's timeout.
	hr, _ := http.NewRequest("GET", g.URL+"/faulty/stream", nil)
	hr.Header.Set("X-API-Key", key)
	resp, err := http.DefaultClient.Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	for i := range 3 {
		line, err := br.ReadString('\n')
		if err != nil || line != `{"n":`+string(rune('0'+i))+"}\n" {
			t.Fatalf("stream line %d = %q, %v", i, line, err)
		}
		if i == 0 {
			time.Sleep(400 * time.Millisecond) // outlast the route's 300ms timeout on purpose
		}
		next <- struct{}{}
	}
	if r := g.one(t, req("GET", "/faulty/ok", apiKey(key))); r.Status != 200 {
		t.Errorf("after the faults: %v, want 200", r)
	}
}

// TestMalformedBodyIsTheClients: a chunked body the gateway cannot parse
// is the client's error (400), not an unreachable upstream (502), and the
// log does not blame the upstream.
func TestMalformedBodyIsTheClients(t *testing.T) {
	t.Parallel()
	g := startGateway(t, nil)
	for _, body := range []string{"3;x\nabc\r\n0\r\n\r\n", "zz\r\nabc\r\n0\r\n\r\n", "ffffffffffffffffff1\r\nx\r\n0\r\n\r\n"} {
		r := g.one(t, "POST /apps-public/x HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"+body)
		if r.Status != 400 {
			t.Errorf("chunked body %q: %v, want 400", body, r)
		}
	}
	if strings.Contains(g.Log.String(), "upstream unavailable") {
		t.Error("the log blames the upstream for a client's malformed body")
	}
}

// TestReadOnlyStore: with the SQLite files made immutable (chattr +i),
// writes fail with a clear error while reads and the data plane keep
// working; once writable again, writes work.
func TestReadOnlyStore(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("chattr"); err != nil {
		t.Skip("no chattr")
	}
	g := startGateway(t, nil)
	_, admin := g.key(t, "admin", "api-keys:write", "*:write")
	_, data := g.key(t, "data", "assets:read")
	if r, _ := g.createOverAPI(t, admin, `{"name":"before"}`); r.Status != 201 {
		t.Fatalf("create before: %v", r)
	}
	// The outbox's sender marks the keys' events (no endpoint is
	// configured) in write transactions of its own: the files are made
	// immutable once none is pending, not in the middle of one.
	gatehousetest.Eventually(t, 10*time.Second, "no webhook event pending", func() bool {
		pending, err := g.Store().FindWebhookEvents(context.Background(), gatehouse.WebhookFilter{})
		return err == nil && len(pending) == 0
	})
	files, _ := filepath.Glob(filepath.Join(g.dir, "gatehouse.db*"))
	files = append(files, g.dir)
	if out, err := exec.Command("chattr", append([]string{"+i"}, files...)...).CombinedOutput(); err != nil {
		t.Skipf("cannot make the store immutable: %v %s", err, out)
	}
	unlock := func() { exec.Command("chattr", append([]string{"-i"}, files...)...).Run() }
	t.Cleanup(unlock)
	// Is it really read-only for this process (root may bypass modes)?
	if f, err := os.OpenFile(files[0], os.O_WRONLY, 0); err == nil {
		f.Close()
		t.Skip("the immutable file still opens for writing")
	}

	r, _ := g.createOverAPI(t, admin, `{"name":"during"}`)
	if r.Status != 503 || r.code() != "store_unavailable" {
		t.Errorf("create on a read-only store: %v, want 503 store_unavailable", r)
	}
	if strings.Contains(r.Body, g.dir) {
		t.Errorf("the error shows internals: %s", r.Body)
	}
	if r := g.one(t, req("GET", "/api/v2/api-keys", apiKey(admin))); r.Status != 200 || !strings.Contains(r.Body, "before") {
		t.Errorf("list on a read-only store: %v, want 200 with the keys", r)
	}
	for i := range 5 { // also after usage flushes have failed
		if r := g.one(t, req("GET", "/api/v2/assets/1", apiKey(data))); r.Status != 200 {
			t.Errorf("data plane request %d on a read-only store: %v, want 200", i, r)
		}
	}
	if r := g.one(t, req("GET", "/readyz")); r.Status != 200 {
		t.Logf("readyz on a read-only store: %v", r)
	}
	unlock()
	deadline := time.Now().Add(5 * time.Second)
	for {
		r, _ := g.createOverAPI(t, admin, `{"name":"after"}`)
		if r.Status == 201 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("create after the store is writable again: %v", r)
		}
		time.Sleep(50 * time.Millisecond) // poll interval
	}
}

// TestSlowBody: a management API client that sends its headers and then
// stalls its body is not held forever.
func TestSlowBody(t *testing.T) {
	t.Parallel()
	g := startGateway(t, nil)
	_, admin := g.key(t, "admin", "api-keys:write", "*:write")
	c, err := net.Dial("tcp", g.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "POST /api/v2/api-keys HTTP/1.1\r\nHost: gw\r\nX-API-Key: "+admin+"\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"na")
	start := time.Now()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err = io.ReadAll(c)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("a stalled request body held its connection (and a handler) for 10s: the management API reads bodies without a deadline")
	}
	t.Logf("stalled body cut off after %v", time.Since(start).Round(10*time.Millisecond))
}
