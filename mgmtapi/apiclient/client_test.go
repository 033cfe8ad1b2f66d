package apiclient_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/oapi-codegen/nullable"

	"gatehouse/config"
	"gatehouse/gatehousetest/gatewaytest"
	"gatehouse/keys"
	"gatehouse/mgmtapi/apiclient"
	"gatehouse/server"
)

// ndjson is the media type of the list streamed one key a line.
const ndjson = "application/x-ndjson"

func init() {
	// openapi3filter knows no NDJSON. The document models the stream as
	// OpenAPI 3.2 does sequential JSON, as if it were a JSON array, so
	// the decoder reads it as the array of its lines.
	openapi3filter.RegisterBodyDecoder(ndjson, decodeNDJSON)
}

// decodeNDJSON reads an NDJSON body as the array of its lines: each line
// exactly one JSON value, ended by a newline.
func decodeNDJSON(body io.Reader, _ http.Header, _ *openapi3.SchemaRef, _ openapi3filter.EncodingFn) (any, error) {
	items := []any{}
	r := bufio.NewReader(body)
	for n := 1; ; n++ {
		line, err := r.ReadBytes('\n')
		if err == io.EOF && len(line) == 0 {
			return items, nil
		}
		if err != nil {
			return nil, fmt.Errorf("line %d: not ended by a newline (%v)", n, err)
		}
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("line %d: %v", n, err)
		}
		if dec.More() {
			return nil, fmt.Errorf("line %d: more than one JSON value", n)
		}
		items = append(items, v)
	}
}

// validator is an http.RoundTripper that validates every request it sends
// and every answer it receives against the OpenAPI document with
// kin-openapi's openapi3filter, and fails the test on any mismatch.
type validator struct {
	t      *testing.T
	router routers.Router
	next   http.RoundTripper

	mu sync.Mutex
	// validated counts the exchanges validated by operation ID.
	validated map[string]int
}

// anonymous marks the context of a request sent without credentials on
// purpose: its answer is validated, its security requirement is not.
type anonymous struct{}

func (v *validator) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	what := req.Method + " " + req.URL.RequestURI()
	route, params, err := v.router.FindRoute(req)
	if err != nil {
		v.t.Errorf("%s: no operation of the document: %v", what, err)
		return v.next.RoundTrip(req)
	}
	in := &openapi3filter.RequestValidationInput{
		Request:    req,
		PathParams: params,
		Route:      route,
		Options: &openapi3filter.Options{
			MultiError:                        true,
			SkipSettingDefaults:               true, // send the request as the client made it
			RejectWhenRequestBodyNotSpecified: true,
			AuthenticationFunc:                authenticate,
		},
	}
	if err := openapi3filter.ValidateRequest(ctx, in); err != nil {
		v.t.Errorf("%s: the request does not match the document: %v", what, err)
	}
	resp, err := v.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in,
		Status:                 resp.StatusCode,
		Header:                 resp.Header,
		Options:                &openapi3filter.Options{MultiError: true, IncludeResponseStatus: true},
	}
	out.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
		v.t.Errorf("%s: the answer %d %s does not match the document: %v", what, resp.StatusCode, body, err)
	}
	if req.Method == http.MethodHead {
		// ValidateResponse passes every answer to HEAD: check its status
		// is declared, and that it has no body.
		if rs := route.Operation.Responses; rs.Status(resp.StatusCode) == nil && rs.Default() == nil {
			v.t.Errorf("%s: the answer's status %d is not declared", what, resp.StatusCode)
		}
		if len(body) > 0 {
			v.t.Errorf("%s: the answer has a body of %d bytes", what, len(body))
		}
	}
	v.mu.Lock()
	v.validated[route.Operation.OperationID]++
	v.mu.Unlock()
	return resp, nil
}

// authenticate tells openapi3filter whether the request carries the
// credentials of a security scheme (the gateway checks them), unless it
// is sent without credentials on purpose.
func authenticate(ctx context.Context, in *openapi3filter.AuthenticationInput) error {
	if ctx.Value(anonymous{}) != nil {
		return nil
	}
	h := in.RequestValidationInput.Request.Header
	switch in.SecuritySchemeName {
	case "ApiKeyAuth":
		if h.Get("X-API-Key") != "" {
			return nil
		}
	case "SettingsSession":
		if _, err := in.RequestValidationInput.Request.Cookie("gatehouse_session"); err == nil {
			return nil
		}
	}
	return fmt.Errorf("no credentials for %s", in.SecuritySchemeName)
}

