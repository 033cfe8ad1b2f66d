package gatehousetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// PostgresDSN returns the PostgreSQL database that tests may use, named by
// GATEHOUSE_TEST_POSTGRES, or skips tb when the variable is not set.
func PostgresDSN(tb testing.TB) string {
	tb.Helper()
	dsn := os.Getenv("GATEHOUSE_TEST_POSTGRES")
	if dsn == "" {
		tb.Skip("set GATEHOUSE_TEST_POSTGRES=postgres://postgres@127.0.0.1:5432/test?sslmode=disable to run the PostgreSQL tests")
	}
	return dsn
}

// MustPostgresSchema creates an empty schema with a random name in the
// database of PostgresDSN (or skips tb), drops it when tb ends, and
// returns a DSN that uses it: its search_path is the schema, and so is its
// application_name, by which a test can find its connections in
// pg_stat_activity.
func MustPostgresSchema(tb testing.TB) (dsn string) {
	tb.Helper()
	base := PostgresDSN(tb)
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		tb.Fatalf("GATEHOUSE_TEST_POSTGRES must be a postgres:// URL")
	}
	var b [6]byte
	rand.Read(b[:])
	schema := "gh_test_" + hex.EncodeToString(b[:])
	if err := postgresExec(base, "CREATE SCHEMA "+schema); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := postgresExec(base, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			tb.Error(err)
		}
	})
	q := u.Query()
	q.Set("search_path", schema)
	q.Set("application_name", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// postgresExec runs sql on a connection of its own.
func postgresExec(dsn, sql string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return fmt.Errorf("connect to GATEHOUSE_TEST_POSTGRES: %w", err)
	}
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, sql); err != nil {
		return fmt.Errorf("%s: %w", sql, err)
	}
	return nil
}
