package e2e_test

import (
	"bufio"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"gatehouse/config"
	"gatehouse/gatehousetest"
	"gatehouse/keys"
	"gatehouse/server"
)

// wsUpstream is a real upstream of websockets and streams. A websocket
// (coder/websocket) echoes every message, and closes with 1000 "bye" when
// it gets "bye"; how each one's read ended (the close frame the gateway
// sent it, if any) is sent on ended. /v2/events/finite is a stream of two
// lines; /v2/events/forever sends a line and waits for the client to go.
type wsUpstream struct {
	*httptest.Server
	ended chan error
}

func newWSUpstream(t *testing.T) *wsUpstream {
	t.Helper()
	u := &wsUpstream{ended: make(chan error, 16)}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/v2/events/") {
			w.Header().Set("Content-Type", "application/x-ndjson")
			fmt.Fprintln(w, `{"n":1}`)
			w.(http.Flusher).Flush()
			if r.URL.Path == "/v2/events/forever" {
				<-r.Context().Done()
				return
			}
			fmt.Fprintln(w, `{"n":2}`)
			return
		}
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		for {
			typ, msg, err := c.Read(r.Context())
			if err != nil {
				u.ended <- err
				return
			}
			if string(msg) == "bye" {
				c.Close(websocket.StatusNormalClosure, "bye")
				return
			}
			c.Write(r.Context(), typ, msg)
		}
	}))
	t.Cleanup(u.Close)
	return u
}

// wsRoutes adds the routes to u: the websocket route "listener" and the
// stream route "events", both for the scope "data".
func wsRoutes(u *wsUpstream) func(*config.Config) {
	return func(c *config.Config) {
		c.Routes = append(c.Routes,
			config.Route{Name: "listener", Path: "/api/v2/data-listener", Upstream: u.URL + "/v2/data-listener", Scope: "data"},
			config.Route{Name: "events", Path: "/events", Upstream: u.URL + "/v2/events", Scope: "data"})
	}
}

// dialWS opens a websocket to the route "listener" through the gateway at
// addr, with the key and the request ID.
func dialWS(t *testing.T, addr, key, requestID string) *websocket.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws://"+addr+"/api/v2/data-listener", &websocket.DialOptions{
		HTTPHeader: http.Header{"X-Api-Key": {key}, "X-Request-Id": {requestID}},
	})
	if err != nil {
		t.Fatalf("dial %s: %v", requestID, err)
	}
	t.Cleanup(func() { c.CloseNow() })
	c.SetReadLimit(2 << 20)
	return c
}

// echo fails the test unless a message goes through c and back.
func echo(t *testing.T, c *websocket.Conn) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Write(ctx, websocket.MessageText, []byte("ping")); err != nil {
		t.Fatal(err)
	}
	if _, msg, err := c.Read(ctx); err != nil || string(msg) != "ping" {
		t.Fatalf("echo = %q, %v; want ping", msg, err)
	}
}

// readEnd reads c until it ends, for at most d, and returns the status and
// reason of the close frame that ended it (-1 when the connection ended
// without one) and the read's error.
func readEnd(c *websocket.Conn, d time.Duration) (websocket.StatusCode, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	for {
		_, _, err := c.Read(ctx)
		if err == nil {
			continue
		}
		var ce websocket.CloseError
		if errors.As(err, &ce) {
			return ce.Code, ce.Reason, err
		}
		return -1, "", err
	}
}

// findAccessLine returns the fields of the access-log line of request id
// in logs.
func findAccessLine(logs, id string) (map[string]any, bool) {
	for line := range strings.SplitSeq(logs, "\n") {
		var f map[string]any
		if json.Unmarshal([]byte(line), &f) == nil && f["msg"] == "request" && f["request_id"] == id {
			return f, true
		}
	}
	return nil, false
}

