package keyauth

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"gatehouse"
	"gatehouse/bearer"
	"gatehouse/httpsig"
)

// BearerVerifier checks Bearer JWTs (bearer.Verifier). A token that does
// not pass is a *bearer.Error.
type BearerVerifier interface {
	Verify(ctx context.Context, token string) (bearer.Claims, error)
}

// SignatureVerifier checks the RFC 9421 signature of a request against
// the signing keys of its API key (httpsig.Verifier).
type SignatureVerifier interface {
	Verify(ctx context.Context, m httpsig.Message, keys []httpsig.Key) (httpsig.Result, error)
}

// subjectPrefix keeps the rate-limit counters of token subjects apart from
// those of key IDs.
const subjectPrefix = "sub:"

// checkBearer checks the request's Bearer token with bv: its verification,
// then its scopes and the rate limit of its subject, like a key's.
func (v *Verifier) checkBearer(ctx context.Context, bv BearerVerifier, req Request, now time.Time) Verdict {
	if len(req.Authorization) > 1 {
		return Verdict{Status: StatusInvalidToken, Detail: "The request has more than one Authorization header."}
	}
	scheme, token, ok := strings.Cut(req.Authorization[0], " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		// Another scheme's credentials: not ours to judge.
		return Verdict{Status: StatusMissing}
	}
	claims, err := bv.Verify(ctx, strings.TrimSpace(token))
	if err != nil {
		detail := "The Bearer token cannot be verified."
		var e *bearer.Error
		if errors.As(err, &e) {
			detail = "The Bearer token is not valid: " + e.Reason + "."
		}
		return Verdict{Status: StatusInvalidToken, Detail: detail}
	}
	var scopes gatehouse.Scopes
	for _, s := range claims.Scopes {
		// A scope of another API in the token is not ours: it grants
		// nothing here.
		if sc, err := gatehouse.ParseScope(s); err == nil && sc.Name != gatehouse.ScopeAPIKeys {
			scopes = append(scopes, sc)
		}
	}
	verdict := Verdict{Status: StatusValid, Subject: claims.Subject}
	if !scopes.Allows(req.Scope, req.Access) {
		verdict.Status = StatusInsufficientScope
		return verdict
	}
	return v.limit(ctx, verdict, subjectPrefix+claims.Subject, v.currentPolicy().DefaultLimit, now)
}

// checkSignature checks the signature of a write to a signed route
// against the signing keys of the verdict's key, and returns the verdict
// with the outcome (and the body read).
func (v *Verifier) checkSignature(ctx context.Context, req Request, verdict Verdict) Verdict {
	if v.Signatures == nil || req.Message == nil {
		verdict.Status = StatusUnavailable
		return verdict
	}
	res, err := v.Signatures.Verify(ctx, *req.Message, v.signingKeys.keys(verdict.Key.SigningKeys))
	var e *httpsig.Error
	switch {
	case errors.Is(err, httpsig.ErrNoSignature):
		verdict.Status = StatusSignatureRequired
	case errors.As(err, &e):
		verdict.Status, verdict.Detail = StatusInvalidSignature, "The request's signature is not valid: "+e.Error()+"."
	case err != nil:
		verdict.Status = StatusUnavailable
	default:
		verdict.Body = res.Body
	}
	return verdict
}

// signingKeyCache holds the parsed form of the signing keys seen, by JWK:
// a JWK is parsed once, not on every signed request.
type signingKeyCache struct {
	m sync.Map // JWK string → httpsig.Key
}

// keys returns the parsed signing keys; a JWK that does not parse (the
// store only holds ones that did) is left out.
func (c *signingKeyCache) keys(sks []gatehouse.SigningKey) []httpsig.Key {
	out := make([]httpsig.Key, 0, len(sks))
	for _, sk := range sks {
		if k, ok := c.m.Load(sk.JWK); ok {
			out = append(out, k.(httpsig.Key))
			continue
		}
		k, err := httpsig.ParseJWK([]byte(sk.JWK))
		if err != nil {
			continue
		}
		c.m.Store(sk.JWK, k)
		out = append(out, k)
	}
	return out
}
