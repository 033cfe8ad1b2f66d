package bearer_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"gatehouse/bearer"
	"gatehouse/gatehousetest"
)

const (
	issuer   = "https://idp.example/"
	audience = "building-api"
)

var start = time.Date(2026, 12, 3, 7, 0, 0, 0, time.UTC)

// testKeys are the identity provider's keys, made once: RSA keys are slow
// to generate.
var testKeys = sync.OnceValue(func() struct {
	rsa, rsa2 *rsa.PrivateKey
	ec        *ecdsa.PrivateKey
	ed        ed25519.PrivateKey
} {
	var k struct {
		rsa, rsa2 *rsa.PrivateKey
		ec        *ecdsa.PrivateKey
		ed        ed25519.PrivateKey
	}
	k.rsa, _ = rsa.GenerateKey(rand.Reader, 2048)
	k.rsa2, _ = rsa.GenerateKey(rand.Reader, 2048)
	k.ec, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	_, k.ed, _ = ed25519.GenerateKey(rand.Reader)
	return k
})

var b64 = base64.RawURLEncoding.EncodeToString

// jwk returns the public JWK of a private key, written from RFC 7518 §6
// and RFC 8037 §2.
func jwk(kid string, priv any) string {
	switch p := priv.(type) {
	case *rsa.PrivateKey:
		return fmt.Sprintf(`{"kty":"RSA","kid":%q,"use":"sig","alg":"RS256","n":%q,"e":%q}`,
			kid, b64(p.N.Bytes()), b64(big.NewInt(int64(p.E)).Bytes()))
	case *ecdsa.PrivateKey:
		raw, _ := p.PublicKey.Bytes()
		return fmt.Sprintf(`{"kty":"EC","kid":%q,"crv":"P-256","x":%q,"y":%q}`, kid, b64(raw[1:33]), b64(raw[33:]))
	case ed25519.PrivateKey:
		return fmt.Sprintf(`{"kty":"OKP","kid":%q,"crv":"Ed25519","x":%q}`, kid, b64(p.Public().(ed25519.PublicKey)))
	}
	panic("unknown key type")
}

func jwks(keys ...string) string { return `{"keys":[` + strings.Join(keys, ",") + `]}` }

// idp serves a JWKS that tests change, and counts its fetches.
type idp struct {
	srv     *httptest.Server
	doc     atomic.Pointer[string]
	down    atomic.Bool
	fetches atomic.Int64
}

func newIDP(t *testing.T, doc string) *idp {
	t.Helper()
	p := &idp{}
	p.doc.Store(&doc)
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.fetches.Add(1)
		if p.down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/jwk-set+json")
		fmt.Fprint(w, *p.doc.Load())
	}))
	t.Cleanup(p.srv.Close)
	return p
}

func (p *idp) set(doc string) { p.doc.Store(&doc) }

// claims returns valid claims at start.
func claims() jwt.MapClaims {
	return jwt.MapClaims{
		"iss": issuer, "aud": audience, "sub": "user-42",
		"exp": start.Add(10 * time.Minute).Unix(), "nbf": start.Add(-time.Minute).Unix(),
		"scope": "assets:read data:write",
	}
}

