package sqlite

import (
	"errors"
	"fmt"
	"strings"

	msqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"gatehouse"
)

// wrap wraps err with the operation that failed. When the database cannot
// serve at all (locked for too long, read-only, disk full, I/O error), the
// error also carries an EUnavailable application error with a plain
// message.
func wrap(op string, err error) error {
	var se *msqlite.Error
	if !errors.As(err, &se) {
		return fmt.Errorf("%s: %w", op, err)
	}
	var msg string
	switch se.Code() & 0xff {
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
		msg = "The key store (SQLite) is locked by another process; try again."
	case sqlite3.SQLITE_READONLY, sqlite3.SQLITE_PERM, sqlite3.SQLITE_CANTOPEN:
		msg = "The key store (SQLite) cannot write to its database file; check its permissions."
	case sqlite3.SQLITE_FULL:
		msg = "The key store (SQLite) cannot write: the disk is full."
	case sqlite3.SQLITE_IOERR:
		msg = "The key store (SQLite) cannot read or write its database file (I/O error)."
	default:
		return fmt.Errorf("%s: %w", op, err)
	}
	return fmt.Errorf("%s: %w: %w", op, gatehouse.Errorf(gatehouse.EUnavailable, "%s", msg), err)
}

// isNameTaken reports whether err is the violation of the unique index on
// api_keys.name_key.
func isNameTaken(err error) bool {
	var se *msqlite.Error
	return errors.As(err, &se) && se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE &&
		strings.Contains(se.Error(), "api_keys.name_key")
}
