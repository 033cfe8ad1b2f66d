package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"gatehouse"
	"gatehouse/config"
	"gatehouse/keys"
	"gatehouse/server"
)

// upstream is a real HTTP server that records what reached it.
type upstream struct {
	*httptest.Server
	mu    sync.Mutex
	paths []string
}

func newUpstream(t testing.TB) *upstream {
	u := &upstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.mu.Lock()
		u.paths = append(u.paths, r.URL.EscapedPath())
		u.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"path":%q}`, r.URL.Path)
	}))
	t.Cleanup(u.Close)
	return u
}

func (u *upstream) hits() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]string(nil), u.paths...)
}

// testConfig returns a config on a temp-dir SQLite store (or the given
// storage) with routes to up.
func testConfig(t testing.TB, storage string, up *upstream) *config.Config {
	t.Helper()
	dir := t.TempDir()
	c := config.Default()
	if storage == "" {
		storage = "sqlite:" + filepath.Join(dir, "gatehouse.db")
	}
	c.Storage = storage
	c.SecretKeyFile = filepath.Join(dir, "secret.key")
	c.Routes = []config.Route{
		{Name: "assets", Path: "/api/v2/assets", Upstream: up.URL + "/v2/assets", Scope: "assets"},
		{Name: "platform", Path: "/api/v2", Upstream: up.URL + "/v2", Scope: "platform"},
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	return c
}

// gateway is a running server behind httptest: URL is the data plane's
// listener, AdminURL the administrators'.
type gateway struct {
	*server.Server
	URL, AdminURL string
}

func mustOpenGateway(t testing.TB, cfg *config.Config) *gateway {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s, err := server.Open(ctx, cfg, server.Options{})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	hs := httptest.NewServer(s.DataHandler())
	admin := httptest.NewServer(s.AdminHandler())
	t.Cleanup(func() {
		hs.Close()
		admin.Close()
		cancel()
		<-done
		s.Close()
	})
	return &gateway{Server: s, URL: hs.URL, AdminURL: admin.URL}
}

func (g *gateway) mustCreate(t testing.TB, name string, scopes ...string) (*gatehouse.APIKey, string) {
	t.Helper()
	k, secret, err := g.Keys().Create(context.Background(), keys.CreateRequest{Name: name, Scopes: scopes}, keys.Admin("test"))
	if err != nil {
		t.Fatal(err)
	}
	return k, secret.Reveal()
}

func do(t testing.TB, method, url, key, body string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("X-API-Key", key)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func errorCode(t testing.TB, body string) string {
	t.Helper()
	var e struct {
		Error struct{ Code string } `json:"error"`
	}
	json.Unmarshal([]byte(body), &e)
	return e.Error.Code
}

func TestDeleteSeenByTheVeryNextRequest(t *testing.T) {
	t.Parallel()
	up := newUpstream(t)
	g := mustOpenGateway(t, testConfig(t, "", up))
	_, admin := g.mustCreate(t, "admin", "api-keys:write", "*:write")
	k, data := g.mustCreate(t, "data", "assets:read")

	if resp, body := do(t, "GET", g.URL+"/api/v2/assets/158", data, ""); resp.StatusCode != 200 {
		t.Fatalf("GET with key = %d %s, want 200", resp.StatusCode, body)
	}
	if resp, body := do(t, "DELETE", g.URL+"/api/v2/api-keys/"+k.ID, admin, ""); resp.StatusCode != 204 {
		t.Fatalf("DELETE key = %d %s, want 204", resp.StatusCode, body)
	}
	if resp, body := do(t, "GET", g.URL+"/api/v2/assets/158", data, ""); resp.StatusCode != 401 || errorCode(t, body) != gatehouse.EInvalidKey {
		t.Fatalf("GET after delete = %d %s, want 401 invalid_key", resp.StatusCode, body)
	}
}

func TestManagementAPINeverProxied(t *testing.T) {
	t.Parallel()
	up := newUpstream(t)
	g := mustOpenGateway(t, testConfig(t, "", up))
	_, data := g.mustCreate(t, "platform-writer", "*:write", "platform:write")
	for _, p := range []string{"/api/v2/api-keys", "/api/v2/api-keys/", "/API/V2/API-KEYS", "/api/v2/Api-Keys/x", "/api/v2/api-keys/x/reveal", "/api/v2/api-keys%2Fx", "/api/v2/./api-keys", "/api/v2//api-keys"} {
		for _, m := range []string{"GET", "POST", "DELETE"} {
			resp, body := do(t, m, g.URL+p, data, `{"name":"x"}`)
			if resp.StatusCode < 400 {
				t.Errorf("%s %s with a data key = %d %s, want a refusal", m, p, resp.StatusCode, body)
			}
		}
	}
	if hits := up.hits(); len(hits) != 0 {
		t.Errorf("upstream received %v, want nothing", hits)
	}
}

func TestOwnEndpoints(t *testing.T) {
	t.Parallel()
	up := newUpstream(t)
	g := mustOpenGateway(t, testConfig(t, "", up))
	_, data := g.mustCreate(t, "metrics", "assets:read")
	do(t, "GET", g.URL+"/api/v2/assets", data, "")
	do(t, "GET", g.URL+"/api/v2/assets", "gth_nope", "")

	if resp, _ := do(t, "GET", g.URL+"/healthz", "", ""); resp.StatusCode != 200 {
		t.Errorf("/healthz = %d, want 200", resp.StatusCode)
	}
	if resp, body := do(t, "GET", g.URL+"/readyz", "", ""); resp.StatusCode != 200 {
		t.Errorf("/readyz = %d %s, want 200", resp.StatusCode, body)
	}
	resp, body := do(t, "GET", g.AdminURL+"/metrics", "", "")
	if resp.StatusCode != 200 {
		t.Fatalf("/metrics = %d, want 200", resp.StatusCode)
	}
	for _, want := range []string{"gatehouse_proxy_requests_total", "gatehouse_proxy_upstream_duration_seconds", "gatehouse_keyauth_rejections_total", "gatehouse_keys_expiring_soon"} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	for _, base := range []string{g.URL, g.AdminURL} {
		for _, p := range []string{"/healthz", "/readyz"} {
			if resp, body := do(t, "GET", base+p, "", ""); resp.StatusCode != 200 {
				t.Errorf("%s%s = %d %s, want 200", base, p, resp.StatusCode, body)
			}
		}
		if resp, body := do(t, "GET", base+"/openapi.json", "", ""); resp.StatusCode != 200 || !strings.Contains(body, "/api/v2/api-keys") {
			t.Errorf("%s/openapi.json = %d, want 200 describing /api/v2/api-keys", base, resp.StatusCode)
		}
		if resp, body := do(t, "GET", base+"/nowhere", "", ""); resp.StatusCode != 404 || errorCode(t, body) != gatehouse.ENoRoute {
			t.Errorf("%s/nowhere = %d %s, want 404 no_route", base, resp.StatusCode, body)
		}
	}
	// The administrators' endpoints are not on the data plane's listener,
	// and never proxied.
	for _, p := range []string{"/metrics", "/login", "/logout", "/settings", "/settings/api-keys", "/SETTINGS/api-keys"} {
		if resp, body := do(t, "GET", g.URL+p, "", ""); resp.StatusCode != 404 || errorCode(t, body) != gatehouse.ENoRoute {
			t.Errorf("data plane %s = %d %s, want 404 no_route", p, resp.StatusCode, body)
		}
	}
	// Nothing is proxied on the administrators' listener.
	if resp, body := do(t, "GET", g.AdminURL+"/api/v2/assets/158", data, ""); resp.StatusCode != 404 || errorCode(t, body) != gatehouse.ENoRoute {
		t.Errorf("admin listener /api/v2/assets/158 = %d %s, want 404 no_route", resp.StatusCode, body)
	}
	if hits := up.hits(); len(hits) != 1 {
		t.Errorf("upstream hits = %v, want exactly the one authorised request", hits)
	}
}

func TestReadyzWhenStoreDown(t *testing.T) {
	t.Parallel()
	up := newUpstream(t)
	g := mustOpenGateway(t, testConfig(t, "", up))
	g.Store().Close()
	deadline := time.Now().Add(2 * time.Second)
	for {
		resp, _ := do(t, "GET", g.URL+"/readyz", "", "")
		if resp.StatusCode == 503 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz = %d with the store closed, want 503", resp.StatusCode)
		}
	}
	if resp, _ := do(t, "GET", g.URL+"/healthz", "", ""); resp.StatusCode != 200 {
		t.Errorf("/healthz = %d with the store closed, want 200 (the process still serves)", resp.StatusCode)
	}
}

// TestOpenFailureClosesWhatItOpened: an Open that fails after opening the
// store returns the error (it used to close a nil Server and panic).
func TestOpenFailureClosesWhatItOpened(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t, "", newUpstream(t))
	cfg.Redis = "tcp://not-a-redis-url" // refused by redis.ParseURL, after the store opened
	s, err := server.Open(context.Background(), cfg, server.Options{})
	if err == nil || s != nil {
		t.Fatalf("Open with a bad redis URL = %v, %v; want nil and an error", s, err)
	}
	if !strings.Contains(err.Error(), "redis") {
		t.Errorf("Open with a bad redis URL = %v, want an error about redis", err)
	}
}
