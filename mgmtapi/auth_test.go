package mgmtapi_test

import (
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gatehouse"
	"gatehouse/mgmtapi"
)

func TestKeyAuth(t *testing.T) {
	t.Parallel()
	e := mustEnv(t, nil)
	_, assets := e.mustKey("assets", "assets:write")
	_, star := e.mustKey("star", "*:write")
	_, reader := e.mustKey("reader", "api-keys:read")
	_, writer := e.mustKey("writer", "api-keys:write", "assets:read")
	_, allReader := e.mustKey("all-reader", "api-keys:write", "*:read")
	unknown := gatehouse.NewSecret().Reveal()
	typo := e.admin[:len(e.admin)-1] + string(e.admin[len(e.admin)-1]^1)

	const list, one = "/api/v2/api-keys", "/api/v2/api-keys/key_x"
	tests := []struct {
		name, method, path string
		keys               []string
		status             int
		code               string
	}{
		{"no key", "GET", list, nil, 401, gatehouse.EMissingKey},
		{"no key, unknown path", "GET", list + "/a/b/c", nil, 401, gatehouse.EMissingKey},
		{"no key, wrong method", "PATCH", list, nil, 401, gatehouse.EMissingKey},
		{"empty key", "GET", list, []string{""}, 401, gatehouse.EInvalidKey},
		{"malformed key", "GET", list, []string{"gth_short"}, 401, gatehouse.EInvalidKey},
		{"bad checksum", "GET", list, []string{typo}, 401, gatehouse.EInvalidKey},
		{"unknown key", "GET", list, []string{unknown}, 401, gatehouse.EInvalidKey},
		{"two keys", "GET", list, []string{e.admin, e.admin}, 401, gatehouse.EInvalidKey},
		{"assets:write lists", "GET", list, []string{assets}, 403, gatehouse.EInsufficientScope},
		{"*:write lists", "GET", list, []string{star}, 403, gatehouse.EInsufficientScope},
		{"*:write creates", "POST", list, []string{star}, 403, gatehouse.EInsufficientScope},
		{"*:write reveals", "POST", one + "/reveal", []string{star}, 403, gatehouse.EInsufficientScope},
		{"*:write on an unknown path", "GET", list + "/x/y/z", []string{star}, 403, gatehouse.EInsufficientScope},
		{"api-keys:read lists", "GET", list, []string{reader}, 200, ""},
		{"api-keys:read heads", "HEAD", list, []string{reader}, 200, ""},
		{"api-keys:read gets", "GET", one, []string{reader}, 404, gatehouse.ENotFound},
		{"api-keys:read creates", "POST", list, []string{reader}, 403, gatehouse.EInsufficientScope},
		{"api-keys:read reveals", "POST", one + "/reveal", []string{reader}, 403, gatehouse.EInsufficientScope},
		{"api-keys:read deletes", "DELETE", one, []string{reader}, 403, gatehouse.EInsufficientScope},
		{"api-keys:write lists", "GET", list, []string{writer}, 200, ""},
		{"api-keys:write, assets:read creates *:read", "POST", list, []string{writer}, 403, gatehouse.EInsufficientScope},
		{"api-keys:write, *:read creates *:read", "POST", list, []string{allReader}, 201, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := req{method: tt.method, path: tt.path, header: http.Header{}}
			for _, k := range tt.keys {
				r.header.Add("X-API-Key", k)
			}
			if tt.method == "POST" {
				r.body = `{"name": "` + tt.name + `"}`
			}
			resp := e.do(r)
			if tt.code == "" || tt.method == "HEAD" {
				e.wantStatus(resp, tt.status, tt.name)
				return
			}
			e.wantError(resp, tt.status, tt.code, tt.name)
		})
	}
}

func TestCreatedByKeyCanManage(t *testing.T) {
	t.Parallel()
	e := mustEnv(t, nil)
	k, r := e.create(`{"name": "automation", "scopes": ["api-keys:write", "*:read"]}`)
	e.wantStatus(r, http.StatusCreated, "create")
	r = e.do(req{method: "POST", path: "/api/v2/api-keys", key: k.Key, body: `{"name": "child"}`})
	e.wantStatus(r, http.StatusCreated, "create with the new key")
	var child apiKey
	e.decode(r, &child)
	if child.CreatedBy != "key:"+k.ID {
		t.Errorf("createdBy = %q, want key:%s", child.CreatedBy, k.ID)
	}
}

