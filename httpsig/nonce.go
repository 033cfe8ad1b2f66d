package httpsig

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// MemoryNonces remembers nonces in this process: enough for one gateway
// node. Its zero value is ready to use.
type MemoryNonces struct {
	mu      sync.Mutex
	until   map[string]time.Time
	inserts int
}

// sweepEvery is how many inserts pass between sweeps of expired nonces.
const sweepEvery = 1024

// Use implements NonceStore.
func (n *MemoryNonces) Use(_ context.Context, id string, now time.Time, ttl time.Duration) (bool, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.until == nil {
		n.until = make(map[string]time.Time)
	}
	if until, ok := n.until[id]; ok && now.Before(until) {
		return false, nil
	}
	n.until[id] = now.Add(ttl)
	if n.inserts++; n.inserts%sweepEvery == 0 {
		for k, until := range n.until {
			if !now.Before(until) {
				delete(n.until, k)
			}
		}
	}
	return true, nil
}

// RedisNonces remembers nonces in Redis, so that a nonce used on one
// gateway node is refused on every other. Each Use is one SET NX with an
// expiry.
type RedisNonces struct {
	client redis.UniversalClient
	prefix string
}

// NewRedisNonces returns a store on client whose keys are "nonce:" +
// prefix + the id passed to Use.
func NewRedisNonces(client redis.UniversalClient, prefix string) *RedisNonces {
	return &RedisNonces{client: client, prefix: prefix}
}

// Use implements NonceStore. The TTL is at least a millisecond, Redis's
// unit.
func (r *RedisNonces) Use(ctx context.Context, id string, _ time.Time, ttl time.Duration) (bool, error) {
	ok, err := r.client.SetNX(ctx, "nonce:"+r.prefix+id, 1, max(ttl, time.Millisecond)).Result()
	if err != nil {
		return false, fmt.Errorf("redis nonce: %w", err)
	}
	return ok, nil
}

var (
	_ NonceStore = (*MemoryNonces)(nil)
	_ NonceStore = (*RedisNonces)(nil)
)
