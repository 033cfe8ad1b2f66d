package e2e_test

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"gatehouse/config"
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
			reached := g.up.take()
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
