package keys_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"gatehouse"
	"gatehouse/keys"
	"gatehouse/sqlite"
)

func mustService(t *testing.T) *keys.Service {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "g.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	sealer, err := gatehouse.NewSealer(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	return &keys.Service{
		Store:      st,
		Sealer:     sealer,
		KnownScope: func(n string) bool { return n == "assets" },
	}
}

func TestCreateRevealRenewDelete(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	svc := mustService(t)
	until := time.Now().Add(time.Hour)
	k, secret, err := svc.Create(ctx, keys.CreateRequest{Name: "  ops  ", ValidUntil: &until, Scopes: []string{"assets:write"}}, "admin:alice")
	if err != nil {
		t.Fatal(err)
	}
	if k.Name != "ops" || k.Digest != secret.Digest() || k.Hint != secret.Hint() || !k.Scopes.WriteAccess() {
		t.Fatalf("created key = %+v, want trimmed name, digest and hint of the secret, write access", k)
	}
	got, err := svc.Reveal(ctx, k.ID, "admin:bob")
	if err != nil || got.Reveal() != secret.Reveal() {
		t.Fatalf("Reveal = %v, %v; want the created key", got, err)
	}
	if _, err := svc.Renew(ctx, k.ID, nil, nil, "admin:alice"); err != nil {
		t.Fatal(err)
	}
	d, err := svc.Details(ctx, k.ID)
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range d.Audit {
		actions = append(actions, e.Action+" by "+e.Actor)
	}
	if got, want := strings.Join(actions, ", "), "create by admin:alice, reveal by admin:bob, renew by admin:alice"; got != want {
		t.Errorf("audit = %q, want %q", got, want)
	}
	if err := svc.Delete(ctx, k.ID, "admin:alice"); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Resolve(ctx, "ops"); gatehouse.ErrorCode(err) != gatehouse.ENotFound {
		t.Errorf("Resolve after delete: %v, want not_found", err)
	}
}

func TestCreateDefaults(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	svc := mustService(t)
	r, _, err := svc.Create(ctx, keys.CreateRequest{Name: "reader"}, "t")
	if err != nil {
		t.Fatal(err)
	}
	w, _, err := svc.Create(ctx, keys.CreateRequest{Name: "writer", WriteAccess: true}, "t")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(r.Scopes.Strings(), ","); got != "*:read" {
		t.Errorf("default scopes = %s, want *:read", got)
	}
	if got := strings.Join(w.Scopes.Strings(), ","); got != "*:write" {
		t.Errorf("writeAccess scopes = %s, want *:write", got)
	}
}

func TestCreateRefusesBadInput(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	svc := mustService(t)
	past := time.Now().Add(-time.Minute)
	if _, _, err := svc.Create(ctx, keys.CreateRequest{Name: "Taken"}, "t"); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		req  keys.CreateRequest
		code string
	}{
		{"empty name", keys.CreateRequest{Name: "   "}, gatehouse.EInvalidRequest},
		{"long name", keys.CreateRequest{Name: strings.Repeat("é", 101)}, gatehouse.EInvalidRequest},
		{"control character", keys.CreateRequest{Name: "a\x00b"}, gatehouse.EInvalidRequest},
		{"past validUntil", keys.CreateRequest{Name: "p", ValidUntil: &past}, gatehouse.EInvalidRequest},
		{"unknown scope", keys.CreateRequest{Name: "u", Scopes: []string{"billing:read"}}, gatehouse.EUnknownScope},
		{"bad scope", keys.CreateRequest{Name: "b", Scopes: []string{"assets"}}, gatehouse.EInvalidRequest},
		{"bad rate", keys.CreateRequest{Name: "r", RateLimit: &gatehouse.RateLimit{Requests: 0, Per: time.Second}}, gatehouse.EInvalidRequest},
		{"name taken", keys.CreateRequest{Name: "tAKEN"}, gatehouse.ENameTaken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, _, err := svc.Create(ctx, tt.req, "t"); gatehouse.ErrorCode(err) != tt.code {
				t.Errorf("Create(%+v) error = %v, want %s", tt.req, err, tt.code)
			}
		})
	}
	if _, n, _ := svc.List(ctx, 0, 100); n != 1 {
		t.Errorf("keys after bad input = %d, want 1", n)
	}
	if _, _, err := svc.Create(ctx, keys.CreateRequest{Name: strings.Repeat("é", 100)}, "t"); err != nil {
		t.Errorf("100-character name: %v, want it accepted", err)
	}
}

func TestConcurrentCreatesOneName(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	svc := mustService(t)
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() { _, _, errs[i] = svc.Create(ctx, keys.CreateRequest{Name: "race"}, "t") })
	}
	wg.Wait()
	ok, taken := 0, 0
	for _, err := range errs {
		switch gatehouse.ErrorCode(err) {
		case "":
			ok++
		case gatehouse.ENameTaken:
			taken++
		default:
			t.Errorf("Create: %v", err)
		}
	}
	if ok != 1 || taken != len(errs)-1 {
		t.Errorf("%d created, %d name_taken; want 1 and %d", ok, taken, len(errs)-1)
	}
}

func TestMasterKeyFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "new", "dir", "secret.key")
	k1, err := keys.LoadMasterKey(path)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := keys.LoadMasterKey(path)
	if err != nil || string(k1) != string(k2) || len(k1) != 32 {
		t.Fatalf("second load = %x, %v; want the same 32 bytes", k2, err)
	}
	for p, want := range map[string]os.FileMode{path: 0o600, filepath.Dir(path): 0o700} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("mode of %s = %v, want %v", p, got, want)
		}
	}
	os.Chmod(path, 0o644)
	if _, err := keys.LoadMasterKey(path); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("world-readable key file: %v, want a refusal saying chmod 600", err)
	}
}
