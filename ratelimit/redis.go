package ratelimit

import (
	"context"
	"fmt"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"

	"gatehouse"
)

// Redis is a GCRA limiter whose state lives in Redis, so that every
// gateway node shares one limit per key. Each decision is one atomic Lua
// call (github.com/go-redis/redis_rate). It goes by the Redis server's
// clock, so that nodes with skewed clocks agree: the now passed to Allow
// is not used.
type Redis struct {
	limiter *redis_rate.Limiter
	prefix  string
}

// NewRedis returns a limiter on client. Its keys are "rate:" + prefix +
// the key passed to Allow, and expire when the key is idle.
func NewRedis(client redis.UniversalClient, prefix string) *Redis {
	return &Redis{limiter: redis_rate.NewLimiter(client), prefix: prefix}
}

// Allow implements Limiter.
func (r *Redis) Allow(ctx context.Context, key string, limit gatehouse.RateLimit, _ time.Time) (gatehouse.RateDecision, error) {
	if unlimited, err := check(limit); unlimited || err != nil {
		return unlimitedDecision, err
	}
	res, err := r.limiter.Allow(ctx, r.prefix+key, redis_rate.Limit{
		Rate: limit.Requests, Burst: limit.Requests, Period: limit.Per,
	})
	if err != nil {
		return gatehouse.RateDecision{}, fmt.Errorf("redis rate limit: %w", err)
	}
	d := gatehouse.RateDecision{
		Allowed:    res.Allowed > 0,
		Limit:      limit.Requests,
		Remaining:  res.Remaining,
		ResetAfter: max(res.ResetAfter, 0),
	}
	if !d.Allowed {
		d.RetryAfter = max(res.RetryAfter, 0)
	}
	return d, nil
}