// sign returns a token of c signed with priv by method, with kid when
// given.
func sign(t testing.TB, method jwt.SigningMethod, kid string, c jwt.MapClaims, priv any) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, c)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func newVerifier(t *testing.T, p *idp, clock *gatehousetest.Clock) *bearer.Verifier {
	t.Helper()
	v, err := bearer.New(t.Context(), bearer.Config{
		JWKSURL: p.srv.URL, Issuer: issuer, Audience: audience, Now: clock.Now,
		Client: p.srv.Client(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestVerify(t *testing.T) {
	t.Parallel()
	k := testKeys()
	p := newIDP(t, jwks(jwk("r1", k.rsa), jwk("e1", k.ec), jwk("d1", k.ed)))
	clock := gatehousetest.NewClock(start)
	v := newVerifier(t, p, clock)
	with := func(change func(c jwt.MapClaims)) jwt.MapClaims {
		c := claims()
		change(c)
		return c
	}
	pubPEM := func() []byte {
		der, _ := x509.MarshalPKIXPublicKey(&k.rsa.PublicKey)
		return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	}()
	tests := []struct {
		name   string
		token  string
		want   string   // "" for valid, else a part of the reason
		scopes []string // checked when valid
	}{
		{"RS256", sign(t, jwt.SigningMethodRS256, "r1", claims(), k.rsa), "", []string{"assets:read", "data:write"}},
		{"ES256", sign(t, jwt.SigningMethodES256, "e1", claims(), k.ec), "", nil},
		{"EdDSA", sign(t, jwt.SigningMethodEdDSA, "d1", claims(), k.ed), "", nil},
		{"no kid", sign(t, jwt.SigningMethodES256, "", claims(), k.ec), "", nil},
		{"scopes as an array", sign(t, jwt.SigningMethodRS256, "r1", with(func(c jwt.MapClaims) { c["scope"] = []string{"a:read", "b:write"} }), k.rsa), "", []string{"a:read", "b:write"}},
		{"no scopes", sign(t, jwt.SigningMethodRS256, "r1", with(func(c jwt.MapClaims) { delete(c, "scope") }), k.rsa), "", []string{}},
		{"aud among several", sign(t, jwt.SigningMethodRS256, "r1", with(func(c jwt.MapClaims) { c["aud"] = []string{"other", audience} }), k.rsa), "", nil},
		{"expired within the leeway", sign(t, jwt.SigningMethodRS256, "r1", with(func(c jwt.MapClaims) { c["exp"] = start.Add(-59 * time.Second).Unix() }), k.rsa), "", nil},
		{"nbf within the leeway", sign(t, jwt.SigningMethodRS256, "r1", with(func(c jwt.MapClaims) { c["nbf"] = start.Add(59 * time.Second).Unix() }), k.rsa), "", nil},

		{"expired beyond the leeway", sign(t, jwt.SigningMethodRS256, "r1", with(func(c jwt.MapClaims) { c["exp"] = start.Add(-61 * time.Second).Unix() }), k.rsa), "expired", nil},
		{"nbf beyond the leeway", sign(t, jwt.SigningMethodRS256, "r1", with(func(c jwt.MapClaims) { c["nbf"] = start.Add(61 * time.Second).Unix() }), k.rsa), "not valid yet", nil},
		{"no exp", sign(t, jwt.SigningMethodRS256, "r1", with(func(c jwt.MapClaims) { delete(c, "exp") }), k.rsa), "no exp", nil},
		{"foreign issuer", sign(t, jwt.SigningMethodRS256, "r1", with(func(c jwt.MapClaims) { c["iss"] = "https://evil.example/" }), k.rsa), "iss", nil},
		{"no issuer", sign(t, jwt.SigningMethodRS256, "r1", with(func(c jwt.MapClaims) { delete(c, "iss") }), k.rsa), "no iss", nil},
		{"no audience", sign(t, jwt.SigningMethodRS256, "r1", with(func(c jwt.MapClaims) { delete(c, "aud") }), k.rsa), "aud", nil},
		{"foreign audience", sign(t, jwt.SigningMethodRS256, "r1", with(func(c jwt.MapClaims) { c["aud"] = "billing" }), k.rsa), "aud", nil},
		{"no subject", sign(t, jwt.SigningMethodRS256, "r1", with(func(c jwt.MapClaims) { delete(c, "sub") }), k.rsa), "sub", nil},
		{"scopes not strings", sign(t, jwt.SigningMethodRS256, "r1", with(func(c jwt.MapClaims) { c["scope"] = []any{1} }), k.rsa), "scope", nil},
		{"scopes a number", sign(t, jwt.SigningMethodRS256, "r1", with(func(c jwt.MapClaims) { c["scope"] = 7 }), k.rsa), "scope", nil},
		{"forged: another key", sign(t, jwt.SigningMethodRS256, "r1", claims(), k.rsa2), "signature does not verify", nil},
		{"alg none", sign(t, jwt.SigningMethodNone, "r1", claims(), jwt.UnsafeAllowNoneSignatureType), "alg is not allowed", nil},
		{"HS256 with the public key's bytes", sign(t, jwt.SigningMethodHS256, "r1", claims(), pubPEM), "alg is not allowed", nil},
		{"HS256 with the JWK's n", sign(t, jwt.SigningMethodHS256, "r1", claims(), k.rsa.N.Bytes()), "alg is not allowed", nil},
		{"alg of another key", sign(t, jwt.SigningMethodES256, "r1", claims(), k.ec), "does not sign ES256", nil},
		{"RS384", sign(t, jwt.SigningMethodRS384, "r1", claims(), k.rsa), "alg is not allowed", nil},
		{"malformed", "not.a.jwt", "well-formed", nil},
		{"empty", "", "well-formed", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := v.Verify(t.Context(), tt.token)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Verify = %v, want a pass", err)
				}
				if c.Subject != "user-42" || !c.ExpiresAt.Equal(time.Unix(claims()["exp"].(int64), 0)) && tt.name != "expired within the leeway" {
					t.Fatalf("Verify = %+v, want sub user-42", c)
				}
				if tt.scopes != nil && fmt.Sprint(c.Scopes) != fmt.Sprint(tt.scopes) {
					t.Fatalf("Scopes = %q, want %q", c.Scopes, tt.scopes)
				}
				return
			}
			var e *bearer.Error
			if !errors.As(err, &e) || !strings.Contains(e.Reason, tt.want) {
				t.Fatalf("Verify = %v, want an *Error with %q", err, tt.want)
			}
			if tt.token != "" && strings.Contains(e.Reason, tt.token[:min(20, len(tt.token))]) {
				t.Fatalf("the reason %q holds the token", e.Reason)
			}
		})
	}
}

// TestUnknownKID: a new key is fetched on its first token; an unknown kid
// fetches at most once a minute, then fails.
func TestUnknownKID(t *testing.T) {
	t.Parallel()
	k := testKeys()
	p := newIDP(t, jwks(jwk("r1", k.rsa)))
	clock := gatehousetest.NewClock(start)
	v := newVerifier(t, p, clock)
	if n := p.fetches.Load(); n != 1 {
		t.Fatalf("fetches after New = %d, want 1", n)
	}
	clock.Add(2 * time.Minute)
	p.set(jwks(jwk("r1", k.rsa), jwk("e2", k.ec)))
	if _, err := v.Verify(t.Context(), sign(t, jwt.SigningMethodES256, "e2", moved(clock), k.ec)); err != nil {
		t.Fatalf("Verify(a token of a new key) = %v, want a pass after a fetch", err)
	}
	if n := p.fetches.Load(); n != 2 {
		t.Fatalf("fetches = %d, want 2", n)
	}
	// An unknown kid within the minute: no fetch, 401.
	for range 5 {
		_, err := v.Verify(t.Context(), sign(t, jwt.SigningMethodEdDSA, "d9", moved(clock), k.ed))
		if err == nil || !strings.Contains(err.Error(), `no key with the token's kid "d9"`) {
			t.Fatalf("Verify(unknown kid) = %v, want an unknown kid", err)
		}
	}
	if n := p.fetches.Load(); n != 2 {
		t.Fatalf("fetches after unknown kids within a minute = %d, want 2", n)
	}
	clock.Add(time.Minute)
	if _, err := v.Verify(t.Context(), sign(t, jwt.SigningMethodEdDSA, "d9", moved(clock), k.ed)); err == nil {
		t.Fatal("Verify(unknown kid) a minute later = pass, want 401")
	}
	if n := p.fetches.Load(); n != 3 {
		t.Fatalf("fetches a minute later = %d, want 3", n)
	}
}

// TestIDPDown: the cached keys keep working while the JWKS endpoint is
// down, also once they are due for their hourly refresh.
func TestIDPDown(t *testing.T) {
	t.Parallel()
	k := testKeys()
	p := newIDP(t, jwks(jwk("r1", k.rsa)))
	clock := gatehousetest.NewClock(start)
	v := newVerifier(t, p, clock)
	p.down.Store(true)
	clock.Add(2 * time.Hour)
	for range 3 {
		if _, err := v.Verify(t.Context(), sign(t, jwt.SigningMethodRS256, "r1", moved(clock), k.rsa)); err != nil {
			t.Fatalf("Verify while the JWKS is down = %v, want a pass with the cached key", err)
		}
	}
	_, err := v.Verify(t.Context(), sign(t, jwt.SigningMethodRS256, "r9", moved(clock), k.rsa))
	if err == nil || !strings.Contains(err.Error(), "no key with the token's kid") {
		t.Fatalf("Verify(unknown kid) while down = %v, want an unknown kid", err)
	}
}

// TestHourlyRefresh: after an hour the keys are fetched again, so a key
// the identity provider removed stops working.
func TestHourlyRefresh(t *testing.T) {
	t.Parallel()
	k := testKeys()
	p := newIDP(t, jwks(jwk("r1", k.rsa), jwk("e1", k.ec)))
	clock := gatehousetest.NewClock(start)
	v := newVerifier(t, p, clock)
	p.set(jwks(jwk("e1", k.ec)))
	clock.Add(59 * time.Minute)
	if _, err := v.Verify(t.Context(), sign(t, jwt.SigningMethodRS256, "r1", moved(clock), k.rsa)); err != nil {
		t.Fatalf("Verify within the hour = %v, want a pass", err)
	}
	if n := p.fetches.Load(); n != 1 {
		t.Fatalf("fetches within the hour = %d, want 1", n)
	}
	clock.Add(time.Minute)
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := v.Verify(t.Context(), sign(t, jwt.SigningMethodRS256, "r1", moved(clock), k.rsa))
		if err != nil {
			break // the refresh removed r1
		}
		if time.Now().After(deadline) {
			t.Fatal("a removed key still works 5 s after the hourly refresh was due")
		}
		time.Sleep(10 * time.Millisecond) // poll
	}
	if n := p.fetches.Load(); n != 2 {
		t.Fatalf("fetches after the hour = %d, want 2", n)
	}
}

