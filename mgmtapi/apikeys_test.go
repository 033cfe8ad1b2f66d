package mgmtapi_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"gatehouse"
	"gatehouse/keys"
	"gatehouse/mgmtapi"
)

var keyShape = regexp.MustCompile(`^gth_[0-9A-Za-z]{38}$`)

func TestCreate(t *testing.T) {
	t.Parallel()
	e := mustEnv(t, nil)
	until := e.clock.Now().Add(48 * time.Hour)
	k, r := e.create(fmt.Sprintf(`{"name": "  ops dashboard  ", "validUntil": %q, "scopes": ["assets:read", "data:write"], "rateLimit": {"requests": 5, "per": "1s"}}`, until.Format(time.RFC3339)))
	e.wantStatus(r, http.StatusCreated, "create")
	if !keyShape.MatchString(k.Key) || !gatehouse.WellFormed(k.Key) {
		t.Errorf("created key %q, want a well-formed gth_ key", k.Key)
	}
	if got, want := r.header.Get("Location"), "/api/v2/api-keys/"+k.ID; got != want {
		t.Errorf("Location = %q, want %q", got, want)
	}
	if !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
		t.Errorf("Content-Type = %q, want application/json", r.header.Get("Content-Type"))
	}
	if k.Name != "ops dashboard" || !k.WriteAccess || k.Expired || k.ValidUntil == nil || !k.ValidUntil.Equal(until) ||
		strings.Join(k.Scopes, ",") != "assets:read,data:write" || k.RateLimit == nil || k.RateLimit.Requests != 5 ||
		k.RateLimit.Per != "1s" || k.CreatedBy != "key:"+e.adminID || !k.CreatedAt.Equal(e.clock.Now()) || k.LastUsedAt != nil {
		t.Errorf("created = %+v, want the request's attributes, created by key:%s", k, e.adminID)
	}
	if want := gatehouse.KeyHint(k.Key); k.KeyHint != want {
		t.Errorf("keyHint = %q, want %q", k.KeyHint, want)
	}
	stored, err := e.svc.Get(context.Background(), k.ID)
	if err != nil {
		t.Fatalf("stored key: %v", err)
	}
	if s, _ := gatehouse.ParseSecret(k.Key); stored.Digest != s.Digest() {
		t.Errorf("stored digest is not the digest of the answered key")
	}
}

func TestCreateDefaults(t *testing.T) {
	t.Parallel()
	e := mustEnv(t, nil)
	tests := []struct {
		name, body, scopes string
		write              bool
	}{
		{"read", `{"name": "r"}`, "*:read", false},
		{"writeAccess", `{"name": "w", "writeAccess": true}`, "*:write", true},
		{"nulls", `{"name": "n", "validUntil": null, "scopes": null, "rateLimit": null}`, "*:read", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, r := e.create(tt.body)
			e.wantStatus(r, http.StatusCreated, tt.body)
			if got := strings.Join(k.Scopes, ","); got != tt.scopes || k.WriteAccess != tt.write || k.ValidUntil != nil || k.RateLimit != nil {
				t.Errorf("create %s = %+v, want scopes %s, writeAccess %v, no expiry, no rate limit", tt.body, k, tt.scopes, tt.write)
			}
		})
	}
}

