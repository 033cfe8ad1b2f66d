// Package keyindex holds every API key of the store in memory, by digest,
// so that verifying a key costs no store round trip and an unknown or
// random key never reaches the store. An Index follows the store's change
// log (Sync, Run), and cancels the contexts of long-lived connections
// (Watch) when their key is removed, disabled or expires, or their secret
// was rolled and its overlap ended.
package keyindex

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"gatehouse"
)

// Defaults of Options.
const (
	// DefaultPollInterval: a poll reads one row (the revision), so a key
	// made by the CLI or another node works within 100 ms even without
	// PostgreSQL's NOTIFY.
	DefaultPollInterval   = 100 * time.Millisecond
	DefaultResyncInterval = 5 * time.Minute
	DefaultMaxStale       = 5 * time.Minute
)

// syncTimeout bounds one sync or reload started by Run.
const syncTimeout = 30 * time.Second

// Options configure an Index. The zero value of each field has a default.
type Options struct {
	// Logger receives sync failures (never a key). If nil, logs are
	// discarded.
	Logger *slog.Logger
	// PollInterval is how often Run asks the store for its revision.
	// Default DefaultPollInterval.
	PollInterval time.Duration
	// ResyncInterval is how often Run reloads every key, guarding against
	// a missed change. Default DefaultResyncInterval.
	ResyncInterval time.Duration
	// MaxStale is how long keys are served after the last successful
	// sync while the store cannot be reached (see Usable). Default
	// DefaultMaxStale.
	MaxStale time.Duration
	// CatchUpInterval is the shortest time between two syncs started by
	// CatchUp. Default DefaultCatchUpInterval.
	CatchUpInterval time.Duration
	// ExpiryWarning is how close to its expiry a key counts in
	// gatehouse_keys_expiring_soon. Default gatehouse.DefaultExpiryWarning.
	ExpiryWarning time.Duration
	// Now returns the current time. If nil, time.Now is used.
	Now func() time.Time
	// Registerer, if not nil, receives the index's metrics.
	Registerer prometheus.Registerer
}

// Store is what an Index reads of a store: every key in one pass
// (ForEachKey), the change log (Revision, FindChanges) and the keys that
// changed (FindKeyByID); gatehouse.KeyStore documents the methods.
// sqlite.Store and postgres.Store are Stores. If the store is also a
// gatehouse.ChangeNotifier, Run syncs as soon as it is notified.
type Store interface {
	ForEachKey(ctx context.Context, fn func(*gatehouse.APIKey) error) error
	FindKeyByID(ctx context.Context, id string) (*gatehouse.APIKey, error)
	Revision(ctx context.Context) (int64, error)
	FindChanges(ctx context.Context, since int64) (changes []gatehouse.KeyChange, ok bool, err error)
}

// Index is every key of a store in memory. Lookup, Get, Len and Usable are
// safe for concurrent use with each other and with Load, Sync and Run.
//
// The keys it returns are shared: treat them as immutable.
type Index struct {
	store Store
	opts  Options
	log   *slog.Logger

	tab atomic.Pointer[table]
	// expiryWarning is Options.ExpiryWarning, or what SetExpiryWarning
	// set last.
	expiryWarning atomic.Int64
	// lastSync is when the index last knew itself current, in Unix
	// nanoseconds of Options.Now; 0 before the first load.
	lastSync atomic.Int64

	// syncMu serialises Load, Sync and Replace. It guards the fields below.
	syncMu sync.Mutex
	rev    int64
	loaded bool

	watches watches
	metrics metrics
	catchUp catchUp

	// logMu guards the rate limiting of failure logs.
	logMu      sync.Mutex
	failing    bool
	lastLogged time.Time
}

// SetExpiryWarning replaces Options.ExpiryWarning while the index serves
// (a config reload): gatehouse_keys_expiring_soon counts with d from now
// on. Zero or less means gatehouse.DefaultExpiryWarning.
func (x *Index) SetExpiryWarning(d time.Duration) {
	if d <= 0 {
		d = gatehouse.DefaultExpiryWarning
	}
	x.expiryWarning.Store(int64(d))
}

