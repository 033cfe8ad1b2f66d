package gatehousetest

import (
	"os"
	"testing"

	"github.com/redis/go-redis/v9"
)

// MustRedis returns a client of the Redis named by GATEHOUSE_TEST_REDIS,
// closed when tb ends, after a ping; without the variable it skips tb,
// saying that what (e.g. "the Redis nonce tests") needs it.
func MustRedis(tb testing.TB, what string) *redis.Client {
	tb.Helper()
	url := RedisURL(tb, what)
	opts, err := redis.ParseURL(url)
	if err != nil {
		tb.Fatalf("GATEHOUSE_TEST_REDIS: %v", err)
	}
	c := redis.NewClient(opts)
	tb.Cleanup(func() { c.Close() })
	if err := c.Ping(tb.Context()).Err(); err != nil {
		tb.Fatalf("ping %s: %v", url, err)
	}
	return c
}

// RedisURL returns the Redis that tests may use, named by
// GATEHOUSE_TEST_REDIS, or skips tb, saying that what needs it.
func RedisURL(tb testing.TB, what string) string {
	tb.Helper()
	url := os.Getenv("GATEHOUSE_TEST_REDIS")
	if url == "" {
		tb.Skip("set GATEHOUSE_TEST_REDIS=redis://127.0.0.1:6379/0 to run " + what)
	}
	return url
}
