package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"gatehouse"
	"gatehouse/gatehousetest"
	"gatehouse/postgres"
	"gatehouse/storetest"
)

// testDSN returns the database that the tests may use, or skips.
func testDSN(tb testing.TB) string {
	tb.Helper()
	return gatehousetest.PostgresDSN(tb)
}

// withParams returns dsn (a postgres:// URL) with the query parameters set.
func withParams(tb testing.TB, dsn string, params map[string]string) string {
	tb.Helper()
	u, err := url.Parse(dsn)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		tb.Fatalf("GATEHOUSE_TEST_POSTGRES must be a postgres:// URL")
	}
	q := u.Query()
	for k, v := range params {
		q.Set(k, v)
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// newSchema creates an empty schema with a random name, drops it when tb
// ends, and returns the schema's name and a DSN that uses it. The DSN's
// application_name is the schema's name too, so that a test can find its
// store's connections in pg_stat_activity.
func newSchema(tb testing.TB) (schema, dsn string) {
	tb.Helper()
	dsn = gatehousetest.MustPostgresSchema(tb)
	u, err := url.Parse(dsn)
	if err != nil {
		tb.Fatal(err)
	}
	return u.Query().Get("application_name"), withParams(tb, dsn, map[string]string{"pool_max_conns": "3"})
}

// adminExec runs sql on a connection of its own.
func adminExec(tb testing.TB, dsn, sql string, args ...any) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		tb.Fatalf("connect to the test database: %v", err)
	}
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, sql, args...); err != nil {
		tb.Fatalf("%s: %v", sql, err)
	}
}

// mustOpen opens a store and closes it when tb ends.
func mustOpen(tb testing.TB, dsn string) *postgres.Store {
	tb.Helper()
	s, err := postgres.Open(context.Background(), dsn)
	if err != nil {
		tb.Fatalf("Open() = %v", err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("Close() = %v", err)
		}
	})
	return s
}

// MustOpenStore opens a store on a new schema.
func MustOpenStore(tb testing.TB) *postgres.Store {
	tb.Helper()
	_, dsn := newSchema(tb)
	return mustOpen(tb, dsn)
}

func TestStore(t *testing.T) {
	t.Parallel()
	testDSN(t)
	storetest.Run(t, func(tb testing.TB) gatehouse.Store { return MustOpenStore(tb) })
}

func newKey(name string) *gatehouse.APIKey {
	secret := gatehouse.NewSecret()
	return &gatehouse.APIKey{
		ID:        gatehouse.NewKeyID(),
		Name:      name,
		Digest:    secret.Digest(),
		Sealed:    []byte("sealed"),
		Hint:      secret.Hint(),
		Scopes:    gatehouse.DefaultScopes(false),
		CreatedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		CreatedBy: "cli:test",
	}
}

// waitFor polls cond until it holds, failing tb after the deadline.
func waitFor(tb testing.TB, what string, timeout time.Duration, cond func() bool) {
	tb.Helper()
	gatehousetest.Eventually(tb, timeout, what, cond)
}

// listenerPID returns the backend pid of the store's LISTEN connection, or
// 0 while there is none.
func listenerPID(tb testing.TB, schema string) int {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, testDSN(tb))
	if err != nil {
		tb.Fatal(err)
	}
	defer c.Close(ctx)
	var pid int
	err = c.QueryRow(ctx, `SELECT pid FROM pg_stat_activity
		WHERE application_name = $1 AND query ILIKE 'LISTEN%'`, schema).Scan(&pid)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0
	} else if err != nil {
		tb.Fatal(err)
	}
	return pid
}

// receive waits for a value on ch.
func receive(tb testing.TB, what string, ch <-chan struct{}) {
	tb.Helper()
	select {
	case _, ok := <-ch:
		if !ok {
			tb.Fatalf("%s: Notify channel closed", what)
		}
	case <-time.After(10 * time.Second):
		tb.Fatalf("%s: no notification within 10s", what)
	}
}

// drained reports whether ch holds no value.
func drained(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return false
	default:
		return true
	}
}

func TestNotify(t *testing.T) {
	t.Parallel()
	schema, dsn := newSchema(t)
	reader, writer := mustOpen(t, dsn), mustOpen(t, dsn)
	ctx := context.Background()

	ch := reader.Notify()
	waitFor(t, "the listener", 5*time.Second, func() bool { return listenerPID(t, schema) != 0 })
	if !drained(ch) {
		t.Fatal("Notify() signalled before any change")
	}

	k := newKey("noticed")
	if err := writer.CreateKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	receive(t, "after CreateKey on another store", ch)
	if err := writer.DeleteKey(ctx, k.ID, "admin:alice"); err != nil {
		t.Fatal(err)
	}
	receive(t, "after DeleteKey on another store", ch)

	// A change made through the listening store itself notifies too.
	if err := reader.CreateKey(ctx, newKey("own")); err != nil {
		t.Fatal(err)
	}
	receive(t, "after CreateKey on the same store", ch)

	// Close closes the channel.
	if err := reader.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case _, ok := <-ch:
		if ok {
			if _, ok := <-ch; ok {
				t.Error("Notify channel still open after Close")
			}
		}
	case <-time.After(5 * time.Second):
		t.Error("Notify channel not closed by Close")
	}
}

