package httpsig

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
)

// Window is how far a signature's created may be from the verifier's
// clock, either way, and how long its nonce is remembered after that.
const Window = 5 * time.Minute

// DefaultMaxBodyBytes is the largest body whose Content-Digest is checked
// when Verifier.MaxBodyBytes is zero.
const DefaultMaxBodyBytes = 10 << 20

// maxNonceLen bounds a nonce, which is stored.
const maxNonceLen = 256

// required are the components every signature must cover; a request with
// a body must also cover "content-digest".
var required = []string{"@method", "@target-uri", "x-api-key"}

// ErrNoSignature is returned by Verify for a request with neither
// Signature-Input nor Signature: the contract's signature_required.
var ErrNoSignature = errors.New("the request is not signed: it needs Signature-Input and Signature headers (RFC 9421)")

// Error is a signature that does not pass: the contract's
// invalid_signature. Part names what failed ("signature-input",
// "covered components", "created", "expires", "nonce", "keyid", "alg",
// "signature", "content-digest"), Reason says how.
type Error struct {
	Part   string
	Reason string
}

func (e *Error) Error() string { return e.Part + ": " + e.Reason }

// NonceStore remembers the nonces of accepted signatures
// (MemoryNonces on one node, RedisNonces across nodes).
type NonceStore interface {
	// Use records id as used for ttl from now, and reports whether it was
	// not in use already. Only one of concurrent callers with the same id
	// gets true.
	Use(ctx context.Context, id string, now time.Time, ttl time.Duration) (bool, error)
}

// Result says which signature passed.
type Result struct {
	// Label is the signature's label in Signature-Input.
	Label string
	// KeyID is the ID of the key that verified it.
	KeyID string
	// Body is the request body that was read to check its
	// Content-Digest; nil when the request had none. The caller forwards
	// it in place of the Message's Body, which has been consumed.
	Body []byte
}

// Verifier checks the signatures of requests against the keys registered
// on their API key. Nonces is required.
type Verifier struct {
	// Nonces remembers the nonces of accepted signatures. Required.
	Nonces NonceStore
	// Now returns the current time. If nil, time.Now is used.
	Now func() time.Time
	// MaxBodyBytes is the largest body read to check a Content-Digest;
	// a larger one fails. Zero means DefaultMaxBodyBytes.
	MaxBodyBytes int64
}

// Verify checks that m carries a signature, made by one of keys, that
// covers at least "@method", "@target-uri", "x-api-key" and, when m has a
// body, "content-digest", whose Content-Digest matches the body, whose
// created lies within Window of the clock, whose nonce was not seen
// within the window, and whose keyid and alg, when given, name one of
// keys. Several signatures may be present: the first that passes wins.
//
// It returns ErrNoSignature when m is not signed, an *Error when a
// signature fails (the first signature's, when all fail), and another
// error when the nonce store cannot be reached. When m has a body, Verify
// reads it, up to MaxBodyBytes; Result.Body then holds it.
func (v *Verifier) Verify(ctx context.Context, m Message, keys []Key) (Result, error) {
	inputs := m.Header.Values("Signature-Input")
	sigs := m.Header.Values("Signature")
	if len(inputs) == 0 && len(sigs) == 0 {
		return Result{}, ErrNoSignature
	}
	if len(inputs) == 0 {
		return Result{}, &Error{Part: "signature-input", Reason: "Signature is sent without Signature-Input"}
	}
	if len(sigs) == 0 {
		return Result{}, &Error{Part: "signature", Reason: "Signature-Input is sent without Signature"}
	}
	parsed, err := parseSignatures(inputs, sigs)
	if err != nil {
		return Result{}, err
	}
	now := v.now()
	body := &bodyDigest{r: m.Body, limit: v.maxBody()}
	var first error
	for i := range parsed {
		res, err := v.verify(ctx, &m, &parsed[i], keys, body, now)
		if err == nil {
			res.Body = body.data
			return res, nil
		}
		var e *Error
		if !errors.As(err, &e) {
			return Result{}, err // the nonce store failed
		}
		if first == nil {
			first = err
		}
	}
	return Result{}, first
}

