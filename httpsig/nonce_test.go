package httpsig_test

import (
	"testing"

	"github.com/redis/go-redis/v9"

	"gatehouse"
	"gatehouse/gatehousetest"
	"gatehouse/httpsig"
)

// testRedis returns a client of the Redis named by GATEHOUSE_TEST_REDIS,
// or skips the test.
func testRedis(t *testing.T) *redis.Client {
	return gatehousetest.MustRedis(t, "the Redis nonce tests")
}

// TestRedisNoncesTwoNodes: a signed request accepted by one node is a
// replay on another that shares the Redis.
func TestRedisNoncesTwoNodes(t *testing.T) {
	t.Parallel()
	prefix := "gatehouse-test:" + gatehouse.NewKeyID() + ":"
	clock := gatehousetest.NewClock(start)
	k := newKeys(t)
	reg := func() []httpsig.Key { return []httpsig.Key{k.edKey} }
	a := newNode(t, clock, httpsig.NewRedisNonces(testRedis(t), prefix), reg)
	b := newNode(t, clock, httpsig.NewRedisNonces(testRedis(t), prefix), reg)
	s := signer{created: start.Unix(), keyID: k.edKey.ID, nonce: "cluster-once", ed: k.ed}
	if o := a.do(t, signedPost(t, a.srv.URL+"/doors/1", s)); o.Status != 200 {
		t.Fatalf("node a = %+v, want a pass", o)
	}
	if o := b.do(t, signedPost(t, b.srv.URL+"/doors/1", s)); o.Part != "nonce" {
		t.Fatalf("replay on node b = %+v, want a nonce failure", o)
	}
	s.nonce = "cluster-twice"
	if o := b.do(t, signedPost(t, b.srv.URL+"/doors/1", s)); o.Status != 200 {
		t.Fatalf("node b, new nonce = %+v, want a pass", o)
	}
	// The nonce's key expires with the window.
	ttl, err := testRedis(t).PTTL(t.Context(), "nonce:"+prefix+k.edKey.ID+" cluster-twice").Result()
	if err != nil || ttl <= 0 || ttl > httpsig.Window {
		t.Fatalf("PTTL = %v, %v, want within (0, %s]", ttl, err, httpsig.Window)
	}
}

// TestRedisNoncesDown: a Redis that cannot be reached is an error, not a
// pass and not a signature failure.
func TestRedisNoncesDown(t *testing.T) {
	t.Parallel()
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1})
	t.Cleanup(func() { c.Close() })
	clock := gatehousetest.NewClock(start)
	k := newKeys(t)
	n := newNode(t, clock, httpsig.NewRedisNonces(c, "x:"), func() []httpsig.Key { return []httpsig.Key{k.edKey} })
	s := signer{created: start.Unix(), nonce: "n", ed: k.ed}
	if o := n.do(t, signedPost(t, n.srv.URL+"/x", s)); o.Status != 500 {
		t.Fatalf("Verify with Redis down = %+v, want an error", o)
	}
}
