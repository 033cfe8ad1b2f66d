package mgmtapi_test

import (
	"net/http"
	"slices"
	"testing"
	"time"

	"gatehouse"
)

// TestRollDisableEnablePatch drives §8's calls through the API: their
// answers, their validation, and what the key check then says.
func TestRollDisableEnablePatch(t *testing.T) {
	t.Parallel()
	e := mustEnv(t, nil)
	k, r := e.create(`{"name": "day two", "scopes": ["assets:read"], "allowedIps": ["192.0.2.0/24", "127.0.0.1"], "readOnlyGrace": "36h"}`)
	e.wantStatus(r, http.StatusCreated, "create with allowedIps and readOnlyGrace")
	if !slices.Equal(k.AllowedIPs, []string{"192.0.2.0/24", "127.0.0.1"}) || k.ReadOnlyGrace == nil || *k.ReadOnlyGrace != "36h0m0s" || !k.Enabled {
		t.Errorf("created = allowedIps %v, readOnlyGrace %v, enabled %v", k.AllowedIPs, k.ReadOnlyGrace, k.Enabled)
	}
	path := "/api/v2/api-keys/" + k.ID

	// Roll with an overlap: a new key, the old one still works until
	// previousValidUntil.
	r = e.do(req{method: "POST", path: path + "/roll", key: e.admin, body: `{"overlap": "24h"}`})
	e.wantStatus(r, http.StatusOK, "roll")
	var rolled apiKey
	e.decode(r, &rolled)
	if rolled.Key == "" || rolled.Key == k.Key || rolled.ID != k.ID || rolled.Name != k.Name {
		t.Errorf("roll answer = %s, want the same key with a new plain key", r.body)
	}
	if want := e.clock.Now().Add(24 * time.Hour); rolled.PreviousValidUntil == nil || !rolled.PreviousValidUntil.Equal(want) {
		t.Errorf("previousValidUntil = %v, want %v", rolled.PreviousValidUntil, want)
	}
	// The calls below go to the API with the old and the new key; the
	// test server's client is 127.0.0.1, inside allowedIps.
	for name, key := range map[string]string{"old": k.Key, "new": rolled.Key} {
		e.wantStatus(e.do(req{method: "GET", path: "/api/v2/api-keys", key: key}), http.StatusForbidden, name+" key, no api-keys scope")
	}
	// Rolling without a body: overlap 0s, the old secret is refused at
	// once with key_rolled.
	r = e.do(req{method: "POST", path: path + "/roll", key: e.admin})
	e.wantStatus(r, http.StatusOK, "roll without a body")
	var again apiKey
	e.decode(r, &again)
	if again.PreviousValidUntil != nil {
		t.Errorf("previousValidUntil after a roll without overlap = %v, want null", again.PreviousValidUntil)
	}
	e.wantError(e.do(req{method: "GET", path: "/api/v2/api-keys", key: rolled.Key}), http.StatusUnauthorized, gatehouse.EKeyRolled, "previous secret after overlap")
	for _, body := range []string{`{"overlap": "721h"}`, `{"overlap": "-1s"}`, `{"overlap": "soon"}`, `{"overlap": 5}`, `{"overlap": "1h", "x": 1}`} {
		e.wantError(e.do(req{method: "POST", path: path + "/roll", key: e.admin, body: body}), http.StatusBadRequest, gatehouse.EInvalidRequest, "roll "+body)
	}

	// Disable and enable.
	r = e.do(req{method: "POST", path: path + "/disable", key: e.admin})
	e.wantStatus(r, http.StatusOK, "disable")
	var got apiKey
	if e.decode(r, &got); got.Enabled {
		t.Errorf("disable answer: enabled = true")
	}
	e.wantError(e.do(req{method: "GET", path: "/api/v2/api-keys", key: again.Key}), http.StatusUnauthorized, gatehouse.EKeyDisabled, "disabled key")
	r = e.do(req{method: "POST", path: path + "/enable", key: e.admin, body: `{}`})
	e.wantStatus(r, http.StatusOK, "enable")
	if e.decode(r, &got); !got.Enabled {
		t.Errorf("enable answer: enabled = false")
	}

	// PATCH: a present member replaces, null clears, absent keeps.
	r = e.do(req{method: "PATCH", path: path, key: e.admin, body: `{"name": "renamed", "allowedIps": ["198.51.100.0/24"], "rateLimit": {"requests": 5, "per": "1m"}}`})
	e.wantStatus(r, http.StatusOK, "patch")
	e.decode(r, &got)
	if got.Name != "renamed" || !slices.Equal(got.AllowedIPs, []string{"198.51.100.0/24"}) || got.RateLimit == nil || got.ReadOnlyGrace == nil || !slices.Equal(got.Scopes, []string{"assets:read"}) {
		t.Errorf("patched = %s", r.body)
	}
	// The key now answers 403 ip_not_allowed on the management API too.
	e.wantError(e.do(req{method: "GET", path: "/api/v2/api-keys", key: again.Key}), http.StatusForbidden, gatehouse.EIPNotAllowed, "key from outside allowedIps")
	r = e.do(req{method: "PATCH", path: path, key: e.admin, body: `{"allowedIps": null, "rateLimit": null, "readOnlyGrace": null}`})
	e.wantStatus(r, http.StatusOK, "patch nulls")
	e.decode(r, &got)
	if len(got.AllowedIPs) != 0 || got.RateLimit != nil || got.ReadOnlyGrace != nil || got.Name != "renamed" {
		t.Errorf("patched with nulls = %s", r.body)
	}
	for _, tt := range []struct{ body, code string }{
		{`{"name": null}`, gatehouse.EInvalidRequest},
		{`{"name": ""}`, gatehouse.EInvalidRequest},
		{`{"allowedIps": ["not an address"]}`, gatehouse.EInvalidRequest},
		{`{"readOnlyGrace": "721h"}`, gatehouse.EInvalidRequest},
		{`{"scopes": ["nowhere:read"]}`, gatehouse.EUnknownScope},
		{`{"name": "admin"}`, gatehouse.ENameTaken},
		{`{"name": "a", "name": "b"}`, gatehouse.EInvalidRequest},
	} {
		status := http.StatusBadRequest
		if tt.code == gatehouse.ENameTaken {
			status = http.StatusConflict
		}
		e.wantError(e.do(req{method: "PATCH", path: path, key: e.admin, body: tt.body}), status, tt.code, "patch "+tt.body)
	}
	for _, p := range []string{"/roll", "/disable", "/enable"} {
		e.wantError(e.do(req{method: "POST", path: "/api/v2/api-keys/key_nope" + p, key: e.admin}), http.StatusNotFound, gatehouse.ENotFound, p+" unknown key")
	}
	e.wantError(e.do(req{method: "PATCH", path: "/api/v2/api-keys/key_nope", key: e.admin, body: `{}`}), http.StatusNotFound, gatehouse.ENotFound, "patch unknown key")

	// Every change is in the audit log.
	r = e.do(req{method: "GET", path: path + "/details", key: e.admin})
	var d struct{ Audit []struct{ Action string } }
	e.decode(r, &d)
	var actions []string
	for _, a := range d.Audit {
		actions = append(actions, a.Action)
	}
	if want := []string{"create", "roll", "roll", "disable", "enable", "update", "update"}; !slices.Equal(actions, want) {
		t.Errorf("audit = %v, want %v", actions, want)
	}
}
