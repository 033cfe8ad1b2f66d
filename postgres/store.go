// Package postgres implements gatehouse.Store on PostgreSQL (pgx), for
// gateways of several nodes that share one database.
//
// Every change to a key bumps a revision and sends pg_notify on the
// channel gatehouse_key_changes in the same transaction; Store.Notify wakes
// the node's key index as soon as another node commits a change.
//
// The DSN is a pgx connection string. Besides the usual parameters it
// understands search_path (the schema that holds the tables, created
// beforehand), pool_max_conns (default 4) and connect_timeout (default
// 5 seconds).
package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"gatehouse"
)

// DefaultKeepChanges is how many recent changes a store keeps for
// FindChanges unless Store.KeepChanges says otherwise.
const DefaultKeepChanges = 10000

const (
	defaultMaxConns       = 4
	defaultConnectTimeout = 5 * time.Second
)

// Store is a gatehouse.Store on PostgreSQL. Times are kept to the
// millisecond and returned in UTC.
type Store struct {
	// Now returns the current time, used for the audit events of renewals
	// and deletions. Open sets it to time.Now.
	Now func() time.Time
	// KeepChanges is how many recent changes are kept for FindChanges;
	// a reader further behind must reload every key. Open sets it to
	// DefaultKeepChanges.
	KeepChanges int64
	// Logger receives the listener's connection problems. OpenWith sets
	// it from its Options.
	Logger *slog.Logger

	cfg  *pgx.ConnConfig
	pool *pgxpool.Pool

	// The listener (see notify.go).
	notify     chan struct{}
	listenOnce sync.Once
	stop       context.CancelFunc
	stopCtx    context.Context
	wg         sync.WaitGroup
	mu         sync.Mutex
	closed     bool
}

// Options are what OpenWith takes beyond the database's address.
type Options struct {
	// Logger receives the change listener's connection problems. If nil,
	// they are discarded.
	Logger *slog.Logger
}

// Open connects with zero Options; see OpenWith.
func Open(ctx context.Context, dsn string) (*Store, error) {
	return OpenWith(ctx, dsn, Options{})
}

// OpenWith connects to the database named by dsn and brings its schema up
// to date. Several nodes may open one database at once.
func OpenWith(ctx context.Context, dsn string, opts Options) (*Store, error) {
	cfg, err := parseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("open postgres store: %w", err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open postgres store: %w", err)
	}
	s := &Store{
		Now:         time.Now,
		KeepChanges: DefaultKeepChanges,
		Logger:      opts.Logger,
		cfg:         cfg.ConnConfig,
		pool:        pool,
		notify:      make(chan struct{}, 1),
	}
	if s.Logger == nil {
		s.Logger = slog.New(slog.DiscardHandler)
	}
	s.stopCtx, s.stop = context.WithCancel(context.Background())
	if err := s.migrate(ctx); err != nil {
		s.Close()
		return nil, wrap("open postgres store", err)
	}
	return s, nil
}

// parseDSN parses a pgx pool connection string (pool_max_conns and the
// other pgxpool parameters included) and sets the defaults.
func parseDSN(dsn string) (*pgxpool.Config, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, err
	}
	if !strings.Contains(dsn, "pool_max_conns") {
		cfg.MaxConns = defaultMaxConns
	}
	// A connection dropped by the server is found before it is handed out.
	cfg.HealthCheckPeriod = 5 * time.Second
	cc := cfg.ConnConfig
	if cc.ConnectTimeout == 0 {
		cc.ConnectTimeout = defaultConnectTimeout
	}
	if _, ok := cc.RuntimeParams["application_name"]; !ok {
		cc.RuntimeParams["application_name"] = "gatehouse"
	}
	return cfg, nil
}

// Close stops the listener, closes the Notify channel and the connections.
// It is safe on a partly opened store and more than once.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	if s.stop != nil {
		s.stop()
	}
	s.wg.Wait()
	if s.notify != nil {
		close(s.notify)
	}
	if s.pool != nil {
		s.pool.Close()
	}
	return nil
}

// Ping reports whether the database answers.
func (s *Store) Ping(ctx context.Context) error {
	return s.withConn(ctx, "ping", func(c *pgx.Conn) error {
		var rev int64
		return c.QueryRow(ctx, `SELECT revision FROM key_revision WHERE id = 1`).Scan(&rev)
	})
}

// now returns the current time as it is stored.
func (s *Store) now() time.Time {
	return s.Now().UTC().Truncate(time.Millisecond)
}

// withConn runs fn on a connection of the pool. Errors are wrapped with op.
func (s *Store) withConn(ctx context.Context, op string, fn func(c *pgx.Conn) error) error {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if s.pool == nil || closed {
		return wrap(op, errClosed)
	}
	c, err := s.pool.Acquire(ctx)
	if err != nil {
		return wrap(op, err)
	}
	err = fn(c.Conn())
	if err != nil && c.Conn().IsClosed() {
		c.Hijack().Close(context.Background())
	} else {
		c.Release()
	}
	if err != nil {
		return wrap(op, err)
	}
	return nil
}

// write runs fn in a read-committed transaction and commits it.
func (s *Store) write(ctx context.Context, op string, fn func(tx pgx.Tx) error) error {
	return s.withConn(ctx, op, func(c *pgx.Conn) error {
		return pgx.BeginFunc(ctx, c, fn)
	})
}

// read runs fn in a read-only transaction that sees one snapshot.
func (s *Store) read(ctx context.Context, op string, fn func(tx pgx.Tx) error) error {
	return s.withConn(ctx, op, func(c *pgx.Conn) error {
		return pgx.BeginTxFunc(ctx, c, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, fn)
	})
}

// errClosed is returned by a closed store.
var errClosed = errors.New("postgres store is closed")

var (
	_ gatehouse.Store          = (*Store)(nil)
	_ gatehouse.ChangeNotifier = (*Store)(nil)
)
