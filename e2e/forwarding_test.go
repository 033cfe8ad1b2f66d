package e2e_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"gatehouse/config"
	"gatehouse/keys"
)

// TestMethodsTheUpstreamCannotMean: CONNECT, TRACE and TRACK, in any case,
// are refused with 405 after the path and route checks and before the key
// check, and never reach the upstream; other methods, WebDAV's included,
// are the upstream's to judge.
func TestMethodsTheUpstreamCannotMean(t *testing.T) {
	t.Parallel()
	g := startGateway(t, nil)
	id, writer := g.key(t, "writer", "assets:write")
	k := apiKey(writer)
	refused := func(name, request string) dataCase {
		return dataCase{name: name, request: request, status: 405, code: "method_not_allowed"}
	}
	runCases(t, g, []dataCase{
		refused("CONNECT with a write key", req("CONNECT", "/api/v2/assets/1", k)),
		refused("CONNECT without a key", req("CONNECT", "/api/v2/assets/1")),
		refused("CONNECT on a public route", req("CONNECT", "/apps-public/x")),
		refused("TRACE with a write key", req("TRACE", "/api/v2/assets/1", k)),
		refused("TRACE on a public route", req("TRACE", "/apps-public/x")),
		refused("lower-case trace", req("trace", "/apps-public/x")),
		refused("mixed-case Connect", req("Connect", "/api/v2/assets/1", k)),
		refused("TRACK", req("TRACK", "/api/v2/assets/1", k)),
		{name: "CONNECT to an authority", request: req("CONNECT", "gw.example:443", k), status: 400, code: "bad_path"},
		{name: "CONNECT with a bad path", request: req("CONNECT", "/api/v2/assets/../x", k), status: 400, code: "bad_path"},
		{name: "TRACE without a route", request: req("TRACE", "/nowhere"), status: 404, code: "no_route"},
		{name: "PROPFIND passes", request: req("PROPFIND", "/api/v2/assets/1", k), status: 200, upstream: "/v2/assets/1", keyID: id},
		{name: "PATCH passes", request: withBody("PATCH", "/api/v2/assets/1", "application/json", "{}", k), status: 200, upstream: "/v2/assets/1", keyID: id},
	})
	r := g.one(t, req("TRACE", "/api/v2/assets/1", k))
	if allow := r.Header.Get("Allow"); allow == "" || r.Header.Get("Content-Type") != "application/json; charset=utf-8" {
		t.Errorf("405 with Allow %q and Content-Type %q, want a list of methods and JSON", allow, r.Header.Get("Content-Type"))
	}
}

// TestSessionCookieNeverReachesAnUpstream: the Settings session cookie is
// taken out of every Cookie header forwarded, the other cookies kept byte
// for byte and in order, and a Cookie header left empty is not sent.
func TestSessionCookieNeverReachesAnUpstream(t *testing.T) {
	t.Parallel()
	g := startGateway(t, nil)
	_, key := g.key(t, "reader", "assets:read")
	tests := []struct {
		name    string
		cookies []string // one Cookie header each
		want    []string // the Cookie headers the upstream must see
	}{
		{"alone", []string{"gatehouse_session=s3cret"}, nil},
		{"in the middle", []string{"a=1; gatehouse_session=s3cret; b=2"}, []string{"a=1; b=2"}},
		{"first", []string{"gatehouse_session=s3cret; a=1;b=2"}, []string{"a=1;b=2"}},
		{"last, no space", []string{"a=1;gatehouse_session=s3cret"}, []string{"a=1"}},
		{"spaces and tabs around its name", []string{"a=\"x y\";  \tgatehouse_session =s3cret ; b=2"}, []string{"a=\"x y\"; b=2"}},
		{"twice", []string{"gatehouse_session=s3cret; a=1; gatehouse_session=other"}, []string{"a=1"}},
		{"without a value", []string{"gatehouse_session; a=1"}, []string{"a=1"}},
		{"in one of two headers", []string{"a=1", "gatehouse_session=s3cret", "b=2"}, []string{"a=1", "b=2"}},
		{"other cookies untouched", []string{"x=gatehouse_session=s3cret;gatehouse_sessionx=1;  Gatehouse_Session=2"}, []string{"x=gatehouse_session=s3cret;gatehouse_sessionx=1;  Gatehouse_Session=2"}},
		{"no session cookie", []string{"a=1;b=2 ;  c=3"}, []string{"a=1;b=2 ;  c=3"}},
	}
	for _, tt := range tests {
		for _, target := range []string{"/api/v2/assets/1", "/apps-public/x"} {
			headers := []string{apiKey(key)}
			for _, c := range tt.cookies {
				headers = append(headers, "Cookie: "+c)
			}
			r := g.one(t, req("GET", target, headers...))
			reached := g.up.Take()
			if r.Status != 200 || len(reached) != 1 {
				t.Errorf("%s on %s: %v, the upstream received %d requests; want 200 and 1", tt.name, target, r, len(reached))
				continue
			}
			if got := reached[0].Header["Cookie"]; !slices.Equal(got, tt.want) {
				t.Errorf("%s on %s: the upstream received Cookie %q, want %q", tt.name, target, got, tt.want)
			}
		}
	}
}

