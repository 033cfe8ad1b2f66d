package gatehousetest

import (
	"context"
	"path/filepath"
	"testing"

	"gatehouse/sqlite"
)

// MustOpenSQLite opens a store on a new file in a temporary directory and
// closes it when tb ends.
func MustOpenSQLite(tb testing.TB) *sqlite.Store {
	tb.Helper()
	return MustOpenSQLiteAt(tb, filepath.Join(tb.TempDir(), "gatehouse.db"))
}

// MustOpenSQLiteAt opens the store at path, which may be another store's
// (a second handle on one file, as the CLI has beside the gateway), and
// closes it when tb ends. A test may close it before: Close is then a
// no-op.
func MustOpenSQLiteAt(tb testing.TB, path string) *sqlite.Store {
	tb.Helper()
	s, err := sqlite.Open(context.Background(), path)
	if err != nil {
		tb.Fatalf("Open(%q) = %v", path, err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("Close() = %v", err)
		}
	})
	return s
}
