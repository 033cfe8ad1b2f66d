package mgmtapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"gatehouse"
	"gatehouse/mgmtapi"
)

// methods are the methods probed on every route.
var methods = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"}

// document is the part of an OpenAPI document the tests read.
type document struct {
	OpenAPI    string                                `json:"openapi"`
	Paths      map[string]map[string]json.RawMessage `json:"paths"`
	Components struct {
		Schemas         map[string]*schema `json:"schemas"`
		SecuritySchemes map[string]struct {
			Type, In, Name string
		} `json:"securitySchemes"`
	} `json:"components"`
}

type schema struct {
	Ref        string             `json:"$ref"`
	Enum       []string           `json:"enum"`
	Type       any                `json:"type"`
	Default    any                `json:"default"`
	Properties map[string]*schema `json:"properties"`
	Required   []string           `json:"required"`
	AllOf      []*schema          `json:"allOf"`
	OneOf      []*schema          `json:"oneOf"`
	Items      *schema            `json:"items"`
}

type operation struct {
	Responses map[string]json.RawMessage `json:"responses"`
}

func mustDocument(t *testing.T) (document, []byte) {
	t.Helper()
	rec := httptest.NewRecorder()
	(*mgmtapi.Handler)(nil).OpenAPIHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/openapi.json", nil))
	if rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
		t.Fatalf("GET /openapi.json = %d %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	var doc document
	if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	return doc, rec.Body.Bytes()
}

// operations returns the operations of a path item by upper-case method.
func operations(item map[string]json.RawMessage) map[string]operation {
	ops := map[string]operation{}
	for m, raw := range item {
		if !slices.Contains(methods, strings.ToUpper(m)) {
			continue // parameters, summary, ...
		}
		var op operation
		json.Unmarshal(raw, &op)
		ops[strings.ToUpper(m)] = op
	}
	return ops
}

// probe sends method to a concrete path of pattern, on a fresh key, with
// a valid body where the route takes one.
func probe(e *env, pattern, method string, n *int) response {
	*n++
	id, _ := e.mustKey(fmt.Sprintf("probe %d", *n))
	r := req{method: method, path: strings.ReplaceAll(pattern, "{id}", id), key: e.admin}
	if strings.Contains(pattern, "{keyid}") || strings.HasSuffix(pattern, "/signing-keys") {
		// A signing key to find (RFC 8037 A.3's public key).
		const jwk = `{"jwk": {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}}`
		e.do(req{method: "POST", path: mgmtapi.Prefix + "/" + id + "/signing-keys", key: e.admin, body: jwk})
		r.path = strings.ReplaceAll(r.path, "{keyid}", "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k")
		if method == "POST" {
			r.body = jwk
		}
	}
	switch {
	case method == "POST" && strings.HasSuffix(pattern, "/renew"):
		r.body = `{"validUntil": null}`
	case method == "POST" && pattern == mgmtapi.Prefix:
		r.body = fmt.Sprintf(`{"name": "probe %d created"}`, *n)
	case method == "PATCH":
		r.body = `{"readOnlyGrace": "1h"}`
	}
	return e.do(r)
}

func TestOpenAPIDescribesExactlyTheRoutes(t *testing.T) {
	t.Parallel()
	doc, _ := mustDocument(t)
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Errorf("openapi = %q, want 3.x", doc.OpenAPI)
	}
	e := mustEnv(t, nil)
	n := 0
	// Every documented operation is served, and answers a documented status.
	for path, item := range doc.Paths {
		for method, op := range operations(item) {
			r := probe(e, path, method, &n)
			if r.status == 404 || r.status == 405 || r.status >= 500 {
				t.Errorf("documented %s %s: status %d %s", method, path, r.status, r.body)
			}
			if _, ok := op.Responses[fmt.Sprint(r.status)]; !ok {
				t.Errorf("documented %s %s answered %d, which its responses do not list", method, path, r.status)
			}
		}
	}
	// Every served route and method is documented, HEAD too (served
	// wherever GET is), so that validators find an operation for it.
	for _, pattern := range mgmtapi.RoutePatterns() {
		ops := operations(doc.Paths[pattern])
		if doc.Paths[pattern] == nil {
			t.Errorf("route %s is not in openapi.json", pattern)
		}
		for _, method := range methods {
			r := probe(e, pattern, method, &n)
			served := r.status != 405 && r.status != 404
			_, documented := ops[method]
			if served != documented {
				t.Errorf("%s %s: status %d, but documented = %v", method, pattern, r.status, documented)
			}
		}
	}
}