// TestUpstreamCannotSetTheSessionCookie: an upstream's Set-Cookie of the
// Settings session cookie (by its name as browsers read it) is dropped;
// every other Set-Cookie reaches the client as it was sent.
func TestUpstreamCannotSetTheSessionCookie(t *testing.T) {
	t.Parallel()
	setCookies := []string{
		" a=1; Path=/",
		"gatehouse_session=forged; Path=/; HttpOnly",
		"  gatehouse_session=forged; Path=/",
		"\t gatehouse_session\t =forged",
		"gatehouse_session",
		"gatehouse_sessionx=kept; Path=/",
		"Gatehouse_Session=kept",
		"b=gatehouse_session=kept; Path=/",
	}
	kept := []string{"a=1; Path=/", "gatehouse_sessionx=kept; Path=/", "Gatehouse_Session=kept", "b=gatehouse_session=kept; Path=/"}
	// Written raw: Go's server would trim the spaces around the values.
	cookies := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, bw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		bw.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n")
		list := setCookies
		if r.URL.Path == "/only-session" {
			list = []string{"gatehouse_session=forged; Path=/"}
		}
		for _, c := range list {
			bw.WriteString("Set-Cookie:" + c + "\r\n")
		}
		bw.WriteString("\r\nok")
		bw.Flush()
	}))
	t.Cleanup(cookies.Close)
	g := startGateway(t, func(c *config.Config) {
		c.Routes = append(c.Routes,
			config.Route{Name: "cookies", Path: "/cookies", Upstream: cookies.URL, Scope: "cookies"},
			config.Route{Name: "public-cookies", Path: "/public-cookies", Upstream: cookies.URL, Public: true})
	})
	_, key := g.key(t, "reader", "cookies:read")
	for _, target := range []string{"/cookies/x", "/public-cookies/x"} {
		r := g.one(t, req("GET", target, apiKey(key)))
		if got := r.Header["Set-Cookie"]; r.Status != 200 || !slices.Equal(got, kept) {
			t.Errorf("%s: %v with Set-Cookie %q, want 200 with %q", target, r, got, kept)
		}
	}
	// Only the session cookie's Set-Cookie: none reaches the client.
	if r := g.one(t, req("GET", "/cookies/only-session", apiKey(key))); r.Status != 200 || r.Header["Set-Cookie"] != nil {
		t.Errorf("only the session cookie: %v with Set-Cookie %q, want 200 with none", r, r.Header["Set-Cookie"])
	}
}

// bodyRead is what an upstream read of a request body: the bytes and the
// error that ended the read (nil at the body's end).
type bodyRead struct {
	body string
	err  error
}

