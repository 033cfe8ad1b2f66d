package mgmtapi_test

import (
	"strings"
	"testing"

	"gatehouse/mgmtapi"
)

// The public key of RFC 8037 Appendix A and its thumbprint (A.3).
const (
	rfcJWK   = `{"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}`
	rfcThumb = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
)

func TestSigningKeys(t *testing.T) {
	t.Parallel()
	e := mustEnv(t, nil)
	id, _ := e.mustKey("integration", "data:write")
	path := mgmtapi.Prefix + "/" + id + "/signing-keys"

	r := e.do(req{method: "POST", path: path, key: e.admin, body: `{"jwk": ` + rfcJWK + `}`})
	e.wantStatus(r, 201, "add")
	if !strings.Contains(string(r.body), `"keyid":"`+rfcThumb+`"`) {
		t.Fatalf("add answered %s, want the keyid %s", r.body, rfcThumb)
	}
	var k apiKey
	e.decode(e.do(req{method: "GET", path: mgmtapi.Prefix + "/" + id, key: e.admin}), &k)
	if len(k.SigningKeys) != 1 || k.SigningKeys[0] != rfcThumb {
		t.Fatalf("signingKeys = %v, want [%s]", k.SigningKeys, rfcThumb)
	}
	// Again: the same keyid, still one signing key.
	e.wantStatus(e.do(req{method: "POST", path: path, key: e.admin, body: `{"jwk": ` + rfcJWK + `}`}), 201, "add again")
	e.decode(e.do(req{method: "GET", path: mgmtapi.Prefix + "/" + id, key: e.admin}), &k)
	if len(k.SigningKeys) != 1 {
		t.Fatalf("after adding the same key twice signingKeys = %v", k.SigningKeys)
	}

	for _, tt := range []struct{ name, body, code, msg string }{
		{"no jwk", `{}`, "invalid_request", "jwk is required"},
		{"private key", `{"jwk": {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo", "d": "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"}}`, "invalid_request", "private key"},
		{"rsa", `{"jwk": {"kty": "RSA", "crv": "", "x": ""}}`, "invalid_request", "Ed25519"},
		{"bad x", `{"jwk": {"kty": "OKP", "crv": "Ed25519", "x": "AAAA"}}`, "invalid_request", `"x"`},
		{"unknown member", `{"jwk": {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo", "x5t": "a"}}`, "invalid_request", "Unknown field"},
		{"not an object", `{"jwk": "abc"}`, "invalid_request", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			msg := e.wantError(e.do(req{method: "POST", path: path, key: e.admin, body: tt.body}), 400, tt.code, tt.name)
			if !strings.Contains(msg, tt.msg) {
				t.Errorf("%s: message %q, want %q in it", tt.name, msg, tt.msg)
			}
		})
	}

	// A key caller is bounded by its scopes, like for every change.
	_, reader := e.mustKey("narrow", "api-keys:write", "assets:write")
	e.wantError(e.do(req{method: "POST", path: path, key: reader, body: `{"jwk": ` + rfcJWK + `}`}), 403, "insufficient_scope", "add by a narrower key")
	e.wantError(e.do(req{method: "DELETE", path: path + "/" + rfcThumb, key: reader}), 403, "insufficient_scope", "remove by a narrower key")
	_, ro := e.mustKey("read-only", "api-keys:read", "*:write")
	e.wantError(e.do(req{method: "POST", path: path, key: ro, body: `{"jwk": ` + rfcJWK + `}`}), 403, "insufficient_scope", "add with api-keys:read")

	e.wantStatus(e.do(req{method: "DELETE", path: path + "/" + rfcThumb, key: e.admin}), 204, "remove")
	e.wantError(e.do(req{method: "DELETE", path: path + "/" + rfcThumb, key: e.admin}), 404, "not_found", "remove again")
	e.wantError(e.do(req{method: "POST", path: mgmtapi.Prefix + "/key_missing/signing-keys", key: e.admin, body: `{"jwk": ` + rfcJWK + `}`}), 404, "not_found", "add to a missing key")

	var d struct {
		Audit []struct{ Action, Actor string }
	}
	e.decode(e.do(req{method: "GET", path: mgmtapi.Prefix + "/" + id + "/details", key: e.admin}), &d)
	var actions []string
	for _, a := range d.Audit {
		actions = append(actions, a.Action)
	}
	if got := strings.Join(actions, " "); got != "create add_signing_key remove_signing_key" {
		t.Errorf("audit = %s, want create add_signing_key remove_signing_key", got)
	}
}