// waitAccessLine waits up to 5s for the access-log line of request id: a
// websocket's or a stream's is written when it ends.
func (g *gateway) waitAccessLine(t *testing.T, id string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if f, ok := findAccessLine(g.Log.String(), id); ok {
			return f
		}
		if time.Now().After(deadline) {
			t.Fatalf("no access-log line with request_id %q after 5s", id)
		}
		time.Sleep(10 * time.Millisecond) // poll interval
	}
}

// checkEnd fails the test unless the access-log line f has the status,
// outcome and reason.
func checkEnd(t *testing.T, f map[string]any, status int, outcome, reason string) {
	t.Helper()
	if f["status"] != float64(status) || f["outcome"] != outcome || f["reason"] != reason {
		t.Errorf("access log of %v: status %v, outcome %v, reason %v; want %d, %s, %s",
			f["request_id"], f["status"], f["outcome"], f["reason"], status, outcome, reason)
	}
}

// TestWebsocketRevokedGetsCloseFrame: a websocket whose key is deleted or
// expires ends, within a second, with a close frame 1008 that says why,
// not with a bare TCP cut; the upstream gets a close frame 1001; the access
// log writes the upgrade as 101, revoked, with the connection's duration.
func TestWebsocketRevokedGetsCloseFrame(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		revoke func(t *testing.T, g *gateway, id string)
		reason string
	}{
		{"deleted", func(t *testing.T, g *gateway, id string) {
			if err := g.Keys().Delete(context.Background(), id, keys.Admin("e2e")); err != nil {
				t.Fatal(err)
			}
		}, "key deleted"},
		{"expired", func(t *testing.T, g *gateway, id string) { g.Clock.Add(2 * time.Hour) }, "key expired"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			up := newWSUpstream(t)
			g := startGateway(t, wsRoutes(up))
			until := g.Clock.Now().Add(time.Hour)
			id, key := g.keyUntil(t, "listener", &until, "data:read")
			rid := "ws-" + tc.name
			c := dialWS(t, g.Addr, key, rid)
			opened := time.Now()
			echo(t, c)
			revoked := time.Now()
			tc.revoke(t, g, id)
			code, reason, err := readEnd(c, 5*time.Second)
			closed := time.Now()
			took := closed.Sub(revoked)
			if code != websocket.StatusPolicyViolation || reason != tc.reason {
				t.Fatalf("read after the key was %s: %v; want a close frame 1008 %q", tc.name, err, tc.reason)
			}
			if took > time.Second {
				t.Errorf("the close frame came %v after the key was %s, want within 1s", took, tc.name)
			}
			select {
			case err := <-up.ended:
				if websocket.CloseStatus(err) != websocket.StatusGoingAway {
					t.Errorf("the upstream's read ended with %v, want a close frame 1001", err)
				}
			case <-time.After(5 * time.Second):
				t.Error("the upstream's websocket still open 5s after the key was " + tc.name)
			}
			f := g.waitAccessLine(t, rid)
			checkEnd(t, f, http.StatusSwitchingProtocols, "revoked", "revoked")
			if f["key_id"] != id {
				t.Errorf("access log: key_id %v, want %s", f["key_id"], id)
			}
			// The line is written when the connection ends: its duration
			// is the connection's life, which held the client's.
			if ms, _ := f["duration_ms"].(float64); ms < float64(closed.Sub(opened).Milliseconds()) {
				t.Errorf("access log: duration_ms %v, want the connection's life (at least %v)", ms, closed.Sub(opened))
			}
		})
	}
}

