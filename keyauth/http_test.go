package keyauth_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"gatehouse"
	"gatehouse/keyauth"
	"gatehouse/ratelimit"
)

// authEnv is a Verifier over a map index holding a reader of "assets", an
// expired key and a key limited to one request a minute, at a fixed time.
type authEnv struct {
	v                        *keyauth.Verifier
	idx                      *index
	reader, expired, limited string
}

func newAuthEnv(t *testing.T) *authEnv {
	t.Helper()
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	past := now.Add(-time.Second)
	e := &authEnv{idx: &index{keys: map[gatehouse.Digest]*gatehouse.APIKey{}}}
	add := func(id string, until *time.Time, rl gatehouse.RateLimit, scope string) string {
		s := gatehouse.NewSecret()
		sc, err := gatehouse.ParseScopes([]string{scope})
		if err != nil {
			t.Fatal(err)
		}
		e.idx.keys[s.Digest()] = &gatehouse.APIKey{ID: id, Digest: s.Digest(), ValidUntil: until, Scopes: sc, RateLimit: rl}
		return s.Reveal()
	}
	e.reader = add("reader", nil, gatehouse.RateLimit{}, "assets:read")
	e.expired = add("expired", &past, gatehouse.RateLimit{}, "assets:read")
	e.limited = add("limited", nil, gatehouse.RateLimit{Requests: 1, Per: time.Minute}, "assets:read")
	e.v = &keyauth.Verifier{Index: e.idx, Limiter: ratelimit.NewLocal(), Now: func() time.Time { return now }}
	return e
}

// request returns a request to /api/v2/assets with the given X-API-Key
// values and a RequestInfo in its context.
func request(method string, keys ...string) (*http.Request, *gatehouse.RequestInfo) {
	r := httptest.NewRequest(method, "/api/v2/assets", nil)
	for _, k := range keys {
		r.Header.Add(keyauth.Header, k)
	}
	info := &gatehouse.RequestInfo{}
	return r.WithContext(gatehouse.NewContextWithRequestInfo(r.Context(), info)), info
}

