package sqlite_test

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"gatehouse"
	"gatehouse/gatehousetest"
	"gatehouse/sqlite"
	"gatehouse/storetest"
)

// MustOpenStore opens a store on a new file in a temporary directory and
// closes it when tb ends.
func MustOpenStore(tb testing.TB) *sqlite.Store {
	tb.Helper()
	return gatehousetest.MustOpenSQLite(tb)
}

func mustOpen(tb testing.TB, path string) *sqlite.Store {
	tb.Helper()
	return gatehousetest.MustOpenSQLiteAt(tb, path)
}

func TestStore(t *testing.T) {
	t.Parallel()
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

func TestOpenCreatesPrivateFiles(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "data", "nested")
	path := filepath.Join(dir, "gatehouse.db")
	s := mustOpen(t, path)
	if err := s.CreateKey(context.Background(), newKey("one")); err != nil {
		t.Fatal(err)
	}

	for _, d := range []string{dir, filepath.Dir(dir)} {
		if fi, err := os.Stat(d); err != nil {
			t.Fatal(err)
		} else if got := fi.Mode().Perm(); got != 0o700 {
			t.Errorf("directory %s has mode %o, want 700", d, got)
		}
	}
	for _, suffix := range []string{"", "-wal", "-shm"} {
		fi, err := os.Stat(path + suffix)
		if err != nil {
			t.Fatalf("database file%s: %v", suffix, err)
		}
		if got := fi.Mode().Perm(); got != 0o600 {
			t.Errorf("%s has mode %o, want 600", filepath.Base(path+suffix), got)
		}
	}
}

// TestOpenTightensLooseModes: a database whose files group or others may
// read or write (another tool wrote them, say) opens, with its files made
// 0600 and one warning for each, also those of a store open beside it.
func TestOpenTightensLooseModes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "gatehouse.db")
	other := mustOpen(t, path) // keeps the -wal and -shm files in place
	if err := other.CreateKey(ctx, newKey("one")); err != nil {
		t.Fatal(err)
	}
	loose := map[string]os.FileMode{"": 0o644, "-wal": 0o664, "-shm": 0o606}
	for suffix, mode := range loose {
		if err := os.Chmod(path+suffix, mode); err != nil {
			t.Fatal(err)
		}
	}

	var logs bytes.Buffer
	s, err := sqlite.OpenWith(ctx, path, sqlite.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatalf("OpenWith() = %v", err)
	}
	defer s.Close()
	if err := s.CreateKey(ctx, newKey("two")); err != nil {
		t.Fatal(err)
	}
	for suffix, mode := range loose {
		fi, err := os.Stat(path + suffix)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != 0o600 {
			t.Errorf("%s has mode %04o after Open, want 0600", filepath.Base(path+suffix), got)
		}
		want := fmt.Sprintf("path=%s old_mode=%04o", path+suffix, mode)
		if !strings.Contains(logs.String(), want) {
			t.Errorf("no warning with %q in the log:\n%s", want, logs.String())
		}
	}
	if n := strings.Count(logs.String(), "level=WARN"); n != len(loose) {
		t.Errorf("%d warnings, want %d:\n%s", n, len(loose), logs.String())
	}

	// Once private, the files are left alone and nothing is logged.
	logs.Reset()
	again, err := sqlite.OpenWith(ctx, path, sqlite.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	again.Close()
	if logs.Len() != 0 {
		t.Errorf("a second Open logged:\n%s", logs.String())
	}
}

// TestOpenRefusesModeItCannotChange: a database others may read, whose
// mode cannot be changed, is refused rather than used as it is.
func TestOpenRefusesModeItCannotChange(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("only root can keep a file's owner from changing its mode (chattr +i)")
	}
	path := filepath.Join(t.TempDir(), "gatehouse.db")
	s, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	makeReadOnly(t, path)
	s, err = sqlite.Open(context.Background(), path)
	if err == nil {
		s.Close()
		t.Fatal("Open() of a 0644 database whose mode cannot change succeeded")
	}
	if !strings.Contains(err.Error(), "chmod 600 "+path) {
		t.Errorf("Open() = %v, want it to say how to fix the mode", err)
	}
}

