package server_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"sort"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"gatehouse/keys"
)

// mustPostgresSchema returns a storage URL on a fresh schema of the
// machine's PostgreSQL, dropped at the end of the test.
func mustPostgresSchema(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv("GATEHOUSE_TEST_POSTGRES")
	if dsn == "" {
		t.Skip("set GATEHOUSE_TEST_POSTGRES=postgres://postgres@127.0.0.1:5432/test?sslmode=disable to run the cluster tests")
	}
	var b [6]byte
	rand.Read(b[:])
	schema := "gh_cluster_" + hex.EncodeToString(b[:])
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect to GATEHOUSE_TEST_POSTGRES: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), dsn)
		if err == nil {
			c.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
			c.Close(context.Background())
		}
	})
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// twoNodes starts two gateways on one PostgreSQL schema and one master key.
func twoNodes(t *testing.T) (a, b *gateway, up *upstream) {
	t.Helper()
	storage := mustPostgresSchema(t)
	up = newUpstream(t)
	cfgA := testConfig(t, storage, up)
	cfgB := *cfgA
	a = mustOpenGateway(t, cfgA)
	b = mustOpenGateway(t, &cfgB)
	return a, b, up
}

// waitStatus polls until a GET with key answers want, and returns how long
// that took; it fails the test after limit.
func waitStatus(t *testing.T, url, key string, want int, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		resp, _ := do(t, "GET", url, key, "")
		if resp.StatusCode == want {
			return time.Since(start)
		}
		if time.Since(start) > limit {
			t.Fatalf("GET %s = %d after %v, want %d", url, resp.StatusCode, limit, want)
		}
		time.Sleep(5 * time.Millisecond) // poll interval
	}
}

func TestClusterChangesAcrossNodes(t *testing.T) {
	t.Parallel()
	a, b, _ := twoNodes(t)
	ctx := context.Background()

	// Created on A, usable on B.
	k, secret := a.mustCreate(t, "cross-node", "assets:read")
	t.Logf("create on A usable on B after %v", waitStatus(t, b.URL+"/api/v2/assets", secret, 200, time.Second))

	// Expired key renewed on B is usable on A.
	until := time.Now().Add(2 * time.Second)
	ek, esecret, err := a.Keys().Create(ctx, keys.CreateRequest{Name: "expiring", Scopes: []string{"assets:read"}, ValidUntil: &until}, keys.Admin("test"))
	if err != nil {
		t.Fatal(err)
	}
	waitStatus(t, a.URL+"/api/v2/assets", esecret.Reveal(), 401, 5*time.Second)
	if _, err := b.Keys().Renew(ctx, ek.ID, nil, nil, keys.Admin("test")); err != nil {
		t.Fatal(err)
	}
	t.Logf("renew on B usable on A after %v", waitStatus(t, a.URL+"/api/v2/assets", esecret.Reveal(), 200, time.Second))

	// Deleted on A, refused on B within a second.
	if err := a.Keys().Delete(ctx, k.ID, keys.Admin("test")); err != nil {
		t.Fatal(err)
	}
	t.Logf("delete on A refused on B after %v", waitStatus(t, b.URL+"/api/v2/assets", secret, 401, time.Second))
}

// TestClusterPropagationDelay measures how long a change on one node takes
// to reach the other, over 100 changes, and reports p50 and p99.
func TestClusterPropagationDelay(t *testing.T) {
	if testing.Short() {
		t.Skip("measurement")
	}
	t.Parallel()
	a, b, _ := twoNodes(t)
	var delays []time.Duration
	for i := range 100 {
		_, secret := a.mustCreate(t, "prop-"+string(rune('a'+i%26))+time.Now().Format("150405.000000"), "assets:read")
		delays = append(delays, waitStatus(t, b.URL+"/api/v2/assets", secret, 200, time.Second))
	}
	sort.Slice(delays, func(i, j int) bool { return delays[i] < delays[j] })
	t.Logf("propagation A→B over %d creates: p50 %v, p99 %v, max %v", len(delays), delays[len(delays)/2], delays[len(delays)*99/100], delays[len(delays)-1])
}
