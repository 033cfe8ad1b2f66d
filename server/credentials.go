package server

import (
	"context"
	"fmt"

	"gatehouse/bearer"
	"gatehouse/config"
	"gatehouse/httpsig"
	"gatehouse/keyauth"
)

// credentials sets up the checks of contract §9 on v: Bearer tokens when
// the config has a bearer section, and the signatures of signed routes,
// whose nonces are shared through Redis when it is configured.
func (s *Server) credentials(ctx context.Context, v *keyauth.Verifier) error {
	bv, err := s.newBearer(ctx, s.cfg.Bearer)
	if err != nil {
		return err
	}
	v.Bearer = bv
	var nonces httpsig.NonceStore = &httpsig.MemoryNonces{}
	if s.redis != nil {
		nonces = httpsig.NewRedisNonces(s.redis, "gatehouse:")
	}
	v.Signatures = &httpsig.Verifier{Nonces: nonces, Now: s.now}
	return nil
}

// newBearer returns the verifier of the bearer section b, which loads its
// JWKS now (a file that cannot be read is an error), or nil, no verifier,
// when the config has no such section.
func (s *Server) newBearer(ctx context.Context, b config.Bearer) (keyauth.BearerVerifier, error) {
	if b.IsZero() {
		return nil, nil
	}
	bv, err := bearer.New(ctx, bearer.Config{
		JWKSURL: b.JWKSURL, JWKSFile: b.JWKSFile, Issuer: b.Issuer, Audience: b.Audience,
		ScopesClaim: b.ScopesClaim, Now: s.now, Logger: s.log,
	})
	if err != nil {
		return nil, fmt.Errorf("config: bearer: %w", err)
	}
	return bv, nil
}
