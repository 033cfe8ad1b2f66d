// Package bearer verifies the Bearer JWTs of the platform's web frontend
// (RFC 6750, RFC 7519): the signature by a key of the identity provider's
// JWKS with an allowed algorithm, the issuer, the audience, the validity
// window, and the subject and scopes the token carries.
//
// Tokens are parsed and checked by github.com/golang-jwt/jwt/v5 and the
// JWKS's keys by github.com/MicahParks/jwkset; this package fetches and
// caches the JWKS itself (keys.go), with a timeout, a size limit and the
// refresh policy of the contract.
package bearer

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Algorithms are the JWS algorithms a token may be signed with: never
// "none", never HMAC (whose key a public JWKS would hand to anyone).
var Algorithms = []string{"RS256", "ES256", "EdDSA"}

// Leeway is the clock skew allowed on exp and nbf.
const Leeway = 60 * time.Second

// DefaultScopesClaim is the claim that holds the scopes when
// Config.ScopesClaim is empty.
const DefaultScopesClaim = "scope"

// minRSABits is the smallest RSA key accepted.
const minRSABits = 2048

// Config says where the keys are and what a token must say.
type Config struct {
	// JWKSURL is the identity provider's JWKS. One of JWKSURL and
	// JWKSFile is required.
	JWKSURL string
	// JWKSFile is a file holding the JWKS.
	JWKSFile string
	// Issuer is the iss a token must have. Required.
	Issuer string
	// Audience must be one of the token's aud. Required.
	Audience string
	// ScopesClaim names the claim with the token's scopes: a
	// space-separated string or an array of strings. Empty means
	// DefaultScopesClaim.
	ScopesClaim string
	// Client fetches JWKSURL. If nil, http.DefaultClient is used; each
	// fetch is bounded by FetchTimeout either way.
	Client *http.Client
	// FetchTimeout bounds one fetch of the JWKS. Zero means
	// DefaultFetchTimeout.
	FetchTimeout time.Duration
	// MaxJWKSBytes bounds the JWKS document. Zero means
	// DefaultMaxJWKSBytes.
	MaxJWKSBytes int64
	// Now returns the current time. If nil, time.Now is used.
	Now func() time.Time
	// Logger receives failed refreshes. If nil, they are not logged.
	Logger *slog.Logger
}

// Claims is what a verified token says about its bearer.
type Claims struct {
	// Subject is the token's sub.
	Subject string
	// Scopes are the entries of the scopes claim, as given.
	Scopes []string
	// ExpiresAt is the token's exp.
	ExpiresAt time.Time
}

// Error is a token that does not pass; Reason says why, without the
// token. It is the contract's invalid_token.
type Error struct {
	Reason string
}

func (e *Error) Error() string { return e.Reason }

// Verifier checks tokens against a Config. Make it with New.
type Verifier struct {
	cfg    Config
	keys   *keySource
	parser *jwt.Parser
}

