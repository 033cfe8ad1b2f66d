// Package usage counts the accepted requests of each API key per hour and
// keeps its lastUsedAt, without a store write per request: Record adds to
// counters in memory, and the Recorder writes the sums in batches.
package usage

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"gatehouse"
)

// Defaults of Options.
const (
	DefaultFlushInterval = 2 * time.Second
	DefaultMaxPending    = 100_000
)

// recorderShards is the number of independently locked parts of the
// counters.
const recorderShards = 16

// Options configure a Recorder. The zero value of each field has a
// default.
type Options struct {
	// Logger receives flush failures. If nil, logs are discarded.
	Logger *slog.Logger
	// FlushInterval is how often Run writes the counts. Default
	// DefaultFlushInterval.
	FlushInterval time.Duration
	// MaxPending is how many (key, hour) counts are kept while the store
	// fails; beyond it the oldest hours are dropped. Default
	// DefaultMaxPending.
	MaxPending int
	// Registerer, if not nil, receives gatehouse_usage_flush_errors_total
	// and gatehouse_usage_dropped_total.
	Registerer prometheus.Registerer
}

// Store is what a Recorder needs of a store: RecordUsage, which adds the
// counts to the hourly buckets and moves each key's LastUsedAt forward.
// sqlite.Store and postgres.Store are Stores.
type Store interface {
	RecordUsage(ctx context.Context, u []gatehouse.Usage) error
}

// Recorder counts requests per key and hour in memory and adds them to the
// store in batches. Each gateway node has its own Recorder and writes only
// what it counted since its last successful flush, so that the store's
// sums are right when several nodes serve one key.
type Recorder struct {
	store Store
	opts  Options
	log   *slog.Logger

	shards [recorderShards]shard

	// flushMu serialises flushes and guards pending.
	flushMu sync.Mutex
	// pending holds counts taken from the counters that are not in the
	// store yet (a flush failed).
	pending map[bucket]gatehouse.Usage

	flushErrors prometheus.Counter
	dropped     prometheus.Counter
}

// bucket is one key's hour.
type bucket struct {
	keyID string
	hour  int64 // Unix seconds of the hour's start
}

// counter counts one bucket's requests.
type counter struct {
	n    atomic.Int64
	last atomic.Int64 // Unix nanoseconds of the latest request
	// prevLast is the Unix nanoseconds of the latest request with the
	// key's previous secret; 0 when none.
	prevLast atomic.Int64
}

type shard struct {
	mu sync.RWMutex
	m  map[bucket]*counter
}

// New returns a Recorder that writes to store. Run it in the background
// and Flush it at shutdown.
func New(store Store, opts Options) *Recorder {
	if opts.FlushInterval <= 0 {
		opts.FlushInterval = DefaultFlushInterval
	}
	if opts.MaxPending <= 0 {
		opts.MaxPending = DefaultMaxPending
	}
	r := &Recorder{
		store:   store,
		opts:    opts,
		log:     opts.Logger,
		pending: make(map[bucket]gatehouse.Usage),
		flushErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gatehouse_usage_flush_errors_total",
			Help: "Failed writes of usage counts; the counts are kept and written later.",
		}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gatehouse_usage_dropped_total",
			Help: "Requests whose usage count was dropped because the store failed for too long.",
		}),
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	for i := range r.shards {
		r.shards[i].m = make(map[bucket]*counter)
	}
	if opts.Registerer != nil {
		opts.Registerer.MustRegister(r.flushErrors, r.dropped)
	}
	return r
}

// Record counts one accepted request of the key at now. It does no I/O,
// and does not allocate for a key that was used since the last flush.
func (r *Recorder) Record(keyID string, now time.Time) { r.record(keyID, now, false) }

// RecordPrevious counts one accepted request of the key at now that
// presented its previous secret (a roll's overlap), which also moves the
// key's PreviousLastUsedAt. Like Record, it does no I/O.
func (r *Recorder) RecordPrevious(keyID string, now time.Time) { r.record(keyID, now, true) }

// record counts the request under the shard's lock (shared when the
// counter exists), so that collect cannot drop a counter between its
// lookup and the count.
func (r *Recorder) record(keyID string, now time.Time, previous bool) {
	b := bucket{keyID: keyID, hour: now.Truncate(time.Hour).Unix()}
	at := now.UnixNano()
	s := &r.shards[shardOf(keyID)]
	s.mu.RLock()
	if c := s.m[b]; c != nil {
		c.add(at, previous)
		s.mu.RUnlock()
		return
	}
	s.mu.RUnlock()
	s.mu.Lock()
	c := s.m[b]
	if c == nil {
		c = new(counter)
		s.m[b] = c
	}
	c.add(at, previous)
	s.mu.Unlock()
}