func TestReopenKeepsData(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "gatehouse.db")
	ctx := context.Background()
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	k := newKey("kept")
	if err := s.CreateKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// Opening again applies no migration twice and finds the key.
	s = mustOpen(t, path)
	if _, err := s.FindKeyByID(ctx, k.ID); err != nil {
		t.Errorf("FindKeyByID() after reopen = %v", err)
	}
	if rev, err := s.Revision(ctx); err != nil || rev != 1 {
		t.Errorf("Revision() after reopen = %d, %v; want 1", rev, err)
	}
}

// TestTwoHandles is the CLI changing the file under a running server: each
// handle sees the other's changes, and concurrent writers wait for each
// other instead of failing.
func TestTwoHandles(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "gatehouse.db")
	server, cli := mustOpen(t, path), mustOpen(t, path)
	ctx := context.Background()

	since, err := server.Revision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	k := newKey("from-cli")
	if err := cli.CreateKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	if err := cli.DeleteKey(ctx, k.ID, "cli:test"); err != nil {
		t.Fatal(err)
	}
	changes, ok, err := server.FindChanges(ctx, since)
	if err != nil || !ok {
		t.Fatalf("server FindChanges(%d) = ok %v, %v", since, ok, err)
	}
	if len(changes) != 2 || changes[0].KeyID != k.ID || changes[1].KeyID != k.ID {
		t.Errorf("server FindChanges(%d) = %+v, want the CLI's create and delete of %s", since, changes, k.ID)
	}

	// Both write at once, many times.
	const n = 10
	var wg sync.WaitGroup
	errs := make(chan error, 2*n)
	for _, s := range []*sqlite.Store{server, cli} {
		wg.Go(func() {
			for range n {
				errs <- s.CreateKey(ctx, newKey(gatehouse.NewKeyID()))
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("concurrent CreateKey() = %v", err)
		}
	}
	for name, s := range map[string]*sqlite.Store{"server": server, "cli": cli} {
		if rev, err := s.Revision(ctx); err != nil || rev != 2+2*n {
			t.Errorf("%s Revision() = %d, %v; want %d", name, rev, err, 2+2*n)
		}
	}
}

// TestClaimMasterKeyTwoHandles: two processes on one new database claim
// the master key at once, each with its own; both get the same one.
func TestClaimMasterKeyTwoHandles(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "gatehouse.db")
	stores := []*sqlite.Store{mustOpen(t, path), mustOpen(t, path)}
	got := make([]string, len(stores))
	errs := make([]error, len(stores))
	var wg sync.WaitGroup
	for i, s := range stores {
		wg.Go(func() { got[i], errs[i] = s.ClaimMasterKey(context.Background(), strings.Repeat(fmt.Sprint(i), 64)) })
	}
	wg.Wait()
	if errs[0] != nil || errs[1] != nil || got[0] != got[1] || got[0] == "" {
		t.Errorf("ClaimMasterKey on two handles at once = (%.8s…, %v) and (%.8s…, %v), want one fingerprint for both", got[0], errs[0], got[1], errs[1])
	}
}

// TestWriteWaitsForLock is another process in the middle of a write: a
// change waits for it (busy_timeout) instead of failing with SQLITE_BUSY.
func TestWriteWaitsForLock(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "gatehouse.db")
	s := mustOpen(t, path)
	ctx := context.Background()

	other, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	conn, err := other.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(ctx, "INSERT INTO users (username, password_hash, created_at) VALUES ('other', 'x', 0)"); err != nil {
		t.Fatal(err)
	}

	done := make(chan error, 1)
	go func() { done <- s.CreateKey(ctx, newKey("waiting")) }()
	select {
	case err := <-done:
		t.Fatalf("CreateKey() returned %v while another connection held the write lock", err)
	case <-time.After(200 * time.Millisecond):
	}
	if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("CreateKey() after the lock was released = %v", err)
	}
	if n, err := s.CountUsers(ctx); err != nil || n != 1 {
		t.Errorf("CountUsers() = %d, %v; want the other connection's user", n, err)
	}
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