// startGateway runs a gateway on real listeners, on a SQLite store in a
// temporary directory, and returns the data plane's address and the
// server. The data plane's listener serves the management API to
// X-API-Key callers.
func startGateway(t *testing.T) (addr string, s *server.Server) {
	t.Helper()
	// No request reaches the upstream: the route gives the scope assets.
	cfg := gatewaytest.Config(t, "http://127.0.0.1:9", func(c *config.Config) {
		c.ReadHeaderTimeout = config.Duration(time.Second)
		c.Routes = []config.Route{{Name: "assets", Path: "/api/v2/assets", Upstream: "http://127.0.0.1:9/v2/assets", Scope: "assets"}}
	})
	g := gatewaytest.MustStart(t, cfg, gatewaytest.Options{Logger: slog.New(slog.DiscardHandler)})
	return g.Addr, g.Server
}

// loadDocument fetches /openapi.json from the gateway, as a client
// generator would, and builds kin-openapi's router over it.
func loadDocument(t *testing.T, base string) (*openapi3.T, routers.Router) {
	t.Helper()
	resp, err := http.Get(base + "/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /openapi.json = %d, %v", resp.StatusCode, err)
	}
	doc, err := openapi3.NewLoader().LoadFromData(raw)
	if err != nil {
		t.Fatalf("load /openapi.json: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("/openapi.json is not valid: %v", err)
	}
	// The document's server is "/", relative to where it is served.
	doc.Servers = openapi3.Servers{{URL: base}}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatalf("router: %v", err)
	}
	return doc, router
}