// TestWebsocketShutdownGoingAway: when the gateway shuts down, an open
// websocket ends with a close frame 1001, and Serve returns only once the
// websockets ended and their access-log lines (101, shutdown) are written,
// also that of a client that never answers the close frame.
func TestWebsocketShutdownGoingAway(t *testing.T) {
	t.Parallel()
	up := newWSUpstream(t)
	dir := t.TempDir()
	cfg := config.Default()
	cfg.Storage = "sqlite:" + filepath.Join(dir, "gatehouse.db")
	cfg.SecretKeyFile = filepath.Join(dir, "secret.key")
	cfg.ShutdownTimeout = config.Duration(5 * time.Second)
	wsRoutes(up)(cfg)
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	logs := &gatehousetest.LogBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := server.Open(ctx, cfg, server.Options{Logger: slog.New(slog.NewJSONHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, ln, nil) }()
	_, secret, err := s.Keys().Create(ctx, keys.CreateRequest{Name: "listener", Scopes: []string{"data:read"}}, keys.Admin("e2e"))
	if err != nil {
		t.Fatal(err)
	}
	c := dialWS(t, ln.Addr().String(), secret.Reveal(), "ws-shutdown")
	echo(t, c)
	silent, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	silent.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(silent, "GET /api/v2/data-listener HTTP/1.1\r\nHost: gw\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nX-API-Key: %s\r\nX-Request-Id: ws-silent\r\n\r\n", secret.Reveal())
	br := bufio.NewReader(silent)
	if resp, err := http.ReadResponse(br, nil); err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("silent client's upgrade: %v, %v", resp, err)
	}

	cancel()
	code, reason, err := readEnd(c, 5*time.Second)
	if code != websocket.StatusGoingAway || reason != "server shutting down" {
		t.Errorf("read during shutdown: %v; want a close frame 1001 \"server shutting down\"", err)
	}
	want := append([]byte{0x88, 22, 0x03, 0xe9}, "server shutting down"...) // FIN, close, unmasked; 1001
	got := make([]byte, len(want))
	if _, err := io.ReadFull(br, got); err != nil || string(got) != string(want) {
		t.Errorf("the silent client read % x, %v; want % x", got, err, want)
	}
	select {
	case err := <-served:
		if err != nil {
			t.Fatalf("Serve = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve still running 10s after its context ended")
	}
	for _, id := range []string{"ws-shutdown", "ws-silent"} {
		f, ok := findAccessLine(logs.String(), id)
		if !ok {
			t.Errorf("Serve returned before the access-log line of %s was written", id)
			continue
		}
		checkEnd(t, f, http.StatusSwitchingProtocols, "shutdown", "shutdown")
	}
	if n, err := br.Read(got); err == nil {
		t.Errorf("the silent client's connection is still open after Serve returned (read %d bytes)", n)
	}
	if strings.Contains(logs.String(), secret.Reveal()[4:]) {
		t.Error("the log holds the plain key")
	}
}

// TestWebsocketFrameInFlight: a frame the upstream is sending when the key
// is deleted (1 MiB, written slowly) reaches the client whole before the
// close frame; if the upstream stalls in the middle of it, the connection
// is cut. The client never reads a corrupt frame.
func TestWebsocketFrameInFlight(t *testing.T) {
	t.Parallel()
	const size, chunk = 1 << 20, 64 << 10
	payload := make([]byte, size)
	for i := range payload {
		payload[i] = byte(i % 251)
	}
	for _, tc := range []struct {
		name  string
		stall bool // the upstream stops in the middle of the frame
	}{{"finished", false}, {"stalled", true}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			half := make(chan struct{}) // half the frame is sent
			told := make(chan struct{}) // the upstream read the gateway's close frame
			gone := make(chan struct{}) // the gateway closed the upstream's connection
			up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				conn, brw, err := http.NewResponseController(w).Hijack()
				if err != nil {
					return
				}
				defer conn.Close()
				sum := sha1.Sum([]byte(r.Header.Get("Sec-WebSocket-Key") + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
				fmt.Fprintf(brw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
					base64.StdEncoding.EncodeToString(sum[:]))
				hdr := []byte{0x82, 127, 0, 0, 0, 0, 0, 0, 0, 0} // FIN, binary, 64-bit length
				binary.BigEndian.PutUint64(hdr[2:], size)
				brw.Write(hdr)
				brw.Flush()
				go func() {
					defer close(gone)
					b := make([]byte, 2)
					if _, err := io.ReadFull(brw, b); err == nil && b[0] == 0x88 { // FIN, close
						close(told)
					}
					io.Copy(io.Discard, brw)
				}()
				for off := 0; off < size; off += chunk {
					if off == size/2 {
						close(half)
						wait := told
						if tc.stall {
							wait = gone
						}
						select {
						case <-wait:
						case <-time.After(5 * time.Second):
							return
						}
						if tc.stall {
							return
						}
					}
					if _, err := conn.Write(payload[off : off+chunk]); err != nil {
						return
					}
					time.Sleep(10 * time.Millisecond) // the upstream's pace
				}
				conn.Write([]byte{0x81, 5, 'a', 'f', 't', 'e', 'r'}) // a text frame the client must not get
				select {
				case <-gone:
				case <-time.After(5 * time.Second):
				}
			}))
			t.Cleanup(up.Close)
			g := startGateway(t, func(c *config.Config) {
				c.Routes = append(c.Routes, config.Route{Name: "listener", Path: "/api/v2/data-listener", Upstream: up.URL, Scope: "data"})
			})
			id, key := g.key(t, "listener", "data:read")
			c := dialWS(t, g.Addr, key, "ws-"+tc.name)
			type message struct {
				typ websocket.MessageType
				b   []byte
				err error
			}
			read := make(chan message, 1)
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				typ, b, err := c.Read(ctx)
				read <- message{typ, b, err}
			}()
			select {
			case <-half:
			case <-time.After(5 * time.Second):
				t.Fatal("the upstream did not start its frame")
			}
			deleted := time.Now()
			if err := g.Keys().Delete(context.Background(), id, keys.Admin("e2e")); err != nil {
				t.Fatal(err)
			}
			m := <-read
			if tc.stall {
				if m.err == nil || websocket.CloseStatus(m.err) != -1 {
					t.Fatalf("read of a frame the upstream left half sent: %d bytes, %v; want the connection cut", len(m.b), m.err)
				}
				if took := time.Since(deleted); took > 2*time.Second {
					t.Errorf("the connection was cut %v after the delete, want within about %v", took, time.Second)
				}
				return
			}
			if m.err != nil || m.typ != websocket.MessageBinary || string(m.b) != string(payload) {
				t.Fatalf("the frame in flight: %v, %d bytes, %v; want the whole %d bytes as sent", m.typ, len(m.b), m.err, size)
			}
			if code, reason, err := readEnd(c, 5*time.Second); code != websocket.StatusPolicyViolation || reason != "key deleted" {
				t.Fatalf("read after the frame: %v; want a close frame 1008 \"key deleted\" and nothing else", err)
			}
		})
	}
}

