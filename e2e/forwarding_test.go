package e2e_test

import (
	"testing"
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
