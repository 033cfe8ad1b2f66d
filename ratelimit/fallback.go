package ratelimit

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"gatehouse"
)

// Defaults of Fallback.
const (
	DefaultTimeout       = 50 * time.Millisecond
	DefaultRetryInterval = time.Second
)

// Fallback asks a primary limiter (Redis) and, when it fails, answers from
// a secondary one (Local) instead of failing the request. After a failure
// it stops asking the primary: it probes it again at most once per
// RetryInterval, with one request, and goes back to it as soon as it
// answers. An outage is logged once, at its start, and its end once.
//
// It exports gatehouse_ratelimit_redis_errors_total (failed calls to the
// primary) and gatehouse_ratelimit_redis_up (1 while the primary is used).
type Fallback struct {
	// Timeout bounds each call to the primary. Default DefaultTimeout.
	// Set it before the first Allow.
	Timeout time.Duration
	// RetryInterval is how long the primary rests after a failure before
	// it is probed again. Default DefaultRetryInterval. Set it before the
	// first Allow.
	RetryInterval time.Duration

	primary, secondary Limiter
	log                *slog.Logger
	errors             prometheus.Counter
	up                 prometheus.Gauge

	mu      sync.Mutex
	down    bool      // the primary failed and has not answered since
	retryAt time.Time // when to probe the primary again
	probing bool      // a probe is in flight
}

// NewFallback returns a limiter that asks primary and, while it fails,
// secondary. log receives the start and end of outages (nil discards
// them); reg, if not nil, receives the metrics.
func NewFallback(primary, secondary Limiter, log *slog.Logger, reg prometheus.Registerer) *Fallback {
	f := &Fallback{
		primary:   primary,
		secondary: secondary,
		log:       log,
		errors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gatehouse_ratelimit_redis_errors_total",
			Help: "Failed calls to the Redis rate limiter; each one was answered by the in-process limiter.",
		}),
		up: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "gatehouse_ratelimit_redis_up",
			Help: "1 while rate limits are decided by Redis, 0 while by the in-process fallback.",
		}),
	}
	if f.log == nil {
		f.log = slog.New(slog.DiscardHandler)
	}
	f.up.Set(1)
	if reg != nil {
		reg.MustRegister(f.errors, f.up)
	}
	return f
}

// UsingPrimary reports whether decisions currently come from the primary
// (Redis).
func (f *Fallback) UsingPrimary() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return !f.down
}

// Allow implements Limiter. It returns an error only when ctx ends or the
// secondary fails.
func (f *Fallback) Allow(ctx context.Context, key string, limit gatehouse.RateLimit, now time.Time) (gatehouse.RateDecision, error) {
	usePrimary, probe := f.route(now)
	if !usePrimary {
		return f.secondary.Allow(ctx, key, limit, now)
	}
	pctx, cancel := context.WithTimeout(ctx, orDefault(f.Timeout, DefaultTimeout))
	d, err := f.primary.Allow(pctx, key, limit, now)
	cancel()
	if err == nil {
		if probe {
			f.recovered()
		}
		return d, nil
	}
	if ctx.Err() != nil { // the caller gave up: not the primary's fault
		if probe {
			f.mu.Lock()
			f.probing = false
			f.mu.Unlock()
		}
		return gatehouse.RateDecision{}, fmt.Errorf("rate limit: %w", ctx.Err())
	}
	f.failed(now, err)
	return f.secondary.Allow(ctx, key, limit, now)
}

// route says whether to ask the primary, and whether that is a probe.
func (f *Fallback) route(now time.Time) (usePrimary, probe bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case !f.down:
		return true, false
	case f.probing || now.Before(f.retryAt):
		return false, false
	}
	f.probing = true
	return true, true
}

func (f *Fallback) failed(now time.Time, err error) {
	f.errors.Inc()
	f.mu.Lock()
	wasDown := f.down
	f.down, f.probing = true, false
	f.retryAt = now.Add(orDefault(f.RetryInterval, DefaultRetryInterval))
	f.mu.Unlock()
	if !wasDown {
		f.up.Set(0)
		f.log.Warn("redis rate limiter failed; limiting each node on its own until it answers again", "err", err)
	}
}

func (f *Fallback) recovered() {
	f.mu.Lock()
	wasDown := f.down
	f.down, f.probing = false, false
	f.mu.Unlock()
	if wasDown {
		f.up.Set(1)
		f.log.Info("redis rate limiter answers again; limits are shared by the cluster again")
	}
}

// orDefault returns d, or def when d is not positive.
func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}