// TestClientAgainstGateway drives a real gateway through the generated
// client: create, list (JSON and NDJSON), HEAD, get, details, renew in
// the three states of rateLimit, reveal and delete, and the errors of a
// deleted key and of a request without a key. Every exchange is
// validated against the document, and every operation of the document
// must have been exercised.
func TestClientAgainstGateway(t *testing.T) {
	t.Parallel()
	addr, s := startGateway(t)
	base := "http://" + addr
	doc, router := loadDocument(t, base)
	v := &validator{t: t, router: router, next: http.DefaultTransport, validated: map[string]int{}}
	httpClient := &http.Client{Transport: v, Timeout: 10 * time.Second}

	// The first management key, made through the key service: a key may
	// only create keys within its own scopes, so it holds *:write too.
	ctx := context.Background()
	_, secret, err := s.Keys().Create(ctx, keys.CreateRequest{Name: "apiclient admin", Scopes: []string{"api-keys:write", "*:write"}}, keys.Admin("test"))
	if err != nil {
		t.Fatal(err)
	}
	admin := secret.Reveal()
	c, err := apiclient.NewClientWithResponses(base,
		apiclient.WithHTTPClient(httpClient),
		apiclient.WithRequestEditorFn(func(_ context.Context, req *http.Request) error {
			req.Header.Set("X-API-Key", admin)
			return nil
		}))
	if err != nil {
		t.Fatal(err)
	}

	// Create: one key with every member, one with the name alone
	// (writeAccess absent: read access).
	until := time.Now().Add(48 * time.Hour).UTC().Truncate(time.Second)
	created, err := c.CreateApiKeyWithResponse(ctx, apiclient.CreateApiKey{
		Name:       "sensor gateway",
		Scopes:     &[]string{"assets:read"},
		ValidUntil: nullable.NewNullableWithValue(until),
		RateLimit:  nullable.NewNullableWithValue(apiclient.RateLimit{Requests: 5, Per: "1s"}),
	})
	check(t, "create", created, err, 201)
	sensor := created.JSON201
	if sensor == nil || !strings.HasPrefix(sensor.Key, "gth_") || sensor.Scopes[0] != "assets:read" || !sensor.ValidUntil.MustGet().Equal(until) {
		t.Fatalf("create answered %s", created.Body)
	}
	if loc := created.Headers201; loc == nil || loc.Location == nil || *loc.Location != "/api/v2/api-keys/"+sensor.Id {
		t.Errorf("create: Location = %v", created.HTTPResponse.Header.Get("Location"))
	}
	reader, err := c.CreateApiKeyWithResponse(ctx, apiclient.CreateApiKey{Name: "reader"})
	check(t, "create with the name alone", reader, err, 201)
	if k := reader.JSON201; k == nil || k.WriteAccess || !slices.Equal(k.Scopes, []string{"*:read"}) || !k.RateLimit.IsNull() || !k.ValidUntil.IsNull() {
		t.Errorf("create with the name alone answered %s", reader.Body)
	}

	// List as JSON, then as NDJSON from the raw response: the same keys.
	size := 10
	list, err := c.ListApiKeysWithResponse(ctx, &apiclient.ListApiKeysParams{Size: &size})
	check(t, "list", list, err, 200)
	if list.JSON200 == nil || len(*list.JSON200) != 3 || list.Headers200 == nil || *list.Headers200.XTotalCount != 3 {
		t.Fatalf("list answered %v %s", list.HTTPResponse.Header, list.Body)
	}
	var jsonIDs []string
	for _, k := range *list.JSON200 {
		jsonIDs = append(jsonIDs, k.Id)
	}
	resp, err := c.ListApiKeys(ctx, &apiclient.ListApiKeysParams{Size: &size}, func(_ context.Context, req *http.Request) error {
		req.Header.Set("Accept", ndjson)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != ndjson {
		t.Fatalf("list as NDJSON = %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var ndjsonIDs []string
	lines := bufio.NewScanner(resp.Body)
	for lines.Scan() {
		var k apiclient.ApiKey
		if err := json.Unmarshal(lines.Bytes(), &k); err != nil {
			t.Fatalf("NDJSON line %q: %v", lines.Bytes(), err)
		}
		ndjsonIDs = append(ndjsonIDs, k.Id)
	}
	resp.Body.Close()
	if !slices.Equal(ndjsonIDs, jsonIDs) {
		t.Errorf("NDJSON list %v, JSON list %v", ndjsonIDs, jsonIDs)
	}
	head, err := c.HeadApiKeysWithResponse(ctx, &apiclient.HeadApiKeysParams{})
	check(t, "HEAD list", head, err, 200)
	if head.Headers200 == nil || head.Headers200.XTotalCount == nil || *head.Headers200.XTotalCount != 3 || len(head.Body) != 0 {
		t.Errorf("HEAD list answered %v %q", head.HTTPResponse.Header, head.Body)
	}

	// Get, HEAD and details of one key.
	got, err := c.GetApiKeyWithResponse(ctx, sensor.Id)
	check(t, "get", got, err, 200)
	if rl, err := got.JSON200.RateLimit.Get(); err != nil || !sameLimit(rl, 5, time.Second) {
		t.Errorf("get: rateLimit %v, %v", rl, err)
	}
	headKey, err := c.HeadApiKeyWithResponse(ctx, sensor.Id)
	check(t, "HEAD key", headKey, err, 200)
	details, err := c.GetApiKeyDetailsWithResponse(ctx, sensor.Id)
	check(t, "details", details, err, 200)
	if d := details.JSON200; len(d.Audit) != 1 || d.Audit[0].Action != apiclient.Create {
		t.Errorf("details answered %s", details.Body)
	}
	headDetails, err := c.HeadApiKeyDetailsWithResponse(ctx, sensor.Id)
	check(t, "HEAD details", headDetails, err, 200)

	// Renew in the three states of rateLimit: an object sets it, absent
	// keeps it, null clears it.
	renew := func(what string, body apiclient.RenewApiKey) *apiclient.ApiKey {
		t.Helper()
		r, err := c.RenewApiKeyWithResponse(ctx, sensor.Id, body)
		check(t, what, r, err, 200)
		return r.JSON200
	}
	k := renew("renew with a rate limit", apiclient.RenewApiKey{
		ValidUntil: nullable.NewNullNullable[time.Time](),
		RateLimit:  nullable.NewNullableWithValue(apiclient.RateLimit{Requests: 10, Per: "1m"}),
	})
	if rl, err := k.RateLimit.Get(); err != nil || !sameLimit(rl, 10, time.Minute) || !k.ValidUntil.IsNull() {
		t.Errorf("renew with a rate limit: rateLimit %v (%v), validUntil %v", rl, err, k.ValidUntil)
	}
	k = renew("renew without rateLimit", apiclient.RenewApiKey{ValidUntil: nullable.NewNullableWithValue(until)})
	if rl, err := k.RateLimit.Get(); err != nil || !sameLimit(rl, 10, time.Minute) || !k.ValidUntil.MustGet().Equal(until) {
		t.Errorf("renew without rateLimit: rateLimit %v (%v), validUntil %v; want the limit kept", rl, err, k.ValidUntil)
	}
	k = renew("renew with rateLimit null", apiclient.RenewApiKey{
		ValidUntil: nullable.NewNullableWithValue(until),
		RateLimit:  nullable.NewNullNullable[apiclient.RateLimit](),
	})
	if !k.RateLimit.IsNull() {
		t.Errorf("renew with rateLimit null: rateLimit %v, want null", k.RateLimit)
	}

	// Reveal gives the key that create answered.
	revealed, err := c.RevealApiKeyWithResponse(ctx, sensor.Id)
	check(t, "reveal", revealed, err, 200)
	if revealed.JSON200.Key != sensor.Key {
		t.Errorf("reveal gave another key than create")
	}

	// Day two (§8): roll with an overlap, disable, enable, change.
	overlap := "1h"
	rolled, err := c.RollApiKeyWithResponse(ctx, sensor.Id, apiclient.RollApiKey{Overlap: &overlap})
	check(t, "roll", rolled, err, 200)
	if rolled.JSON200.Key == sensor.Key || rolled.JSON200.PreviousValidUntil.IsNull() {
		t.Errorf("roll answered %s", rolled.Body)
	}
	disabled, err := c.DisableApiKeyWithResponse(ctx, sensor.Id)
	check(t, "disable", disabled, err, 200)
	if disabled.JSON200.Enabled {
		t.Errorf("disable answered %s", disabled.Body)
	}
	enabled, err := c.EnableApiKeyWithResponse(ctx, sensor.Id)
	check(t, "enable", enabled, err, 200)
	if !enabled.JSON200.Enabled {
		t.Errorf("enable answered %s", enabled.Body)
	}
	patched, err := c.UpdateApiKeyWithResponse(ctx, sensor.Id, apiclient.UpdateApiKey{
		AllowedIps:    nullable.NewNullableWithValue([]string{"10.0.0.0/8", "127.0.0.1"}),
		ReadOnlyGrace: nullable.NewNullableWithValue("24h"),
		RateLimit:     nullable.NewNullNullable[apiclient.RateLimit](),
	})
	check(t, "patch", patched, err, 200)
	if k := patched.JSON200; !slices.Equal(k.AllowedIps, []string{"10.0.0.0/8", "127.0.0.1"}) || k.ReadOnlyGrace.MustGet() != "24h0m0s" || !k.RateLimit.IsNull() {
		t.Errorf("patch answered %s", patched.Body)
	}

	// A signing key: registered by its JWK, listed by its keyid, removed.
	jwk := map[string]any{"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}
	added, err := c.AddSigningKeyWithResponse(ctx, sensor.Id, apiclient.NewSigningKey{Jwk: jwk})
	check(t, "add a signing key", added, err, 201)
	const thumb = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
	if added.JSON201.Keyid != thumb {
		t.Errorf("add a signing key: keyid %q, want the RFC 8037 thumbprint", added.JSON201.Keyid)
	}
	withKey, err := c.GetApiKeyWithResponse(ctx, sensor.Id)
	check(t, "get a key with a signing key", withKey, err, 200)
	if len(withKey.JSON200.SigningKeys) != 1 || withKey.JSON200.SigningKeys[0] != thumb {
		t.Errorf("signingKeys = %v, want [%s]", withKey.JSON200.SigningKeys, thumb)
	}
	removed, err := c.RemoveSigningKeyWithResponse(ctx, sensor.Id, thumb)
	check(t, "remove a signing key", removed, err, 204)
	again, err := c.RemoveSigningKeyWithResponse(ctx, sensor.Id, thumb)
	check(t, "remove a removed signing key", again, err, 404)

	// Delete, then the key is not found, with a body and without one.
	deleted, err := c.DeleteApiKeyWithResponse(ctx, sensor.Id)
	check(t, "delete", deleted, err, 204)
	gone, err := c.GetApiKeyWithResponse(ctx, sensor.Id)
	check(t, "get a deleted key", gone, err, 404)
	if gone.JSON404 == nil || gone.JSON404.Error.Code != apiclient.ErrorErrorCodeNotFound {
		t.Errorf("get a deleted key answered %s", gone.Body)
	}
	headGone, err := c.HeadApiKeyWithResponse(ctx, sensor.Id)
	check(t, "HEAD a deleted key", headGone, err, 404)

	// Without a key: 401 missing_key, with its WWW-Authenticate header.
	anon, err := apiclient.NewClientWithResponses(base, apiclient.WithHTTPClient(httpClient))
	if err != nil {
		t.Fatal(err)
	}
	refused, err := anon.GetApiKeyWithResponse(context.WithValue(ctx, anonymous{}, true), reader.JSON201.Id)
	check(t, "get without a key", refused, err, 401)
	if refused.JSON401 == nil || refused.JSON401.Error.Code != apiclient.ErrorErrorCodeMissingKey ||
		refused.Headers401 == nil || refused.Headers401.WWWAuthenticate == nil {
		t.Errorf("get without a key answered %v %s", refused.HTTPResponse.Header, refused.Body)
	}

	// Every operation of the document went through the generated client
	// and the validator.
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			if v.validated[op.OperationID] == 0 {
				t.Errorf("%s %s (%s) was not exercised", method, path, op.OperationID)
			}
		}
	}
}

// sameLimit reports whether rl is requests per period ("1m" is answered
// as "1m0s").
func sameLimit(rl apiclient.RateLimit, requests int, per time.Duration) bool {
	d, err := time.ParseDuration(rl.Per)
	return err == nil && rl.Requests == requests && d == per
}

// answer is what every WithResponses answer of the generated client has.
type answer interface {
	StatusCode() int
	GetBody() []byte
}

// check fails the test unless the call succeeded with status want.
func check(t *testing.T, what string, r answer, err error, want int) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if got := r.StatusCode(); got != want {
		t.Fatalf("%s: status %d %s, want %d", what, got, r.GetBody(), want)
	}
}
