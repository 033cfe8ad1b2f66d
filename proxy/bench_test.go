package proxy_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"testing"
	"time"

	"gatehouse"
	"gatehouse/keyauth"
	"gatehouse/proxy"
	"gatehouse/ratelimit"
)

// BenchmarkProxy compares, in one run, a bare httputil.ReverseProxy and the
// gatehouse data plane (path check, route, key check, scope, rate limit)
// in front of the same upstream. Report the ratio of the two ns/op.
func BenchmarkProxy(b *testing.B) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"id":"158","name":"AHU-1 supply fan"}`))
	}))
	defer up.Close()
	target, _ := url.Parse(up.URL + "/v2/assets")

	bare := &httputil.ReverseProxy{
		Rewrite:   func(pr *httputil.ProxyRequest) { pr.SetURL(target); pr.SetXForwarded() },
		Transport: proxy.NewTransport(),
	}
	idx := &index{keys: map[gatehouse.Digest]*gatehouse.APIKey{}}
	s := gatehouse.NewSecret()
	sc, _ := gatehouse.ParseScopes([]string{"assets:read"})
	idx.keys[s.Digest()] = &gatehouse.APIKey{ID: "k", Name: "bench", Digest: s.Digest(), Scopes: sc}
	table, _ := proxy.NewTable([]gatehouse.Route{{Name: "assets", Path: "/api/v2/assets", Upstream: up.URL + "/v2/assets", Scope: "assets", Timeout: 10 * time.Second}})
	gh := &proxy.Handler{
		Table: table,
		Verifier: &keyauth.Verifier{Index: idx, Limiter: ratelimit.NewLocal(),
			DefaultLimit: gatehouse.RateLimit{Requests: 1 << 30, Per: time.Second}},
	}
	gh.Init()
	for _, bc := range []struct {
		name string
		h    http.Handler
	}{{"bare", bare}, {"gatehouse", gh}} {
		b.Run(bc.name, func(b *testing.B) {
			srv := httptest.NewServer(bc.h)
			defer srv.Close()
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					req, _ := http.NewRequest("GET", srv.URL+"/api/v2/assets/158", nil)
					req.Header.Set("X-API-Key", s.Reveal())
					resp, err := client.Do(req)
					if err != nil {
						b.Error(err)
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 {
						b.Errorf("status %d", resp.StatusCode)
						return
					}
				}
			})
		})
	}
}