// TestBodyTimeout: a request body that sends nothing for body_timeout
// (300ms here) is cut: the client gets 408 body_timeout and the upstream
// sees its request aborted; a refused request whose body stalls is not held
// longer. A slow but steady body passes, and so does a whole body whose
// upstream then takes longer than body_timeout to answer.
func TestBodyTimeout(t *testing.T) {
	t.Parallel()
	reads := make(chan bodyRead, 10)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		reads <- bodyRead{string(b), err}
		if err != nil {
			return
		}
		if r.URL.Path == "/slow-answer" {
			select { // longer than body_timeout, on purpose
			case <-time.After(700 * time.Millisecond):
			case <-r.Context().Done():
				return
			}
		}
		io.WriteString(w, "got "+string(b))
	}))
	t.Cleanup(up.Close)
	g := startGateway(t, func(c *config.Config) {
		c.BodyTimeout = config.Duration(300 * time.Millisecond)
		c.Routes = append(c.Routes,
			config.Route{Name: "uploads", Path: "/uploads", Upstream: up.URL, Public: true},
			config.Route{Name: "keyed-uploads", Path: "/keyed-uploads", Upstream: up.URL, Scope: "uploads"})
	})
	_, key := g.key(t, "writer", "uploads:write")
	// upstreamRead waits for what the upstream read of the body.
	upstreamRead := func(name string) bodyRead {
		t.Helper()
		select {
		case r := <-reads:
			return r
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: the upstream did not finish reading the body within 5s", name)
			return bodyRead{}
		}
	}

	for _, tt := range []struct{ name, request string }{
		{"stalled after 2 of 100 bytes", "POST /uploads/x HTTP/1.1\r\nHost: gw\r\nContent-Length: 100\r\n\r\nab"},
		{"stalled chunked body", "POST /uploads/x HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n"},
		{"stalled on a keyed route", "POST /keyed-uploads/x HTTP/1.1\r\nHost: gw\r\nX-API-Key: " + key + "\r\nContent-Length: 100\r\n\r\nab"},
	} {
		start := time.Now()
		r := g.one(t, tt.request) // which sends nothing more
		took := time.Since(start)
		if r.Status != 408 || r.code() != "body_timeout" || took > 2*time.Second {
			t.Errorf("%s: %v after %v, want 408 body_timeout after about 300ms", tt.name, r, took.Round(time.Millisecond))
		}
		if got := upstreamRead(tt.name); got.err == nil || got.body != "ab" {
			t.Errorf("%s: the upstream read %q, %v; want ab and its request aborted", tt.name, got.body, got.err)
		}
		t.Logf("%s: %d after %v", tt.name, r.Status, took.Round(time.Millisecond))
	}

	// A request the gateway refuses without reading its body: the server
	// reads the body to keep the connection, within body_timeout only.
	for _, tt := range []struct {
		name, request string
		status        int
	}{
		{"stalled body without a key", "POST /keyed-uploads/x HTTP/1.1\r\nHost: gw\r\nContent-Length: 100\r\n\r\nab", 401},
		{"stalled body with an unknown key", "POST /keyed-uploads/x HTTP/1.1\r\nHost: gw\r\nX-API-Key: gth_x\r\nContent-Length: 100\r\n\r\nab", 401},
		{"stalled body without a route", "POST /nowhere HTTP/1.1\r\nHost: gw\r\nContent-Length: 100\r\n\r\nab", 404},
		{"stalled body of a TRACE", "TRACE /uploads/x HTTP/1.1\r\nHost: gw\r\nContent-Length: 100\r\n\r\nab", 405},
		{"stalled body on a bad path", "POST /uploads/../x HTTP/1.1\r\nHost: gw\r\nContent-Length: 100\r\n\r\nab", 400},
		{"stalled body to the health check", "POST /healthz HTTP/1.1\r\nHost: gw\r\nContent-Length: 100\r\n\r\nab", 404},
		{"stalled body on the administrators' listener", "admin:POST /nowhere HTTP/1.1\r\nHost: gw\r\nContent-Length: 100\r\n\r\nab", 404},
	} {
		start := time.Now()
		addr := g.Addr
		if rest, ok := strings.CutPrefix(tt.request, "admin:"); ok {
			addr, tt.request = g.AdminAddr, rest
		}
		r := rawTo(t, addr, tt.request, 1)[0]
		if took := time.Since(start); r.Status != tt.status || took > 2*time.Second {
			t.Errorf("%s: %v after %v, want %d after about 300ms", tt.name, r, took.Round(time.Millisecond), tt.status)
		}
	}
	select {
	case r := <-reads:
		t.Errorf("a refused request reached the upstream (%q, %v)", r.body, r.err)
	default:
	}

	// 10 bytes, one every 100ms: never 300ms of silence.
	c, err := net.Dial("tcp", g.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "POST /uploads/steady HTTP/1.1\r\nHost: gw\r\nContent-Length: 10\r\nConnection: close\r\n\r\n")
	tick := time.NewTicker(100 * time.Millisecond) // the client's pace
	defer tick.Stop()
	for i := range 10 {
		<-tick.C
		io.WriteString(c, fmt.Sprint(i))
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("steady body: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(b) != "got 0123456789" {
		t.Errorf("steady body: %d %q, want 200 got 0123456789", resp.StatusCode, b)
	}
	if got := upstreamRead("steady body"); got.err != nil || got.body != "0123456789" {
		t.Errorf("steady body: the upstream read %q, %v", got.body, got.err)
	}

	// The whole body sent; the upstream answers after 700ms.
	if r := g.one(t, withBody("POST", "/uploads/slow-answer", "text/plain", "abc")); r.Status != 200 || r.Body != "got abc" {
		t.Errorf("slow answer after a whole body: %v, want 200 got abc", r)
	}
	upstreamRead("slow answer")
}

