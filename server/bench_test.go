package server_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"testing"
	"time"

	"gatehouse/config"
	"gatehouse/gatehousetest"
	"gatehouse/gatehousetest/gatewaytest"
	"gatehouse/keys"
	"gatehouse/proxy"
	"gatehouse/server"
)

// BenchmarkGateway compares, in one run, a bare httputil.ReverseProxy and
// the whole gateway (access log, metrics, path check, route, key check,
// scope, rate limit, usage, revocation watch) before the same upstream.
func BenchmarkGateway(b *testing.B) {
	up := gatehousetest.NewUpstream(b, nil)
	cfg := gatewaytest.Config(b, up.URL, func(c *config.Config) { c.RateLimit = "1000000000/s" })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := server.Open(ctx, cfg, server.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	go s.Run(ctx)
	_, secret, err := s.Keys().Create(ctx, keys.CreateRequest{Name: "bench", Scopes: []string{"assets:read"}}, keys.Admin("bench"))
	if err != nil {
		b.Fatal(err)
	}
	target, _ := url.Parse(up.URL + "/v2/assets")
	bare := &httputil.ReverseProxy{
		Rewrite:   func(pr *httputil.ProxyRequest) { pr.SetURL(target); pr.SetXForwarded() },
		Transport: proxy.NewTransport(),
	}
	// The same gateway with tracing on, every request sampled, its spans
	// sent to a collector that drops them.
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.Copy(io.Discard, r.Body) }))
	defer sink.Close()
	tcfg := *cfg
	tcfg.Tracing = config.Tracing{OTLPEndpoint: sink.URL, SampleRatio: 1}
	traced, err := server.Open(ctx, &tcfg, server.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer traced.Close()
	for _, bc := range []struct {
		name string
		h    http.Handler
	}{{"bare", bare}, {"gatehouse", s.DataHandler()}, {"gatehouse-traced", traced.DataHandler()}} {
		b.Run(bc.name, func(b *testing.B) {
			srv := httptest.NewServer(bc.h)
			defer srv.Close()
			hammer(b, srv.URL+"/api/v2/assets/158", secret.Reveal())
		})
	}
}

// BenchmarkLimiter compares, in one run, the gateway with its in-process
// rate limiter and with the Redis one (GATEHOUSE_TEST_REDIS).
func BenchmarkLimiter(b *testing.B) {
	redisURL := gatehousetest.RedisURL(b, "the limiters' comparison")
	up := gatehousetest.NewUpstream(b, nil)
	for _, name := range []string{"local", "redis"} {
		b.Run(name, func(b *testing.B) {
			cfg := gatewaytest.Config(b, up.URL, func(c *config.Config) {
				c.RateLimit = "1000000000/s"
				if name == "redis" {
					c.Redis = redisURL
				}
			})
			g := gatewaytest.MustStart(b, cfg, gatewaytest.Options{Logger: slog.New(slog.DiscardHandler)})
			_, secret := g.MustCreateKey(b, keys.CreateRequest{Name: "bench", Scopes: []string{"assets:read"}})
			b.ResetTimer()
			hammer(b, g.URL+"/api/v2/assets/158", secret)
		})
	}
}

// hammer sends GETs with key to url from parallel keep-alive clients for
// the benchmark's b.N, and fails on any status but 200.
func hammer(b *testing.B, url, key string) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest("GET", url, nil)
			req.Header.Set("X-API-Key", key)
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
}

// BenchmarkSignedWrite compares, in one run, a POST of a small JSON body
// to a route without signatures and the same POST, signed with Ed25519
// (RFC 9421, with its Content-Digest), to a signed route: the cost of the
// verification, nonce included. The requests are signed before the timer
// starts, so the client's signing is not counted.
func BenchmarkSignedWrite(b *testing.B) {
	up := gatehousetest.NewUpstream(b, nil)
	cfg := gatewaytest.Config(b, up.URL, func(c *config.Config) {
		c.RateLimit = "1000000000/s"
		c.Routes[1].Signed = true // platform: /api/v2
	})
	g := gatewaytest.MustStart(b, cfg, gatewaytest.Options{Logger: slog.New(slog.DiscardHandler)})
	k, secret := g.MustCreateKey(b, keys.CreateRequest{Name: "bench", Scopes: []string{"assets:write", "platform:write"}})
	signer := gatehousetest.NewSigner(b)
	_, keyID, err := g.Keys().AddSigningKey(context.Background(), k.ID, []byte(signer.JWK()), keys.Admin("bench"))
	if err != nil {
		b.Fatal(err)
	}
	body := []byte(`{"setpoint": 21.5, "zone": "B2-east"}`)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	nonce := 0 // b.Run runs each case more than once: nonces never repeat
	for _, bc := range []struct {
		name, path string
		signed     bool
	}{{"unsigned", "/api/v2/assets/158", false}, {"signed-ed25519", "/api/v2/controls/158", true}} {
		b.Run(bc.name, func(b *testing.B) {
			reqs := make([]*http.Request, b.N)
			for i := range reqs {
				r, _ := http.NewRequest("POST", g.URL+bc.path, nil)
				r.Header.Set("X-API-Key", secret)
				r.Header.Set("Content-Type", "application/json")
				if bc.signed {
					nonce++
					signer.Sign(r, body, keyID, time.Now(), strconv.Itoa(nonce))
				}
				reqs[i] = r
			}
			b.ResetTimer()
			for _, r := range reqs {
				r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
				resp, err := client.Do(r)
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					b.Fatalf("status %d", resp.StatusCode)
				}
			}
		})
	}
}
