// Package sqlite implements gatehouse.Store on an SQLite database file
// (modernc.org/sqlite, no cgo).
//
// Several processes may use one file at once (the server and the CLI): each
// write takes the database's write lock at the start of its transaction
// (BEGIN IMMEDIATE) and waits up to 5 seconds for it, and each process
// sees the others' changes through Revision and FindChanges.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"gatehouse"
)

// DefaultKeepChanges is how many recent changes a store keeps for
// FindChanges unless Store.KeepChanges says otherwise.
const DefaultKeepChanges = 10000

// busyTimeout is how long a statement waits for another connection or
// process to release the database before failing with SQLITE_BUSY.
const busyTimeout = 5 * time.Second

// Store is a gatehouse.Store on an SQLite file. Times are kept to the
// millisecond and returned in UTC.
type Store struct {
	// Now returns the current time, used for the audit events of renewals
	// and deletions. Open sets it to time.Now.
	Now func() time.Time
	// KeepChanges is how many recent changes are kept for FindChanges;
	// a reader further behind must reload every key. Open sets it to
	// DefaultKeepChanges.
	KeepChanges int64

	path string
	// db serves reads on several connections.
	db *sql.DB
	// wdb is the one connection that writes. Its transactions begin with
	// BEGIN IMMEDIATE, so that a transaction never has to upgrade a read
	// lock to a write lock, which SQLite would refuse with SQLITE_BUSY
	// without waiting.
	wdb *sql.DB
}

var _ gatehouse.Store = (*Store)(nil)

// Options are what OpenWith takes beyond the path.
type Options struct {
	// Logger receives a warning for each file of the database whose mode
	// OpenWith tightened. If nil, the warnings are discarded.
	Logger *slog.Logger
}

// Open opens the database at path with zero Options; see OpenWith.
func Open(ctx context.Context, path string) (*Store, error) {
	return OpenWith(ctx, path, Options{})
}

// OpenWith opens the database at path, creating it (mode 0600) and its
// missing parent directories (mode 0700) if needed, and brings its schema
// up to date. An existing database, -wal or -shm file that group or others
// may read or write (written by another tool, say) loses their
// permissions (0644 becomes 0600), with a warning; if its mode cannot be
// changed, OpenWith fails rather than use it.
func OpenWith(ctx context.Context, path string, opts Options) (*Store, error) {
	if path == "" {
		return nil, errors.New("open sqlite store: no path")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("open sqlite store: %w", err)
	}
	if err := createFile(abs); err != nil {
		return nil, fmt.Errorf("open sqlite store %s: %w", path, err)
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := tightenModes(abs, log); err != nil {
		return nil, fmt.Errorf("open sqlite store %s: %w", path, err)
	}
	s := &Store{Now: time.Now, KeepChanges: DefaultKeepChanges, path: abs}
	if err := s.open(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("open sqlite store %s: %w", path, err)
	}
	return s, nil
}

// tightenModes takes every permission of group and others from the
// database file and its -wal and -shm files, those that exist, and logs a
// warning for each file it changed. It runs before SQLite opens the
// database: SQLite gives the -wal and -shm files it creates the database
// file's mode, so those follow.
func tightenModes(path string, log *slog.Logger) error {
	for _, name := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(name)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		} else if err != nil {
			return err
		}
		old := fi.Mode().Perm()
		if old&0o077 == 0 {
			continue
		}
		if err := os.Chmod(name, old&^0o077); err != nil {
			return fmt.Errorf("%s has mode %04o, which lets others read or write it, and its mode cannot be changed (%w): run chmod 600 %s as its owner", name, old, err, name)
		}
		log.Warn("sqlite store: group or others could read or write a database file; took their permissions away",
			"path", name, "old_mode", fmt.Sprintf("%04o", old), "mode", fmt.Sprintf("%04o", old&^0o077))
	}
	return nil
}

// createFile creates the directories leading to path (0700) and, when it
// does not exist, an empty database file (0600), so that SQLite never
// creates either with the process's umask.
func createFile(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("create directory: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil
	} else if err != nil {
		return fmt.Errorf("create database file: %w", err)
	}
	return f.Close()
}

// dsn returns the driver's name for the database, with the pragmas every
// connection runs.
//
// synchronous=FULL: in WAL mode, NORMAL syncs only at checkpoints, so a
// power failure may lose the last commits even though they were
// acknowledged. A lost deletion would bring a revoked key back to life.
// Key writes are rare, so the fsync at every commit that FULL costs does
// not matter.
func (s *Store) dsn(txlock string) string {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeout.Milliseconds()))
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Set("_txlock", txlock)
	u := url.URL{Scheme: "file", Path: s.path, RawQuery: q.Encode()}
	// "file:/abs/path?..." with the path escaped: SQLite reads it as a URI.
	return "file:" + u.EscapedPath() + "?" + u.RawQuery
}

func (s *Store) open(ctx context.Context) error {
	var err error
	if s.wdb, err = sql.Open("sqlite", s.dsn("immediate")); err != nil {
		return err
	}
	s.wdb.SetMaxOpenConns(1)
	if s.db, err = sql.Open("sqlite", s.dsn("deferred")); err != nil {
		return err
	}
	s.db.SetMaxOpenConns(4)
	if err := s.checkWritable(ctx); err != nil {
		return err
	}
	if err := s.migrate(ctx); err != nil {
		return err
	}
	return s.Ping(ctx)
}

// checkWritable fails when SQLite could open the file only for reading
// (its mode, a read-only mount), so that the problem shows at start rather
// than at the first change.
func (s *Store) checkWritable(ctx context.Context) error {
	c, err := s.wdb.Conn(ctx)
	if err != nil {
		return wrap("connect", err)
	}
	defer c.Close()
	var readOnly bool
	err = c.Raw(func(dc any) error {
		if ro, ok := dc.(interface{ IsReadOnly(string) (bool, error) }); ok {
			readOnly, err = ro.IsReadOnly("main")
			return err
		}
		return nil
	})
	if err != nil {
		return wrap("check database file", err)
	}
	if readOnly {
		return fmt.Errorf("check database file: %w", gatehouse.Errorf(gatehouse.EUnavailable,
			"The key store (SQLite) cannot write to its database file; check its permissions."))
	}
	return nil
}

// Close closes the database. It is safe on a partly opened store.
func (s *Store) Close() error {
	var errs []error
	for _, db := range []*sql.DB{s.db, s.wdb} {
		if db != nil {
			errs = append(errs, db.Close())
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close sqlite store: %w", err)
	}
	return nil
}

// Ping reports whether the database can be read.
func (s *Store) Ping(ctx context.Context) error {
	var rev int64
	if err := s.db.QueryRowContext(ctx, `SELECT revision FROM key_revision`).Scan(&rev); err != nil {
		return wrap("ping", err)
	}
	return nil
}

// now returns the current time as it is stored.
func (s *Store) now() time.Time {
	return s.Now().UTC().Truncate(time.Millisecond)
}

// write runs fn in a write transaction and commits it.
func (s *Store) write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// read runs fn in a read transaction, which sees one snapshot of the
// database.
func (s *Store) read(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return err
	}
	defer tx.Rollback()
	return fn(tx)
}