func TestAuthenticate(t *testing.T) {
	t.Parallel()
	e := newAuthEnv(t)
	const apiKey = `ApiKey header="X-API-Key"`
	tests := []struct {
		name   string
		method string
		keys   []string
		scope  string
		ok     bool
		status int
		code   string // error.code of the body and the info's Outcome
		keyID  string // the info's KeyID
		auth   string // WWW-Authenticate
		rate   string // RateLimit-Limit
	}{
		{"missing", "GET", nil, "assets", false, 401, "missing_key", "", apiKey, ""},
		{"empty value", "GET", []string{""}, "assets", false, 401, "invalid_key", "", apiKey, ""},
		{"two headers", "GET", []string{e.reader, e.reader}, "assets", false, 401, "invalid_key", "", apiKey, ""},
		{"malformed", "GET", []string{"hello"}, "assets", false, 401, "invalid_key", "", apiKey, ""},
		{"unknown", "GET", []string{gatehouse.NewSecret().Reveal()}, "assets", false, 401, "invalid_key", "", apiKey, ""},
		{"expired", "GET", []string{e.expired}, "assets", false, 401, "key_expired", "expired", apiKey, ""},
		{"other scope", "GET", []string{e.reader}, "data", false, 403, "insufficient_scope", "reader", "", ""},
		{"POST needs write", "POST", []string{e.reader}, "assets", false, 403, "insufficient_scope", "reader", "", ""},
		{"DELETE needs write", "DELETE", []string{e.reader}, "assets", false, 403, "insufficient_scope", "reader", "", ""},
		{"GET", "GET", []string{e.reader}, "assets", true, 200, "", "reader", "", ""},
		{"HEAD reads", "HEAD", []string{e.reader}, "assets", true, 200, "", "reader", "", ""},
		{"first within limit", "GET", []string{e.limited}, "assets", true, 200, "", "limited", "", "1"},
		{"second over limit", "GET", []string{e.limited}, "assets", false, 429, "rate_limited", "limited", "", "1"},
	}
	for _, tt := range tests {
		r, info := request(tt.method, tt.keys...)
		w := httptest.NewRecorder()
		v, ok := e.v.Authenticate(w, r, keyauth.Need{Scope: tt.scope})
		if ok != tt.ok || ok != v.OK() {
			t.Errorf("%s: Authenticate = %v, %v, want ok %v", tt.name, v.Status, ok, tt.ok)
		}
		if ok && (v.Key == nil || v.Key.ID != tt.keyID) {
			t.Errorf("%s: Authenticate key = %v, want %s", tt.name, v.Key, tt.keyID)
		}
		if w.Code != tt.status {
			t.Errorf("%s: status = %d, want %d", tt.name, w.Code, tt.status)
		}
		if ok && w.Body.Len() != 0 {
			t.Errorf("%s: body = %q, want nothing written", tt.name, w.Body)
		}
		if !ok && !strings.Contains(w.Body.String(), `"code":"`+tt.code+`"`) {
			t.Errorf("%s: body = %s, want code %s", tt.name, w.Body, tt.code)
		}
		if !ok && !strings.HasPrefix(w.Header().Get("Content-Type"), "application/json") {
			t.Errorf("%s: Content-Type = %q, want application/json", tt.name, w.Header().Get("Content-Type"))
		}
		if got := w.Header().Get("WWW-Authenticate"); got != tt.auth {
			t.Errorf("%s: WWW-Authenticate = %q, want %q", tt.name, got, tt.auth)
		}
		if got := w.Header().Get("RateLimit-Limit"); got != tt.rate {
			t.Errorf("%s: RateLimit-Limit = %q, want %q", tt.name, got, tt.rate)
		}
		if info.KeyID != tt.keyID || info.Outcome != tt.code {
			t.Errorf("%s: request info KeyID %q, Outcome %q, want %q, %q", tt.name, info.KeyID, info.Outcome, tt.keyID, tt.code)
		}
	}

	r, _ := request("GET", e.limited)
	w := httptest.NewRecorder()
	e.v.Authenticate(w, r, keyauth.Need{Scope: "assets"})
	if w.Code != 429 || w.Header().Get("Retry-After") != "60" || w.Header().Get("RateLimit-Remaining") != "0" {
		t.Errorf("over the limit: %d, headers %v, want 429, Retry-After 60, RateLimit-Remaining 0", w.Code, w.Header())
	}
}

func TestAuthenticateUnavailable(t *testing.T) {
	t.Parallel()
	e := newAuthEnv(t)
	e.idx.stale = true
	r, info := request("GET", e.reader)
	w := httptest.NewRecorder()
	if v, ok := e.v.Authenticate(w, r, keyauth.Need{Scope: "assets"}); ok || v.Status != keyauth.StatusUnavailable {
		t.Errorf("stale index: Authenticate = %v, %v, want unavailable, false", v.Status, ok)
	}
	if w.Code != 503 || !strings.Contains(w.Body.String(), `"code":"store_unavailable"`) || info.Outcome != "store_unavailable" {
		t.Errorf("stale index: %d %s, Outcome %q, want 503 store_unavailable", w.Code, w.Body, info.Outcome)
	}
}

// TestAuthenticateWithoutRequestInfo: a request whose context holds no
// RequestInfo is checked all the same.
func TestAuthenticateWithoutRequestInfo(t *testing.T) {
	t.Parallel()
	e := newAuthEnv(t)
	r := httptest.NewRequest("GET", "/api/v2/assets", nil)
	r.Header.Set(keyauth.Header, e.reader)
	if v, ok := e.v.Authenticate(httptest.NewRecorder(), r, keyauth.Need{Scope: "assets"}); !ok || v.Key.ID != "reader" {
		t.Errorf("Authenticate = %v, %v, want valid reader", v.Status, ok)
	}
}

// TestAuthenticateAllocs is not parallel: it counts allocations. The
// adapter adds none to the check's: a valid key without a limit costs
// nothing.
func TestAuthenticateAllocs(t *testing.T) {
	e := newAuthEnv(t)
	r, _ := request("GET", e.reader)
	w := httptest.NewRecorder()
	if n := testing.AllocsPerRun(100, func() { e.v.Authenticate(w, r, keyauth.Need{Scope: "assets"}) }); n != 0 {
		t.Errorf("Authenticate of a valid key allocates %v times, want 0", n)
	}
}
