package proxy_test

import (
	"bufio"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"gatehouse"
	"gatehouse/keyauth"
	"gatehouse/proxy"
)

// scopeVerifier accepts any key for the scope "assets" only.
type scopeVerifier struct{}

func (scopeVerifier) Authenticate(w http.ResponseWriter, r *http.Request, need keyauth.Need) (keyauth.Verdict, bool) {
	v := keyauth.Verdict{Status: keyauth.StatusValid, Key: &gatehouse.APIKey{ID: "key_fuzz", Name: "fuzz"}}
	switch {
	case len(r.Header[keyauth.HeaderKey]) != 1:
		v = keyauth.Verdict{Status: keyauth.StatusMissing}
	case need.Scope != "assets":
		v = keyauth.Verdict{Status: keyauth.StatusInsufficientScope}
	}
	if !v.OK() {
		keyauth.WriteRejection(w, v)
	}
	return v, v.OK()
}

// recordingTransport answers every request itself and remembers its URL.
type recordingTransport struct {
	mu   sync.Mutex
	urls []*url.URL
}

func (rt *recordingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	rt.mu.Lock()
	rt.urls = append(rt.urls, r.URL)
	rt.mu.Unlock()
	return &http.Response{StatusCode: 200, Header: http.Header{}, Body: io.NopCloser(strings.NewReader("ok")), Request: r}, nil
}

// FuzzForward reads a request line off the wire as Go's server would and
// passes it through the whole data-plane handler with a key for the scope
// "assets": whatever it forwards goes to the assets upstream, under its
// path, as the canonical form of the path that was authorised.
func FuzzForward(f *testing.F) {
	table, err := proxy.NewTable([]gatehouse.Route{
		{Name: "assets", Path: "/api/v2/assets", Upstream: "http://assets.internal/v2/assets", Scope: "assets", Timeout: time.Second},
		{Name: "platform", Path: "/api/v2", Upstream: "http://platform.internal/v2", Scope: "platform", Timeout: time.Second},
		{Name: "files", Path: "/files", Upstream: "http://assets.internal/store/", Scope: "assets", Timeout: time.Second},
	})
	if err != nil {
		f.Fatal(err)
	}
	rt := &recordingTransport{}
	h := &proxy.Handler{Table: table, Verifier: scopeVerifier{}, Transport: rt}
	h.Init()
	f.Fuzz(func(t *testing.T, method, target string) {
		r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(method + " " + target + " HTTP/1.1\r\nHost: gw\r\nX-API-Key: k\r\n\r\n")))
		if err != nil {
			return // Go's server would have answered 400
		}
		r = r.WithContext(gatehouse.NewContextWithRequestInfo(r.Context(), &gatehouse.RequestInfo{RequestID: "fuzz"}))
		w := httptest.NewRecorder()
		rt.mu.Lock()
		rt.urls = nil
		rt.mu.Unlock()
		h.ServeHTTP(w, r)
		rt.mu.Lock()
		urls := rt.urls
		rt.mu.Unlock()
		if w.Code >= 500 {
			t.Fatalf("%s %q: %d", method, target, w.Code)
		}
		if len(urls) == 0 {
			if w.Code == 200 {
				t.Fatalf("%s %q: 200 without forwarding", method, target)
			}
			return
		}
		got := urls[0]
		if got.Host != "assets.internal" {
			t.Fatalf("%s %q with an assets key reached %s", method, target, got)
		}
		p := got.EscapedPath()
		var want string
		switch {
		case r.URL.Path == "/api/v2/assets" || strings.HasPrefix(r.URL.Path, "/api/v2/assets/"):
			want = "/v2/assets" + strings.TrimPrefix(r.URL.Path, "/api/v2/assets")
		case r.URL.Path == "/files":
			want = "/store/"
		case strings.HasPrefix(r.URL.Path, "/files/"):
			want = "/store/" + strings.TrimPrefix(r.URL.Path, "/files/")
		default:
			t.Fatalf("%s %q (path %q) was forwarded to %s", method, target, r.URL.Path, got)
		}
		if p != (&url.URL{Path: want}).EscapedPath() {
			t.Fatalf("%s %q: forwarded path %s, want %s", method, target, p, want)
		}
		if !strings.HasPrefix(p, "/v2/assets/") && p != "/v2/assets" && !strings.HasPrefix(p, "/store/") {
			t.Fatalf("%s %q: forwarded path %s is outside the route", method, target, p)
		}
		for _, seg := range strings.Split(got.Path, "/")[1:] {
			if seg == "." || seg == ".." {
				t.Fatalf("%s %q: forwarded path %s has a dot segment", method, target, got.Path)
			}
		}
	})
}