// TestLongLivedEndsLoggedAndCounted: the end of every websocket and stream
// is in its access-log line (the reason, and the outcome when the gateway
// ended it) and in gatehouse_proxy_longlived_closed_total; the gauge of
// open ones goes up and back down.
func TestLongLivedEndsLoggedAndCounted(t *testing.T) {
	t.Parallel()
	up := newWSUpstream(t)
	g := startGateway(t, wsRoutes(up))
	_, key := g.key(t, "listener", "data:read")
	metrics := func() string { return g.oneAdmin(t, req("GET", "/metrics")).Body }
	if m := metrics(); !strings.Contains(m, `gatehouse_proxy_longlived_closed_total{reason="revoked",route="listener"} 0`) ||
		!strings.Contains(m, `gatehouse_proxy_longlived_connections{route="listener"} 0`) {
		t.Error("/metrics lacks the long-lived metrics before the first connection")
	}

	c := dialWS(t, g.Addr, key, "ws-client")
	echo(t, c)
	if m := metrics(); !strings.Contains(m, `gatehouse_proxy_longlived_connections{route="listener"} 1`) {
		t.Error("an open websocket is not counted in gatehouse_proxy_longlived_connections")
	}
	c.Close(websocket.StatusNormalClosure, "done")
	checkEnd(t, g.waitAccessLine(t, "ws-client"), http.StatusSwitchingProtocols, "ok", "client_closed")

	// A client that resets its connection, without a close frame.
	reset, err := net.Dial("tcp", g.Addr)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(reset, "GET /api/v2/data-listener HTTP/1.1\r\nHost: gw\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nX-API-Key: %s\r\nX-Request-Id: ws-reset\r\n\r\n", key)
	if resp, err := http.ReadResponse(bufio.NewReader(reset), nil); err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %v, %v", resp, err)
	}
	reset.(*net.TCPConn).SetLinger(0)
	reset.Close()
	checkEnd(t, g.waitAccessLine(t, "ws-reset"), http.StatusSwitchingProtocols, "ok", "client_closed")

	c = dialWS(t, g.Addr, key, "ws-upstream")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Write(ctx, websocket.MessageText, []byte("bye")); err != nil {
		t.Fatal(err)
	}
	if code, reason, err := readEnd(c, 5*time.Second); code != websocket.StatusNormalClosure || reason != "bye" {
		t.Errorf("read after the upstream closed: %v, want its close frame 1000 \"bye\"", err)
	}
	checkEnd(t, g.waitAccessLine(t, "ws-upstream"), http.StatusSwitchingProtocols, "ok", "upstream_closed")

	if r := g.one(t, req("GET", "/events/finite", apiKey(key), "X-Request-Id: stream-upstream")); r.Status != 200 || r.Body != "{\"n\":1}\n{\"n\":2}\n" {
		t.Errorf("finite stream: %v", r)
	}
	checkEnd(t, g.waitAccessLine(t, "stream-upstream"), http.StatusOK, "ok", "upstream_closed")

	// stream opens /events/forever and returns once its first line arrived.
	stream := func(key, id string) *http.Response {
		t.Helper()
		hr, _ := http.NewRequest("GET", g.URL+"/events/forever", nil)
		hr.Header.Set("X-API-Key", key)
		hr.Header.Set("X-Request-Id", id)
		resp, err := http.DefaultClient.Do(hr)
		if err != nil {
			t.Fatal(err)
		}
		if line, err := bufio.NewReader(resp.Body).ReadString('\n'); err != nil || line != "{\"n\":1}\n" {
			t.Fatalf("%s: first line %q, %v", id, line, err)
		}
		return resp
	}
	stream(key, "stream-client").Body.Close()
	checkEnd(t, g.waitAccessLine(t, "stream-client"), http.StatusOK, "ok", "client_closed")

	doomed, doomedKey := g.key(t, "doomed", "data:read")
	resp := stream(doomedKey, "stream-revoked")
	defer resp.Body.Close()
	if err := g.Keys().Delete(context.Background(), doomed, keys.Admin("e2e")); err != nil {
		t.Fatal(err)
	}
	checkEnd(t, g.waitAccessLine(t, "stream-revoked"), http.StatusOK, "revoked", "revoked")

	m := metrics()
	for _, want := range []string{
		`gatehouse_proxy_longlived_connections{route="listener"} 0`,
		`gatehouse_proxy_longlived_connections{route="events"} 0`,
		`gatehouse_proxy_longlived_closed_total{reason="client_closed",route="listener"} 2`,
		`gatehouse_proxy_longlived_closed_total{reason="upstream_closed",route="listener"} 1`,
		`gatehouse_proxy_longlived_closed_total{reason="client_closed",route="events"} 1`,
		`gatehouse_proxy_longlived_closed_total{reason="upstream_closed",route="events"} 1`,
		`gatehouse_proxy_longlived_closed_total{reason="revoked",route="events"} 1`,
		`gatehouse_proxy_longlived_closed_total{reason="shutdown",route="events"} 0`,
		`gatehouse_proxy_requests_total{outcome="ok",route="listener",status="101"} 3`,
		`gatehouse_proxy_requests_total{outcome="revoked",route="events",status="200"} 1`,
	} {
		if !strings.Contains(m, want+"\n") {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}
