package server_test

import (
	"bufio"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gatehouse/config"
)

// TestUpstreamFaults: an upstream that resets mid-body, hangs or is down
// costs the client that request only; the gateway answers the next one.
func TestUpstreamFaults(t *testing.T) {
	t.Parallel()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v2/reset":
			w.Header().Set("Content-Length", "1000")
			w.Write([]byte(strings.Repeat("x", 100)))
			w.(http.Flusher).Flush()
			conn, _, _ := http.NewResponseController(w).Hijack()
			conn.Close() // 900 bytes short
		case "/v2/hang":
			<-r.Context().Done()
		case "/v2/slow-stream":
			w.Header().Set("Content-Type", "application/x-ndjson")
			for i := range 3 {
				io.WriteString(w, `{"n":`+string(rune('0'+i))+"}\n")
				w.(http.Flusher).Flush()
				select {
				case <-r.Context().Done():
					return
				case <-time.After(100 * time.Millisecond): // the upstream is slow on purpose
				}
			}
		default:
			w.Write([]byte("ok"))
		}
	}))
	defer up.Close()
	dir := t.TempDir()
	cfg := config.Default()
	cfg.Storage = "sqlite:" + filepath.Join(dir, "g.db")
	cfg.SecretKeyFile = filepath.Join(dir, "secret.key")
	cfg.Routes = []config.Route{
		{Name: "api", Path: "/api/v2", Upstream: up.URL + "/v2", Scope: "api", Timeout: config.Duration(300 * time.Millisecond)},
		{Name: "down", Path: "/down", Upstream: "http://127.0.0.1:1/x", Scope: "api"},
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	g := mustOpenGateway(t, cfg)
	_, key := g.mustCreate(t, "faults", "api:read")
	get := func(path string) (*http.Response, error) {
		req, _ := http.NewRequest("GET", g.URL+path, nil)
		req.Header.Set("X-API-Key", key)
		return http.DefaultClient.Do(req)
	}

	resp, err := get("/api/v2/reset")
	if err == nil {
		_, err = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	if err == nil {
		t.Error("a response cut mid-body by the upstream reached the client whole, want a truncated body")
	}
	if resp, body := do(t, "GET", g.URL+"/api/v2/hang", key, ""); resp.StatusCode != 504 || errorCode(t, body) != "upstream_timeout" {
		t.Errorf("hanging upstream = %d %s, want 504 upstream_timeout", resp.StatusCode, body)
	}
	if resp, body := do(t, "GET", g.URL+"/down", key, ""); resp.StatusCode != 502 || errorCode(t, body) != "upstream_unavailable" {
		t.Errorf("refusing upstream = %d %s, want 502 upstream_unavailable", resp.StatusCode, body)
	}
	resp, err = get("/api/v2/slow-stream")
	if err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(resp.Body)
	first, err := br.ReadString('\n')
	if err != nil || first != "{\"n\":0}\n" {
		t.Errorf("first line of a slow stream = %q, %v; want it before the stream ends", first, err)
	}
	rest, _ := io.ReadAll(br)
	resp.Body.Close()
	if string(rest) != "{\"n\":1}\n{\"n\":2}\n" {
		t.Errorf("rest of the slow stream = %q (the route timeout must not cut a stream that answered)", rest)
	}
	if resp, _ := do(t, "GET", g.URL+"/api/v2/ok", key, ""); resp.StatusCode != 200 {
		t.Errorf("after the faults = %d, want 200", resp.StatusCode)
	}
}
