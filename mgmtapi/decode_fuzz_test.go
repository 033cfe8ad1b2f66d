package mgmtapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gatehouse"
	"gatehouse/keyauth"
	"gatehouse/keyindex"
	"gatehouse/keys"
	"gatehouse/mgmtapi"
	"gatehouse/ratelimit"
	"gatehouse/sqlite"
)

// FuzzCreateBody posts arbitrary bodies to POST /api/v2/api-keys through
// the real handler on a real store: no body makes it fail with a 5xx, and
// every 201 holds a well-formed key under a valid name.
func FuzzCreateBody(f *testing.F) {
	for _, s := range []string{
		`{"name":"a"}`, `{"name":"a","name":"b"}`, `{"name":"a","Name":"b"}`, `{"name":"x","scopes":["assets:read"],"writeAccess":true}`,
		`{"name":"x","validUntil":"2999-01-01T00:00:00Z","rateLimit":{"requests":5,"per":"1s"}}`, `{"name":"x","rateLimit":{"requests":5,"per":"1s","per":"2s"}}`,
		`[` + strings.Repeat(`[`, 100), `{"name":"\u0000"}`, `{"name":1}`, `{} {}`, `{"name":"x","extra":1}`, `null`,
	} {
		f.Add(s)
	}
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(f.TempDir(), "g.db"))
	if err != nil {
		f.Fatal(err)
	}
	defer st.Close()
	sealer, _ := gatehouse.NewSealer(bytes.Repeat([]byte{7}, gatehouse.MasterKeyLen))
	idx := keyindex.New(st, keyindex.Options{MaxStale: time.Hour})
	if err := idx.Load(ctx); err != nil {
		f.Fatal(err)
	}
	svc := &keys.Service{Store: st, Sealer: sealer, KnownScope: func(n string) bool { return n == "assets" },
		Changed: func(ctx context.Context) { idx.Sync(ctx) }}
	_, admin, err := svc.Create(ctx, keys.CreateRequest{Name: "admin", Scopes: []string{"api-keys:write"}}, "fuzz")
	if err != nil {
		f.Fatal(err)
	}
	h := &mgmtapi.Handler{Keys: svc, Verifier: &keyauth.Verifier{Index: idx, Limiter: ratelimit.NewLocal()}}
	f.Fuzz(func(t *testing.T, body string) {
		req := httptest.NewRequest("POST", "/api/v2/api-keys", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-API-Key", admin.Reveal())
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code >= 500 {
			t.Fatalf("POST %q = %d %s", body, w.Code, w.Body)
		}
		if w.Code == http.StatusCreated {
			var got struct{ Key, Name string }
			if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil || !gatehouse.WellFormed(got.Key) {
				t.Fatalf("POST %q = 201 with body %s: want a well-formed key", body, w.Body)
			}
			if _, err := gatehouse.NormalizeName(got.Name); err != nil || got.Name != strings.TrimSpace(got.Name) {
				t.Fatalf("POST %q = 201 with name %q", body, got.Name)
			}
		}
	})
}
