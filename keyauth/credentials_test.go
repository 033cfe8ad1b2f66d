package keyauth_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"gatehouse"
	"gatehouse/bearer"
	"gatehouse/httpsig"
	"gatehouse/keyauth"
	"gatehouse/ratelimit"
)

// tokens is a BearerVerifier that knows tokens by their text.
type tokens map[string]bearer.Claims

func (t tokens) Verify(_ context.Context, token string) (bearer.Claims, error) {
	if c, ok := t[token]; ok {
		return c, nil
	}
	return bearer.Claims{}, &bearer.Error{Reason: "the token has expired"}
}

func TestCheckBearer(t *testing.T) {
	t.Parallel()
	v := &keyauth.Verifier{
		Index:        &index{keys: map[gatehouse.Digest]*gatehouse.APIKey{}},
		Limiter:      ratelimit.NewLocal(),
		DefaultLimit: gatehouse.RateLimit{Requests: 1, Per: 3600e9},
		Bearer: tokens{
			"reader": {Subject: "u1", Scopes: []string{"assets:read", "not a scope", "api-keys:write"}},
			"writer": {Subject: "u2", Scopes: []string{"*:write"}},
		},
	}
	tests := []struct {
		name   string
		req    keyauth.Request
		status keyauth.Status
		detail string
	}{
		{"read", keyauth.Request{Bearer: true, Authorization: []string{"Bearer reader"}, Scope: "assets", Access: gatehouse.AccessRead}, keyauth.StatusValid, ""},
		{"same subject again", keyauth.Request{Bearer: true, Authorization: []string{"bearer  reader"}, Scope: "assets", Access: gatehouse.AccessRead}, keyauth.StatusRateLimited, ""},
		{"write with a read scope", keyauth.Request{Bearer: true, Authorization: []string{"Bearer reader"}, Scope: "assets", Access: gatehouse.AccessWrite}, keyauth.StatusInsufficientScope, ""},
		{"api-keys scope grants nothing", keyauth.Request{Bearer: true, Authorization: []string{"Bearer reader"}, Scope: gatehouse.ScopeAPIKeys, Access: gatehouse.AccessRead}, keyauth.StatusInsufficientScope, ""},
		{"other subject", keyauth.Request{Bearer: true, Authorization: []string{"Bearer writer"}, Scope: "assets", Access: gatehouse.AccessWrite}, keyauth.StatusValid, ""},
		{"bad token", keyauth.Request{Bearer: true, Authorization: []string{"Bearer nope"}, Scope: "assets"}, keyauth.StatusInvalidToken, "expired"},
		{"two headers", keyauth.Request{Bearer: true, Authorization: []string{"Bearer reader", "Bearer writer"}, Scope: "assets"}, keyauth.StatusInvalidToken, "more than one"},
		{"other scheme", keyauth.Request{Bearer: true, Authorization: []string{"Basic dTpw"}, Scope: "assets"}, keyauth.StatusMissing, ""},
		{"route without bearer", keyauth.Request{Authorization: []string{"Bearer reader"}, Scope: "assets"}, keyauth.StatusMissing, ""},
		{"a key wins over a token", keyauth.Request{Bearer: true, Presented: []string{"gth_nope"}, Authorization: []string{"Bearer reader"}, Scope: "assets"}, keyauth.StatusInvalid, ""},
	}
	for _, tt := range tests {
		got := v.Check(t.Context(), tt.req)
		if got.Status != tt.status || !strings.Contains(got.Detail, tt.detail) || got.Key != nil {
			t.Errorf("%s: Check = %v %q (key %v), want %v with %q", tt.name, got.Status, got.Detail, got.Key, tt.status, tt.detail)
		}
		if got.Status == keyauth.StatusValid && got.Subject == "" {
			t.Errorf("%s: Check = valid without a subject", tt.name)
		}
	}
}

// signatures is a SignatureVerifier that passes a request whose
// Signature header names one of the keys, and records the keys it got.
type signatures struct{ down bool }

