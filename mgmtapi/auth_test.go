package mgmtapi_test

import (
	"bytes"
	"context"
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
		{"POST", "/api/v2/api-keys/" + id, 405, gatehouse.EMethodNotAllowed, "GET, HEAD, PATCH, DELETE"},
		{"PUT", "/api/v2/api-keys/" + id, 405, gatehouse.EMethodNotAllowed, "GET, HEAD, PATCH, DELETE"},
		{"GET", "/api/v2/api-keys/" + id + "/roll", 405, gatehouse.EMethodNotAllowed, "POST"},
		{"DELETE", "/api/v2/api-keys/" + id + "/disable", 405, gatehouse.EMethodNotAllowed, "POST"},
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

// TestKeyBound: a key holding api-keys:write can create, reveal, renew and
// delete only keys whose scopes are all within its own; what it is refused
// leaves the store as it was, and a refused reveal is not audited.
func TestKeyBound(t *testing.T) {
	t.Parallel()
	e := mustEnv(t, nil)
	ctx := context.Background()
	limitedID, limited := e.mustKey("limited", "api-keys:write", "assets:read")
	rootID, _ := e.mustKey("root", "*:write")
	writerID, _ := e.mustKey("assets writer", "assets:write")
	future := e.clock.Now().Add(time.Hour).Format(time.RFC3339)

	for _, body := range []string{
		`{"name": "w", "scopes": ["*:write"]}`,
		`{"name": "aw", "scopes": ["api-keys:write", "*:write"]}`,
		`{"name": "wa", "writeAccess": true}`,
		`{"name": "r"}`,
		`{"name": "ar", "scopes": ["assets:write"]}`,
		`{"name": "dr", "scopes": ["assets:read", "data:read"]}`,
	} {
		r := e.do(req{method: "POST", path: "/api/v2/api-keys", key: limited, body: body})
		e.wantError(r, http.StatusForbidden, gatehouse.EInsufficientScope, "create "+body)
	}
	if _, n, err := e.svc.List(ctx, 0, 100); err != nil || n != 4 {
		t.Errorf("keys after refused creates = %d, %v; want 4", n, err)
	}

	// Keys beyond its scopes: one holding *:write, one holding
	// assets:write, and the administrator key.
	for _, id := range []string{rootID, writerID, e.adminID} {
		before, err := e.svc.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		r := e.do(req{method: "POST", path: "/api/v2/api-keys/" + id + "/reveal", key: limited})
		e.wantError(r, http.StatusForbidden, gatehouse.EInsufficientScope, "reveal "+before.Name)
		if bytes.Contains(r.body, []byte("gth_")) {
			t.Errorf("refused reveal of %s answers %s", before.Name, r.body)
		}
		r = e.do(req{method: "POST", path: "/api/v2/api-keys/" + id + "/renew", key: limited, body: `{"validUntil": "` + future + `", "rateLimit": {"requests": 1, "per": "1h"}}`})
		e.wantError(r, http.StatusForbidden, gatehouse.EInsufficientScope, "renew "+before.Name)
		r = e.do(req{method: "DELETE", path: "/api/v2/api-keys/" + id, key: limited})
		e.wantError(r, http.StatusForbidden, gatehouse.EInsufficientScope, "delete "+before.Name)

		after, err := e.svc.Get(ctx, id)
		if err != nil {
			t.Fatalf("%s after refused changes: %v", before.Name, err)
		}
		if after.ValidUntil != nil || !after.RateLimit.IsZero() {
			t.Errorf("%s after a refused renew: validUntil %v, rate limit %v; want unchanged", before.Name, after.ValidUntil, after.RateLimit)
		}
		audit, err := e.store.FindAuditEvents(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if len(audit) != 1 || audit[0].Action != gatehouse.AuditCreate {
			t.Errorf("audit of %s after refused changes = %+v, want its creation only", before.Name, audit)
		}
	}
	// An unknown key is not found, as for any caller.
	r := e.do(req{method: "POST", path: "/api/v2/api-keys/key_doesnotexist00000/reveal", key: limited})
	e.wantError(r, http.StatusNotFound, gatehouse.ENotFound, "reveal an unknown key")

	// Keys within its scopes: it may create, reveal, renew and delete them.
	r = e.do(req{method: "POST", path: "/api/v2/api-keys", key: limited, body: `{"name": "peer", "scopes": ["api-keys:write", "assets:read"]}`})
	e.wantStatus(r, http.StatusCreated, "create a key with its own scopes")
	r = e.do(req{method: "POST", path: "/api/v2/api-keys", key: limited, body: `{"name": "child", "scopes": ["assets:read"]}`})
	e.wantStatus(r, http.StatusCreated, "create assets:read")
	var child apiKey
	e.decode(r, &child)
	if child.CreatedBy != "key:"+limitedID || strings.Join(child.Scopes, ",") != "assets:read" {
		t.Errorf("child = %+v, want assets:read created by key:%s", child, limitedID)
	}
	r = e.do(req{method: "POST", path: "/api/v2/api-keys/" + child.ID + "/reveal", key: limited})
	e.wantStatus(r, http.StatusOK, "reveal the child")
	var revealed struct{ Key string }
	e.decode(r, &revealed)
	if revealed.Key != child.Key {
		t.Errorf("reveal = %q, want the child's key", revealed.Key)
	}
	r = e.do(req{method: "POST", path: "/api/v2/api-keys/" + child.ID + "/renew", key: limited, body: `{"validUntil": "` + future + `"}`})
	e.wantStatus(r, http.StatusOK, "renew the child")
	if k, err := e.svc.Get(ctx, child.ID); err != nil || k.ValidUntil == nil || k.ValidUntil.Format(time.RFC3339) != future {
		t.Errorf("child after renew = %+v, %v; want valid until %s", k, err, future)
	}
	audit, err := e.store.FindAuditEvents(ctx, child.ID)
	if err != nil {
		t.Fatal(err)
	}
	var log []string
	for _, a := range audit {
		log = append(log, a.Action+" by "+a.Actor)
	}
	actor := "key:" + limitedID
	if got, want := strings.Join(log, ", "), "create by "+actor+", reveal by "+actor+", renew by "+actor; got != want {
		t.Errorf("audit of the child = %q, want %q", got, want)
	}
	e.wantStatus(e.do(req{method: "DELETE", path: "/api/v2/api-keys/" + child.ID, key: limited}), http.StatusNoContent, "delete the child")
	if _, err := e.svc.Get(ctx, child.ID); gatehouse.ErrorCode(err) != gatehouse.ENotFound {
		t.Errorf("child after delete: %v, want not found", err)
	}
}

// TestSessionUnbounded: an administrator's session is not bounded by
// scopes: it creates, reveals, renews and deletes keys of any scopes.
func TestSessionUnbounded(t *testing.T) {
	t.Parallel()
	e := mustEnv(t, func(h *mgmtapi.Handler) {
		h.Session = func(r *http.Request) (string, bool, error) {
			c, err := r.Cookie("session")
			if err != nil {
				return "", false, nil
			}
			return c.Value, true, nil
		}
	})
	ctx := context.Background()
	session := http.Header{"Cookie": {"session=alice"}}
	r := e.do(req{method: "POST", path: "/api/v2/api-keys", header: session, body: `{"name": "root", "scopes": ["api-keys:write", "*:write"]}`})
	e.wantStatus(r, http.StatusCreated, "create api-keys:write, *:write with a session")
	var k apiKey
	e.decode(r, &k)
	r = e.do(req{method: "POST", path: "/api/v2/api-keys/" + e.adminID + "/reveal", header: session})
	e.wantStatus(r, http.StatusOK, "reveal with a session")
	var revealed struct{ Key string }
	e.decode(r, &revealed)
	if revealed.Key != e.admin {
		t.Errorf("reveal = %q, want the administrator key", revealed.Key)
	}
	future := e.clock.Now().Add(time.Hour).Format(time.RFC3339)
	r = e.do(req{method: "POST", path: "/api/v2/api-keys/" + k.ID + "/renew", header: session, body: `{"validUntil": "` + future + `"}`})
	e.wantStatus(r, http.StatusOK, "renew with a session")
	e.wantStatus(e.do(req{method: "DELETE", path: "/api/v2/api-keys/" + k.ID, header: session}), http.StatusNoContent, "delete with a session")
	if _, err := e.svc.Get(ctx, k.ID); gatehouse.ErrorCode(err) != gatehouse.ENotFound {
		t.Errorf("key after delete: %v, want not found", err)
	}
}
