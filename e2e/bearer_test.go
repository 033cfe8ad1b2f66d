package e2e_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"gatehouse/config"
)

// idp is an identity provider: an ES256 key and the JWKS that holds it.
type idp struct {
	key  *ecdsa.PrivateKey
	jwks *httptest.Server
}

func newIDP(t *testing.T) *idp {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := k.PublicKey.Bytes()
	b64 := base64.RawURLEncoding.EncodeToString
	doc := fmt.Sprintf(`{"keys":[{"kty":"EC","kid":"k1","crv":"P-256","x":%q,"y":%q}]}`, b64(raw[1:33]), b64(raw[33:]))
	p := &idp{key: k}
	p.jwks = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, doc) }))
	t.Cleanup(p.jwks.Close)
	return p
}

// token returns a token of the idp for sub with scope, changed by change.
func (p *idp) token(t *testing.T, sub, scope string, change func(jwt.MapClaims)) string {
	t.Helper()
	c := jwt.MapClaims{
		"iss": "https://idp.example/", "aud": "building-api", "sub": sub, "scope": scope,
		"exp": time.Now().Add(5 * time.Minute).Unix(),
	}
	if change != nil {
		change(c)
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, c)
	tok.Header["kid"] = "k1"
	s, err := tok.SignedString(p.key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// bearerGateway runs a gateway whose assets route accepts the idp's
// tokens, with a default rate limit of 3 requests a minute.
func bearerGateway(t *testing.T, p *idp) *gateway {
	t.Helper()
	return startGateway(t, func(c *config.Config) {
		c.Bearer = config.Bearer{JWKSURL: p.jwks.URL, Issuer: "https://idp.example/", Audience: "building-api"}
		c.Routes[0].Bearer = true
		c.RateLimit = "3/m"
	})
}

// TestBearer: the frontend's Bearer tokens pass on a bearer route with
// their scopes, limited per subject, and the upstream is told the
// subject; bad tokens get 401 invalid_token with RFC 6750's challenge.
func TestBearer(t *testing.T) {
	t.Parallel()
	p := newIDP(t)
	g := bearerGateway(t, p)
	auth := func(tok string) string { return "Authorization: Bearer " + tok }
	good := p.token(t, "user-1", "assets:read", nil)

	r := g.one(t, req("GET", "/api/v2/assets/7", auth(good), "X-Gatehouse-Subject: admin"))
	if r.Status != 200 {
		t.Fatalf("GET with a good token = %s, want 200", r)
	}
	seen := g.up.Take()
	if len(seen) != 1 || seen[0].Header.Get("X-Gatehouse-Subject") != "user-1" || seen[0].Header.Get("Authorization") != "Bearer "+good {
		t.Fatalf("upstream saw %+v, want X-Gatehouse-Subject user-1 and the Authorization header unchanged", seen)
	}
	if seen[0].Header.Get("X-Gatehouse-Key-Id") != "" {
		t.Fatalf("upstream saw X-Gatehouse-Key-Id %q for a token", seen[0].Header.Get("X-Gatehouse-Key-Id"))
	}

	for _, tt := range []struct {
		name, request string
		status        int
		code          string
	}{
		{"write with a read scope", req("POST", "/api/v2/assets/7", auth(good), "Content-Length: 0"), 403, "insufficient_scope"},
		{"route without bearer", req("GET", "/api/v2/other", auth(good)), 401, "missing_key"},
		{"expired", req("GET", "/api/v2/assets/7", auth(p.token(t, "user-1", "assets:read", func(c jwt.MapClaims) { c["exp"] = time.Now().Add(-2 * time.Minute).Unix() }))), 401, "invalid_token"},
		{"foreign audience", req("GET", "/api/v2/assets/7", auth(p.token(t, "user-1", "assets:read", func(c jwt.MapClaims) { c["aud"] = "billing" }))), 401, "invalid_token"},
		{"forged", req("GET", "/api/v2/assets/7", auth(good[:len(good)-4]+"AAAA")), 401, "invalid_token"},
		{"alg none", req("GET", "/api/v2/assets/7", auth(noneToken(t))), 401, "invalid_token"},
		{"basic credentials", req("GET", "/api/v2/assets/7", "Authorization: Basic dTpw"), 401, "missing_key"},
		{"management API", req("GET", "/api/v2/api-keys", auth(p.token(t, "user-1", "api-keys:write *:write", nil))), 401, "missing_key"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := g.one(t, tt.request)
			if r.Status != tt.status || r.code() != tt.code {
				t.Fatalf("%s = %s, want %d %s", tt.name, r, tt.status, tt.code)
			}
			if tt.code == "invalid_token" {
				if got := r.Header.Get("WWW-Authenticate"); got != `Bearer error="invalid_token"` {
					t.Fatalf("WWW-Authenticate = %q, want the RFC 6750 challenge", got)
				}
				if strings.Contains(r.Body, good[:30]) {
					t.Fatalf("the answer quotes the token: %s", r.Body)
				}
			}
		})
	}
	if r := g.oneAdmin(t, req("GET", "/api/v2/api-keys", auth(p.token(t, "user-1", "api-keys:write", nil)))); r.Status != 401 {
		t.Fatalf("the management API on admin_listen with a token = %s, want 401", r)
	}

	if r := g.oneAdmin(t, req("GET", "/settings/api-keys", auth(p.token(t, "user-1", "api-keys:write", nil)))); r.Status == 200 {
		t.Fatalf("Settings with a token = %s, want the login", r)
	}

	// The rate limit counts per subject: user-1 has used one request.
	for i := range 2 {
		if r := g.one(t, req("GET", "/api/v2/assets/7", auth(good))); r.Status != 200 {
			t.Fatalf("request %d of user-1 = %s, want 200", i+2, r)
		}
	}
	if r := g.one(t, req("GET", "/api/v2/assets/7", auth(good))); r.Status != 429 || r.code() != "rate_limited" {
		t.Fatalf("user-1's 4th request = %s, want 429", r)
	}
	if r := g.one(t, req("GET", "/api/v2/assets/7", auth(p.token(t, "user-2", "assets:read", nil)))); r.Status != 200 {
		t.Fatalf("user-2's first request = %s, want 200", r)
	}
}

// noneToken is an unsigned token (alg none) with valid claims.
func noneToken(t *testing.T) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims{
		"iss": "https://idp.example/", "aud": "building-api", "sub": "user-1", "scope": "assets:read",
		"exp": time.Now().Add(time.Minute).Unix(),
	})
	s, err := tok.SignedString(jwt.UnsafeAllowNoneSignatureType)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