func (c *counter) add(at int64, previous bool) {
	c.n.Add(1)
	forward(&c.last, at)
	if previous {
		forward(&c.prevLast, at)
	}
}

// forward moves v to at unless it is at or past it already.
func forward(v *atomic.Int64, at int64) {
	for {
		last := v.Load()
		if at <= last || v.CompareAndSwap(last, at) {
			return
		}
	}
}

// Flush adds the counts recorded since the last successful flush to the
// store. When the store fails the counts are kept for the next flush (up
// to MaxPending buckets).
func (r *Recorder) Flush(ctx context.Context) error {
	r.flushMu.Lock()
	defer r.flushMu.Unlock()
	r.collect()
	if len(r.pending) == 0 {
		return nil
	}
	batch := make([]gatehouse.Usage, 0, len(r.pending))
	for _, u := range r.pending {
		batch = append(batch, u)
	}
	if err := r.store.RecordUsage(ctx, batch); err != nil {
		r.flushErrors.Inc()
		r.trim()
		return fmt.Errorf("flush usage: %w", err)
	}
	clear(r.pending)
	return nil
}

// collect moves the counters' counts to pending. A counter with nothing
// to move was idle for a whole interval and is dropped.
func (r *Recorder) collect() {
	for i := range r.shards {
		s := &r.shards[i]
		s.mu.Lock()
		for b, c := range s.m {
			n := c.n.Swap(0)
			if n == 0 {
				delete(s.m, b)
				continue
			}
			last := time.Unix(0, c.last.Load()).UTC()
			u, ok := r.pending[b]
			if !ok {
				u = gatehouse.Usage{KeyID: b.keyID, Hour: time.Unix(b.hour, 0).UTC()}
			}
			u.Count += n
			if last.After(u.LastUsedAt) {
				u.LastUsedAt = last
			}
			if p := c.prevLast.Swap(0); p != 0 {
				if prev := time.Unix(0, p).UTC(); prev.After(u.PreviousLastUsedAt) {
					u.PreviousLastUsedAt = prev
				}
			}
			r.pending[b] = u
		}
		s.mu.Unlock()
	}
}

// trim drops the oldest hours from pending beyond MaxPending.
func (r *Recorder) trim() {
	over := len(r.pending) - r.opts.MaxPending
	if over <= 0 {
		return
	}
	bs := make([]bucket, 0, len(r.pending))
	for b := range r.pending {
		bs = append(bs, b)
	}
	slices.SortFunc(bs, func(a, b bucket) int { return cmp.Compare(a.hour, b.hour) })
	var requests int64
	for _, b := range bs[:over] {
		requests += r.pending[b].Count
		delete(r.pending, b)
	}
	r.dropped.Add(float64(requests))
	r.log.Warn("usage counts dropped: the store has failed for too long",
		"buckets", over, "requests", requests)
}

// Run flushes every FlushInterval until ctx is done. It does not flush at
// the end: call Flush with a fresh context at shutdown. Failures are
// logged at the start of an outage and then at most every 30 seconds.
func (r *Recorder) Run(ctx context.Context) {
	t := time.NewTicker(r.opts.FlushInterval)
	defer t.Stop()
	var failingSince, lastLog time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		fctx, cancel := context.WithTimeout(ctx, max(r.opts.FlushInterval, 5*time.Second))
		err := r.Flush(fctx)
		cancel()
		now := time.Now()
		switch {
		case ctx.Err() != nil:
			return
		case err == nil && !failingSince.IsZero():
			r.log.Info("usage flush recovered", "failing_for", now.Sub(failingSince).Round(time.Second).String())
			failingSince = time.Time{}
		case err != nil && (failingSince.IsZero() || now.Sub(lastLog) >= 30*time.Second):
			if failingSince.IsZero() {
				failingSince = now
			}
			lastLog = now
			r.log.Warn("usage flush failed; counts are kept and retried", "err", err)
		}
	}
}

// shardOf picks a key's shard with FNV-1a, without allocating.
func shardOf(key string) int {
	h := uint32(2166136261)
	for i := 0; i < len(key); i++ {
		h ^= uint32(key[i])
		h *= 16777619
	}
	return int(h % recorderShards)
}
