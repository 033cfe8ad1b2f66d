package ratelimit_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"gatehouse"
	"gatehouse/gatehousetest"
	"gatehouse/ratelimit"
)

// redisServer is a private redis-server process on a loopback port.
type redisServer struct {
	t    *testing.T
	port int
	cmd  *exec.Cmd
}

// startRedisServer starts redis-server on a free port, or skips the test
// when it is not installed.
func startRedisServer(t *testing.T) *redisServer {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Skip("redis-server is not on PATH")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find a free port: %v", err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	s := &redisServer{t: t, port: port}
	s.start()
	t.Cleanup(s.stop)
	return s
}

func (s *redisServer) addr() string { return "127.0.0.1:" + strconv.Itoa(s.port) }

func (s *redisServer) start() {
	s.t.Helper()
	s.cmd = exec.Command("redis-server", "--port", strconv.Itoa(s.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", s.t.TempDir())
	if err := s.cmd.Start(); err != nil {
		s.t.Fatalf("start redis-server: %v", err)
	}
	c := redis.NewClient(&redis.Options{Addr: s.addr(), MaxRetries: -1})
	defer c.Close()
	deadline := time.Now().Add(5 * time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for c.Ping(context.Background()).Err() != nil {
		if time.Now().After(deadline) {
			s.t.Fatalf("redis-server on %s did not answer within 5s", s.addr())
		}
		<-tick.C
	}
}

func (s *redisServer) stop() {
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Kill()
	s.cmd.Wait()
	s.cmd = nil
}

func gaugeValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("Gather() = %v", err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			m := mf.GetMetric()[0]
			if m.Gauge != nil {
				return m.Gauge.GetValue()
			}
			return m.Counter.GetValue()
		}
	}
	t.Fatalf("metric %s not registered", name)
	return 0
}

func TestFallback(t *testing.T) {
	t.Parallel()
	srv := startRedisServer(t)
	client := redis.NewClient(&redis.Options{Addr: srv.addr()})
	defer client.Close()
	var logs gatehousetest.LogBuffer
	reg := prometheus.NewRegistry()
	f := ratelimit.NewFallback(ratelimit.NewRedis(client, testPrefix()), ratelimit.NewLocal(),
		slog.New(slog.NewTextHandler(&logs, nil)), reg)
	limit := gatehouse.RateLimit{Requests: 3, Per: time.Hour}
	ctx := t.Context()
	now := time.Now()

	// Redis decides.
	for i := range 3 {
		d, err := f.Allow(ctx, "key_a", limit, now)
		if err != nil || !d.Allowed || d.Remaining != 2-i {
			t.Fatalf("request %d via Redis: Allow() = %+v, %v", i, d, err)
		}
	}
	if d, err := f.Allow(ctx, "key_a", limit, now); err != nil || d.Allowed {
		t.Fatalf("4th request via Redis: Allow() = %+v, %v; want denied", d, err)
	}
	if !f.UsingPrimary() || gaugeValue(t, reg, "gatehouse_ratelimit_redis_up") != 1 {
		t.Fatalf("before the outage: UsingPrimary false or redis_up not 1")
	}
	if keys, err := client.Keys(ctx, "rate:*key_a").Result(); err != nil || len(keys) != 1 {
		t.Fatalf("Redis keys for key_a = %v, %v; want one", keys, err)
	}

	// Redis dies: the local limiter answers, without an error.
	srv.stop()
	for i := range 5 {
		d, err := f.Allow(ctx, "key_a", limit, now)
		if err != nil {
			t.Fatalf("request %d during the outage: Allow() = %v, want no error", i, err)
		}
		wantAllowed := i < 3 // the local limiter has its own state
		if d.Allowed != wantAllowed || d.Limit != 3 {
			t.Errorf("request %d during the outage: Allow() = %+v, want allowed=%v", i, d, wantAllowed)
		}
	}
	if f.UsingPrimary() {
		t.Errorf("during the outage: UsingPrimary() = true")
	}
	if got := gaugeValue(t, reg, "gatehouse_ratelimit_redis_up"); got != 0 {
		t.Errorf("during the outage: redis_up = %v, want 0", got)
	}
	// Only the first call went to the dead Redis: the others within the
	// retry interval did not.
	if got := gaugeValue(t, reg, "gatehouse_ratelimit_redis_errors_total"); got != 1 {
		t.Errorf("redis_errors_total = %v, want 1", got)
	}
	// A probe after the retry interval fails again, and is counted.
	now = now.Add(1100 * time.Millisecond)
	if _, err := f.Allow(ctx, "key_b", limit, now); err != nil {
		t.Fatalf("probe during the outage: Allow() = %v", err)
	}
	if got := gaugeValue(t, reg, "gatehouse_ratelimit_redis_errors_total"); got != 2 {
		t.Errorf("after one probe: redis_errors_total = %v, want 2", got)
	}
	if n := strings.Count(logs.String(), "level=WARN"); n != 1 {
		t.Errorf("outage logged %d times, want once:\n%s", n, logs.String())
	}

	// Redis is back on the same port: the next probe returns to it.
	srv.start()
	deadline := time.Now().Add(5 * time.Second)
	for !f.UsingPrimary() {
		if time.Now().After(deadline) {
			t.Fatalf("Fallback did not return to Redis within 5s of its restart")
		}
		now = now.Add(1100 * time.Millisecond)
		if _, err := f.Allow(ctx, "key_c", limit, now); err != nil {
			t.Fatalf("probe after the restart: Allow() = %v", err)
		}
	}
	if got := gaugeValue(t, reg, "gatehouse_ratelimit_redis_up"); got != 1 {
		t.Errorf("after the restart: redis_up = %v, want 1", got)
	}
	if !strings.Contains(logs.String(), "level=INFO") {
		t.Errorf("recovery not logged:\n%s", logs.String())
	}
	// The decision that closed the circuit was made by Redis.
	keys, err := client.Keys(ctx, "rate:*key_c").Result()
	if err != nil || len(keys) != 1 {
		t.Errorf("Redis keys for key_c after the restart = %v, %v; want one", keys, err)
	}
}

// failing is a Limiter that always fails, counting its calls.
type failing struct {
	mu    sync.Mutex
	calls int
}

func (f *failing) Allow(context.Context, string, gatehouse.RateLimit, time.Time) (gatehouse.RateDecision, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	return gatehouse.RateDecision{}, errors.New("connection refused")
}

func TestFallbackProbesAtMostOncePerInterval(t *testing.T) {
	t.Parallel()
	primary := &failing{}
	f := ratelimit.NewFallback(primary, ratelimit.NewLocal(), nil, nil)
	limit := gatehouse.RateLimit{Requests: 1000, Per: time.Second}
	now := t0
	for i := range 100 {
		now = now.Add(50 * time.Millisecond) // 5s in all
		if _, err := f.Allow(context.Background(), fmt.Sprint("k", i%3), limit, now); err != nil {
			t.Fatalf("Allow() = %v", err)
		}
	}
	// The first call, then one probe per second.
	if primary.calls < 4 || primary.calls > 6 {
		t.Errorf("primary called %d times in 5s, want about 5", primary.calls)
	}
}

func TestFallbackCallerCancelled(t *testing.T) {
	t.Parallel()
	primary := &failing{}
	f := ratelimit.NewFallback(primary, ratelimit.NewLocal(), nil, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := f.Allow(ctx, "k", gatehouse.RateLimit{Requests: 1, Per: time.Second}, t0)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Allow(cancelled ctx) = %v, want context.Canceled", err)
	}
	if !f.UsingPrimary() {
		t.Errorf("a cancelled caller opened the circuit")
	}
}
