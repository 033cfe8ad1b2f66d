package e2e_test

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// TestHeaderTricks: the key is read from one X-API-Key header only, the
// gateway's identity headers cannot be spoofed or dropped by the client,
// and forwarding headers are the gateway's own.
func TestHeaderTricks(t *testing.T) {
	t.Parallel()
	g := startGateway(t, nil)
	id, key := g.key(t, "reader", "assets:read")
	_, other := g.key(t, "other", "assets:read")
	k := apiKey(key)
	get := func(headers ...string) string { return req("GET", "/api/v2/assets/1", headers...) }
	const up = "/v2/assets/1"
	flipped := []byte(key)
	flipped[10] ^= 1 // still base62 for letters: a wrong checksum
	runCases(t, g, []dataCase{
		{name: "valid key", request: get(k), status: 200, upstream: up, keyID: id},
		{name: "two X-API-Key headers, same key", request: get(k, k), status: 401, code: "invalid_key"},
		{name: "two X-API-Key headers, two keys", request: get(k, apiKey(other)), status: 401, code: "invalid_key"},
		{name: "two X-API-Key headers, other case", request: get(k, "x-api-key: "+key), status: 401, code: "invalid_key"},
		{name: "two keys in one header", request: get("X-API-Key: " + key + ", " + other), status: 401, code: "invalid_key"},
		{name: "key with spaces around", request: get("X-API-Key: \t " + key + " \t"), status: 200, upstream: up, keyID: id},
		{name: "lower-case header name", request: get("x-api-key: " + key), status: 200, upstream: up, keyID: id},
		{name: "Connection lists X-API-Key", request: get(k, "Connection: X-API-Key"), status: 200, upstream: up, keyID: id},
		{name: "Connection lists X-Gatehouse-Key-Id", request: get(k, "Connection: X-Gatehouse-Key-Id, X-Gatehouse-Key-Name"), status: 200, upstream: up, keyID: id},
		{name: "Connection lists X-Forwarded-For", request: get(k, "X-Forwarded-For: 10.9.9.9", "Connection: X-Forwarded-For"), status: 200, upstream: up, keyID: id},
		{name: "Connection lists X-Request-Id", request: get(k, "X-Request-Id: abc", "Connection: X-Request-Id"), status: 200, upstream: up, keyID: id},
		{name: "spoofed identity", request: get(k, "X-Gatehouse-Key-Id: admin", "X-Gatehouse-Key-Name: root", "X-Gatehouse-Anything: 1"), status: 200, upstream: up, keyID: id},
		{name: "spoofed identity on a public route", request: req("GET", "/apps-public/h", "X-Gatehouse-Key-Id: admin", "X-Gatehouse-Key-Name: root"), status: 200, upstream: "/apps-public/h"},
		{name: "spoofed forwarding", request: get(k, "X-Forwarded-For: 10.0.0.1", "X-Forwarded-Host: admin.internal", "X-Forwarded-Proto: https", "Forwarded: for=10.0.0.1;proto=https"), status: 200, upstream: up, keyID: id},
		{name: "spoofed client address", request: get(k, "X-Real-IP: 10.0.0.1", "X-Client-IP: 10.0.0.1", "True-Client-IP: 10.0.0.1", "X-Cluster-Client-IP: 10.0.0.1", "Client-IP: 10.0.0.1", "X-Original-Forwarded-For: 10.0.0.1", "X-Forwarded-Port: 443", "X-Forwarded-Prefix: /admin", "X-Forwarded-Server: admin"), status: 200, upstream: up, keyID: id},
		{name: "path override headers", request: get(k, "X-Original-URL: /v2/admin", "X-Rewrite-URL: /v2/admin", "X-Original-URI: /v2/admin"), status: 200, upstream: up, keyID: id},
		{name: "method override with a read key", request: get(k, "X-HTTP-Method-Override: DELETE", "X-HTTP-Method: DELETE", "X-Method-Override: DELETE"), status: 200, upstream: up, keyID: id},
		{name: "spoofed user", request: get(k, "Remote-User: admin", "X-Remote-User: admin", "X-Authenticated-User: admin", "X-Authenticated-Userid: admin", "X-Forwarded-User: admin", "X-Forwarded-Email: admin@example.com", "X-Auth-Request-User: admin", "X-Auth-Request-Email: admin@example.com", "X-Auth-Request-Groups: admins", "Remote-Groups: admins", "Remote-Email: admin@example.com", "Remote-Name: Admin"), status: 200, upstream: up, keyID: id},
		{name: "spoofed user on a public route", request: req("GET", "/apps-public/h", "Remote-User: admin", "X-Remote-User: admin", "X-Authenticated-User: admin", "X-Auth-Request-User: admin"), status: 200, upstream: "/apps-public/h"},
		{name: "spoofed remote address", request: get(k, "X-Remote-Addr: 10.0.0.1", "X-Remote-IP: 10.0.0.1", "X-Originating-IP: 10.0.0.1", "Remote-Addr: 10.0.0.1"), status: 200, upstream: up, keyID: id},
		{name: "original method with a read key", request: get(k, "X-Original-Method: DELETE"), status: 200, upstream: up, keyID: id},
		// CGI-style servers (wsgiref, PHP) read X_Forwarded_For as X-Forwarded-For.
		{name: "underscore names", request: get(k, "X_Gatehouse_Key_Id: admin", "X_Forwarded_For: 10.0.0.1", "X_Real_IP: 10.0.0.1", "X_HTTP_Method_Override: DELETE", "X_Original_URL: /v2/admin", "x_gatehouse_key_name: root"), status: 200, upstream: up, keyID: id},
		{name: "underscore names on a public route", request: req("GET", "/apps-public/h", "X_Gatehouse_Key_Id: admin", "X_Forwarded_For: 10.0.0.1", "X_Real_IP: 10.0.0.1", "X_HTTP_Method_Override: DELETE", "X_Original_URL: /v2/admin"), status: 200, upstream: "/apps-public/h"},
		{name: "key under an underscore name too", request: get(k, "X_API_Key: "+key), status: 200, upstream: up, keyID: id},
		{name: "h2c upgrade", request: get(k, "Upgrade: h2c", "HTTP2-Settings: AAMAAABkAAQAAP__", "Connection: Upgrade, HTTP2-Settings"), status: 200, upstream: up, keyID: id},
		{name: "other upgrade", request: get(k, "Upgrade: tls/1.3", "Connection: Upgrade"), status: 200, upstream: up, keyID: id},
		{name: "no key", request: get(), status: 401, code: "missing_key"},
		{name: "empty key", request: get("X-API-Key: "), status: 401},
		{name: "10 KB key", request: get("X-API-Key: gth_" + strings.Repeat("A", 10<<10)), status: 401, code: "invalid_key"},
		{name: "non-ASCII key", request: get("X-API-Key: gth_ключ" + key[10:]), status: 401, code: "invalid_key"},
		{name: "key with a wrong checksum", request: get("X-API-Key: " + string(flipped)), status: 401, code: "invalid_key"},
		{name: "truncated key", request: get("X-API-Key: " + key[:len(key)-1]), status: 401, code: "invalid_key"},
		{name: "key without its prefix", request: get("X-API-Key: " + key[4:]), status: 401, code: "invalid_key"},
		{name: "key as a bearer token", request: get("Authorization: Bearer " + key), status: 401, code: "missing_key"},
		{name: "key in the query", request: req("GET", "/api/v2/assets/1?api_key="+key+"&X-API-Key="+key+"&key="+key), status: 401, code: "missing_key"},
		{name: "key in a cookie", request: get("Cookie: X-API-Key=" + key), status: 401, code: "missing_key"},
		{name: "NUL in the key", request: get("X-API-Key: " + key[:10] + "\x00" + key[10:]), status: 400},
		{name: "space before the colon", request: get("X-API-Key : " + key), status: 400},
		// Go joins a folded line with a space: a key that is not valid.
		{name: "folded header line", request: get("X-API-Key: "+key[:20], " "+key[20:]), status: 401, code: "invalid_key"},
		{name: "bad request id replaced", request: get(k, "X-Request-Id: <script>"), status: 200, upstream: up, keyID: id},
	})

	// The identity headers are the gateway's, whatever the client sent.
	g.one(t, get(k, "X-Gatehouse-Key-Id: admin", "X-Gatehouse-Key-Name: root", "X-Forwarded-Host: admin.internal", "X-Request-Id: <script>"))
	r := g.up.Take()
	if len(r) != 1 {
		t.Fatalf("the upstream received %d requests, want 1", len(r))
	}
	h := r[0].Header
	if got := h.Values("X-Gatehouse-Key-Name"); len(got) != 1 || got[0] != "reader" {
		t.Errorf("upstream X-Gatehouse-Key-Name = %q, want [reader]", got)
	}
	if got := h.Values("X-Gatehouse-Key-Id"); len(got) != 1 {
		t.Errorf("upstream X-Gatehouse-Key-Id = %q, want one value", got)
	}
	if got := h.Get("X-Forwarded-Host"); got != "gw.example" {
		t.Errorf("upstream X-Forwarded-Host = %q, want the Host the client asked for", got)
	}
	if got := h.Get("X-Request-Id"); strings.ContainsAny(got, "<>") || got == "" {
		t.Errorf("upstream X-Request-Id = %q, want a generated one", got)
	}
}