func TestSession(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	e := mustEnv(t, func(h *mgmtapi.Handler) {
		h.Session = func(r *http.Request) (string, bool, error) {
			calls.Add(1)
			c, err := r.Cookie("session")
			if err != nil {
				return "", false, nil
			}
			if r.Method != "GET" && r.Header.Get("X-CSRF-Token") != "good" {
				return "", false, gatehouse.Errorf(gatehouse.EForbidden, "The CSRF token is missing or wrong.")
			}
			return c.Value, true, nil
		}
	})
	session := http.Header{"Cookie": {"session=alice"}}
	withCSRF := http.Header{"Cookie": {"session=alice"}, "X-Csrf-Token": {"good"}}

	e.wantStatus(e.do(req{method: "GET", path: "/api/v2/api-keys", header: session}), 200, "list with a session")
	r := e.do(req{method: "POST", path: "/api/v2/api-keys", header: withCSRF, body: `{"name": "ui"}`})
	e.wantStatus(r, http.StatusCreated, "create with a session")
	var k apiKey
	e.decode(r, &k)
	if k.CreatedBy != "admin:alice" {
		t.Errorf("createdBy = %q, want admin:alice", k.CreatedBy)
	}
	e.wantError(e.do(req{method: "POST", path: "/api/v2/api-keys", header: session, body: `{"name": "csrf"}`}),
		http.StatusForbidden, gatehouse.EForbidden, "create without the CSRF token")
	e.wantError(e.do(req{method: "DELETE", path: "/api/v2/api-keys/" + k.ID, header: session}),
		http.StatusForbidden, gatehouse.EForbidden, "delete without the CSRF token")
	e.wantError(e.do(req{method: "GET", path: "/api/v2/api-keys"}), 401, gatehouse.EMissingKey, "no session, no key")

	// With an X-API-Key header the key decides; the session is not asked.
	before := calls.Load()
	_, assets := e.mustKey("assets", "assets:read")
	h := http.Header{"Cookie": {"session=alice"}, "X-Api-Key": {assets}}
	e.wantError(e.do(req{method: "GET", path: "/api/v2/api-keys", header: h}), 403, gatehouse.EInsufficientScope, "session and a data-plane key")
	if calls.Load() != before {
		t.Errorf("the session was asked although the request had an X-API-Key")
	}
	r = e.do(req{method: "POST", path: "/api/v2/api-keys/" + k.ID + "/reveal", header: withCSRF})
	e.wantStatus(r, http.StatusOK, "reveal with a session")
	if !strings.Contains(string(r.body), k.Key) {
		t.Errorf("reveal = %s, want the created key", r.body)
	}
}

func TestNoVerifier(t *testing.T) {
	t.Parallel()
	e := mustEnv(t, func(h *mgmtapi.Handler) { h.Verifier = nil })
	e.wantError(e.do(req{method: "GET", path: "/api/v2/api-keys"}), 401, gatehouse.EMissingKey, "no key")
	e.wantError(e.do(req{method: "GET", path: "/api/v2/api-keys", key: e.admin}), 401, gatehouse.EInvalidKey, "a key without a verifier")
}

