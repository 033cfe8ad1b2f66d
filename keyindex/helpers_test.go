package keyindex_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"gatehouse"
	"gatehouse/gatehousetest"
	"gatehouse/sqlite"
)

// twoHandles returns two stores on one new file: the gateway's and a
// second one, like the CLI's.
func twoHandles(tb testing.TB) (gw, cli *sqlite.Store) {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "gatehouse.db")
	return gatehousetest.MustOpenSQLiteAt(tb, path), gatehousetest.MustOpenSQLiteAt(tb, path)
}

// newKey returns a key that is not stored yet, and its secret.
func newKey(name string, validUntil *time.Time) (*gatehouse.APIKey, gatehouse.Secret) {
	secret := gatehouse.NewSecret()
	return &gatehouse.APIKey{
		ID:         gatehouse.NewKeyID(),
		Name:       name,
		Digest:     secret.Digest(),
		Sealed:     []byte("sealed"),
		Hint:       secret.Hint(),
		ValidUntil: validUntil,
		Scopes:     gatehouse.DefaultScopes(false),
		CreatedAt:  time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		CreatedBy:  "cli:test",
	}, secret
}

// createKey stores a new key and returns it with its secret.
func createKey(tb testing.TB, s gatehouse.KeyStore, name string, validUntil *time.Time) (*gatehouse.APIKey, gatehouse.Secret) {
	tb.Helper()
	k, secret := newKey(name, validUntil)
	if err := s.CreateKey(context.Background(), k); err != nil {
		tb.Fatalf("CreateKey(%q) = %v", name, err)
	}
	return k, secret
}

// newClock returns a clock for Options.Now, standing at 2026-03-01 12:00
// UTC until the test moves it.
func newClock() *gatehousetest.Clock {
	return gatehousetest.NewClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
}

// waitDone waits for ctx to end, failing tb after within.
func waitDone(tb testing.TB, ctx context.Context, within time.Duration, what string) {
	tb.Helper()
	select {
	case <-ctx.Done():
	case <-time.After(within):
		tb.Fatalf("%s: context not cancelled within %v", what, within)
	}
}

func ptr[T any](v T) *T { return &v }