func TestNotifyAfterReconnect(t *testing.T) {
	t.Parallel()
	schema, dsn := newSchema(t)
	reader, writer := mustOpen(t, dsn), mustOpen(t, dsn)
	ctx := context.Background()

	ch := reader.Notify()
	var pid int
	waitFor(t, "the listener", 5*time.Second, func() bool { pid = listenerPID(t, schema); return pid != 0 })
	adminExec(t, testDSN(t), `SELECT pg_terminate_backend($1)`, pid)

	// The listener comes back and signals, since it may have missed
	// changes while it was away.
	receive(t, "after the listener's connection was terminated", ch)
	if p := listenerPID(t, schema); p == 0 || p == pid {
		t.Fatalf("listener pid after reconnect = %d, want a new one (was %d)", p, pid)
	}
	if err := writer.CreateKey(ctx, newKey("after reconnect")); err != nil {
		t.Fatal(err)
	}
	receive(t, "after a change following the reconnect", ch)
}

func TestFindChangesPruned(t *testing.T) {
	t.Parallel()
	s := MustOpenStore(t)
	s.KeepChanges = 3
	ctx := context.Background()
	for range 5 {
		if err := s.CreateKey(ctx, newKey(gatehouse.NewKeyID())); err != nil {
			t.Fatal(err)
		}
	}
	// Revisions 3, 4 and 5 are kept.
	tests := []struct {
		since  int64
		wantOK bool
		wantN  int
	}{
		{0, false, 0},
		{1, false, 0},
		{2, true, 3},
		{4, true, 1},
		{5, true, 0},
		{6, false, 0}, // ahead of the store: the database was replaced
	}
	for _, tt := range tests {
		changes, ok, err := s.FindChanges(ctx, tt.since)
		if err != nil {
			t.Fatalf("FindChanges(%d) = %v", tt.since, err)
		}
		if ok != tt.wantOK || len(changes) != tt.wantN {
			t.Errorf("FindChanges(%d) = %d changes, ok %v; want %d, ok %v", tt.since, len(changes), ok, tt.wantN, tt.wantOK)
		}
	}
}

// TestConcurrentOpen is several nodes starting at once on a new schema:
// each migration is applied once, and all of them open.
func TestConcurrentOpen(t *testing.T) {
	t.Parallel()
	_, dsn := newSchema(t)
	const n = 4
	var wg sync.WaitGroup
	stores := make([]*postgres.Store, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { stores[i], errs[i] = postgres.Open(context.Background(), dsn) })
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Errorf("Open #%d = %v", i, errs[i])
			continue
		}
		defer stores[i].Close()
		if err := stores[i].Ping(context.Background()); err != nil {
			t.Errorf("Ping #%d = %v", i, err)
		}
	}
}

// TestConcurrentOpenAndClaim: nodes that start at once on a new schema,
// each with its own master key, agree on one: the first claim's.
func TestConcurrentOpenAndClaim(t *testing.T) {
	t.Parallel()
	_, dsn := newSchema(t)
	const n = 4
	var wg sync.WaitGroup
	got := make([]string, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			s, err := postgres.Open(context.Background(), dsn)
			if err != nil {
				errs[i] = err
				return
			}
			defer s.Close()
			got[i], errs[i] = s.ClaimMasterKey(context.Background(), strings.Repeat(fmt.Sprint(i), 64))
		})
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("node #%d: %v", i, errs[i])
		}
		if got[i] != got[0] {
			t.Errorf("node #%d's claim = %.8s…, node #0's %.8s…; want one fingerprint for all", i, got[i], got[0])
		}
	}
}

// wantUnavailable checks that err is EUnavailable with a plain message,
// and that it came within limit of start.
func wantUnavailable(tb testing.TB, what string, err error, start time.Time, limit time.Duration) {
	tb.Helper()
	if err == nil {
		tb.Fatalf("%s succeeded, want an error", what)
	}
	if code := gatehouse.ErrorCode(err); code != gatehouse.EUnavailable {
		tb.Errorf("%s: code %q (%v), want %q", what, code, err, gatehouse.EUnavailable)
	}
	if msg := gatehouse.ErrorMessage(err); msg != "The key store (PostgreSQL) is unreachable." {
		tb.Errorf("%s: message %q", what, msg)
	}
	if d := time.Since(start); d > limit {
		tb.Errorf("%s took %v, want under %v", what, d, limit)
	}
}