func TestCreateRefusesBadInput(t *testing.T) {
	t.Parallel()
	e := mustEnv(t, func(h *mgmtapi.Handler) { h.MaxBodyBytes = 4096 })
	past := e.clock.Now().Add(-time.Second).Format(time.RFC3339)
	if _, r := e.create(`{"name": "Taken"}`); r.status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	deep := `{"name": "deep", "scopes": ` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}`
	tests := []struct {
		name, body, contentType string
		status                  int
		code                    string
		// msg, if set, must be in the error message.
		msg string
	}{
		{"empty name", `{"name": ""}`, "", 400, gatehouse.EInvalidRequest, "Name"},
		{"whitespace name", `{"name": " \t\n "}`, "", 400, gatehouse.EInvalidRequest, "Name"},
		{"no name", `{"writeAccess": true}`, "", 400, gatehouse.EInvalidRequest, "Name"},
		{"101 characters", `{"name": "` + strings.Repeat("é", 101) + `"}`, "", 400, gatehouse.EInvalidRequest, "100"},
		{"name taken, other case", `{"name": "tAKEN"}`, "", 409, gatehouse.ENameTaken, ""},
		{"name taken, padded", `{"name": "  Taken "}`, "", 409, gatehouse.ENameTaken, ""},
		{"unknown scope", `{"name": "u", "scopes": ["billing:read"]}`, "", 400, gatehouse.EUnknownScope, "billing"},
		{"malformed scope", `{"name": "m", "scopes": ["assets"]}`, "", 400, gatehouse.EInvalidRequest, ""},
		{"past validUntil", `{"name": "p", "validUntil": "` + past + `"}`, "", 400, gatehouse.EInvalidRequest, "past"},
		{"not RFC 3339", `{"name": "p", "validUntil": "2030-01-01"}`, "", 400, gatehouse.EInvalidRequest, "RFC 3339"},
		{"validUntil a number", `{"name": "p", "validUntil": 1893456000}`, "", 400, gatehouse.EInvalidRequest, `"validUntil"`},
		{"name a number", `{"name": 5}`, "", 400, gatehouse.EInvalidRequest, `"name"`},
		{"scopes a string", `{"name": "s", "scopes": "assets:read"}`, "", 400, gatehouse.EInvalidRequest, `"scopes"`},
		{"writeAccess a string", `{"name": "s", "writeAccess": "yes"}`, "", 400, gatehouse.EInvalidRequest, `"writeAccess"`},
		{"requests a string", `{"name": "s", "rateLimit": {"requests": "5", "per": "1s"}}`, "", 400, gatehouse.EInvalidRequest, `"rateLimit.requests"`},
		{"bad rate period", `{"name": "s", "rateLimit": {"requests": 5, "per": "often"}}`, "", 400, gatehouse.EInvalidRequest, "per"},
		{"zero rate", `{"name": "s", "rateLimit": {"requests": 0, "per": "1s"}}`, "", 400, gatehouse.EInvalidRequest, ""},
		{"unknown field", `{"name": "f", "owner": "bob"}`, "", 400, gatehouse.EInvalidRequest, `"owner"`},
		{"unknown nested field", `{"name": "f", "rateLimit": {"requests": 5, "per": "1s", "burst": 9}}`, "", 400, gatehouse.EInvalidRequest, `"burst"`},
		{"field in the wrong case", `{"NAME": "f"}`, "", 400, gatehouse.EInvalidRequest, `"NAME"`},
		{"duplicate field", `{"name": "a", "name": "b"}`, "", 400, gatehouse.EInvalidRequest, "more than once"},
		{"duplicate field, other case", `{"name": "a", "Name": "b"}`, "", 400, gatehouse.EInvalidRequest, ""},
		{"duplicate nested field", `{"name": "a", "rateLimit": {"requests": 5, "per": "1s", "requests": 500}}`, "", 400, gatehouse.EInvalidRequest, "more than once"},
		{"deep nesting", deep, "", 400, gatehouse.EInvalidRequest, "nested"},
		{"trailing data", `{"name": "t"} {"name": "u"}`, "", 400, gatehouse.EInvalidRequest, "after"},
		{"trailing garbage", `{"name": "t"}x`, "", 400, gatehouse.EInvalidRequest, ""},
		{"array", `[{"name": "t"}]`, "", 400, gatehouse.EInvalidRequest, "object"},
		{"null", `null`, "", 400, gatehouse.EInvalidRequest, "object"},
		{"invalid JSON", `{"name": "t",}`, "", 400, gatehouse.EInvalidRequest, "JSON"},
		{"truncated JSON", `{"name": "t"`, "", 400, gatehouse.EInvalidRequest, "JSON"},
		{"empty body", ` `, "", 400, gatehouse.EInvalidRequest, ""},
		{"oversized", `{"name": "` + strings.Repeat("x", 5000) + `"}`, "", 413, gatehouse.ETooLarge, ""},
		{"text/plain", `{"name": "c"}`, "text/plain", 415, gatehouse.EUnsupportedMedia, ""},
		{"form", `name=c`, "application/x-www-form-urlencoded", 415, gatehouse.EUnsupportedMedia, ""},
		{"latin-1", `{"name": "c"}`, "application/json; charset=iso-8859-1", 415, gatehouse.EUnsupportedMedia, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do(req{method: "POST", path: "/api/v2/api-keys", key: e.admin, body: tt.body, contentType: tt.contentType})
			msg := e.wantError(r, tt.status, tt.code, tt.name)
			if !strings.Contains(msg, tt.msg) {
				t.Errorf("%s: message %q does not say %s", tt.name, msg, tt.msg)
			}
		})
	}
	t.Run("no content type", func(t *testing.T) {
		hr, _ := http.NewRequest("POST", e.srv.URL+"/api/v2/api-keys", strings.NewReader(`{"name": "c"}`))
		hr.Header.Set("X-API-Key", e.admin)
		resp, err := e.srv.Client().Do(hr)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnsupportedMediaType {
			t.Errorf("no Content-Type: status %d, want 415", resp.StatusCode)
		}
	})
	if _, n, _ := e.svc.List(context.Background(), 0, 100); n != 2 {
		t.Errorf("keys after bad input = %d, want 2 (admin and Taken)", n)
	}
	if k, r := e.create(`{"name": "utf8", "validUntil": null}`); r.status != http.StatusCreated || k.Name != "utf8" {
		t.Errorf("charset-less good request after bad ones: %d %s", r.status, r.body)
	}
	r := e.do(req{method: "POST", path: "/api/v2/api-keys", key: e.admin, body: `{"name": "cs"}`, contentType: "application/json; charset=UTF-8"})
	e.wantStatus(r, http.StatusCreated, "charset=UTF-8")
}

func TestNames(t *testing.T) {
	t.Parallel()
	e := mustEnv(t, nil)
	emoji := strings.Repeat("🔑", 100)
	k, r := e.create(`{"name": "  ` + emoji + `  "}`)
	e.wantStatus(r, http.StatusCreated, "100 emoji")
	if k.Name != emoji {
		t.Errorf("name = %q, want the 100 emoji trimmed", k.Name)
	}
	_, r = e.create(`{"name": "` + emoji + `🔑"}`)
	e.wantError(r, 400, gatehouse.EInvalidRequest, "101 emoji")
	_, r = e.create(`{"name": "Café"}`)
	e.wantStatus(r, http.StatusCreated, "Café")
	_, r = e.create(`{"name": "CAFÉ"}`)
	e.wantError(r, http.StatusConflict, gatehouse.ENameTaken, "CAFÉ after Café")
}

func TestConcurrentCreatesOneName(t *testing.T) {
	t.Parallel()
	e := mustEnv(t, nil)
	var wg sync.WaitGroup
	statuses := make([]int, 2)
	for i := range statuses {
		wg.Go(func() {
			_, r := e.create(`{"name": "race"}`)
			statuses[i] = r.status
		})
	}
	wg.Wait()
	created, taken := 0, 0
	for _, s := range statuses {
		switch s {
		case http.StatusCreated:
			created++
		case http.StatusConflict:
			taken++
		}
	}
	if created != 1 || taken != 1 {
		t.Errorf("statuses = %v, want one 201 and one 409", statuses)
	}
}

func TestList(t *testing.T) {
	t.Parallel()
	e := mustEnv(t, nil)
	ctx := context.Background()
	for i := range 149 { // 150 keys with the admin key
		e.clock.Add(time.Millisecond)
		if _, _, err := e.svc.Create(ctx, keys.CreateRequest{Name: fmt.Sprintf("k%03d", i)}, keys.Admin("test")); err != nil {
			t.Fatal(err)
		}
	}
	list := func(query string) ([]apiKey, response) {
		t.Helper()
		r := e.do(req{method: "GET", path: "/api/v2/api-keys" + query, key: e.admin})
		var ks []apiKey
		if r.status == http.StatusOK {
			e.decode(r, &ks)
		}
		return ks, r
	}
	tests := []struct {
		query      string
		n          int
		first      string
		emptyArray bool
	}{
		{"", 100, "admin", false},
		{"?offset=0&size=100", 100, "admin", false},
		{"?size=1000", 150, "admin", false},
		{"?offset=1&size=2", 2, "k000", false},
		{"?offset=149", 1, "k148", false},
		{"?offset=150", 0, "", true},
		{"?offset=99999", 0, "", true},
	}
	for _, tt := range tests {
		ks, r := list(tt.query)
		e.wantStatus(r, http.StatusOK, "list "+tt.query)
		if len(ks) != tt.n || tt.n > 0 && ks[0].Name != tt.first {
			t.Errorf("list %s: %d keys, first %v; want %d, first %s", tt.query, len(ks), ks[:min(1, len(ks))], tt.n, tt.first)
		}
		if got := r.header.Get("X-Total-Count"); got != "150" {
			t.Errorf("list %s: X-Total-Count = %q, want 150", tt.query, got)
		}
		if tt.emptyArray && strings.TrimSpace(string(r.body)) != "[]" {
			t.Errorf("list %s: body %s, want []", tt.query, r.body)
		}
	}
	for _, q := range []string{"?size=0", "?size=1001", "?size=-1", "?size=ten", "?offset=-1", "?offset=1.5", "?size=1&size=2", "?offset=%zz"} {
		_, r := list(q)
		e.wantError(r, 400, gatehouse.EInvalidRequest, "list "+q)
	}
	// The trailing slash names the collection too.
	if ks, r := list("/?size=3"); r.status != http.StatusOK || len(ks) != 3 {
		t.Errorf("list with a trailing slash: %d, %d keys; want 200, 3 keys", r.status, len(ks))
	}
}

func TestListNDJSON(t *testing.T) {
	t.Parallel()
	e := mustEnv(t, nil)
	ctx := context.Background()
	for i := range 249 { // 250 keys: three store pages of 100
		e.clock.Add(time.Millisecond)
		if _, _, err := e.svc.Create(ctx, keys.CreateRequest{Name: fmt.Sprintf("k%03d", i)}, keys.Admin("test")); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		query, accept string
		n             int
		first, last   string
	}{
		{"?size=1000", "application/x-ndjson", 250, "admin", "k248"},
		{"?offset=10&size=205", "application/json;q=0.5, application/x-ndjson", 205, "k009", "k213"},
		{"", "application/x-ndjson", 100, "admin", "k098"},
		{"?offset=250", "application/x-ndjson", 0, "", ""},
	}
	for _, tt := range tests {
		r := e.do(req{method: "GET", path: "/api/v2/api-keys" + tt.query, key: e.admin, header: http.Header{"Accept": {tt.accept}}})
		e.wantStatus(r, http.StatusOK, "ndjson "+tt.query)
		if ct := r.header.Get("Content-Type"); ct != "application/x-ndjson" {
			t.Errorf("ndjson %s: Content-Type = %q", tt.query, ct)
		}
		if got := r.header.Get("X-Total-Count"); got != "250" {
			t.Errorf("ndjson %s: X-Total-Count = %q, want 250", tt.query, got)
		}
		var names []string
		sc := bufio.NewScanner(bytes.NewReader(r.body))
		for sc.Scan() {
			var k apiKey
			if err := json.Unmarshal(sc.Bytes(), &k); err != nil || k.ID == "" {
				t.Fatalf("ndjson %s: line %q: %v", tt.query, sc.Text(), err)
			}
			names = append(names, k.Name)
		}
		if len(names) != tt.n || tt.n > 0 && (names[0] != tt.first || names[len(names)-1] != tt.last) {
			t.Errorf("ndjson %s: %d lines; want %d from %s to %s", tt.query, len(names), tt.n, tt.first, tt.last)
		}
	}
	// q=0 refuses NDJSON: the answer is a JSON array.
	r := e.do(req{method: "GET", path: "/api/v2/api-keys?size=2", key: e.admin, header: http.Header{"Accept": {"application/x-ndjson;q=0, application/json"}}})
	if !bytes.HasPrefix(r.body, []byte("[")) {
		t.Errorf("Accept with ndjson;q=0: body %.40s, want a JSON array", r.body)
	}
}

func TestGet(t *testing.T) {
	t.Parallel()
	e := mustEnv(t, nil)
	k, _ := e.create(`{"name": "one", "scopes": ["assets:write"]}`)
	r := e.do(req{method: "GET", path: "/api/v2/api-keys/" + k.ID, key: e.admin})
	e.wantStatus(r, http.StatusOK, "get")
	var got apiKey
	e.decode(r, &got)
	if got.ID != k.ID || got.Name != "one" || got.Key != "" || !got.WriteAccess {
		t.Errorf("get = %+v, want key %s without its plain key", got, k.ID)
	}
	for _, id := range []string{"key_doesnotexist00000", strings.Repeat("k", 101), "key_%2e%2e", "key%2Fx", "k;x"} {
		r := e.do(req{method: "GET", path: "/api/v2/api-keys/" + id, key: e.admin})
		e.wantError(r, http.StatusNotFound, gatehouse.ENotFound, "get "+id)
	}
}

func TestRevealAndDetails(t *testing.T) {
	t.Parallel()
	e := mustEnv(t, nil)
	k, _ := e.create(`{"name": "copy me"}`)
	for _, body := range []string{"", "{}"} {
		r := e.do(req{method: "POST", path: "/api/v2/api-keys/" + k.ID + "/reveal", key: e.admin, body: body})
		e.wantStatus(r, http.StatusOK, "reveal")
		var got map[string]string
		e.decode(r, &got)
		if len(got) != 1 || got["key"] != k.Key {
			t.Errorf("reveal = %v, want {key: the created key}", got)
		}
	}
	r := e.do(req{method: "POST", path: "/api/v2/api-keys/" + k.ID + "/reveal", key: e.admin, body: `{"why": "x"}`})
	e.wantError(r, 400, gatehouse.EInvalidRequest, "reveal with an unknown field")
	r = e.do(req{method: "POST", path: "/api/v2/api-keys/key_nope/reveal", key: e.admin})
	e.wantError(r, 404, gatehouse.ENotFound, "reveal unknown")

	r = e.do(req{method: "GET", path: "/api/v2/api-keys/" + k.ID + "/details", key: e.admin})
	e.wantStatus(r, http.StatusOK, "details")
	var d struct {
		Audit []struct {
			Action, Actor string
			At            time.Time
		}
		Usage    []struct{ Count int64 }
		Requests *int64
	}
	e.decode(r, &d)
	var log []string
	for _, a := range d.Audit {
		log = append(log, a.Action+" by "+a.Actor)
	}
	actor := "key:" + e.adminID
	if got, want := strings.Join(log, ", "), "create by "+actor+", reveal by "+actor+", reveal by "+actor; got != want {
		t.Errorf("audit = %q, want %q", got, want)
	}
	if d.Usage == nil || d.Requests == nil {
		t.Errorf("details %s: want usage as an array and requests", r.body)
	}
	if bytes.Contains(r.body, []byte(k.Key)) {
		t.Errorf("details hold the plain key")
	}
	r = e.do(req{method: "GET", path: "/api/v2/api-keys/key_nope/details", key: e.admin})
	e.wantError(r, 404, gatehouse.ENotFound, "details of an unknown key")
}

func TestRenew(t *testing.T) {
	t.Parallel()
	e := mustEnv(t, nil)
	now := e.clock.Now()
	soon := now.Add(time.Hour).Format(time.RFC3339)
	k, _ := e.create(`{"name": "reader", "scopes": ["api-keys:read"], "validUntil": "` + soon + `", "rateLimit": {"requests": 9, "per": "1m"}}`)
	renew := func(body string) response {
		return e.do(req{method: "POST", path: "/api/v2/api-keys/" + k.ID + "/renew", key: e.admin, body: body})
	}
	get := func() response { return e.do(req{method: "GET", path: "/api/v2/api-keys", key: k.Key}) }
	e.wantStatus(get(), http.StatusOK, "list with a fresh read key")

	e.clock.Add(2 * time.Hour)
	e.wantError(get(), http.StatusUnauthorized, gatehouse.EKeyExpired, "list with an expired key")
	r := e.do(req{method: "GET", path: "/api/v2/api-keys/" + k.ID, key: e.admin})
	var got apiKey
	e.decode(r, &got)
	if !got.Expired {
		t.Errorf("expired key shows expired = false")
	}

	bad := []struct{ name, body string }{
		{"past", `{"validUntil": "` + now.Format(time.RFC3339) + `"}`},
		{"missing validUntil", `{}`},
		{"only rateLimit", `{"rateLimit": null}`},
		{"not a time", `{"validUntil": "tomorrow"}`},
		{"unknown field", `{"validUntil": null, "name": "x"}`},
		{"duplicate validUntil", `{"validUntil": null, "validUntil": null}`},
		{"bad rate limit", `{"validUntil": null, "rateLimit": {"requests": -1, "per": "1s"}}`},
	}
	for _, tt := range bad {
		e.wantError(renew(tt.body), 400, gatehouse.EInvalidRequest, "renew "+tt.name)
	}
	e.wantError(e.do(req{method: "POST", path: "/api/v2/api-keys/" + k.ID + "/renew", key: e.admin, body: `{"validUntil": null}`, contentType: "text/plain"}),
		415, gatehouse.EUnsupportedMedia, "renew as text/plain")

	later := e.clock.Now().Add(24 * time.Hour)
	r = renew(`{"validUntil": "` + later.Format(time.RFC3339) + `"}`)
	e.wantStatus(r, http.StatusOK, "renew")
	e.decode(r, &got)
	if got.Expired || got.ValidUntil == nil || !got.ValidUntil.Equal(later) || got.RateLimit == nil || got.RateLimit.Requests != 9 || got.Key != "" {
		t.Errorf("renewed = %+v, want validUntil %v, rate limit kept, no plain key", got, later)
	}
	e.wantStatus(get(), http.StatusOK, "list with the renewed key")

	r = renew(`{"validUntil": null, "rateLimit": null}`)
	e.wantStatus(r, http.StatusOK, "renew without expiry")
	got = apiKey{}
	e.decode(r, &got)
	if got.ValidUntil != nil || got.RateLimit != nil || got.Expired {
		t.Errorf("renewed with nulls = %+v, want no expiry and no rate limit", got)
	}
	r = renew(`{"validUntil": null, "rateLimit": {"requests": 3, "per": "1s"}}`)
	e.decode(r, &got)
	if got.RateLimit == nil || got.RateLimit.Requests != 3 || got.RateLimit.Per != "1s" {
		t.Errorf("renewed with a rate limit = %+v, want 3/1s", got.RateLimit)
	}
	e.wantError(e.do(req{method: "POST", path: "/api/v2/api-keys/key_nope/renew", key: e.admin, body: `{"validUntil": null}`}),
		404, gatehouse.ENotFound, "renew unknown")
}

func TestDelete(t *testing.T) {
	t.Parallel()
	e := mustEnv(t, nil)
	k, _ := e.create(`{"name": "doomed", "scopes": ["api-keys:read"]}`)
	path := "/api/v2/api-keys/" + k.ID
	e.wantStatus(e.do(req{method: "GET", path: path, key: k.Key}), http.StatusOK, "get with the key itself")
	r := e.do(req{method: "DELETE", path: path, key: e.admin})
	e.wantStatus(r, http.StatusNoContent, "delete")
	if len(r.body) != 0 {
		t.Errorf("delete body = %q, want none", r.body)
	}
	e.wantError(e.do(req{method: "GET", path: path, key: e.admin}), 404, gatehouse.ENotFound, "get after delete")
	e.wantError(e.do(req{method: "DELETE", path: path, key: e.admin}), 404, gatehouse.ENotFound, "delete again")
	e.wantError(e.do(req{method: "GET", path: "/api/v2/api-keys", key: k.Key}), 401, gatehouse.EInvalidKey, "the deleted key")
}

func TestPlainKeyOnlyInCreateAndReveal(t *testing.T) {
	t.Parallel()
	e := mustEnv(t, nil)
	k, _ := e.create(`{"name": "secret"}`)
	plain := []byte(k.Key)
	for _, r := range []req{
		{method: "GET", path: "/api/v2/api-keys"},
		{method: "GET", path: "/api/v2/api-keys", header: http.Header{"Accept": {"application/x-ndjson"}}},
		{method: "GET", path: "/api/v2/api-keys/" + k.ID},
		{method: "GET", path: "/api/v2/api-keys/" + k.ID + "/details"},
		{method: "POST", path: "/api/v2/api-keys/" + k.ID + "/renew", body: `{"validUntil": null}`},
		{method: "POST", path: "/api/v2/api-keys", body: `{"name": "secret"}`},
		{method: "PUT", path: "/api/v2/api-keys/" + k.ID},
		{method: "DELETE", path: "/api/v2/api-keys/" + k.ID},
	} {
		r.key = e.admin
		resp := e.do(r)
		if resp.status >= 500 || bytes.Contains(resp.body, plain) || bytes.Contains(resp.body, []byte(e.admin)) {
			t.Errorf("%s %s: %d %s, want no plain key", r.method, r.path, resp.status, resp.body)
		}
		for name, vs := range resp.header {
			if strings.Contains(strings.Join(vs, " "), k.Key) {
				t.Errorf("%s %s: header %s holds the plain key", r.method, r.path, name)
			}
		}
	}
}
