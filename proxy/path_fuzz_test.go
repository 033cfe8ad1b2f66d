package proxy_test

import (
	"bufio"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"gatehouse"
	"gatehouse/proxy"
)

// capture is a transport that records the request the proxy would send
// upstream and answers 200.
type capture struct{ got *http.Request }

func (c *capture) RoundTrip(r *http.Request) (*http.Response, error) {
	c.got = r
	return &http.Response{StatusCode: 200, Body: http.NoBody, Header: http.Header{}, Request: r}, nil
}

// FuzzCheckPathAndMatch: whatever target a client sends, a request the
// gateway forwards reaches the upstream inside the matched route's upstream
// prefix, with no dot or empty segment, and with the path that was matched.
func FuzzCheckPathAndMatch(f *testing.F) {
	for _, s := range []string{"/api/v2/assets/158", "/api/v2/assets/../x", "/api/v2/assets/%2e%2e/x", "/api/v2//assets",
		"/api/v2/assets%2f..", "/api/v2/%61ssets/1", "/apps-public/hook?x=1", "/api/v2/assets-bulk", "http://h/api/v2/assets/1", "/api/v2/assets/caf%C3%A9"} {
		f.Add(s)
	}
	table, err := proxy.NewTable([]gatehouse.Route{
		{Name: "assets", Path: "/api/v2/assets", Upstream: "http://upstream/v2/assets", Public: true, Timeout: time.Second},
		{Name: "hooks", Path: "/apps-public", Upstream: "http://upstream/hooks/", Public: true, Timeout: time.Second},
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, target string) {
		req, err := http.ReadRequest(bufio.NewReader(strings.NewReader("GET " + target + " HTTP/1.1\r\nHost: gw\r\n\r\n")))
		if err != nil {
			return // Go's server would refuse it before any handler
		}
		c := &capture{}
		h := &proxy.Handler{Table: table, Transport: c}
		h.Init()
		h.ServeHTTP(httptest.NewRecorder(), req)
		if c.got == nil {
			return
		}
		out := c.got.URL
		route, ok := table.Match(req.URL.Path)
		if !ok {
			t.Fatalf("%q was forwarded to %s without a matching route", target, out)
		}
		upstream, err := route.UpstreamURL()
		if err != nil {
			t.Fatal(err)
		}
		prefix := strings.TrimSuffix(upstream.Path, "/")
		p := out.Path
		if p != prefix && !strings.HasPrefix(p, prefix+"/") {
			t.Fatalf("%q (route %s) reached %q, outside %q", target, route.Name, p, upstream.Path)
		}
		for _, seg := range strings.Split(p, "/")[1:] {
			if seg == "." || seg == ".." {
				t.Fatalf("%q reached the upstream as %q, with a dot segment", target, p)
			}
		}
		if strings.Contains(strings.TrimSuffix(p, "/"), "//") {
			t.Fatalf("%q reached the upstream as %q, with an empty segment", target, p)
		}
		if rest := strings.TrimPrefix(req.URL.Path, route.Path); !strings.HasSuffix(p, strings.TrimPrefix(rest, "/")) {
			t.Fatalf("%q reached the upstream as %q, not the matched path %q", target, p, req.URL.Path)
		}
		if strings.Contains(out.EscapedPath(), "%2F") || strings.Contains(out.EscapedPath(), "%2f") {
			t.Fatalf("%q reached the upstream with an encoded slash: %q", target, out.EscapedPath())
		}
	})
}
