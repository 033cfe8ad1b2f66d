package keys

import (
	"context"

	"gatehouse"
	"gatehouse/httpsig"
)

// AddSigningKey registers a public key (a JWK: Ed25519 or ECDSA P-256) on
// the key, whose writes to signed routes must then be signed by it or
// another of its signing keys, and returns the key and the signing key's
// keyid (its RFC 7638 thumbprint). Adding a key it has already changes
// nothing. A key caller can change only keys whose scopes are all within
// its own. Errors: EInvalidRequest (the JWK, or too many signing keys),
// ENotFound, EInsufficientScope.
func (s *Service) AddSigningKey(ctx context.Context, id string, jwk []byte, c Caller) (*gatehouse.APIKey, string, error) {
	pk, err := httpsig.ParseJWK(jwk)
	if err != nil {
		return nil, "", gatehouse.Errorf(gatehouse.EInvalidRequest, "The signing key is not usable: %s.", err.Error())
	}
	if err := s.checkTarget(ctx, id, c, "change"); err != nil {
		return nil, "", err
	}
	k, err := s.Store.AddSigningKey(ctx, id, gatehouse.SigningKey{KeyID: pk.ID, JWK: string(pk.JWK()), CreatedAt: s.now()}, c.actor)
	if err != nil {
		return nil, "", err
	}
	s.changed(ctx)
	return k, pk.ID, nil
}

// RemoveSigningKey removes the signing key keyID from the key: signatures
// by it are refused from then on, on every node within a second. A key
// caller can change only keys whose scopes are all within its own.
// Errors: ENotFound (the key or the signing key), EInsufficientScope.
func (s *Service) RemoveSigningKey(ctx context.Context, id, keyID string, c Caller) (*gatehouse.APIKey, error) {
	if err := s.checkTarget(ctx, id, c, "change"); err != nil {
		return nil, err
	}
	k, err := s.Store.RemoveSigningKey(ctx, id, keyID, c.actor)
	if err != nil {
		return nil, err
	}
	s.changed(ctx)
	return k, nil
}