// moved returns valid claims at the clock's time.
func moved(clock *gatehousetest.Clock) jwt.MapClaims {
	c := claims()
	c["exp"] = clock.Now().Add(10 * time.Minute).Unix()
	c["nbf"] = clock.Now().Add(-time.Minute).Unix()
	return c
}

func TestJWKSFile(t *testing.T) {
	t.Parallel()
	k := testKeys()
	path := filepath.Join(t.TempDir(), "jwks.json")
	if err := os.WriteFile(path, []byte(jwks(jwk("d1", k.ed))), 0o600); err != nil {
		t.Fatal(err)
	}
	clock := gatehousetest.NewClock(start)
	v, err := bearer.New(t.Context(), bearer.Config{JWKSFile: path, Issuer: issuer, Audience: audience, Now: clock.Now, ScopesClaim: "permissions"})
	if err != nil {
		t.Fatal(err)
	}
	c := claims()
	c["permissions"] = []string{"assets:write"}
	got, err := v.Verify(t.Context(), sign(t, jwt.SigningMethodEdDSA, "d1", c, k.ed))
	if err != nil || fmt.Sprint(got.Scopes) != "[assets:write]" {
		t.Fatalf("Verify = %+v, %v, want the scopes of the permissions claim", got, err)
	}
	if _, err := bearer.New(t.Context(), bearer.Config{JWKSFile: path + ".missing", Issuer: issuer, Audience: audience}); err == nil {
		t.Fatal("New(a missing jwks_file) = nil error")
	}
}