// New returns an empty index of the store's keys. Call Load before
// serving, then Run in the background.
func New(store Store, opts Options) *Index {
	if opts.PollInterval <= 0 {
		opts.PollInterval = DefaultPollInterval
	}
	if opts.ResyncInterval <= 0 {
		opts.ResyncInterval = DefaultResyncInterval
	}
	if opts.MaxStale <= 0 {
		opts.MaxStale = DefaultMaxStale
	}
	if opts.CatchUpInterval <= 0 {
		opts.CatchUpInterval = DefaultCatchUpInterval
	}
	if opts.ExpiryWarning <= 0 {
		opts.ExpiryWarning = gatehouse.DefaultExpiryWarning
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	x := &Index{store: store, opts: opts, log: opts.Logger}
	x.expiryWarning.Store(int64(opts.ExpiryWarning))
	if x.log == nil {
		x.log = slog.New(slog.DiscardHandler)
	}
	x.tab.Store(newTable(nil))
	x.metrics.register(x, opts.Registerer)
	return x
}

func (x *Index) now() time.Time { return x.opts.Now() }

// Lookup returns the key with the digest. It takes no lock and does not
// allocate.
func (x *Index) Lookup(d gatehouse.Digest) (*gatehouse.APIKey, bool) {
	return x.tab.Load().lookup(&d)
}

// Get returns the key with the ID.
func (x *Index) Get(id string) (*gatehouse.APIKey, bool) {
	return x.tab.Load().get(id)
}

// Len returns the number of keys in the index.
func (x *Index) Len() int { return x.tab.Load().n }

// Usable reports whether the index may serve at now: it was loaded, and
// its last successful sync is at most MaxStale old. While Run runs, a
// sync succeeds every PollInterval as long as the store answers. When the
// index is not usable, the gateway refuses requests rather than accept
// keys that may have been revoked meanwhile.
func (x *Index) Usable(now time.Time) bool {
	last := x.lastSync.Load()
	return last != 0 && now.Sub(time.Unix(0, last)) <= x.opts.MaxStale
}

// LastSync returns the time of the last successful load or sync, or the
// zero time before the first.
func (x *Index) LastSync() time.Time {
	if last := x.lastSync.Load(); last != 0 {
		return time.Unix(0, last)
	}
	return time.Time{}
}

// Load reads every key from the store and replaces the index with them.
func (x *Index) Load(ctx context.Context) error {
	x.syncMu.Lock()
	defer x.syncMu.Unlock()
	return x.done(x.load(ctx))
}

// Sync applies the changes committed since the last load or sync: it
// re-reads each changed key, and reloads every key when the store no
// longer has the changes it missed. It is cheap when nothing changed (one
// revision read). The key service calls it after every change, so that the
// node that made a change sees it on the very next request.
func (x *Index) Sync(ctx context.Context) error {
	x.syncMu.Lock()
	defer x.syncMu.Unlock()
	if !x.loaded {
		return x.done(x.load(ctx))
	}
	return x.done(x.sync(ctx))
}

// Replace swaps every key of the index for keys, as a load would, without
// asking the store. It is meant for tests and benchmarks; on a running
// index the next reload brings back the store's keys.
func (x *Index) Replace(keys []*gatehouse.APIKey) {
	x.syncMu.Lock()
	defer x.syncMu.Unlock()
	x.install(newTable(keys))
}

// done records the outcome of a load or sync and returns err.
func (x *Index) done(err error) error {
	if err != nil {
		x.metrics.syncErrors.Inc()
		return err
	}
	x.lastSync.Store(x.now().UnixNano())
	return nil
}

// load reads every key in one snapshot. The revision is read first, so
// a change committed meanwhile is applied again by the next sync, never
// missed.
func (x *Index) load(ctx context.Context) error {
	rev, err := x.store.Revision(ctx)
	if err != nil {
		return fmt.Errorf("load keys: %w", err)
	}
	keys, err := x.readAll(ctx)
	if err != nil {
		return fmt.Errorf("load keys: %w", err)
	}
	x.install(newTable(keys))
	x.rev, x.loaded = rev, true
	return nil
}

func (x *Index) readAll(ctx context.Context) ([]*gatehouse.APIKey, error) {
	var all []*gatehouse.APIKey
	err := x.store.ForEachKey(ctx, func(k *gatehouse.APIKey) error {
		k.Sealed = nil // the index checks keys; it never reveals them
		all = append(all, k)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read keys: %w", err)
	}
	return all, nil
}

// install makes t the index's table and cancels the watches that must
// end with it (keys removed, disabled, rolled).
func (x *Index) install(t *table) {
	x.tab.Store(t)
	x.checkWatches()
}

func (x *Index) sync(ctx context.Context) error {
	rev, err := x.store.Revision(ctx)
	if err != nil {
		return fmt.Errorf("sync keys: %w", err)
	}
	if rev == x.rev {
		return nil
	}
	changes, ok, err := x.store.FindChanges(ctx, x.rev)
	if err != nil {
		return fmt.Errorf("sync keys: %w", err)
	}
	if !ok {
		x.log.Info("key index fell behind the store's change log; reloading every key")
		return x.load(ctx)
	}
	if len(changes) == 0 {
		x.rev = rev
		return nil
	}
	seen := make(map[string]bool, len(changes))
	e := x.tab.Load().edit()
	last := x.rev
	for _, c := range changes {
		last = max(last, c.Revision)
		if seen[c.KeyID] {
			continue
		}
		seen[c.KeyID] = true
		k, err := x.store.FindKeyByID(ctx, c.KeyID)
		switch {
		case gatehouse.ErrorCode(err) == gatehouse.ENotFound:
			e.remove(c.KeyID)
		case err != nil:
			return fmt.Errorf("sync keys: %w", err)
		default:
			k.Sealed = nil // the index checks keys; it never reveals them
			e.put(k)
		}
	}
	x.install(e.t)
	x.rev = last
	return nil
}

// Run keeps the index current until ctx is done: it syncs every
// PollInterval, and at once when the store signals a change (see
// gatehouse.ChangeNotifier), and reloads every key every ResyncInterval.
// Failures are logged (at most every 30 seconds during an outage) and
// counted; the keys already loaded keep being served until MaxStale.
func (x *Index) Run(ctx context.Context) {
	poll := time.NewTicker(x.opts.PollInterval)
	defer poll.Stop()
	resync := time.NewTicker(x.opts.ResyncInterval)
	defer resync.Stop()
	var notify <-chan struct{}
	if n, ok := x.store.(gatehouse.ChangeNotifier); ok {
		notify = n.Notify()
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-poll.C:
			x.runOnce(ctx, x.Sync)
		case _, ok := <-notify:
			if !ok {
				notify = nil // the store closed; polling goes on
				continue
			}
			x.runOnce(ctx, x.Sync)
		case <-resync.C:
			x.runOnce(ctx, x.Load)
		}
	}
}

func (x *Index) runOnce(ctx context.Context, fn func(context.Context) error) {
	ctx, cancel := context.WithTimeout(ctx, syncTimeout)
	defer cancel()
	err := fn(ctx)
	if ctx.Err() != nil && context.Cause(ctx) == context.Canceled {
		return // shutting down
	}
	x.logResult(err)
}

// failureLogEvery is the least time between two logs of a lasting
// failure.
const failureLogEvery = 30 * time.Second

func (x *Index) logResult(err error) {
	now := x.now()
	x.logMu.Lock()
	defer x.logMu.Unlock()
	switch {
	case err == nil && x.failing:
		x.failing = false
		x.log.Info("key index sync recovered")
	case err != nil && (!x.failing || now.Sub(x.lastLogged) >= failureLogEvery):
		x.failing = true
		x.lastLogged = now
		x.log.Warn("key index sync failed; serving the keys loaded before",
			"err", err, "last_sync", x.LastSync(), "keys", x.Len())
	}
}
