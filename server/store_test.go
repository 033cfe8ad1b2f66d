package server_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"gatehouse"
	"gatehouse/config"
	"gatehouse/gatehousetest"
	"gatehouse/gatehousetest/gatewaytest"
	"gatehouse/keys"
	"gatehouse/server"
)

// openLogged opens a server on cfg and returns its log so far; it closes
// the server when the test ends.
func openLogged(t *testing.T, cfg *config.Config) (*server.Server, string, error) {
	t.Helper()
	var log gatehousetest.LogBuffer
	s, err := server.Open(context.Background(), cfg, server.Options{Logger: slog.New(slog.NewTextHandler(&log, nil))})
	if s != nil {
		t.Cleanup(func() { s.Close() })
	}
	return s, log.String(), err
}

// shortFingerprint returns the short fingerprint of the master key in the
// file at path.
func shortFingerprint(t *testing.T, path string) string {
	t.Helper()
	master, err := keys.LoadMasterKey(path)
	if err != nil {
		t.Fatal(err)
	}
	return keys.ShortFingerprint(keys.Fingerprint(master))
}

// wantMismatch fails t unless err is ErrMasterKeyMismatch on one line that
// says each of want.
func wantMismatch(t *testing.T, what string, err error, want ...string) {
	t.Helper()
	if !errors.Is(err, server.ErrMasterKeyMismatch) {
		t.Fatalf("%s = %v, want ErrMasterKeyMismatch", what, err)
	}
	msg := err.Error()
	t.Logf("%s: %s", what, msg)
	if strings.Contains(msg, "\n") {
		t.Errorf("%s: %q is more than one line", what, msg)
	}
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Errorf("%s = %q, want it to say %q", what, msg, w)
		}
	}
}

// TestMasterKeyMismatch: nodes with the same master key file share a
// store; a node with another key file does not start, and says which key
// it has and which the store's keys are sealed under.
func TestMasterKeyMismatch(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"sqlite", "postgres"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			up := gatehousetest.NewUpstream(t, nil)
			cfgA := gatewaytest.Config(t, up.URL, func(c *config.Config) {
				if name == "postgres" {
					c.Storage = gatehousetest.MustPostgresSchema(t)
				}
			})
			storage := cfgA.Storage
			cfgB := *cfgA

			a, log, err := openLogged(t, cfgA)
			if err != nil {
				t.Fatalf("first node: %v", err)
			}
			fp := shortFingerprint(t, cfgA.SecretKeyFile)
			if !strings.Contains(log, "created a new master key") || !strings.Contains(log, fp) {
				t.Errorf("first node's log %q, want it to say it created a new master key with fingerprint %s", log, fp)
			}
			k, _, err := a.Keys().Create(context.Background(), keys.CreateRequest{Name: "shared", Scopes: []string{"assets:read"}}, keys.Admin("test"))
			if err != nil {
				t.Fatal(err)
			}

			b, log, err := openLogged(t, &cfgB)
			if err != nil {
				t.Fatalf("second node, same key file: %v", err)
			}
			if strings.Contains(log, "created") || !strings.Contains(log, "loaded the master key") {
				t.Errorf("second node's log %q, want it to say it loaded the master key", log)
			}
			if _, err := b.Keys().Reveal(context.Background(), k.ID, keys.Admin("test")); err != nil {
				t.Errorf("reveal on the second node of a key created on the first = %v", err)
			}

			cfgC := gatewaytest.Config(t, up.URL, func(c *config.Config) { c.Storage = storage }) // its own secret_key_file
			if _, _, err := openLogged(t, cfgC); err == nil {
				t.Fatal("third node, another key file: started, want ErrMasterKeyMismatch")
			} else {
				wantMismatch(t, "third node, another key file", err,
					cfgC.SecretKeyFile, shortFingerprint(t, cfgC.SecretKeyFile), "created now", fp)
			}
			// Once more, now that the file exists.
			_, _, err = openLogged(t, cfgC)
			wantMismatch(t, "third node again", err, shortFingerprint(t, cfgC.SecretKeyFile), fp)
			if err != nil && strings.Contains(err.Error(), "created now") {
				t.Errorf("third node again = %q, want no mention of a created file", err)
			}
		})
	}
}

// TestMasterKeyUpgrade: a store from before fingerprints, whose keys are
// sealed under key A, refuses a node with key B and records nothing; a
// node with key A records A's fingerprint, after which B is refused as in
// any cluster.
func TestMasterKeyUpgrade(t *testing.T) {
	t.Parallel()
	up := gatehousetest.NewUpstream(t, nil)
	cfgA := gatewaytest.Config(t, up.URL, nil)
	cfgB := gatewaytest.Config(t, up.URL, func(c *config.Config) { c.Storage = cfgA.Storage })
	ctx := context.Background()

	// Keys sealed under A, as a version without fingerprints left them.
	masterA, err := keys.LoadMasterKey(cfgA.SecretKeyFile)
	if err != nil {
		t.Fatal(err)
	}
	sealer, err := gatehouse.NewSealer(masterA)
	if err != nil {
		t.Fatal(err)
	}
	path, _ := cfgA.SQLitePath()
	st := gatehousetest.MustOpenSQLiteAt(t, path)
	now := time.Now().Add(-time.Hour)
	old := &keys.Service{Store: st, Sealer: sealer, Now: func() time.Time { return now }}
	first, _, err := old.Create(ctx, keys.CreateRequest{Name: "first"}, keys.Admin("test"))
	if err != nil {
		t.Fatal(err)
	}
	now = now.Add(time.Second) // the oldest key, which a node's key must open, is first
	if _, _, err := old.Create(ctx, keys.CreateRequest{Name: "second"}, keys.Admin("test")); err != nil {
		t.Fatal(err)
	}
	fingerprint := func() string {
		t.Helper()
		fp, err := st.MasterKeyFingerprint(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return fp
	}
	if fp := fingerprint(); fp != "" {
		t.Fatalf("fingerprint before any node started = %q, want none", fp)
	}

	_, _, err = openLogged(t, cfgB)
	wantMismatch(t, "key B on keys sealed under A", err, cfgB.SecretKeyFile, shortFingerprint(t, cfgB.SecretKeyFile), first.ID)
	if fp := fingerprint(); fp != "" {
		t.Fatalf("fingerprint after key B was refused = %.16s, want none", fp)
	}

	a, log, err := openLogged(t, cfgA)
	if err != nil {
		t.Fatalf("key A on keys sealed under A: %v", err)
	}
	if !strings.Contains(log, "records this master key's fingerprint now") {
		t.Errorf("log %q, want it to say that the fingerprint is recorded now", log)
	}
	if got, want := fingerprint(), keys.Fingerprint(masterA); got != want {
		t.Errorf("fingerprint after key A started = %.16s, want A's %.16s", got, want)
	}
	if _, err := a.Keys().Reveal(ctx, first.ID, keys.Admin("test")); err != nil {
		t.Errorf("reveal of an old key with key A = %v", err)
	}

	_, _, err = openLogged(t, cfgB)
	wantMismatch(t, "key B after A was recorded", err, shortFingerprint(t, cfgB.SecretKeyFile), shortFingerprint(t, cfgA.SecretKeyFile))
}
