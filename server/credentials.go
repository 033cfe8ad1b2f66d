package server

import (
	"context"
	"fmt"

	"gatehouse/bearer"
	"gatehouse/httpsig"
	"gatehouse/keyauth"
)

// credentials sets up the checks of contract §9 on v: Bearer tokens when
// the config has a bearer section, and the signatures of signed routes,
// whose nonces are shared through Redis when it is configured.
func (s *Server) credentials(ctx context.Context, v *keyauth.Verifier) error {
	if b := s.cfg.Bearer; !b.IsZero() {
		bv, err := bearer.New(ctx, bearer.Config{
			JWKSURL: b.JWKSURL, JWKSFile: b.JWKSFile, Issuer: b.Issuer, Audience: b.Audience,
			ScopesClaim: b.ScopesClaim, Now: s.now, Logger: s.log,
		})
		if err != nil {
			return fmt.Errorf("config: bearer: %w", err)
		}
		v.Bearer = bv
	}
	var nonces httpsig.NonceStore = &httpsig.MemoryNonces{}
	if s.redis != nil {
		nonces = httpsig.NewRedisNonces(s.redis, "gatehouse:")
	}
	v.Signatures = &httpsig.Verifier{Nonces: nonces, Now: s.now}
	return nil
}