func TestAuditTimesFromNow(t *testing.T) {
	t.Parallel()
	s := MustOpenStore(t)
	at := time.Date(2027, 5, 6, 7, 8, 9, 123_456_789, time.FixedZone("X", -3600))
	s.Now = func() time.Time { return at }
	ctx := context.Background()
	k := newKey("timed")
	if err := s.CreateKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteKey(ctx, k.ID, "admin:alice"); err != nil {
		t.Fatal(err)
	}
	events, err := s.FindAuditEvents(ctx, k.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := []time.Time{k.CreatedAt, at.Truncate(time.Millisecond)}
	if len(events) != len(want) {
		t.Fatalf("events = %+v, want %d", events, len(want))
	}
	for i, e := range events {
		if !e.At.Equal(want[i]) || e.At.Location() != time.UTC {
			t.Errorf("event %d (%s) at %v, want %v in UTC", i, e.Action, e.At, want[i])
		}
	}
}

func TestOpenFailures(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	notDir := filepath.Join(dir, "file")
	if err := os.WriteFile(notDir, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	notDB := filepath.Join(dir, "garbage.db")
	if err := os.WriteFile(notDB, []byte("this is not an SQLite database, not at all, no"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, path string
	}{
		{"Empty", ""},
		{"ParentIsAFile", filepath.Join(notDir, "gatehouse.db")},
		{"NotADatabase", notDB},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := sqlite.Open(context.Background(), tt.path)
			if err == nil {
				s.Close()
				t.Fatalf("Open(%q) succeeded, want an error", tt.path)
			}
		})
	}
}

// makeReadOnly makes the file read-only for this process: by its mode,
// or, for root, whom modes do not stop, with the immutable attribute.
func makeReadOnly(tb testing.TB, path string) {
	tb.Helper()
	if os.Geteuid() != 0 {
		if err := os.Chmod(path, 0o400); err != nil {
			tb.Fatal(err)
		}
		return
	}
	if out, err := exec.Command("chattr", "+i", path).CombinedOutput(); err != nil {
		tb.Skipf("cannot make %s read-only for root (chattr +i: %v: %s)", path, err, out)
	}
	tb.Cleanup(func() {
		if out, err := exec.Command("chattr", "-i", path).CombinedOutput(); err != nil {
			tb.Errorf("chattr -i: %v: %s", err, out)
		}
	})
}

func TestReadOnlyFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "gatehouse.db")
	ctx := context.Background()
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	makeReadOnly(t, path)

	s, err = sqlite.Open(ctx, path)
	if err == nil {
		defer s.Close()
		err = s.CreateKey(ctx, newKey("ro"))
	}
	if err == nil {
		t.Fatal("writing to a read-only database succeeded")
	}
	if code := gatehouse.ErrorCode(err); code != gatehouse.EUnavailable {
		t.Errorf("error code %q (%v), want %q", code, err, gatehouse.EUnavailable)
	}
	t.Logf("error: %v", err)
}

func TestCloseUnopened(t *testing.T) {
	t.Parallel()
	var s sqlite.Store
	if err := s.Close(); err != nil {
		t.Errorf("Close() of a zero Store = %v", err)
	}
}

// TestUpgradeFromVersion1: a database of the first schema keeps its users,
// whose sessions stay valid from their creation on.
func TestUpgradeFromVersion1(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "v1.db")
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	v1, err := os.ReadFile("migrations/0001_init.sql")
	if err != nil {
		t.Fatal(err)
	}
	created := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	for _, q := range []string{
		string(v1),
		`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)`,
		`INSERT INTO schema_migrations VALUES (1, 0)`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.Exec(`INSERT INTO users (username, password_hash, created_at) VALUES ('alice', 'h', ?)`, created.UnixMilli()); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO api_keys (id, name, name_key, digest, sealed, hint, scopes, created_at, created_by)
		VALUES ('key_v1', 'old', 'old', ?, x'00', 'gth_…abcd', '["*:read"]', ?, 'cli:test')`, make([]byte, 32), created.UnixMilli()); err != nil {
		t.Fatal(err)
	}
	db.Close()

	s := mustOpen(t, path)
	u, err := s.FindUserByName(context.Background(), "alice")
	if err != nil {
		t.Fatalf("FindUserByName after the upgrade = %v", err)
	}
	if !u.CreatedAt.Equal(created) || !u.SessionsAfter.Equal(created) {
		t.Errorf("after the upgrade CreatedAt = %v, SessionsAfter = %v; want both %v", u.CreatedAt, u.SessionsAfter, created)
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
