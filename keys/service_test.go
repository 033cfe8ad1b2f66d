package keys_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"gatehouse"
	"gatehouse/gatehousetest"
	"gatehouse/keys"
)

func mustService(t *testing.T) *keys.Service {
	t.Helper()
	st := gatehousetest.MustOpenSQLite(t)
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
	k, secret, err := svc.Create(ctx, keys.CreateRequest{Name: "  ops  ", ValidUntil: &until, Scopes: []string{"assets:write"}}, keys.Admin("admin:alice"))
	if err != nil {
		t.Fatal(err)
	}
	if k.Name != "ops" || k.Digest != secret.Digest() || k.Hint != secret.Hint() || !k.Scopes.WriteAccess() {
		t.Fatalf("created key = %+v, want trimmed name, digest and hint of the secret, write access", k)
	}
	got, err := svc.Reveal(ctx, k.ID, keys.Admin("admin:bob"))
	if err != nil || got.Reveal() != secret.Reveal() {
		t.Fatalf("Reveal = %v, %v; want the created key", got, err)
	}
	if _, err := svc.Renew(ctx, k.ID, nil, nil, keys.Admin("admin:alice")); err != nil {
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
	if err := svc.Delete(ctx, k.ID, keys.Admin("admin:alice")); err != nil {
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
	r, _, err := svc.Create(ctx, keys.CreateRequest{Name: "reader"}, keys.Admin("t"))
	if err != nil {
		t.Fatal(err)
	}
	w, _, err := svc.Create(ctx, keys.CreateRequest{Name: "writer", WriteAccess: true}, keys.Admin("t"))
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
	if _, _, err := svc.Create(ctx, keys.CreateRequest{Name: "Taken"}, keys.Admin("t")); err != nil {
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
			if _, _, err := svc.Create(ctx, tt.req, keys.Admin("t")); gatehouse.ErrorCode(err) != tt.code {
				t.Errorf("Create(%+v) error = %v, want %s", tt.req, err, tt.code)
			}
		})
	}
	if _, n, _ := svc.List(ctx, 0, 100); n != 1 {
		t.Errorf("keys after bad input = %d, want 1", n)
	}
	if _, _, err := svc.Create(ctx, keys.CreateRequest{Name: strings.Repeat("é", 100)}, keys.Admin("t")); err != nil {
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
		wg.Go(func() { _, _, errs[i] = svc.Create(ctx, keys.CreateRequest{Name: "race"}, keys.Admin("t")) })
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

// TestKeyCallerBound: a key changes only keys whose scopes are all within
// its own; an administrator any key; the zero Caller none.
func TestKeyCallerBound(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	svc := mustService(t)
	admin := keys.Admin("admin:alice")
	create := func(c keys.Caller, name string, scopes ...string) (*gatehouse.APIKey, error) {
		k, _, err := svc.Create(ctx, keys.CreateRequest{Name: name, Scopes: scopes}, c)
		return k, err
	}
	root, err := create(admin, "root", "api-keys:write", "*:write")
	if err != nil {
		t.Fatal(err)
	}
	limited, err := create(admin, "limited", "api-keys:write", "assets:read")
	if err != nil {
		t.Fatal(err)
	}
	bounded := keys.KeyCaller(limited)

	for i, scopes := range [][]string{{"*:write"}, {"*:read"}, nil, {"assets:write"}, {"api-keys:write", "*:write"}} {
		if _, err := create(bounded, fmt.Sprint("refused ", i), scopes...); gatehouse.ErrorCode(err) != gatehouse.EInsufficientScope {
			t.Errorf("key creates %v: %v, want insufficient_scope", scopes, err)
		}
	}
	if _, err := svc.Reveal(ctx, root.ID, bounded); gatehouse.ErrorCode(err) != gatehouse.EInsufficientScope {
		t.Errorf("key reveals root: %v, want insufficient_scope", err)
	}
	until := time.Now().Add(time.Hour)
	if _, err := svc.Renew(ctx, root.ID, &until, nil, bounded); gatehouse.ErrorCode(err) != gatehouse.EInsufficientScope {
		t.Errorf("key renews root: %v, want insufficient_scope", err)
	}
	if err := svc.Delete(ctx, root.ID, bounded); gatehouse.ErrorCode(err) != gatehouse.EInsufficientScope {
		t.Errorf("key deletes root: %v, want insufficient_scope", err)
	}
	if err := svc.Delete(ctx, "key_doesnotexist00000", bounded); gatehouse.ErrorCode(err) != gatehouse.ENotFound {
		t.Errorf("key deletes an unknown key: %v, want not_found", err)
	}
	if k, err := svc.Get(ctx, root.ID); err != nil || k.ValidUntil != nil {
		t.Errorf("root after refused changes = %+v, %v; want it unchanged", k, err)
	}
	if d, err := svc.Details(ctx, root.ID); err != nil || len(d.Audit) != 1 {
		t.Errorf("audit of root after refused changes = %+v, %v; want its creation only", d, err)
	}

	child, err := create(bounded, "child", "assets:read")
	if err != nil || child.CreatedBy != "key:"+limited.ID {
		t.Fatalf("key creates assets:read = %+v, %v; want it, created by key:%s", child, err, limited.ID)
	}
	if _, err := svc.Reveal(ctx, child.ID, bounded); err != nil {
		t.Errorf("key reveals its child: %v", err)
	}
	if _, err := svc.Renew(ctx, child.ID, &until, nil, bounded); err != nil {
		t.Errorf("key renews its child: %v", err)
	}

	var zero keys.Caller
	if _, err := create(zero, "zero", "assets:read"); gatehouse.ErrorCode(err) != gatehouse.EInsufficientScope {
		t.Errorf("zero Caller creates: %v, want insufficient_scope", err)
	}
	if _, err := svc.Reveal(ctx, child.ID, zero); gatehouse.ErrorCode(err) != gatehouse.EInsufficientScope {
		t.Errorf("zero Caller reveals: %v, want insufficient_scope", err)
	}

	if err := svc.Delete(ctx, child.ID, bounded); err != nil {
		t.Errorf("key deletes its child: %v", err)
	}
	if _, err := svc.Reveal(ctx, root.ID, admin); err != nil {
		t.Errorf("administrator reveals root: %v", err)
	}
	if err := svc.Delete(ctx, root.ID, admin); err != nil {
		t.Errorf("administrator deletes root: %v", err)
	}
}