// verify checks one signature; cheap checks first, the body and the nonce
// last, so that a forged request neither reads a body nor spends a nonce.
func (v *Verifier) verify(ctx context.Context, m *Message, s *signature, keys []Key, body *bodyDigest, now time.Time) (Result, error) {
	for _, c := range required {
		if !slices.Contains(s.components, c) {
			return Result{}, &Error{Part: "covered components", Reason: fmt.Sprintf("the signature must cover %q", c)}
		}
	}
	digestCovered := slices.Contains(s.components, "content-digest")
	if m.Body != nil && !digestCovered {
		return Result{}, &Error{Part: "covered components", Reason: `a request with a body must cover "content-digest"`}
	}
	switch {
	case s.created.IsZero():
		return Result{}, &Error{Part: "created", Reason: "the signature has no created parameter"}
	case s.created.Before(now.Add(-Window)):
		return Result{}, &Error{Part: "created", Reason: fmt.Sprintf("the signature was created more than %s ago", Window)}
	case s.created.After(now.Add(Window)):
		return Result{}, &Error{Part: "created", Reason: fmt.Sprintf("the signature was created more than %s in the future; check the client's clock", Window)}
	case !s.expires.IsZero() && !now.Before(s.expires):
		return Result{}, &Error{Part: "expires", Reason: "the signature has expired"}
	}
	if s.nonce == "" {
		return Result{}, &Error{Part: "nonce", Reason: "the signature has no nonce parameter"}
	}
	if len(s.nonce) > maxNonceLen {
		return Result{}, &Error{Part: "nonce", Reason: fmt.Sprintf("the nonce is longer than %d characters", maxNonceLen)}
	}
	candidates, err := s.candidates(keys)
	if err != nil {
		return Result{}, err
	}
	base, err := s.base(m)
	if err != nil {
		return Result{}, err
	}
	var key *Key
	for i := range candidates {
		if verifyBytes(candidates[i].Public, base, s.value) {
			key = &candidates[i]
			break
		}
	}
	if key == nil {
		return Result{}, &Error{Part: "signature", Reason: "the signature does not verify with the registered key over the covered components"}
	}
	if digestCovered {
		if err := body.check(m.Header.Values("Content-Digest")); err != nil {
			return Result{}, err
		}
	}
	// A nonce is remembered with its key (a replay names the same key)
	// until its created leaves the window.
	fresh, err := v.Nonces.Use(ctx, key.ID+" "+s.nonce, now, s.created.Add(Window).Sub(now))
	if err != nil {
		return Result{}, fmt.Errorf("check nonce: %w", err)
	}
	if !fresh {
		return Result{}, &Error{Part: "nonce", Reason: "the nonce was used before: a signed request cannot be replayed"}
	}
	return Result{Label: s.label, KeyID: key.ID}, nil
}

// candidates returns the keys s may have been made with: the one its
// keyid names, else every key of its alg.
func (s *signature) candidates(keys []Key) ([]Key, error) {
	if s.alg != "" && s.alg != AlgEd25519 && s.alg != AlgECDSAP256SHA256 {
		return nil, &Error{Part: "alg", Reason: fmt.Sprintf("%q is not supported; use %q or %q", s.alg, AlgEd25519, AlgECDSAP256SHA256)}
	}
	var out []Key
	for _, k := range keys {
		if s.keyID != "" && k.ID != s.keyID {
			continue
		}
		if s.alg != "" && k.Algorithm() != s.alg {
			if s.keyID != "" {
				return nil, &Error{Part: "alg", Reason: fmt.Sprintf("key %q is not an %s key", s.keyID, s.alg)}
			}
			continue
		}
		out = append(out, k)
	}
	if len(out) == 0 {
		if s.keyID != "" {
			return nil, &Error{Part: "keyid", Reason: fmt.Sprintf("%q is not a signing key of this API key", s.keyID)}
		}
		return nil, &Error{Part: "keyid", Reason: "this API key has no signing key that could have made the signature"}
	}
	return out, nil
}

func (v *Verifier) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

func (v *Verifier) maxBody() int64 {
	if v.MaxBodyBytes > 0 {
		return v.MaxBodyBytes
	}
	return DefaultMaxBodyBytes
}