func TestOpenUnreachable(t *testing.T) {
	t.Parallel()
	// A port that answers nothing: the connection is accepted by the
	// kernel, and no PostgreSQL ever speaks.
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { silent.Close() })
	go func() {
		var held []net.Conn
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()

	tests := []struct {
		name  string
		dsn   string
		limit time.Duration
	}{
		{"Refused", "postgres://postgres@127.0.0.1:1/test?sslmode=disable", 2 * time.Second},
		{"SilentWithTimeout", "postgres://postgres@" + silent.Addr().String() + "/test?sslmode=disable&connect_timeout=1", 3 * time.Second},
		// Without connect_timeout in the DSN, the default (5s) applies.
		{"SilentDefaultTimeout", "postgres://postgres@" + silent.Addr().String() + "/test?sslmode=disable", 8 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			s, err := postgres.Open(context.Background(), tt.dsn)
			if err == nil {
				s.Close()
			}
			wantUnavailable(t, "Open()", err, start, tt.limit)
		})
	}
}

// proxy forwards TCP connections to target until stopped, like a network
// between the gateway and its database.
type proxy struct {
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func startProxy(tb testing.TB, target string) *proxy {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	p := &proxy{ln: ln}
	tb.Cleanup(p.stop)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			go func() { io.Copy(up, c); up.Close() }()
			go func() { io.Copy(c, up); c.Close() }()
		}
	}()
	return p
}

// stop closes the listener and cuts every connection.
func (p *proxy) stop() {
	p.ln.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func TestPingWhenDatabaseGone(t *testing.T) {
	t.Parallel()
	_, dsn := newSchema(t)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	p := startProxy(t, u.Host)
	u.Host = p.ln.Addr().String()
	s := mustOpen(t, u.String())
	ctx := context.Background()
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("Ping() through the proxy = %v", err)
	}

	p.stop()
	start := time.Now()
	wantUnavailable(t, "Ping() after the database went away", s.Ping(ctx), start, 2*time.Second)
	start = time.Now()
	wantUnavailable(t, "CreateKey() after the database went away", s.CreateKey(ctx, newKey("lost")), start, 2*time.Second)
	start = time.Now()
	_, err = s.FindKeyByID(ctx, "key_x")
	wantUnavailable(t, "FindKeyByID() after the database went away", err, start, 2*time.Second)
	if strings.Contains(err.Error(), "password") {
		t.Errorf("error mentions a password: %v", err)
	}
}

func TestClosedStore(t *testing.T) {
	t.Parallel()
	s := MustOpenStore(t)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close() = %v", err)
	}
	start := time.Now()
	wantUnavailable(t, "Ping() after Close", s.Ping(context.Background()), start, time.Second)
	if _, ok := <-s.Notify(); ok {
		t.Error("Notify() after Close gave a value, want a closed channel")
	}
}

// TestUpgradeFromVersion1: a database of the first schema keeps its users,
// whose sessions stay valid from their creation on.
func TestUpgradeFromVersion1(t *testing.T) {
	t.Parallel()
	_, dsn := newSchema(t)
	v1, err := os.ReadFile("migrations/0001_init.sql")
	if err != nil {
		t.Fatal(err)
	}
	created := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	u, _ := url.Parse(dsn)
	q := u.Query()
	q.Del("pool_max_conns") // a pgxpool setting, refused by one connection
	u.RawQuery = q.Encode()
	conn := u.String()
	adminExec(t, conn, string(v1))
	adminExec(t, conn, `CREATE TABLE schema_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now());
		INSERT INTO schema_migrations (version) VALUES (1)`)
	adminExec(t, conn, `INSERT INTO users (username, password_hash, created_at) VALUES ('alice', 'h', $1)`, created)
	adminExec(t, conn, `INSERT INTO api_keys (id, name, name_key, digest, sealed, hint, scopes, created_at, created_by)
		VALUES ('key_v1', 'old', 'old', $1, '\x00', 'gth_…abcd', '{*:read}', $2, 'cli:test')`, make([]byte, 32), created)

	s := mustOpen(t, dsn)
	user, err := s.FindUserByName(context.Background(), "alice")
	if err != nil {
		t.Fatalf("FindUserByName after the upgrade = %v", err)
	}
	if !user.CreatedAt.Equal(created) || !user.SessionsAfter.Equal(created) {
		t.Errorf("after the upgrade CreatedAt = %v, SessionsAfter = %v; want both %v", user.CreatedAt, user.SessionsAfter, created)
	}
	// A key of the first schema is enabled, unrolled, bound to no address
	// and without grace (migration 0005).
	k, err := s.FindKeyByID(context.Background(), "key_v1")
	if err != nil {
		t.Fatalf("FindKeyByID after the upgrade = %v", err)
	}
	if k.Disabled || k.PreviousDigest != nil || k.PreviousValidUntil != nil || len(k.AllowedIPs) != 0 || k.ReadOnlyGrace != 0 {
		t.Errorf("key after the upgrade = %+v, want enabled, unrolled, any address, no grace", k)
	}
}