// TestDeletingAKeyEndsItsAnswers: an answer of known length still being
// sent (1,000,000 bytes over 10s) ends within about a second of its key's
// deletion or expiry, whether that comes before or after the answer's first
// half second.
func TestDeletingAKeyEndsItsAnswers(t *testing.T) {
	t.Parallel()
	const size, chunk = 1_000_000, 10_000
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(size))
		tick := time.NewTicker(100 * time.Millisecond) // the upstream's pace
		defer tick.Stop()
		for range size / chunk {
			if _, err := io.WriteString(w, strings.Repeat("x", chunk)); err != nil {
				return
			}
			w.(http.Flusher).Flush()
			select {
			case <-tick.C:
			case <-r.Context().Done():
				return
			}
		}
	}))
	t.Cleanup(slow.Close)
	g := startGateway(t, func(c *config.Config) {
		c.Routes = append(c.Routes, config.Route{Name: "slow", Path: "/slow", Upstream: slow.URL, Scope: "slow"})
	})

	// download starts the answer and reads it on; it returns how many
	// bytes arrived so far and a channel that reports the end of the read.
	download := func(name, key string) (*atomic.Int64, <-chan error) {
		t.Helper()
		hr, _ := http.NewRequest("GET", g.URL+"/slow/file", nil)
		hr.Header.Set("X-API-Key", key)
		resp, err := http.DefaultClient.Do(hr)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if resp.StatusCode != 200 || resp.ContentLength != size {
			t.Fatalf("%s: %d with Content-Length %d, want 200 with %d", name, resp.StatusCode, resp.ContentLength, size)
		}
		var got atomic.Int64
		done := make(chan error, 1)
		go func() {
			defer resp.Body.Close()
			buf := make([]byte, 32<<10)
			for {
				n, err := resp.Body.Read(buf)
				got.Add(int64(n))
				if err != nil {
					done <- err
					return
				}
			}
		}()
		return &got, done
	}
	// flowing waits until at least n bytes arrived.
	flowing := func(name string, got *atomic.Int64, n int64) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for got.Load() < n {
			if time.Now().After(deadline) {
				t.Fatalf("%s: %d bytes after 5s, want %d", name, got.Load(), n)
			}
			time.Sleep(10 * time.Millisecond) // poll interval
		}
	}
	// ended fails the test unless the read ends short within 1.5s of cut.
	ended := func(name string, got *atomic.Int64, done <-chan error, cut time.Time) {
		t.Helper()
		select {
		case err := <-done:
			if err == io.EOF && got.Load() == size {
				t.Errorf("%s: the whole answer arrived", name)
			}
			t.Logf("%s: the answer ended %v after the cut, %d of %d bytes (%v)", name, time.Since(cut).Round(time.Millisecond), got.Load(), size, err)
		case <-time.After(time.Until(cut.Add(1500 * time.Millisecond))):
			t.Errorf("%s: still flowing 1.5s after the cut (%d bytes so far)", name, got.Load())
		}
	}

	id, key := g.key(t, "deleted mid-body", "slow:read")
	got, done := download("deleted mid-body", key)
	flowing("deleted mid-body", got, 10*chunk) // about a second in
	if err := g.Keys().Delete(t.Context(), id, keys.Admin("e2e")); err != nil {
		t.Fatal(err)
	}
	ended("deleted mid-body", got, done, time.Now())

	id, key = g.key(t, "deleted at once", "slow:read")
	got, done = download("deleted at once", key)
	if err := g.Keys().Delete(t.Context(), id, keys.Admin("e2e")); err != nil {
		t.Fatal(err)
	}
	ended("deleted at once", got, done, time.Now())

	until := g.Clock.Now().Add(time.Hour)
	_, key = g.keyUntil(t, "expired mid-body", &until, "slow:read")
	got, done = download("expired mid-body", key)
	flowing("expired mid-body", got, 10*chunk)
	g.Clock.Add(2 * time.Hour)
	ended("expired mid-body", got, done, time.Now())
}