func TestJWKSRefused(t *testing.T) {
	t.Parallel()
	k := testKeys()
	tests := []struct{ name, doc, want string }{
		{"not json", "<html>", "not a JSON JWK Set"},
		{"only a symmetric key", `{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}`, "no RSA, EC or Ed25519 signing key"},
		{"only an encryption key", jwks(strings.Replace(jwk("r1", k.rsa), `"use":"sig"`, `"use":"enc"`, 1)), "no RSA, EC or Ed25519 signing key"},
		{"too large", `{"keys":[` + strings.Repeat(" ", 2048) + `]}`, "larger than 1024 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "jwks.json")
			os.WriteFile(path, []byte(tt.doc), 0o600)
			_, err := bearer.New(t.Context(), bearer.Config{JWKSFile: path, Issuer: issuer, Audience: audience, MaxJWKSBytes: 1024})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New = %v, want an error with %q", err, tt.want)
			}
		})
	}
}

// TestFetchTimeout: a JWKS endpoint that does not answer is given up
// after the timeout, and the gateway still starts.
func TestFetchTimeout(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(release); srv.Close() })
	began := time.Now()
	v, err := bearer.New(context.Background(), bearer.Config{JWKSURL: srv.URL, Issuer: issuer, Audience: audience, FetchTimeout: 100 * time.Millisecond})
	if err != nil || v == nil {
		t.Fatalf("New with a hanging JWKS = %v, want a verifier", err)
	}
	if d := time.Since(began); d > 3*time.Second {
		t.Fatalf("New took %s, want about the fetch timeout", d)
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  bearer.Config
		want string
	}{
		{"no source", bearer.Config{Issuer: issuer, Audience: audience}, "jwks_url or jwks_file"},
		{"two sources", bearer.Config{JWKSURL: "https://x/", JWKSFile: "f", Issuer: issuer, Audience: audience}, "not both"},
		{"not a URL", bearer.Config{JWKSURL: "ftp://x/", Issuer: issuer, Audience: audience}, "http:// or https://"},
		{"no issuer", bearer.Config{JWKSURL: "https://x/", Audience: audience}, "issuer"},
		{"no audience", bearer.Config{JWKSURL: "https://x/", Issuer: issuer}, "audience"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if err := tt.cfg.Validate(); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate = %v, want an error with %q", err, tt.want)
			}
		})
	}
}
