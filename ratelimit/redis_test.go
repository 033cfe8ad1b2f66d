package ratelimit_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"gatehouse"
	"gatehouse/gatehousetest"
	"gatehouse/ratelimit"
)

// testRedis returns a client of the Redis named by GATEHOUSE_TEST_REDIS,
// or skips the test.
func testRedis(t *testing.T) *redis.Client {
	return gatehousetest.MustRedis(t, "the Redis rate limiter tests")
}

// testPrefix returns a key prefix no other test run uses.
func testPrefix() string { return "gatehouse-test:" + gatehouse.NewKeyID() + ":" }

func TestRedisTwoNodesShareOneLimit(t *testing.T) {
	t.Parallel()
	prefix := testPrefix()
	// Two nodes: two clients, two limiters, one Redis.
	nodeA := ratelimit.NewRedis(testRedis(t), prefix)
	nodeB := ratelimit.NewRedis(testRedis(t), prefix)
	limit := gatehouse.RateLimit{Requests: 5, Per: time.Minute}
	ctx := t.Context()

	for i, node := range []*ratelimit.Redis{nodeA, nodeB, nodeA, nodeB, nodeA} {
		d, err := node.Allow(ctx, "key_shared", limit, time.Now())
		if err != nil {
			t.Fatalf("request %d: Allow() = %v", i, err)
		}
		if !d.Allowed || d.Limit != 5 || d.Remaining != 4-i || d.RetryAfter != 0 {
			t.Errorf("request %d: Allow() = %+v, want allowed, limit 5, remaining %d", i, d, 4-i)
		}
		if d.ResetAfter <= 0 || d.ResetAfter > time.Minute {
			t.Errorf("request %d: ResetAfter = %v, want in (0, 1m]", i, d.ResetAfter)
		}
	}
	for _, node := range []*ratelimit.Redis{nodeB, nodeA} {
		d, err := node.Allow(ctx, "key_shared", limit, time.Now())
		if err != nil {
			t.Fatalf("Allow() = %v", err)
		}
		if d.Allowed || d.Remaining != 0 {
			t.Errorf("6th request: Allow() = %+v, want denied", d)
		}
		// One request every 12s: the next is allowed 12s after the first.
		if d.RetryAfter <= 10*time.Second || d.RetryAfter > 12*time.Second {
			t.Errorf("6th request: RetryAfter = %v, want about 12s", d.RetryAfter)
		}
	}
	// Another key has its own limit.
	if d, err := nodeB.Allow(ctx, "key_other", limit, time.Now()); err != nil || !d.Allowed {
		t.Errorf("other key: Allow() = %+v, %v; want allowed", d, err)
	}
}

func TestRedisRefills(t *testing.T) {
	t.Parallel()
	r := ratelimit.NewRedis(testRedis(t), testPrefix())
	limit := gatehouse.RateLimit{Requests: 2, Per: 200 * time.Millisecond}
	ctx := t.Context()
	for range 2 {
		if d, err := r.Allow(ctx, "k", limit, time.Now()); err != nil || !d.Allowed {
			t.Fatalf("Allow() = %+v, %v; want allowed", d, err)
		}
	}
	d, err := r.Allow(ctx, "k", limit, time.Now())
	if err != nil || d.Allowed || d.RetryAfter <= 0 || d.RetryAfter > 100*time.Millisecond {
		t.Fatalf("3rd Allow() = %+v, %v; want denied with RetryAfter in (0, 100ms]", d, err)
	}
	// Poll until the refill: it must come within the period.
	deadline := time.Now().Add(time.Second)
	for {
		d, err := r.Allow(ctx, "k", limit, time.Now())
		if err != nil {
			t.Fatalf("Allow() = %v", err)
		}
		if d.Allowed {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no request allowed within 1s of a 2/200ms limit")
		}
		<-time.After(d.RetryAfter)
	}
}

func TestRedisZeroLimit(t *testing.T) {
	t.Parallel()
	// No Redis call is made for a zero limit: a client on a closed port
	// is enough.
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer c.Close()
	d, err := ratelimit.NewRedis(c, "p:").Allow(context.Background(), "k", gatehouse.RateLimit{}, time.Now())
	if err != nil || !d.Allowed {
		t.Errorf("Allow(zero limit) = %+v, %v; want allowed", d, err)
	}
}
