package e2e_test

import (
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// dataCase is one hostile request to the data plane: the status it must
// get and exactly what must reach the upstream ("" for nothing).
type dataCase struct {
	name     string
	request  string
	status   int
	code     string // the error code, when status is an error of the gateway
	upstream string // the request URI the upstream must receive
	keyID    string // the X-Gatehouse-Key-Id it must carry, if a keyed route
}

// runCases sends each case on its own connection, one after another (the
// upstream's record is shared), and checks the answer and the upstream.
func runCases(t *testing.T, g *gateway, cases []dataCase) {
	t.Helper()
	upHost := strings.TrimPrefix(g.up.URL, "http://")
	for _, tc := range cases {
		got := g.one(t, tc.request)
		reached := g.up.Take()
		if got.Status != tc.status {
			t.Errorf("%s: got %v, want %d", tc.name, got, tc.status)
		}
		if tc.code != "" && got.code() != tc.code {
			t.Errorf("%s: error code %q, want %q (%v)", tc.name, got.code(), tc.code, got)
		}
		if got.Status == http.StatusUnauthorized && got.Header.Get("WWW-Authenticate") != `ApiKey header="X-API-Key"` {
			t.Errorf("%s: 401 with WWW-Authenticate %q", tc.name, got.Header.Get("WWW-Authenticate"))
		}
		if tc.upstream == "" {
			for _, r := range reached {
				t.Errorf("%s: the upstream received %s %s, want nothing", tc.name, r.Method, r.RequestURI)
			}
			continue
		}
		if len(reached) != 1 {
			t.Errorf("%s: the upstream received %d requests, want exactly %s", tc.name, len(reached), tc.upstream)
			continue
		}
		r := reached[0]
		if r.RequestURI != tc.upstream {
			t.Errorf("%s: the upstream received %s, want %s", tc.name, r.RequestURI, tc.upstream)
		}
		h := r.Header
		switch {
		case h.Get("X-API-Key") != "":
			t.Errorf("%s: the upstream received the key", tc.name)
		case h.Get("X-Gatehouse-Key-Id") != tc.keyID:
			t.Errorf("%s: upstream X-Gatehouse-Key-Id %q, want %q", tc.name, h.Get("X-Gatehouse-Key-Id"), tc.keyID)
		case tc.keyID == "" && h.Get("X-Gatehouse-Key-Name") != "":
			t.Errorf("%s: a public route forwarded X-Gatehouse-Key-Name %q", tc.name, h.Get("X-Gatehouse-Key-Name"))
		case strings.Join(h.Values("X-Forwarded-For"), ",") != "127.0.0.1":
			t.Errorf("%s: upstream X-Forwarded-For %q, want the gateway's view of the client only", tc.name, h.Values("X-Forwarded-For"))
		case h.Get("X-Forwarded-Proto") != "http":
			t.Errorf("%s: upstream X-Forwarded-Proto %q, want http", tc.name, h.Get("X-Forwarded-Proto"))
		case h.Get("Forwarded") != "":
			t.Errorf("%s: upstream received the client's Forwarded %q", tc.name, h.Get("Forwarded"))
		case spoofed(h) != "":
			t.Errorf("%s: upstream received the client's %s", tc.name, spoofed(h))
		case h.Get("Upgrade") != "" || h.Get("HTTP2-Settings") != "":
			t.Errorf("%s: upstream received Upgrade %q / HTTP2-Settings %q", tc.name, h.Get("Upgrade"), h.Get("HTTP2-Settings"))
		case r.Host != upHost:
			t.Errorf("%s: upstream Host %q, want %q", tc.name, r.Host, upHost)
		case h.Get("X-Request-Id") == "":
			t.Errorf("%s: upstream got no X-Request-Id", tc.name)
		}
	}
}

// TestPathTricks: every path trick of issue 5 gets its status, and the
// upstream receives exactly the path that was authorised or nothing.
func TestPathTricks(t *testing.T) {
	t.Parallel()
	g := startGateway(t, nil)
	id, key := g.key(t, "reader", "assets:read")
	k := apiKey(key)
	get := func(target string) string { return req("GET", target, k) }
	ok := func(name, target, upstream string) dataCase {
		return dataCase{name: name, request: get(target), status: 200, upstream: upstream, keyID: id}
	}
	bad := func(name, target string) dataCase {
		return dataCase{name: name, request: get(target), status: 400, code: "bad_path"}
	}
	runCases(t, g, []dataCase{
		ok("plain", "/api/v2/assets/158", "/v2/assets/158"),
		ok("route root", "/api/v2/assets", "/v2/assets"),
		ok("query kept", "/api/v2/assets/158?x=1&next=%2F..%2Fadmin", "/v2/assets/158?x=1&next=%2F..%2Fadmin"),
		ok("trailing slash", "/api/v2/assets/", "/v2/assets/"),
		ok("encoded letter", "/api/v2/%61ssets/1", "/v2/assets/1"),
		ok("encoded UTF-8", "/api/v2/assets/caf%C3%A9", "/v2/assets/caf%C3%A9"),
		ok("raw UTF-8", "/api/v2/assets/café", "/v2/assets/caf%C3%A9"),
		ok("dots inside a segment", "/api/v2/assets/a..b/...x", "/v2/assets/a..b/...x"),
		ok("three dots", "/api/v2/assets/...", "/v2/assets/..."),
		bad("dot-dot", "/api/v2/assets/../platform"),
		bad("dot-dot at the end", "/api/v2/assets/.."),
		bad("dot-dot past the root", "/api/v2/assets/../../../etc/passwd"),
		bad("encoded dot-dot", "/api/v2/assets/%2e%2e/platform"),
		bad("encoded dot-dot upper", "/api/v2/assets/%2E%2E/platform"),
		bad("half-encoded dot-dot", "/api/v2/assets/.%2e/platform"),
		bad("half-encoded dot-dot 2", "/api/v2/assets/%2E./platform"),
		bad("encoded dot", "/api/v2/assets/%2e/x"),
		bad("dot segment", "/api/v2/assets/./x"),
		bad("trailing dot segment", "/api/v2/assets/."),
		bad("double slash", "/api/v2//assets/1"),
		bad("leading double slash", "//api/v2/assets/1"),
		bad("double slash inside", "/api/v2/assets//1"),
		bad("encoded slash", "/api/v2/assets%2f..%2fplatform"),
		bad("encoded slash upper", "/api/v2/assets%2F1"),
		bad("encoded backslash", "/api/v2/assets/%5c..%5cplatform"),
		bad("encoded backslash upper", "/api/v2/assets/%5C1"),
		bad("raw backslash", `/api/v2/assets\..\platform`),
		bad("path parameter", "/api/v2/assets;jsessionid=0123"),
		bad("path parameter in a segment", "/api/v2/assets/1;jsessionid=0123"),
		bad("tomcat dot-dot", "/api/v2/assets/..;/platform"),
		bad("double-encoded dot-dot", "/api/v2/assets/%252e%252e/platform"),
		bad("encoded NUL", "/api/v2/assets/1%00.json"),
		bad("encoded CRLF", "/api/v2/assets/1%0d%0aX-Injected:%201"),
		// Go's server itself refuses what it cannot parse, in plain text.
		{name: "bad escape", request: get("/api/v2/assets/%zz"), status: 400},
		{name: "truncated escape", request: get("/api/v2/assets/%2"), status: 400},
		bad("asterisk form", "*"),
		bad("absolute-form with dot-dot", "http://gw.example/api/v2/assets/../platform"),
		bad("absolute-form without a path", "http://gw.example"),
		bad("scheme without authority", "http:/api/v2/assets/1"),
		ok("absolute-form", "http://evil.example/api/v2/assets/1", "/v2/assets/1"),
		ok("absolute-form with user info", "http://admin@evil.example/api/v2/assets/2", "/v2/assets/2"),
		// Go reads this target as an empty path with a query: no route.
		{name: "absolute-form with a query before the path", request: get("http://evil.example?/api/v2/assets/1"), status: 404},
		{name: "mixed case route", request: get("/API/V2/ASSETS/1"), status: 404, code: "no_route"},
		{name: "mixed case under the catch-all", request: get("/api/v2/Assets/1"), status: 403, code: "insufficient_scope"},
		{name: "prefix on part of a segment", request: get("/api/v2/assets-bulk"), status: 403, code: "insufficient_scope"},
		{name: "trailing dot on the route", request: get("/api/v2/assets."), status: 403, code: "insufficient_scope"},
		{name: "other route", request: get("/api/v2/platform/1"), status: 403, code: "insufficient_scope"},
		{name: "no route", request: get("/internal/admin"), status: 404, code: "no_route"},
		{name: "host of another site", request: "GET /api/v2/assets/7 HTTP/1.1\r\nHost: bank.example\r\n" + k + "\r\nConnection: close\r\n\r\n", status: 200, upstream: "/v2/assets/7", keyID: id},
		{name: "CONNECT", request: "CONNECT evil.example:443 HTTP/1.1\r\nHost: evil.example:443\r\n" + k + "\r\n\r\n", status: 400},
		{name: "no leading slash", request: get("api/v2/assets/1"), status: 400},
		{name: "gatehouse's own path in another case", request: get("/API/V2/API-KEYS"), status: 404},
		{name: "management API through a dot-dot", request: get("/api/v2/assets/../api-keys"), status: 400, code: "bad_path"},
		{name: "management API encoded", request: get("/api/v2/api%2Dkeys"), status: 403, code: "insufficient_scope"},
	})
}

// TestScopeBoundary: methods and scopes; a key gets only what its scope
// allows, on its route only.
func TestScopeBoundary(t *testing.T) {
	t.Parallel()
	g := startGateway(t, nil)
	readerID, reader := g.key(t, "reader", "assets:read")
	writerID, writer := g.key(t, "writer", "assets:write")
	starID, star := g.key(t, "star", "*:write")
	filesID, files := g.key(t, "files", "files:read")
	admin := ""
	_, admin = g.key(t, "admin", "api-keys:write")
	until := g.Clock.Now().Add(time.Hour)
	_, soon := g.keyUntil(t, "soon", &until, "assets:read")
	g.Clock.Add(2 * time.Hour)
	// The index counts a clock jump as time without a sync, and refuses
	// with 503 until its next poll: wait for that.
	waitStatus(t, g.URL+"/api/v2/assets/1", reader, 200, 5*time.Second)
	g.up.Take()

	with := func(key string) string { return apiKey(key) }
	runCases(t, g, []dataCase{
		{name: "reader GET", request: req("GET", "/api/v2/assets/1", with(reader)), status: 200, upstream: "/v2/assets/1", keyID: readerID},
		{name: "reader HEAD", request: req("HEAD", "/api/v2/assets/1", with(reader)), status: 200, upstream: "/v2/assets/1", keyID: readerID},
		{name: "reader OPTIONS", request: req("OPTIONS", "/api/v2/assets/1", with(reader)), status: 200, upstream: "/v2/assets/1", keyID: readerID},
		{name: "reader POST", request: withBody("POST", "/api/v2/assets/1", "application/json", `{}`, with(reader)), status: 403, code: "insufficient_scope"},
		{name: "reader DELETE", request: req("DELETE", "/api/v2/assets/1", with(reader)), status: 403, code: "insufficient_scope"},
		{name: "reader TRACE", request: req("TRACE", "/api/v2/assets/1", with(reader)), status: 405, code: "method_not_allowed"},
		{name: "reader unknown method", request: req("PROPFIND", "/api/v2/assets/1", with(reader)), status: 403, code: "insufficient_scope"},
		{name: "reader lower-case get", request: req("get", "/api/v2/assets/1", with(reader)), status: 403, code: "insufficient_scope"},
		{name: "writer PUT", request: withBody("PUT", "/api/v2/assets/1", "application/json", `{"a":1}`, with(writer)), status: 200, upstream: "/v2/assets/1", keyID: writerID},
		{name: "writer DELETE", request: req("DELETE", "/api/v2/assets/1", with(writer)), status: 200, upstream: "/v2/assets/1", keyID: writerID},
		{name: "writer on another route", request: req("GET", "/api/v2/buildings", with(writer)), status: 403, code: "insufficient_scope"},
		{name: "star on a route", request: req("PATCH", "/api/v2/buildings/1", with(star)), status: 200, upstream: "/v2/buildings/1", keyID: starID},
		{name: "star on the management API", request: req("GET", "/api/v2/api-keys", with(star)), status: 403, code: "insufficient_scope"},
		{name: "route with a slash upstream", request: req("GET", "/files/a/b.txt", with(files)), status: 200, upstream: "/store/a/b.txt", keyID: filesID},
		{name: "route root with a slash upstream", request: req("GET", "/files", with(files)), status: 200, upstream: "/store/", keyID: filesID},
		{name: "files key elsewhere", request: req("GET", "/api/v2/assets/1", with(files)), status: 403, code: "insufficient_scope"},
		{name: "admin key on the data plane", request: req("GET", "/api/v2/assets/1", with(admin)), status: 403, code: "insufficient_scope"},
		{name: "expired key", request: req("GET", "/api/v2/assets/1", with(soon)), status: 401, code: "key_expired"},
		{name: "public route without a key", request: req("GET", "/apps-public/hook?sig=1"), status: 200, upstream: "/apps-public/hook?sig=1"},
		{name: "public route strips the key", request: req("POST", "/apps-public/hook", with(reader), "Content-Length: 0"), status: 200, upstream: "/apps-public/hook"},
		{name: "public route with dot-dot", request: req("GET", "/apps-public/../api/v2/assets/1"), status: 400, code: "bad_path"},
	})
}

// TestPathProperty sends a few hundred random mixes of hostile path
// fragments with a key for one route, over the wire: whatever reaches the
// upstream is under that route's upstream path, and is the canonical form
// of the path the gateway authorised.
func TestPathProperty(t *testing.T) {
	t.Parallel()
	g := startGateway(t, nil)
	_, key := g.key(t, "reader", "assets:read")
	frags := []string{"assets", "assets", "Assets", "assets-bulk", "%61ssets", "..", ".", "%2e", "%2E%2e", "", "%2f", "%5c", `\`,
		";x", "x", "1", "%25", "%", "%zz", "caf%C3%A9", "?a=/..", "%3F", "%23", "~", "api-keys", "platform", "%00", ".json", "a.", " "}
	rng := rand.New(rand.NewPCG(5, 5))
	const n = 300
	accepted := 0
	for i := range n {
		var b strings.Builder
		b.WriteString("/api/v2")
		for range 1 + rng.IntN(4) {
			b.WriteString("/" + frags[rng.IntN(len(frags))])
		}
		target := b.String()
		got := g.one(t, req("GET", target, apiKey(key)))
		reached := g.up.Take()
		if got.Status == 0 || got.Status >= 500 {
			t.Errorf("case %d %q: %v", i, target, got)
		}
		if got.Status != 200 {
			if len(reached) != 0 {
				t.Errorf("case %d %q: refused with %d, yet the upstream received %s", i, target, got.Status, reached[0].RequestURI)
			}
			continue
		}
		accepted++
		if len(reached) != 1 {
			t.Errorf("case %d %q: 200 with %d requests at the upstream", i, target, len(reached))
			continue
		}
		p, _, _ := strings.Cut(reached[0].RequestURI, "?")
		if p != "/v2/assets" && !strings.HasPrefix(p, "/v2/assets/") {
			t.Errorf("case %d %q: the upstream received %s, outside the route /v2/assets", i, target, reached[0].RequestURI)
		}
		// What was authorised is the decoded client path; the upstream must
		// see that path, re-escaped canonically.
		u, err := url.ParseRequestURI(target)
		if err != nil {
			t.Errorf("case %d %q: accepted a target Go cannot parse", i, target)
			continue
		}
		want := (&url.URL{Path: "/v2" + strings.TrimPrefix(u.Path, "/api/v2")}).EscapedPath()
		if p != want {
			t.Errorf("case %d %q: the upstream received %s, want %s", i, target, p, want)
		}
		for _, seg := range strings.Split(p, "/")[1:] {
			if seg == "" && p != "/v2/assets/" || seg == "." || seg == ".." {
				t.Errorf("case %d %q: the upstream received the segment %q in %s", i, target, seg, p)
			}
		}
	}
	t.Logf("%d of %d random paths accepted, every one inside its route", accepted, n)
	if accepted == 0 {
		t.Error("no random path was accepted: the property was not exercised")
	}
}

// spoofed names the first header in h that only a client could have set to
// claim an address, a user, a method or a path the gateway did not
// authorise, or
// that a CGI-style server would read as one (any name holding _).
func spoofed(h http.Header) string {
	for name := range h {
		if strings.Contains(name, "_") {
			return name
		}
	}
	for _, name := range []string{"X-Real-Ip", "X-Client-Ip", "True-Client-Ip", "X-Cluster-Client-Ip", "Client-Ip",
		"X-Original-Forwarded-For", "X-Forwarded-Port", "X-Forwarded-Prefix", "X-Forwarded-Server",
		"X-Original-Url", "X-Rewrite-Url", "X-Original-Uri", "X-Http-Method-Override", "X-Http-Method", "X-Method-Override",
		"X-Original-Method", "Remote-User", "X-Remote-User", "X-Authenticated-User", "X-Authenticated-Userid", "X-Forwarded-User",
		"X-Forwarded-Email", "X-Auth-Request-User", "X-Auth-Request-Email", "X-Auth-Request-Groups", "Remote-Groups", "Remote-Email",
		"Remote-Name", "X-Remote-Addr", "X-Remote-Ip", "X-Originating-Ip", "Remote-Addr"} {
		if h.Get(name) != "" {
			return name
		}
	}
	return ""
}
