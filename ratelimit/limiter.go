// Package ratelimit limits the request rate of each API key with GCRA
// (the generic cell rate algorithm): a key may send limit.Requests requests
// at once, then one every limit.Per/limit.Requests. Local keeps the state in
// the process; Redis keeps it in Redis, shared by every gateway node;
// Fallback serves from Local while Redis cannot be reached.
package ratelimit

import (
	"context"
	"fmt"
	"time"

	"gatehouse"
)

// Limiter decides whether one more request of a key is allowed now.
type Limiter interface {
	// Allow counts one request of key against limit at now and reports
	// whether it may proceed. A zero limit allows everything. An error
	// means the limiter could not decide.
	Allow(ctx context.Context, key string, limit gatehouse.RateLimit, now time.Time) (gatehouse.RateDecision, error)
}

// Interface guards.
var (
	_ Limiter = (*Local)(nil)
	_ Limiter = (*Redis)(nil)
	_ Limiter = (*Fallback)(nil)
)

// check reports whether limit needs limiting at all, or is invalid.
func check(limit gatehouse.RateLimit) (unlimited bool, err error) {
	switch {
	case limit.IsZero():
		return true, nil
	case limit.Requests < 0 || limit.Per <= 0:
		return false, fmt.Errorf("rate limit %d/%s: not positive", limit.Requests, limit.Per)
	}
	return false, nil
}

// unlimitedDecision is the answer for a zero limit.
var unlimitedDecision = gatehouse.RateDecision{Allowed: true}

// emissionInterval is the time between two requests at the sustained rate,
// at least 1ns.
func emissionInterval(limit gatehouse.RateLimit) time.Duration {
	return max(limit.Per/time.Duration(limit.Requests), 1)
}
