package mgmtapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"gatehouse"
	"gatehouse/gatehousetest"
	"gatehouse/keyauth"
	"gatehouse/keyindex"
	"gatehouse/keys"
	"gatehouse/mgmtapi"
	"gatehouse/ratelimit"
	"gatehouse/sqlite"
)

// env is a management API on a real SQLite store, served by a real HTTP
// server, with an administrator key holding api-keys:write and *:write, so
// that it may create and manage keys of any route scopes.
type env struct {
	t     *testing.T
	store *sqlite.Store
	index *keyindex.Index
	svc   *keys.Service
	h     *mgmtapi.Handler
	srv   *httptest.Server
	clock *gatehousetest.Clock
	// admin is a key holding api-keys:write and *:write; adminID its ID.
	admin, adminID string
}

// mustEnv starts a management API. configure, if not nil, may change the
// handler before it serves.
func mustEnv(t *testing.T, configure func(*mgmtapi.Handler)) *env {
	t.Helper()
	ctx := context.Background()
	st := gatehousetest.MustOpenSQLite(t)
	sealer, err := gatehouse.NewSealer(bytes.Repeat([]byte{7}, gatehouse.MasterKeyLen))
	if err != nil {
		t.Fatal(err)
	}
	clk := gatehousetest.NewClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	st.Now = clk.Now
	// The clock moves by hours in some tests: keep the index usable.
	idx := keyindex.New(st, keyindex.Options{Now: clk.Now, MaxStale: 365 * 24 * time.Hour})
	if err := idx.Load(ctx); err != nil {
		t.Fatalf("load index: %v", err)
	}
	svc := &keys.Service{
		Store:      st,
		Sealer:     sealer,
		Now:        clk.Now,
		KnownScope: func(name string) bool { return name == "assets" || name == "data" },
		Changed: func(ctx context.Context) {
			if err := idx.Sync(ctx); err != nil {
				t.Errorf("sync index: %v", err)
			}
		},
	}
	h := &mgmtapi.Handler{
		Keys:     svc,
		Verifier: &keyauth.Verifier{Index: idx, Limiter: ratelimit.NewLocal(), Now: clk.Now},
		Now:      clk.Now,
	}
	if configure != nil {
		configure(h)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	e := &env{t: t, store: st, index: idx, svc: svc, h: h, srv: srv, clock: clk}
	e.adminID, e.admin = e.mustKey("admin", "api-keys:write", "*:write")
	return e
}

// mustKey creates a key through the service and returns its ID and plain
// key.
func (e *env) mustKey(name string, scopes ...string) (id, plain string) {
	e.t.Helper()
	k, secret, err := e.svc.Create(context.Background(), keys.CreateRequest{Name: name, Scopes: scopes}, keys.Admin("test"))
	if err != nil {
		e.t.Fatalf("create key %q: %v", name, err)
	}
	return k.ID, secret.Reveal()
}

// response is an answer, read whole.
type response struct {
	status int
	header http.Header
	body   []byte
}

// req describes a request to the API.
type req struct {
	method, path string
	// key is sent as X-API-Key when not empty.
	key string
	// body is sent as JSON when not empty.
	body        string
	contentType string // default application/json when body is set
	header      http.Header
}

// do sends r and checks what every answer must hold.
func (e *env) do(r req) response {
	e.t.Helper()
	var body io.Reader
	if r.body != "" {
		body = strings.NewReader(r.body)
	}
	hr, err := http.NewRequest(r.method, e.srv.URL+r.path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	for k, vs := range r.header {
		hr.Header[k] = vs
	}
	if r.key != "" {
		hr.Header.Set("X-API-Key", r.key)
	}
	if r.body != "" {
		ct := r.contentType
		if ct == "" {
			ct = "application/json"
		}
		hr.Header.Set("Content-Type", ct)
	}
	resp, err := e.srv.Client().Do(hr)
	if err != nil {
		e.t.Fatalf("%s %s: %v", r.method, r.path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatalf("%s %s: read body: %v", r.method, r.path, err)
	}
	if got := resp.Header.Get("Cache-Control"); got != "no-store" {
		e.t.Errorf("%s %s: Cache-Control = %q, want no-store", r.method, r.path, got)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

// wantStatus fails the test unless the answer has the status.
func (e *env) wantStatus(r response, want int, what string) {
	e.t.Helper()
	if r.status != want {
		e.t.Fatalf("%s: status = %d, want %d; body %s", what, r.status, want, r.body)
	}
}

// wantError fails the test unless the answer is the contract's JSON error
// with the status and code, and returns its message.
func (e *env) wantError(r response, status int, code, what string) (message string) {
	e.t.Helper()
	if r.status != status {
		e.t.Errorf("%s: status = %d, want %d; body %s", what, r.status, status, r.body)
		return ""
	}
	var b struct {
		Error struct{ Code, Message string }
	}
	if err := json.Unmarshal(r.body, &b); err != nil {
		e.t.Errorf("%s: body %q is not a JSON error: %v", what, r.body, err)
		return ""
	}
	if b.Error.Code != code || b.Error.Message == "" {
		e.t.Errorf("%s: error = %+v, want code %s and a message", what, b.Error, code)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		e.t.Errorf("%s: Content-Type = %q, want application/json", what, ct)
	}
	if status == http.StatusUnauthorized && r.header.Get("WWW-Authenticate") == "" {
		e.t.Errorf("%s: 401 without WWW-Authenticate", what)
	}
	return b.Error.Message
}

// apiKey is the ApiKey of the contract, as the tests read it.
type apiKey struct {
	ID          string     `json:"id"`
	Name        string     `json:"name"`
	KeyHint     string     `json:"keyHint"`
	ValidUntil  *time.Time `json:"validUntil"`
	Expired     bool       `json:"expired"`
	Scopes      []string   `json:"scopes"`
	WriteAccess bool       `json:"writeAccess"`
	RateLimit   *struct {
		Requests int    `json:"requests"`
		Per      string `json:"per"`
	} `json:"rateLimit"`
	CreatedAt  time.Time  `json:"createdAt"`
	CreatedBy  string     `json:"createdBy"`
	LastUsedAt *time.Time `json:"lastUsedAt"`
	Key        string     `json:"key"`

	PreviousValidUntil *time.Time `json:"previousValidUntil"`
	PreviousLastUsedAt *time.Time `json:"previousLastUsedAt"`
	Enabled            bool       `json:"enabled"`
	AllowedIPs         []string   `json:"allowedIps"`
	ReadOnlyGrace      *string    `json:"readOnlyGrace"`
	SigningKeys        []string   `json:"signingKeys"`
}

func (e *env) decode(r response, v any) {
	e.t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		e.t.Fatalf("decode %s: %v", r.body, err)
	}
}

// create creates a key through the API and returns the answer.
func (e *env) create(body string) (apiKey, response) {
	e.t.Helper()
	r := e.do(req{method: "POST", path: "/api/v2/api-keys", key: e.admin, body: body})
	var k apiKey
	if r.status == http.StatusCreated {
		e.decode(r, &k)
	}
	return k, r
}