// TestSmuggling: however the client frames a request, every request the
// gateway reads meets every check, and what it forwards is framed anew: a
// keyless request hidden in a body never reaches the upstream.
func TestSmuggling(t *testing.T) {
	t.Parallel()
	g := startGateway(t, nil)
	_, key := g.key(t, "writer", "assets:write")
	const hidden = "GET /api/v2/assets/smuggled HTTP/1.1\r\nHost: gw\r\n\r\n"
	head := "POST /apps-public/x HTTP/1.1\r\nHost: gw\r\n"
	keyed := "POST /api/v2/assets/x HTTP/1.1\r\nHost: gw\r\nX-API-Key: " + key + "\r\n"
	tests := []struct {
		name, request string
	}{
		{"CL then TE", head + "Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + hidden},
		{"TE then CL", head + "Transfer-Encoding: chunked\r\nContent-Length: 60\r\n\r\n0\r\n\r\n" + hidden},
		{"CL and TE on a keyed route", keyed + "Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + hidden},
		{"CL hides a request", head + fmt.Sprintf("Content-Length: %d\r\n\r\n", len(hidden)) + hidden},
		{"two differing CLs", head + "Content-Length: 3\r\nContent-Length: 40\r\n\r\nabc" + hidden},
		{"two CLs in one header", head + "Content-Length: 3, 40\r\n\r\nabc" + hidden},
		{"signed CL", head + "Content-Length: +3\r\n\r\nabc" + hidden},
		{"TE chunked twice", head + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + hidden},
		{"TE list", head + "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n" + hidden},
		{"TE identity", head + "Transfer-Encoding: identity\r\nContent-Length: 3\r\n\r\nabc" + hidden},
		{"TE obfuscated", head + "Transfer-Encoding: xchunked\r\nContent-Length: 3\r\n\r\nabc" + hidden},
		{"TE with a space before the colon", head + "Transfer-Encoding : chunked\r\nContent-Length: 3\r\n\r\nabc" + hidden},
		{"TE on HTTP/1.0", "POST /apps-public/x HTTP/1.0\r\nHost: gw\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n" + hidden},
		{"chunk size overflow", head + "Transfer-Encoding: chunked\r\n\r\nffffffffffffffffff1\r\nx\r\n0\r\n\r\n" + hidden},
		{"chunk extension with a LF", head + "Transfer-Encoding: chunked\r\n\r\n3;x\nabc\r\n0\r\n\r\n" + hidden},
		{"bare LF line ends", "POST /apps-public/x HTTP/1.1\nHost: gw\nContent-Length: 3\n\nabc" + hidden},
		{"pipelined keyless request", req("GET", "/apps-public/x")[:len(req("GET", "/apps-public/x"))-len("Connection: close\r\n\r\n")] + "\r\n" + hidden},
	}
	// Whatever the framing left on the connection, this last request makes
	// the gateway answer and close, so no case waits for a deadline.
	const last = "GET /healthz HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n"
	for _, tt := range tests {
		replies := g.raw(t, tt.request+last, 4)
		reached := g.up.Take()
		var statuses []int
		for _, r := range replies {
			statuses = append(statuses, r.Status)
		}
		for _, r := range reached {
			if strings.Contains(r.RequestURI, "smuggled") {
				t.Errorf("%s: the hidden keyless request reached the upstream as %s %s", tt.name, r.Method, r.RequestURI)
			}
			if strings.Contains(r.Body, "smuggled") && !strings.HasPrefix(tt.name, "CL hides") {
				t.Errorf("%s: the upstream received a body holding the hidden request: %q", tt.name, r.Body)
			}
		}
		for i, r := range replies {
			if i > 0 && r.Status != 0 && r.Status != 401 && r.Status != 200 {
				t.Errorf("%s: answer %d to the hidden request is %v, want 401 or none", tt.name, i+1, r)
			}
		}
		t.Logf("%s: answers %v, upstream received %d", tt.name, statuses, len(reached))
	}
}

// TestOversized: headers over the server's 64 KiB limit get 431, a long
// request line too; nothing reaches the upstream.
func TestOversized(t *testing.T) {
	t.Parallel()
	g := startGateway(t, nil)
	_, key := g.key(t, "reader", "assets:read")
	many := make([]string, 0, 2000)
	for i := range 2000 {
		many = append(many, fmt.Sprintf("X-H%d: %s", i, strings.Repeat("v", 40)))
	}
	runCases(t, g, []dataCase{
		{name: "one 70 KiB header", request: req("GET", "/api/v2/assets/1", apiKey(key), "X-Junk: "+strings.Repeat("j", 70<<10)), status: 431},
		{name: "2000 headers", request: req("GET", "/api/v2/assets/1", append(many, apiKey(key))...), status: 431},
		{name: "70 KiB request line", request: req("GET", "/api/v2/assets/"+strings.Repeat("a", 70<<10), apiKey(key)), status: 431},
		{name: "70 KiB key", request: req("GET", "/apps-public/x", "X-API-Key: gth_"+strings.Repeat("a", 70<<10)), status: 431},
	})
}

// TestSlowHeaders: a client that trickles its headers, a byte at a time,
// is cut off after read_header_timeout (1s here) however steadily it sends.
func TestSlowHeaders(t *testing.T) {
	t.Parallel()
	g := startGateway(t, nil)
	_, key := g.key(t, "reader", "assets:read")
	c, err := net.Dial("tcp", g.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	closed := make(chan error, 1)
	go func() {
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, err := io.Copy(io.Discard, c)
		closed <- err
	}()
	request := req("GET", "/api/v2/assets/1", apiKey(key), "X-Slow: "+strings.Repeat("s", 200))
	start := time.Now()
	tick := time.NewTicker(50 * time.Millisecond) // the client's pace
	defer tick.Stop()
	for i := 0; i < len(request)-4; i++ { // never the final CRLF CRLF
		select {
		case err := <-closed:
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatal("the gateway kept the connection 10s")
			}
			took := time.Since(start)
			t.Logf("cut off after %v, %d bytes sent", took.Round(10*time.Millisecond), i)
			if took > 3*time.Second {
				t.Errorf("cut off after %v, want about read_header_timeout (1s)", took)
			}
			if got := g.up.Take(); len(got) != 0 {
				t.Errorf("the upstream received %d requests", len(got))
			}
			return
		case <-tick.C:
		}
		if _, err := c.Write([]byte{request[i]}); err != nil {
			if errors.Is(err, net.ErrClosed) {
				t.Fatal(err)
			}
		}
		if time.Since(start) > 8*time.Second {
			break
		}
	}
	t.Fatalf("still connected after %v of trickled headers", time.Since(start).Round(time.Millisecond))
}