// TestOpenAPIIsValid loads the document with kin-openapi, as validators
// and generators that build on it do, and validates it.
func TestOpenAPIIsValid(t *testing.T) {
	t.Parallel()
	_, raw := mustDocument(t)
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(raw)
	if err != nil {
		t.Fatalf("load openapi.json: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("openapi.json is not valid: %v", err)
	}
}

// TestOpenAPIDeclaresEveryError checks that every operation has a default
// answer in the error shape, for the statuses it does not list (405, 500,
// ...), and that the error codes of the document are the ones the API
// answers: the handler's, and bad_path, which the server answers before
// the handler for a path with dot or empty segments.
func TestOpenAPIDeclaresEveryError(t *testing.T) {
	t.Parallel()
	doc, _ := mustDocument(t)
	for path, item := range doc.Paths {
		for method, op := range operations(item) {
			if _, ok := op.Responses["default"]; !ok {
				t.Errorf("%s %s has no default answer", method, path)
			}
		}
	}
	errSchema := resolve(doc.Components.Schemas, &schema{Ref: "#/components/schemas/Error"})
	code := errSchema.Properties["error"].Properties["code"]
	want := append(mgmtapi.ErrorCodes(), gatehouse.EBadPath)
	if got := slices.Sorted(slices.Values(code.Enum)); !slices.Equal(got, slices.Sorted(slices.Values(want))) {
		t.Errorf("Error.error.code enum = %v, want the codes the API answers: %v", got, slices.Sorted(slices.Values(want)))
	}
}

func TestOpenAPISchemasMatchAnswers(t *testing.T) {
	t.Parallel()
	doc, raw := mustDocument(t)
	s := doc.Components.Schemas
	if sc := doc.Components.SecuritySchemes["ApiKeyAuth"]; sc.Type != "apiKey" || sc.In != "header" || sc.Name != "X-API-Key" {
		t.Errorf("security scheme = %+v, want apiKey in header X-API-Key", sc)
	}
	checkRefs(t, raw)

	e := mustEnv(t, nil)
	created := e.do(req{method: "POST", path: "/api/v2/api-keys", key: e.admin, body: `{"name": "schema", "rateLimit": {"requests": 1, "per": "1s"}}`})
	var k struct{ ID string }
	e.decode(created, &k)
	reveal := e.do(req{method: "POST", path: "/api/v2/api-keys/" + k.ID + "/reveal", key: e.admin})
	tests := []struct {
		name, schema string
		r            response
		array        bool
	}{
		{"create", "NewApiKey", created, false},
		{"get", "ApiKey", e.do(req{method: "GET", path: "/api/v2/api-keys/" + k.ID, key: e.admin}), false},
		{"list", "ApiKey", e.do(req{method: "GET", path: "/api/v2/api-keys", key: e.admin}), true},
		{"renew", "ApiKey", e.do(req{method: "POST", path: "/api/v2/api-keys/" + k.ID + "/renew", key: e.admin, body: `{"validUntil": null}`}), false},
		{"reveal", "RevealedKey", reveal, false},
		{"patch", "ApiKey", e.do(req{method: "PATCH", path: "/api/v2/api-keys/" + k.ID, key: e.admin,
			body: `{"allowedIps": ["192.0.2.1", "10.0.0.0/8"], "readOnlyGrace": "24h"}`}), false},
		{"disable", "ApiKey", e.do(req{method: "POST", path: "/api/v2/api-keys/" + k.ID + "/disable", key: e.admin}), false},
		{"enable", "ApiKey", e.do(req{method: "POST", path: "/api/v2/api-keys/" + k.ID + "/enable", key: e.admin}), false},
		{"roll", "NewApiKey", e.do(req{method: "POST", path: "/api/v2/api-keys/" + k.ID + "/roll", key: e.admin, body: `{"overlap": "1h"}`}), false},
		{"details", "KeyDetails", e.do(req{method: "GET", path: "/api/v2/api-keys/" + k.ID + "/details", key: e.admin}), false},
		{"error", "Error", e.do(req{method: "GET", path: "/api/v2/api-keys/key_nope", key: e.admin}), false},
	}
	for _, tt := range tests {
		var v any
		e.decode(tt.r, &v)
		if tt.array {
			arr, _ := v.([]any)
			if len(arr) == 0 {
				t.Fatalf("%s: %s, want a non-empty array", tt.name, tt.r.body)
			}
			v = arr[0]
		}
		checkObject(t, tt.name, s, &schema{Ref: "#/components/schemas/" + tt.schema}, v)
	}
}

// TestOpenAPIRequestBodies checks what generated clients make of the
// request bodies: no member has a default (openapi-typescript makes a
// member with a default required), and renew's rateLimit is optional and
// may be null, so that a client can send its three states (absent:
// unchanged; null: cleared; an object: set).
func TestOpenAPIRequestBodies(t *testing.T) {
	t.Parallel()
	doc, _ := mustDocument(t)
	s := doc.Components.Schemas
	for _, name := range []string{"CreateApiKey", "RenewApiKey", "UpdateApiKey", "RollApiKey"} {
		for prop, p := range resolve(s, &schema{Ref: "#/components/schemas/" + name}).Properties {
			if p.Default != nil {
				t.Errorf("%s.%s has a default (%v): generated TypeScript makes it required", name, prop, p.Default)
			}
		}
	}
	renew := resolve(s, &schema{Ref: "#/components/schemas/RenewApiKey"})
	if slices.Contains(renew.Required, "rateLimit") {
		t.Errorf("RenewApiKey.rateLimit is required; absent must keep the limit")
	}
	nullable := false
	for _, alt := range renew.Properties["rateLimit"].OneOf {
		nullable = nullable || alt.Type == "null"
	}
	if !nullable {
		t.Errorf("RenewApiKey.rateLimit has no null alternative; null must clear the limit")
	}
}

// TestOpenAPINDJSON checks how the list's NDJSON answer is described and
// that it is true. As OpenAPI 3.2 does for sequential JSON media types, the
// schema of application/x-ndjson models the whole stream as if it were a
// JSON array of ApiKey (so generated clients type it as they type the
// JSON answer), and x-oai-itemSchema, 3.2's itemSchema for earlier
// versions, is the schema of one line.
func TestOpenAPINDJSON(t *testing.T) {
	t.Parallel()
	doc, _ := mustDocument(t)
	var op struct {
		Responses map[string]struct {
			Content map[string]struct {
				Schema     *schema `json:"schema"`
				ItemSchema *schema `json:"x-oai-itemSchema"`
			} `json:"content"`
		} `json:"responses"`
	}
	if err := json.Unmarshal(doc.Paths[mgmtapi.Prefix]["get"], &op); err != nil {
		t.Fatal(err)
	}
	const apiKey = "#/components/schemas/ApiKey"
	mt, ok := op.Responses["200"].Content["application/x-ndjson"]
	if !ok || mt.Schema == nil || mt.Schema.Items == nil || mt.Schema.Items.Ref != apiKey {
		t.Fatalf("the list's application/x-ndjson schema is not an array of %s", apiKey)
	}
	if mt.ItemSchema == nil || mt.ItemSchema.Ref != apiKey {
		t.Fatalf("the list's application/x-ndjson x-oai-itemSchema is not %s", apiKey)
	}

	e := mustEnv(t, nil)
	e.mustKey("ndjson one")
	e.mustKey("ndjson two")
	r := e.do(req{method: "GET", path: mgmtapi.Prefix, key: e.admin, header: http.Header{"Accept": {"application/x-ndjson"}}})
	if r.status != 200 || r.header.Get("Content-Type") != "application/x-ndjson" {
		t.Fatalf("list as NDJSON = %d %q", r.status, r.header.Get("Content-Type"))
	}
	lines := strings.SplitAfter(string(r.body), "\n")
	if last := lines[len(lines)-1]; last != "" {
		t.Errorf("the NDJSON answer does not end with a newline: %q", last)
	}
	lines = lines[:len(lines)-1]
	if len(lines) != 3 {
		t.Fatalf("the NDJSON answer has %d lines, want 3: %s", len(lines), r.body)
	}
	for i, line := range lines {
		var v any
		if err := json.Unmarshal([]byte(line), &v); err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		checkObject(t, fmt.Sprintf("ndjson line %d", i+1), doc.Components.Schemas, mt.ItemSchema, v)
	}
}

// checkObject checks that the object v has exactly the properties of the
// schema, all required ones among them, recursively.
func checkObject(t *testing.T, where string, schemas map[string]*schema, sc *schema, v any) {
	t.Helper()
	props, required := flatten(schemas, sc)
	switch v := v.(type) {
	case map[string]any:
		if len(props) == 0 {
			t.Errorf("%s: an object where the schema has no properties", where)
			return
		}
		for name, val := range v {
			p, ok := props[name]
			if !ok {
				t.Errorf("%s: field %q is not in the schema", where, name)
				continue
			}
			checkObject(t, where+"."+name, schemas, p, val)
		}
		for _, name := range required {
			if _, ok := v[name]; !ok {
				t.Errorf("%s: required field %q is missing", where, name)
			}
		}
		if got, want := slices.Sorted(maps.Keys(props)), slices.Sorted(maps.Keys(v)); !slices.Equal(got, want) {
			t.Errorf("%s: schema properties %v, answer fields %v", where, got, want)
		}
	case []any:
		if it := resolve(schemas, sc).Items; it != nil {
			for _, e := range v {
				checkObject(t, where+"[]", schemas, it, e)
			}
		}
	}
}

// flatten resolves $ref, allOf and oneOf into one set of properties (the
// alternatives of oneOf are an object and null).
func flatten(schemas map[string]*schema, sc *schema) (map[string]*schema, []string) {
	sc = resolve(schemas, sc)
	props := maps.Clone(sc.Properties)
	if props == nil {
		props = map[string]*schema{}
	}
	req := slices.Clone(sc.Required)
	for _, part := range sc.AllOf {
		p, r := flatten(schemas, part)
		maps.Copy(props, p)
		req = append(req, r...)
	}
	for _, alt := range sc.OneOf {
		p, _ := flatten(schemas, alt)
		maps.Copy(props, p)
	}
	return props, req
}

func resolve(schemas map[string]*schema, sc *schema) *schema {
	for sc.Ref != "" {
		sc = schemas[strings.TrimPrefix(sc.Ref, "#/components/schemas/")]
		if sc == nil {
			return &schema{}
		}
	}
	return sc
}

// checkRefs checks that every $ref of the document points at something.
func checkRefs(t *testing.T, raw []byte) {
	t.Helper()
	var doc any
	json.Unmarshal(raw, &doc)
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if ref, ok := v["$ref"].(string); ok {
				target := doc
				for _, part := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
					m, _ := target.(map[string]any)
					target = m[part]
				}
				if target == nil {
					t.Errorf("$ref %s points at nothing", ref)
				}
			}
			for _, e := range v {
				walk(e)
			}
		case []any:
			for _, e := range v {
				walk(e)
			}
		}
	}
	walk(doc)
}

func TestOpenAPIHandler(t *testing.T) {
	t.Parallel()
	h := (&mgmtapi.Handler{}).OpenAPIHandler()
	tests := []struct {
		method string
		status int
		body   bool
	}{
		{"GET", 200, true},
		{"HEAD", 200, false},
		{"POST", 405, true},
		{"DELETE", 405, true},
	}
	for _, tt := range tests {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(tt.method, "/openapi.json", nil))
		if rec.Code != tt.status || (rec.Body.Len() > 0) != tt.body || rec.Header().Get("Cache-Control") != "no-store" {
			t.Errorf("%s /openapi.json = %d, %d bytes, Cache-Control %q; want %d, body %v, no-store",
				tt.method, rec.Code, rec.Body.Len(), rec.Header().Get("Cache-Control"), tt.status, tt.body)
		}
		if tt.status == http.StatusMethodNotAllowed && rec.Header().Get("Allow") != "GET, HEAD" {
			t.Errorf("%s /openapi.json: Allow = %q", tt.method, rec.Header().Get("Allow"))
		}
	}
}