// New returns a verifier for cfg and loads the JWKS once. A JWKSFile that
// cannot be read is an error; a JWKSURL that cannot be fetched is logged
// and fetched again on the first token, so that the gateway starts while
// the identity provider is down.
func New(ctx context.Context, cfg Config) (*Verifier, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.ScopesClaim == "" {
		cfg.ScopesClaim = DefaultScopesClaim
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	v := &Verifier{
		cfg:  cfg,
		keys: newKeySource(cfg),
		parser: jwt.NewParser(
			jwt.WithValidMethods(Algorithms),
			jwt.WithIssuer(cfg.Issuer),
			jwt.WithAudience(cfg.Audience),
			jwt.WithLeeway(Leeway),
			jwt.WithExpirationRequired(),
			jwt.WithTimeFunc(cfg.Now),
		),
	}
	if err := v.keys.load(ctx, cfg.Now()); err != nil {
		if cfg.JWKSFile != "" {
			return nil, err
		}
		cfg.Logger.Warn("bearer: the JWKS could not be fetched; it is fetched again on the first token", "url", cfg.JWKSURL, "error", err)
	}
	return v, nil
}

// Validate checks that cfg names one JWKS source, an issuer and an
// audience.
func (cfg Config) Validate() error {
	switch {
	case cfg.JWKSURL == "" && cfg.JWKSFile == "":
		return errors.New("bearer needs jwks_url or jwks_file")
	case cfg.JWKSURL != "" && cfg.JWKSFile != "":
		return errors.New("bearer takes jwks_url or jwks_file, not both")
	case cfg.JWKSURL != "" && !strings.HasPrefix(cfg.JWKSURL, "https://") && !strings.HasPrefix(cfg.JWKSURL, "http://"):
		return fmt.Errorf("bearer jwks_url %q must be an http:// or https:// URL", cfg.JWKSURL)
	case cfg.Issuer == "":
		return errors.New("bearer needs issuer: the iss that tokens must have")
	case cfg.Audience == "":
		return errors.New("bearer needs audience: a value that tokens' aud must hold")
	case cfg.FetchTimeout < 0 || cfg.MaxJWKSBytes < 0:
		return errors.New("bearer fetch timeout and size limit must not be negative")
	}
	return nil
}

// Verify checks token (the credentials of an "Authorization: Bearer"
// header) and returns its claims, or an *Error that says what failed.
func (v *Verifier) Verify(ctx context.Context, token string) (Claims, error) {
	claims := jwt.MapClaims{}
	_, err := v.parser.ParseWithClaims(token, claims, func(t *jwt.Token) (any, error) {
		return v.key(ctx, t)
	})
	if err != nil {
		return Claims{}, &Error{Reason: reason(err, v.cfg, claims)}
	}
	sub, _ := claims.GetSubject()
	if sub == "" {
		return Claims{}, &Error{Reason: "the token has no sub (subject)"}
	}
	scopes, err := scopesOf(claims, v.cfg.ScopesClaim)
	if err != nil {
		return Claims{}, err
	}
	exp, _ := claims.GetExpirationTime() // required by the parser
	return Claims{Subject: sub, Scopes: scopes, ExpiresAt: exp.Time}, nil
}

// key returns the key that t names, refreshing the JWKS when its kid is
// unknown, or every key that fits t's algorithm when it names none.
func (v *Verifier) key(ctx context.Context, t *jwt.Token) (any, error) {
	alg := t.Method.Alg()
	kid, _ := t.Header["kid"].(string)
	set := v.keys.current(ctx, v.cfg.Now())
	if kid == "" {
		var fits jwt.VerificationKeySet
		for _, k := range set.keys {
			if k.fits(alg) {
				fits.Keys = append(fits.Keys, k.public)
			}
		}
		if len(fits.Keys) == 0 {
			return nil, errNoKey(fmt.Sprintf("the JWKS has no %s key", alg))
		}
		return fits, nil
	}
	k, ok := set.byKID[kid]
	if !ok {
		set = v.keys.unknownKID(ctx, v.cfg.Now())
		if k, ok = set.byKID[kid]; !ok {
			return nil, errNoKey(fmt.Sprintf("the JWKS has no key with the token's kid %q", clip(kid)))
		}
	}
	if !k.fits(alg) {
		return nil, errNoKey(fmt.Sprintf("the key %q does not sign %s", clip(kid), alg))
	}
	return k.public, nil
}

// errNoKey is a keyfunc failure whose message reaches the client.
type errNoKey string

func (e errNoKey) Error() string { return string(e) }

// fits reports whether k may verify a signature by alg.
func (k key) fits(alg string) bool {
	if k.alg != "" && k.alg != alg {
		return false
	}
	switch pub := k.public.(type) {
	case *rsa.PublicKey:
		return alg == "RS256" && pub.N.BitLen() >= minRSABits
	case *ecdsa.PublicKey:
		return alg == "ES256" && pub.Curve == elliptic.P256()
	case ed25519.PublicKey:
		return alg == "EdDSA"
	}
	return false
}

// reason turns a parse failure into a message for the client.
func reason(err error, cfg Config, claims jwt.MapClaims) string {
	var nk errNoKey
	switch {
	case errors.As(err, &nk):
		return "the token cannot be verified: " + string(nk)
	case errors.Is(err, jwt.ErrTokenMalformed):
		return "the token is not a well-formed JWT"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		if strings.Contains(err.Error(), "signing method") {
			return fmt.Sprintf("the token's alg is not allowed; it must be one of %s", strings.Join(Algorithms, ", "))
		}
		return "the token's signature does not verify"
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		for _, c := range []string{"exp", "iss", "aud"} {
			if _, ok := claims[c]; !ok {
				return "the token has no " + c
			}
		}
		return "the token lacks a required claim"
	case errors.Is(err, jwt.ErrTokenExpired):
		return "the token has expired"
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return "the token is not valid yet (nbf)"
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return fmt.Sprintf("the token's iss is not %q", cfg.Issuer)
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return fmt.Sprintf("the token's aud does not hold %q", cfg.Audience)
	case errors.Is(err, jwt.ErrTokenInvalidClaims):
		return "the token's claims are not valid"
	}
	return "the token cannot be verified"
}

// scopesOf reads the scopes claim: a space-separated string or an array
// of strings. A token without it has no scopes.
func scopesOf(claims jwt.MapClaims, name string) ([]string, error) {
	switch v := claims[name].(type) {
	case nil:
		return nil, nil
	case string:
		return strings.Fields(v), nil
	case []any:
		out := make([]string, 0, len(v))
		for _, s := range v {
			str, ok := s.(string)
			if !ok {
				return nil, &Error{Reason: fmt.Sprintf("the token's %s claim holds a value that is not a string", name)}
			}
			out = append(out, str)
		}
		return out, nil
	}
	return nil, &Error{Reason: fmt.Sprintf("the token's %s claim must be a space-separated string or an array of strings", name)}
}

// clip shortens a client-supplied value quoted in a message.
func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