func (s signatures) Verify(_ context.Context, m httpsig.Message, keys []httpsig.Key) (httpsig.Result, error) {
	sig := m.Header.Get("Signature")
	switch {
	case s.down:
		return httpsig.Result{}, errors.New("redis down")
	case sig == "":
		return httpsig.Result{}, httpsig.ErrNoSignature
	}
	for _, k := range keys {
		if k.ID == sig {
			return httpsig.Result{KeyID: k.ID, Body: []byte("read body")}, nil
		}
	}
	return httpsig.Result{}, &httpsig.Error{Part: "keyid", Reason: "not registered"}
}

func TestAuthenticateSigned(t *testing.T) {
	t.Parallel()
	const jwk = `{"crv":"Ed25519","kty":"OKP","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}`
	const thumb = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
	s := gatehouse.NewSecret()
	k := &gatehouse.APIKey{ID: "k", Digest: s.Digest(), Scopes: gatehouse.Scopes{{Name: "controls", Access: gatehouse.AccessWrite}},
		SigningKeys: []gatehouse.SigningKey{{KeyID: thumb, JWK: jwk}, {KeyID: "broken", JWK: "{"}}}
	idx := &index{keys: map[gatehouse.Digest]*gatehouse.APIKey{s.Digest(): k}}
	need := keyauth.Need{Scope: "controls", Signed: true}
	tests := []struct {
		name, method, signature string
		down                    bool
		status                  int
		code                    string
	}{
		{"signed write", "POST", thumb, false, 200, ""},
		{"read needs none", "GET", "", false, 200, ""},
		{"unsigned write", "PUT", "", false, 401, gatehouse.ESignatureRequired},
		{"unknown key", "DELETE", "other", false, 401, gatehouse.EInvalidSignature},
		{"nonce store down", "POST", thumb, true, 503, gatehouse.EUnavailable},
	}
	for _, tt := range tests {
		v := &keyauth.Verifier{Index: idx, Signatures: signatures{down: tt.down}}
		w := httptest.NewRecorder()
		r := httptest.NewRequest(tt.method, "/api/v2/controls/1", strings.NewReader("sent body"))
		r.Header.Set(keyauth.Header, s.Reveal())
		if tt.signature != "" {
			r.Header.Set("Signature", tt.signature)
		}
		verdict, ok := v.Authenticate(w, r, need)
		keyauth.ReplaceBody(r, verdict)
		if ok != (tt.status == 200) || (!ok && w.Code != tt.status) || !strings.Contains(w.Body.String(), tt.code) {
			t.Errorf("%s: Authenticate = %v, %d %s; want %d %s", tt.name, ok, w.Code, w.Body, tt.status, tt.code)
		}
		if tt.name == "unknown key" && !strings.Contains(w.Body.String(), "keyid: not registered") {
			t.Errorf("%s: body %s, want the failed part", tt.name, w.Body)
		}
		if tt.name == "signed write" {
			if b := make([]byte, 64); r.ContentLength != 9 {
				t.Errorf("signed write: body not replaced (ContentLength %d)", r.ContentLength)
			} else if n, _ := r.Body.Read(b); string(b[:n]) != "read body" {
				t.Errorf("signed write: body %q, want the verifier's", b[:n])
			}
		}
	}
}

func TestInvalidTokenChallenge(t *testing.T) {
	t.Parallel()
	v := &keyauth.Verifier{Index: &index{keys: map[gatehouse.Digest]*gatehouse.APIKey{}}, Bearer: tokens{}}
	w := httptest.NewRecorder()
	r := httptest.NewRequest("GET", "/x", nil)
	r.Header.Set("Authorization", "Bearer secret.token.text")
	if _, ok := v.Authenticate(w, r, keyauth.Need{Scope: "x", Bearer: true}); ok {
		t.Fatal("Authenticate(a bad token) = ok")
	}
	if w.Code != http.StatusUnauthorized || w.Header().Get("WWW-Authenticate") != `Bearer error="invalid_token"` || strings.Contains(w.Body.String(), "secret.token") {
		t.Fatalf("answer = %d %q %s, want 401 with the Bearer challenge and no token", w.Code, w.Header().Get("WWW-Authenticate"), w.Body)
	}
}