func TestRouting(t *testing.T) {
	t.Parallel()
	e := mustEnv(t, nil)
	k, _ := e.create(`{"name": "routed"}`)
	id := k.ID
	tests := []struct {
		method, path string
		status       int
		code, allow  string
	}{
		{"GET", "/api/v2/api-keys/", 200, "", ""},
		{"PUT", "/api/v2/api-keys", 405, gatehouse.EMethodNotAllowed, "GET, HEAD, POST"},
		{"OPTIONS", "/api/v2/api-keys", 405, gatehouse.EMethodNotAllowed, "GET, HEAD, POST"},
		{"POST", "/api/v2/api-keys/" + id, 405, gatehouse.EMethodNotAllowed, "GET, HEAD, DELETE"},
		{"PATCH", "/api/v2/api-keys/" + id, 405, gatehouse.EMethodNotAllowed, "GET, HEAD, DELETE"},
		{"GET", "/api/v2/api-keys/" + id + "/reveal", 405, gatehouse.EMethodNotAllowed, "POST"},
		{"GET", "/api/v2/api-keys/" + id + "/renew", 405, gatehouse.EMethodNotAllowed, "POST"},
		{"DELETE", "/api/v2/api-keys/" + id + "/details", 405, gatehouse.EMethodNotAllowed, "GET, HEAD"},
		{"GET", "/api/v2/api-keys/" + id + "/", 404, gatehouse.ENotFound, ""},
		{"GET", "/api/v2/api-keys/" + id + "/unknown", 404, gatehouse.ENotFound, ""},
		{"GET", "/api/v2/api-keys/" + id + "/details/x", 404, gatehouse.ENotFound, ""},
		{"POST", "/api/v2/api-keys//reveal", 404, gatehouse.ENotFound, ""},
		{"GET", "/api/v2/api-keys/" + id + "%2Fdetails", 404, gatehouse.ENotFound, ""},
		{"GET", "/api/v2/api-keysx", 404, gatehouse.ENotFound, ""},
		{"GET", "/api/v2/other", 404, gatehouse.ENotFound, ""},
	}
	for _, tt := range tests {
		r := e.do(req{method: tt.method, path: tt.path, key: e.admin})
		what := tt.method + " " + tt.path
		if tt.code == "" {
			e.wantStatus(r, tt.status, what)
			continue
		}
		e.wantError(r, tt.status, tt.code, what)
		if got := r.header.Get("Allow"); got != tt.allow {
			t.Errorf("%s: Allow = %q, want %q", what, got, tt.allow)
		}
	}
	r := e.do(req{method: "HEAD", path: "/api/v2/api-keys/" + id, key: e.admin})
	if r.status != 200 || len(r.body) != 0 || !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
		t.Errorf("HEAD = %d, %q, %q; want 200, no body, JSON type", r.status, r.body, r.header.Get("Content-Type"))
	}
}

func TestStoreFailureIsLoggedWithoutKey(t *testing.T) {
	t.Parallel()
	var logs strings.Builder
	var mu sync.Mutex
	e := mustEnv(t, func(h *mgmtapi.Handler) {
		h.Logger = slog.New(slog.NewJSONHandler(writerFunc(func(p []byte) (int, error) {
			mu.Lock()
			defer mu.Unlock()
			return logs.Write(p)
		}), nil))
	})
	e.store.Close() // the index still knows the admin key
	r := e.do(req{method: "GET", path: "/api/v2/api-keys", key: e.admin})
	msg := e.wantError(r, http.StatusInternalServerError, gatehouse.EInternal, "list on a closed store")
	if strings.Contains(msg, "sql") {
		t.Errorf("message %q reveals the internal error", msg)
	}
	// IDs that the service cannot have made are not looked up: no store
	// error, 404.
	for _, id := range []string{strings.Repeat("k", 101), "key%2Fx", "a.b"} {
		r := e.do(req{method: "GET", path: "/api/v2/api-keys/" + id, key: e.admin})
		e.wantError(r, http.StatusNotFound, gatehouse.ENotFound, "get "+id+" on a closed store")
	}
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(logs.String(), "internal error") || !strings.Contains(logs.String(), "/api/v2/api-keys") {
		t.Errorf("log = %q, want the internal error and its route", logs.String())
	}
	if strings.Contains(logs.String(), e.admin) {
		t.Errorf("log holds the API key")
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func TestKeyRateLimit(t *testing.T) {
	t.Parallel()
	e := mustEnv(t, nil)
	k, r := e.create(`{"name": "slow", "scopes": ["api-keys:read"], "rateLimit": {"requests": 1, "per": "1m"}}`)
	e.wantStatus(r, http.StatusCreated, "create")
	r = e.do(req{method: "GET", path: "/api/v2/api-keys", key: k.Key})
	e.wantStatus(r, http.StatusOK, "first request")
	if r.header.Get("RateLimit-Limit") != "1" {
		t.Errorf("RateLimit-Limit = %q, want 1", r.header.Get("RateLimit-Limit"))
	}
	r = e.do(req{method: "GET", path: "/api/v2/api-keys", key: k.Key})
	e.wantError(r, http.StatusTooManyRequests, gatehouse.ERateLimited, "second request")
	if r.header.Get("Retry-After") == "" {
		t.Errorf("429 without Retry-After")
	}
	e.clock.Add(time.Minute)
	e.wantStatus(e.do(req{method: "GET", path: "/api/v2/api-keys", key: k.Key}), http.StatusOK, "a minute later")
}
