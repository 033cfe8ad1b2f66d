package mgmtapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"gatehouse"
	"gatehouse/gatehousetest"
	"gatehouse/keyauth"
	"gatehouse/keyindex"
	"gatehouse/keys"
	"gatehouse/mgmtapi"
	"gatehouse/ratelimit"
)

// fuzzAPI is the management API on a real SQLite store, with an admin key
// and one key to renew.
type fuzzAPI struct {
	h            *mgmtapi.Handler
	svc          *keys.Service
	admin, keyID string
}

func newFuzzAPI(f *testing.F) *fuzzAPI {
	ctx := context.Background()
	st := gatehousetest.MustOpenSQLite(f)
	sealer, err := gatehouse.NewSealer(bytes.Repeat([]byte{9}, gatehouse.MasterKeyLen))
	if err != nil {
		f.Fatal(err)
	}
	idx := keyindex.New(st, keyindex.Options{MaxStale: time.Hour})
	if err := idx.Load(ctx); err != nil {
		f.Fatal(err)
	}
	svc := &keys.Service{Store: st, Sealer: sealer, KnownScope: func(n string) bool { return n == "assets" },
		Changed: func(ctx context.Context) { idx.Sync(ctx) }}
	_, admin, err := svc.Create(ctx, keys.CreateRequest{Name: "admin", Scopes: []string{"api-keys:write", "*:write"}}, keys.Admin("fuzz"))
	if err != nil {
		f.Fatal(err)
	}
	for i := range 25 {
		if _, _, err := svc.Create(ctx, keys.CreateRequest{Name: "k" + string(rune('a'+i))}, keys.Admin("fuzz")); err != nil {
			f.Fatal(err)
		}
	}
	k, _, err := svc.Create(ctx, keys.CreateRequest{Name: "renewed"}, keys.Admin("fuzz"))
	if err != nil {
		f.Fatal(err)
	}
	h := &mgmtapi.Handler{Keys: svc, Verifier: &keyauth.Verifier{Index: idx, Limiter: ratelimit.NewLocal()}}
	return &fuzzAPI{h: h, svc: svc, admin: admin.Reveal(), keyID: k.ID}
}

func (a *fuzzAPI) serve(method, target, contentType, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("X-API-Key", a.admin)
	w := httptest.NewRecorder()
	a.h.ServeHTTP(w, req)
	return w
}

// FuzzRenewBody posts arbitrary bodies to the renew call: no body makes it
// fail with a 5xx or lose the key; a 200 leaves the key unexpired with the
// validUntil it answered, and answers never hold a plain key.
func FuzzRenewBody(f *testing.F) {
	a := newFuzzAPI(f)
	f.Fuzz(func(t *testing.T, contentType, body string) {
		w := a.serve("POST", "/api/v2/api-keys/"+a.keyID+"/renew", contentType, body)
		if w.Code >= 500 {
			t.Fatalf("renew %q: %d %s", body, w.Code, w.Body)
		}
		if strings.Contains(w.Body.String(), "gth_") && !strings.Contains(w.Body.String(), "gth_…") {
			t.Fatalf("renew %q answered something key-shaped: %s", body, w.Body)
		}
		k, err := a.svc.Get(context.Background(), a.keyID)
		if err != nil {
			t.Fatalf("renew %q (%d) lost the key: %v", body, w.Code, err)
		}
		if w.Code != http.StatusOK {
			return
		}
		var got struct {
			ValidUntil *time.Time
			Expired    bool
		}
		if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
			t.Fatalf("renew %q: 200 with %s", body, w.Body)
		}
		if got.Expired || k.Expired(time.Now()) {
			t.Fatalf("renew %q: 200 and the key is expired", body)
		}
		if (got.ValidUntil == nil) != (k.ValidUntil == nil) || got.ValidUntil != nil && !got.ValidUntil.Equal(*k.ValidUntil) {
			t.Fatalf("renew %q: answered validUntil %v, stored %v", body, got.ValidUntil, k.ValidUntil)
		}
	})
}

// FuzzListQuery lists keys with arbitrary query strings: no 5xx, a 200 is
// a JSON array of at most 1000 keys without plain keys, and a 400 is the
// contract's error shape.
func FuzzListQuery(f *testing.F) {
	a := newFuzzAPI(f)
	f.Fuzz(func(t *testing.T, query string) {
		if strings.ContainsAny(query, " #\r\n\x00") || strings.ContainsFunc(query, func(r rune) bool { return r < 0x20 || r > 0x7e }) {
			return // not a query a request line can carry
		}
		w := a.serve("GET", "/api/v2/api-keys?"+query, "", "")
		switch {
		case w.Code >= 500:
			t.Fatalf("list ?%s: %d %s", query, w.Code, w.Body)
		case w.Code == http.StatusOK:
			var page []map[string]any
			if err := json.Unmarshal(w.Body.Bytes(), &page); err != nil || len(page) > 1000 {
				t.Fatalf("list ?%s: 200 with %d keys, %v", query, len(page), err)
			}
			for _, k := range page {
				if _, ok := k["key"]; ok {
					t.Fatalf("list ?%s holds a plain key", query)
				}
			}
		case w.Code == http.StatusBadRequest:
			var e struct{ Error struct{ Code string } }
			if json.Unmarshal(w.Body.Bytes(), &e); e.Error.Code != gatehouse.EInvalidRequest {
				t.Fatalf("list ?%s: 400 with %s", query, w.Body)
			}
		default:
			t.Fatalf("list ?%s: %d %s", query, w.Code, w.Body)
		}
	})
}

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
	a := newFuzzAPI(f)
	f.Fuzz(func(t *testing.T, body string) {
		w := a.serve("POST", "/api/v2/api-keys", "application/json", body)
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
