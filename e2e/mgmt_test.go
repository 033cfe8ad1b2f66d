package e2e_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"gatehouse"
	"gatehouse/keys"
)

// TestManagementAPIAbuse: hostile bodies, names, content types, ids and
// page parameters get the contract's answers; odd names are stored and
// listed verbatim.
func TestManagementAPIAbuse(t *testing.T) {
	t.Parallel()
	g := startGateway(t, nil)
	_, admin := g.key(t, "admin", "api-keys:write", "*:write")
	_, reader := g.key(t, "admin-reader", "api-keys:read")
	_, star := g.key(t, "star", "*:write")
	post := func(key, contentType, body string) reply {
		return g.one(t, withBody("POST", "/api/v2/api-keys", contentType, body, apiKey(key)))
	}
	const js = "application/json"
	nested := func(n int) string {
		return `{"name":"deep","scopes":` + strings.Repeat("[", n) + strings.Repeat("]", n) + `}`
	}
	tests := []struct {
		name, key, contentType, body string
		status                       int
		code                         string
	}{
		{"no key", "", js, `{"name":"a"}`, 401, "missing_key"},
		{"read-only admin key", reader, js, `{"name":"a"}`, 403, "insufficient_scope"},
		{"star key", star, js, `{"name":"a"}`, 403, "insufficient_scope"},
		{"charset utf-8", admin, "application/json; charset=utf-8", `{"name":"charset"}`, 201, ""},
		{"content type in capitals", admin, "Application/JSON", `{"name":"capitals"}`, 201, ""},
		{"charset latin1", admin, "application/json; charset=latin1", `{"name":"latin1"}`, 415, ""},
		{"no content type", admin, "", `{"name":"none"}`, 415, ""},
		{"text/plain", admin, "text/plain", `{"name":"text"}`, 415, ""},
		{"form", admin, "application/x-www-form-urlencoded", `name=form`, 415, ""},
		{"multipart", admin, "multipart/form-data; boundary=x", "--x\r\n\r\n--x--", 415, ""},
		{"json-patch", admin, "application/json-patch+json", `{"name":"patch"}`, 415, ""},
		{"empty body", admin, js, ``, 400, "invalid_request"},
		{"null", admin, js, `null`, 400, "invalid_request"},
		{"array", admin, js, `[{"name":"a"}]`, 400, "invalid_request"},
		{"string", admin, js, `"a"`, 400, "invalid_request"},
		{"two objects", admin, js, `{"name":"a1"}{"name":"a2"}`, 400, "invalid_request"},
		{"duplicate field", admin, js, `{"name":"d1","name":"d2"}`, 400, "invalid_request"},
		{"duplicate field in another case", admin, js, `{"name":"d1","Name":"d2"}`, 400, "invalid_request"},
		{"unknown field", admin, js, `{"name":"u","admin":true}`, 400, "invalid_request"},
		{"unknown nested field", admin, js, `{"name":"u","rateLimit":{"requests":1,"per":"1s","burst":9}}`, 400, "invalid_request"},
		{"byte order mark", admin, js, "\ufeff{\"name\":\"bom\"}", 400, "invalid_request"},
		{"invalid UTF-8", admin, js, "{\"name\":\"a\xff\xfeb\"}", 400, "invalid_request"},
		{"NUL in the name", admin, js, `{"name":"a\u0000b"}`, 400, "invalid_request"},
		{"newline in the name", admin, js, `{"name":"a\nX-Injected: 1"}`, 400, "invalid_request"},
		{"blank name", admin, js, `{"name":" \t "}`, 400, "invalid_request"},
		{"name as a number", admin, js, `{"name":1}`, 400, "invalid_request"},
		{"101 characters", admin, js, `{"name":"` + strings.Repeat("é", 101) + `"}`, 400, "invalid_request"},
		{"100 characters", admin, js, `{"name":"` + strings.Repeat("é", 100) + `"}`, 201, ""},
		{"100 four-byte characters", admin, js, `{"name":"` + strings.Repeat("𝄞", 100) + `"}`, 201, ""},
		{"huge name under the body limit", admin, js, `{"name":"` + strings.Repeat("n", 60<<10) + `"}`, 400, "invalid_request"},
		{"body over the limit", admin, js, `{"name":"` + strings.Repeat("n", 1<<20) + `"}`, 413, ""},
		{"deeply nested", admin, js, nested(10000), 400, "invalid_request"},
		{"nested objects", admin, js, strings.Repeat(`{"name":`, 5000) + `"x"` + strings.Repeat(`}`, 5000), 400, "invalid_request"},
		{"huge number", admin, js, `{"name":"big","rateLimit":{"requests":1e400,"per":"1s"}}`, 400, "invalid_request"},
		{"negative rate", admin, js, `{"name":"neg","rateLimit":{"requests":-1,"per":"1s"}}`, 400, "invalid_request"},
		{"zero period", admin, js, `{"name":"zero","rateLimit":{"requests":5,"per":"0s"}}`, 400, "invalid_request"},
		{"past validUntil", admin, js, `{"name":"past","validUntil":"2001-01-01T00:00:00Z"}`, 400, "invalid_request"},
		{"bad validUntil", admin, js, `{"name":"bad","validUntil":"tomorrow"}`, 400, "invalid_request"},
		{"year 10000", admin, js, `{"name":"y10k","validUntil":"10000-01-01T00:00:00Z"}`, 400, "invalid_request"},
		{"unknown scope", admin, js, `{"name":"s","scopes":["billing:read"]}`, 400, "unknown_scope"},
		{"bad scope access", admin, js, `{"name":"s","scopes":["assets:admin"]}`, 400, ""},
		{"scope with SQL", admin, js, `{"name":"s","scopes":["assets:read' OR '1'='1"]}`, 400, ""},
		{"3,000 scopes", admin, js, `{"name":"many","scopes":[` + strings.Repeat(`"assets:read",`, 2999) + `"assets:read"]}`, 0, ""},
	}
	for _, tt := range tests {
		var got reply
		if tt.key == "" {
			got = g.one(t, withBody("POST", "/api/v2/api-keys", tt.contentType, tt.body))
		} else {
			got = post(tt.key, tt.contentType, tt.body)
		}
		if got.Status == 201 {
			var k struct{ Key string }
			json.Unmarshal([]byte(got.Body), &k)
			g.RememberSecret(k.Key)
		}
		if tt.status == 0 { // any 2xx or 4xx, as long as the gateway stands
			if got.Status == 0 || got.Status >= 500 {
				t.Errorf("%s: %v", tt.name, got)
			}
			t.Logf("%s: %v", tt.name, got)
			continue
		}
		if got.Status != tt.status || tt.code != "" && got.code() != tt.code {
			t.Errorf("%s: %v, want %d %s", tt.name, got, tt.status, tt.code)
		}
		if got.Status >= 400 && got.Status != 413 && got.Header.Get("Content-Type") != "application/json" && !strings.HasPrefix(got.Header.Get("Content-Type"), "application/json;") {
			t.Errorf("%s: error with Content-Type %q, want JSON", tt.name, got.Header.Get("Content-Type"))
		}
		if got.Status >= 400 && strings.Contains(got.Body, "gth_") {
			t.Errorf("%s: an error body holds something key-shaped: %s", tt.name, got.Body)
		}
	}

	// Odd names are stored and listed verbatim.
	names := []string{
		`x'); DROP TABLE api_keys;--`,
		`" OR 1=1 --`,
		`a%`, `a_`, `\`, `%`, `_`,
		`Fühler 🌡️ 温度`,
		"\u202eevil\u202c",
		"zero\u200bwidth",
		`<script>alert(1)</script>`,
		`{{.}}`,
	}
	for _, n := range names {
		r, _ := g.createOverAPI(t, admin, mustJSON(map[string]string{"name": n}))
		if r.Status != 201 {
			t.Errorf("create %q: %v, want 201", n, r)
			continue
		}
		var k struct{ Name string }
		json.Unmarshal([]byte(r.Body), &k)
		if k.Name != n {
			t.Errorf("create %q: name answered as %q", n, k.Name)
		}
	}
	listed := map[string]bool{}
	for _, k := range g.listAll(t, admin, 1000) {
		listed[k.Name] = true
	}
	for _, n := range names {
		if !listed[n] {
			t.Errorf("name %q is not listed verbatim", n)
		}
	}
	// Lookups by name take names literally (no LIKE wildcards).
	ctx := context.Background()
	for name, want := range map[string]string{"a%": "a%", "a_": "a_", "%": "%", "_": "_", "A%": "a%"} {
		k, err := g.Store().FindKeyByName(ctx, name)
		if err != nil || k.Name != want {
			t.Errorf("FindKeyByName(%q) = %v, %v; want the key named %q", name, k, err, want)
		}
	}
	if _, err := g.Store().FindKeyByName(ctx, "a"); err == nil {
		t.Error(`FindKeyByName("a") found a key; there is none named a`)
	}

	// Names are unique case-insensitively, also beyond ASCII.
	for _, pair := range [][2]string{{"Ünïcode", "üNÏCODE"}, {"Straße Nord", "STRASSE NORD"}, {"Οδός", "ΟΔΌΣ"}, {"kelvin", "\u212aelvin"}} {
		first, _ := g.createOverAPI(t, admin, mustJSON(map[string]string{"name": pair[0]}))
		second, _ := g.createOverAPI(t, admin, mustJSON(map[string]string{"name": pair[1]}))
		if first.Status != 201 {
			t.Errorf("create %q: %v", pair[0], first)
		}
		if pair[0] == "Straße Nord" { // ß and SS differ under simple case folding
			continue
		}
		if second.Status != 409 || second.code() != "name_taken" {
			t.Errorf("create %q after %q: %v, want 409 name_taken", pair[1], pair[0], second)
		}
	}

	// Hostile ids and page parameters.
	for _, tt := range []struct {
		method, target string
		status         int
	}{
		{"GET", "/api/v2/api-keys/" + url.PathEscape("' OR '1'='1"), 404},
		{"GET", "/api/v2/api-keys/" + strings.Repeat("k", 10000), 404},
		{"DELETE", "/api/v2/api-keys/" + url.PathEscape("*"), 404},
		{"POST", "/api/v2/api-keys/" + url.PathEscape("%") + "/reveal", 400}, // %25: an encoded %
		{"GET", "/api/v2/api-keys/%2e%2e", 400},
		{"GET", "/api/v2/api-keys/x/../..", 400},
		{"PUT", "/api/v2/api-keys", 405},
		{"DELETE", "/api/v2/api-keys", 405},
		{"GET", "/api/v2/api-keys?offset=-1", 400},
		{"GET", "/api/v2/api-keys?size=0", 400},
		{"GET", "/api/v2/api-keys?size=1001", 400},
		{"GET", "/api/v2/api-keys?size=abc", 400},
		{"GET", "/api/v2/api-keys?size=1e3", 400},
		{"GET", "/api/v2/api-keys?offset=99999999999999999999", 400},
		{"GET", "/api/v2/api-keys?offset=2147483647&size=1000", 200},
	} {
		got := g.one(t, req(tt.method, tt.target, apiKey(admin), "Content-Length: 0"))
		if got.Status != tt.status {
			t.Errorf("%s %.80s: %v, want %d", tt.method, tt.target, got, tt.status)
		}
	}
	if got := g.up.Take(); len(got) != 0 {
		t.Errorf("the upstream received %d requests from the management API tests", len(got))
	}
}

// TestManagementAPIKeyBound: through the whole gateway, a key holding
// api-keys:write and assets:read can neither create a *:write key nor
// reveal or delete one, and can create, reveal and delete an assets:read
// key.
func TestManagementAPIKeyBound(t *testing.T) {
	t.Parallel()
	g := startGateway(t, nil)
	_, limited := g.key(t, "limited", "api-keys:write", "assets:read")
	rootID, root := g.key(t, "root", "*:write")
	for _, body := range []string{`{"name":"w","scopes":["*:write"]}`, `{"name":"aw","scopes":["api-keys:write","*:write"]}`} {
		if r, _ := g.createOverAPI(t, limited, body); r.Status != 403 || r.code() != "insufficient_scope" {
			t.Errorf("create %s: %v, want 403 insufficient_scope", body, r)
		}
	}
	r := do(t, "POST", g.URL+"/api/v2/api-keys/"+rootID+"/reveal", limited, "", "")
	if r.Status != 403 || r.code() != "insufficient_scope" || strings.Contains(r.Body, root) {
		t.Errorf("reveal the *:write key: %v, want 403 insufficient_scope", r)
	}
	if r := do(t, "DELETE", g.URL+"/api/v2/api-keys/"+rootID, limited, "", ""); r.Status != 403 || r.code() != "insufficient_scope" {
		t.Errorf("delete the *:write key: %v, want 403 insufficient_scope", r)
	}
	if r := g.one(t, req("GET", "/api/v2/assets/1", apiKey(root))); r.Status != 200 {
		t.Errorf("the *:write key after refused changes: %v, want 200", r)
	}

	r, childID := g.createOverAPI(t, limited, `{"name":"child","scopes":["assets:read"]}`)
	if r.Status != 201 {
		t.Fatalf("create assets:read: %v, want 201", r)
	}
	if r := do(t, "POST", g.URL+"/api/v2/api-keys/"+childID+"/reveal", limited, "", ""); r.Status != 200 {
		t.Errorf("reveal the assets:read key: %v, want 200", r)
	}
	if r := do(t, "DELETE", g.URL+"/api/v2/api-keys/"+childID, limited, "", ""); r.Status != 204 {
		t.Errorf("delete the assets:read key: %v, want 204", r)
	}
}

// TestManyKeysPaged: 10,000 keys paged through with size=1000 and as
// NDJSON: each listed once, in a stable order, none with a plain key.
func TestManyKeysPaged(t *testing.T) {
	t.Parallel()
	g := startGateway(t, nil)
	_, admin := g.key(t, "admin", "api-keys:read")
	ctx := context.Background()
	const n = 10000
	for i := range n {
		if _, _, err := g.Keys().Create(ctx, keys.CreateRequest{Name: fmt.Sprintf("bulk-%05d", i)}, keys.Admin("e2e")); err != nil {
			t.Fatal(err)
		}
	}
	pages := g.listAll(t, admin, 1000)
	if len(pages) != n+1 {
		t.Errorf("paged through %d keys, want %d", len(pages), n+1)
	}
	ids := map[string]bool{}
	for _, k := range pages {
		if ids[k.ID] {
			t.Errorf("key %s listed twice", k.ID)
		}
		ids[k.ID] = true
	}
	r, err := http.NewRequest("GET", g.URL+"/api/v2/api-keys?size=1000&offset=9500", nil)
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("X-API-Key", admin)
	r.Header.Set("Accept", "application/x-ndjson")
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	dec := json.NewDecoder(resp.Body)
	lines := 0
	for dec.More() {
		var k struct{ ID, Key string }
		if err := dec.Decode(&k); err != nil {
			t.Fatalf("NDJSON line %d: %v", lines, err)
		}
		if !ids[k.ID] || k.Key != "" {
			t.Errorf("NDJSON line %d: id %q not listed before, or a plain key", lines, k.ID)
		}
		lines++
	}
	if lines != n+1-9500 {
		t.Errorf("NDJSON from offset 9500 gave %d lines, want %d", lines, n+1-9500)
	}
}

type listedKey struct {
	ID, Name, Key string
}

// listAll pages through every key.
func (g *gateway) listAll(t *testing.T, key string, size int) []listedKey {
	t.Helper()
	var all []listedKey
	for offset := 0; offset < 1_000_000; offset += size {
		r := g.one(t, req("GET", fmt.Sprintf("/api/v2/api-keys?offset=%d&size=%d", offset, size), apiKey(key)))
		var page []listedKey
		if r.Status != 200 {
			t.Fatalf("list at %d: %v", offset, r)
		}
		if err := json.Unmarshal([]byte(r.Body), &page); err != nil {
			t.Fatalf("list at %d: %v", offset, err)
		}
		for _, k := range page {
			if k.Key != "" {
				t.Errorf("the list holds the plain key of %s", k.ID)
			}
		}
		all = append(all, page...)
		if len(page) < size {
			break
		}
	}
	return all
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func TestDeleteSeenByTheVeryNextRequest(t *testing.T) {
	t.Parallel()
	g := startGateway(t, nil)
	_, admin := g.key(t, "admin", "api-keys:write", "*:write")
	id, data := g.key(t, "data", "assets:read")

	if r := do(t, "GET", g.URL+"/api/v2/assets/158", data, "", ""); r.Status != 200 {
		t.Fatalf("GET with key = %d %s, want 200", r.Status, r.Body)
	}
	if r := do(t, "DELETE", g.URL+"/api/v2/api-keys/"+id, admin, "", ""); r.Status != 204 {
		t.Fatalf("DELETE key = %d %s, want 204", r.Status, r.Body)
	}
	if r := do(t, "GET", g.URL+"/api/v2/assets/158", data, "", ""); r.Status != 401 || r.code() != gatehouse.EInvalidKey {
		t.Fatalf("GET after delete = %d %s, want 401 invalid_key", r.Status, r.Body)
	}
}

func TestManagementAPINeverProxied(t *testing.T) {
	t.Parallel()
	g := startGateway(t, nil)
	_, data := g.key(t, "platform-writer", "*:write", "platform:write")
	for _, p := range []string{"/api/v2/api-keys", "/api/v2/api-keys/", "/API/V2/API-KEYS", "/api/v2/Api-Keys/x", "/api/v2/api-keys/x/reveal", "/api/v2/api-keys%2Fx", "/api/v2/./api-keys", "/api/v2//api-keys"} {
		for _, m := range []string{"GET", "POST", "DELETE"} {
			if r := do(t, m, g.URL+p, data, "application/json", `{"name":"x"}`); r.Status < 400 {
				t.Errorf("%s %s with a data key = %d %s, want a refusal", m, p, r.Status, r.Body)
			}
		}
	}
	if hits := g.up.Requests(); len(hits) != 0 {
		t.Errorf("upstream received %v, want nothing", hits)
	}
}
