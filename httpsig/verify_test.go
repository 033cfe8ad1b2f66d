package httpsig_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"gatehouse/gatehousetest"
	"gatehouse/httpsig"
)

var start = time.Date(2026, 12, 3, 7, 0, 0, 0, time.UTC)

// outcome is what the test server answers: the verifier's result or its
// error.
type outcome struct {
	Status int    // 200 passed, 401 refused, 500 other error
	Part   string // the failed part of an *httpsig.Error
	Reason string
	KeyID  string
	Body   string // the body the verifier handed on
	NoSig  bool   // ErrNoSignature
}

// node is one gateway node: a real HTTP server whose handler verifies
// each request against the keys of keys().
type node struct {
	srv *httptest.Server
	v   *httpsig.Verifier
}

func newNode(t *testing.T, clock *gatehousetest.Clock, nonces httpsig.NonceStore, keys func() []httpsig.Key) *node {
	t.Helper()
	n := &node{v: &httpsig.Verifier{Nonces: nonces, Now: clock.Now, MaxBodyBytes: 1024}}
	n.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var o outcome
		res, err := n.v.Verify(r.Context(), httpsig.FromRequest(r), keys())
		var e *httpsig.Error
		switch {
		case err == nil:
			o = outcome{Status: 200, KeyID: res.KeyID, Body: string(res.Body)}
		case errors.Is(err, httpsig.ErrNoSignature):
			o = outcome{Status: 401, NoSig: true}
		case errors.As(err, &e):
			o = outcome{Status: 401, Part: e.Part, Reason: e.Reason}
		default:
			o = outcome{Status: 500, Reason: err.Error()}
		}
		json.NewEncoder(w).Encode(o)
	}))
	t.Cleanup(n.srv.Close)
	return n
}

// do sends r and returns the node's outcome.
func (n *node) do(t *testing.T, r *http.Request) outcome {
	t.Helper()
	resp, err := n.srv.Client().Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var o outcome
	if err := json.NewDecoder(resp.Body).Decode(&o); err != nil {
		t.Fatal(err)
	}
	return o
}

type keys struct {
	ed, ed2 ed25519.PrivateKey
	ec      *ecdsa.PrivateKey
	edKey   httpsig.Key
	ecKey   httpsig.Key
	ed2Key  httpsig.Key // not registered
}

func newKeys(t testing.TB) keys {
	t.Helper()
	var k keys
	_, k.ed, _ = ed25519.GenerateKey(rand.Reader)
	_, k.ed2, _ = ed25519.GenerateKey(rand.Reader)
	k.ec, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	var err error
	if k.edKey, err = httpsig.ParseJWK([]byte(publicJWK(t, k.ed, nil))); err != nil {
		t.Fatal(err)
	}
	if k.ecKey, err = httpsig.ParseJWK([]byte(publicJWK(t, nil, k.ec))); err != nil {
		t.Fatal(err)
	}
	if k.ed2Key, err = httpsig.ParseJWK([]byte(publicJWK(t, k.ed2, nil))); err != nil {
		t.Fatal(err)
	}
	return k
}

var full = []string{"@method", "@target-uri", "x-api-key", "content-digest"}

func TestVerify(t *testing.T) {
	t.Parallel()
	clock := gatehousetest.NewClock(start)
	k := newKeys(t)
	n := newNode(t, clock, &httpsig.MemoryNonces{}, func() []httpsig.Key { return []httpsig.Key{k.edKey, k.ecKey} })
	now := start.Unix()
	const body = `{"setpoint": 21.5}`

	// request returns a signed request; change alters the signer or the
	// request (after signing when after is true).
	type tc struct {
		name     string
		method   string                        // POST if empty
		body     *string                       // body if nil
		signer   func(s *signer)               // changes the signer
		before   func(r *http.Request)         // changes the request before it is signed
		after    func(r *http.Request)         // changes the request after it is signed
		wantPart string                        // "" for a pass
		wantNo   bool                          // want ErrNoSignature
		check    func(t *testing.T, o outcome) // more checks
	}
	noBody := ""
	tests := []tc{
		{name: "ed25519"},
		{name: "p256", signer: func(s *signer) { s.ed, s.ec, s.keyID, s.alg = nil, k.ec, k.ecKey.ID, httpsig.AlgECDSAP256SHA256 }},
		{name: "no keyid or alg", signer: func(s *signer) { s.keyID, s.alg = "", "" }},
		{name: "p256 without keyid", signer: func(s *signer) { s.ed, s.ec, s.keyID, s.alg = nil, k.ec, "", "" }},
		{name: "more components", signer: func(s *signer) { s.covered = append(s.covered, "@authority", "@path", "@query", "content-type") }},
		{name: "read without body", method: "GET", body: &noBody, signer: func(s *signer) { s.covered = s.covered[:3] }},
		{name: "delete without body", method: "DELETE", body: &noBody, signer: func(s *signer) { s.covered = s.covered[:3] }},
		{name: "created just inside the window", signer: func(s *signer) { s.created = now - 299 }},
		{name: "created just ahead", signer: func(s *signer) { s.created = now + 299 }},
		{name: "expires later", signer: func(s *signer) { s.expires = now + 10 }},
		{name: "body handed on", check: func(t *testing.T, o outcome) {
			if o.Body != body || o.KeyID != k.edKey.ID {
				t.Errorf("Result = body %q key %q, want %q %q", o.Body, o.KeyID, body, k.edKey.ID)
			}
		}},

		{name: "no signature", after: func(r *http.Request) { r.Header.Del("Signature"); r.Header.Del("Signature-Input") }, wantNo: true},
		{name: "no signature-input", after: func(r *http.Request) { r.Header.Del("Signature-Input") }, wantPart: "signature-input"},
		{name: "no signature header", after: func(r *http.Request) { r.Header.Del("Signature") }, wantPart: "signature"},
		{name: "malformed signature-input", after: func(r *http.Request) { r.Header.Set("Signature-Input", `sig1=("@method"`) }, wantPart: "signature-input"},
		{name: "signature not bytes", after: func(r *http.Request) { r.Header.Set("Signature", `sig1="abc"`) }, wantPart: "signature"},
		{name: "labels differ", after: func(r *http.Request) {
			r.Header.Set("Signature", strings.Replace(r.Header.Get("Signature"), "sig1=", "other=", 1))
		}, wantPart: "signature"},
		{name: "component with parameters", after: func(r *http.Request) {
			r.Header.Set("Signature-Input", strings.Replace(r.Header.Get("Signature-Input"), `"x-api-key"`, `"x-api-key";sf`, 1))
		}, wantPart: "signature-input"},
		{name: "unsupported derived component", signer: func(s *signer) { s.covered = append(s.covered, "@status") }, wantPart: "signature-input"},
		{name: "component twice", signer: func(s *signer) { s.covered = append(s.covered, "@method") }, wantPart: "signature-input"},
		{name: "upper case field", signer: func(s *signer) { s.covered = append(s.covered, "Content-Type") }, wantPart: "signature-input"},
		{name: "missing @method", signer: func(s *signer) { s.covered = []string{"@target-uri", "x-api-key", "content-digest"} }, wantPart: "covered components"},
		{name: "missing @target-uri", signer: func(s *signer) { s.covered = []string{"@method", "x-api-key", "content-digest"} }, wantPart: "covered components"},
		{name: "missing x-api-key", signer: func(s *signer) { s.covered = []string{"@method", "@target-uri", "content-digest"} }, wantPart: "covered components"},
		{name: "missing content-digest with a body", signer: func(s *signer) { s.covered = s.covered[:3] }, wantPart: "covered components"},
		{name: "covered header not sent", signer: func(s *signer) { s.covered = append(s.covered, "x-not-sent") }, wantPart: "covered components"},
		{name: "no created", signer: func(s *signer) { s.created = 0 }, wantPart: "created"},
		{name: "created too old", signer: func(s *signer) { s.created = now - 301 }, wantPart: "created"},
		{name: "created in the future", signer: func(s *signer) { s.created = now + 301 }, wantPart: "created"},
		{name: "expired", signer: func(s *signer) { s.expires = now }, wantPart: "expires"},
		{name: "no nonce", signer: func(s *signer) { s.nonce = "" }, wantPart: "nonce"},
		{name: "long nonce", signer: func(s *signer) { s.nonce = strings.Repeat("n", 257) }, wantPart: "nonce"},
		{name: "unknown keyid", signer: func(s *signer) { s.ed, s.keyID = k.ed2, k.ed2Key.ID }, wantPart: "keyid"},
		{name: "unsupported alg", signer: func(s *signer) { s.alg = "hmac-sha256" }, wantPart: "alg"},
		{name: "alg of another key type", signer: func(s *signer) { s.alg = httpsig.AlgECDSAP256SHA256 }, wantPart: "alg"},
		{name: "signed by another key", signer: func(s *signer) { s.ed = k.ed2 }, wantPart: "signature"},
		{name: "unregistered key without keyid", signer: func(s *signer) { s.ed, s.keyID = k.ed2, "" }, wantPart: "signature"},
		{name: "method changed", after: func(r *http.Request) { r.Method = "PUT" }, wantPart: "signature"},
		{name: "path changed", after: func(r *http.Request) { r.URL.Path = "/v2/controls/9" }, wantPart: "signature"},
		{name: "query changed", after: func(r *http.Request) { r.URL.RawQuery = "force=1" }, wantPart: "signature"},
		{name: "api key changed", after: func(r *http.Request) { r.Header.Set("X-API-Key", "gth_other") }, wantPart: "signature"},
		{name: "signature bytes changed", after: func(r *http.Request) {
			r.Header.Set("Signature", strings.Replace(r.Header.Get("Signature"), ":", ":AA", 1))
		}, wantPart: "signature"},
		{name: "body tampered", after: func(r *http.Request) { setBody(r, `{"setpoint": 99.9}`) }, wantPart: "content-digest"},
		{name: "digest replaced with the tampered body's", after: func(r *http.Request) {
			setBody(r, `{"setpoint": 99.9}`)
			r.Header.Set("Content-Digest", contentDigest(`{"setpoint": 99.9}`))
		}, wantPart: "signature"},
		{name: "digest of an unsupported algorithm", before: func(r *http.Request) { r.Header.Set("Content-Digest", "md5=:AAAA:") }, wantPart: "content-digest"},
		{name: "body over the limit", body: ptr(strings.Repeat("x", 1025)), wantPart: "content-digest"},
		{name: "sha-512 digest", before: func(r *http.Request) {
			sum := sha512.Sum512([]byte("hello"))
			r.Header.Set("Content-Digest", "sha-512=:"+base64.StdEncoding.EncodeToString(sum[:])+":, unknown=:AAAA:")
		}, body: ptr("hello")},
		{name: "one of two digests wrong", before: func(r *http.Request) {
			r.Header.Set("Content-Digest", contentDigest(body)+", sha-512=:AAAA:")
		}, wantPart: "content-digest"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := body
			if tt.body != nil {
				b = *tt.body
			}
			method := tt.method
			if method == "" {
				method = "POST"
			}
			var rd io.Reader
			if b != "" {
				rd = strings.NewReader(b)
			}
			r, err := http.NewRequest(method, n.srv.URL+"/v2/controls/7?mode=eco", rd)
			if err != nil {
				t.Fatal(err)
			}
			r.Header.Set("X-API-Key", "gth_example")
			r.Header.Set("Content-Type", "application/json")
			if b != "" {
				r.Header.Set("Content-Digest", contentDigest(b))
			}
			if tt.before != nil {
				tt.before(r)
			}
			s := signer{
				covered: append([]string(nil), full...),
				created: now, keyID: k.edKey.ID, alg: httpsig.AlgEd25519,
				nonce: "nonce-" + string(rune('a'+i%26)) + tt.name, ed: k.ed,
			}
			if tt.signer != nil {
				tt.signer(&s)
			}
			s.sign(t, r)
			if tt.after != nil {
				tt.after(r)
			}
			o := n.do(t, r)
			switch {
			case tt.wantNo:
				if !o.NoSig {
					t.Fatalf("Verify = %+v, want ErrNoSignature", o)
				}
			case tt.wantPart == "":
				if o.Status != 200 {
					t.Fatalf("Verify = %+v, want a pass", o)
				}
			default:
				if o.Status != 401 || o.Part != tt.wantPart {
					t.Fatalf("Verify = %+v, want a failure of %q", o, tt.wantPart)
				}
				if o.Reason == "" || strings.Contains(o.Reason, "gth_") {
					t.Fatalf("Verify's reason = %q, want one that says what failed and names no key", o.Reason)
				}
			}
			if tt.check != nil {
				tt.check(t, o)
			}
		})
	}
}

func ptr(s string) *string { return &s }

func setBody(r *http.Request, body string) {
	r.Body = io.NopCloser(strings.NewReader(body))
	r.ContentLength = int64(len(body))
}

// signedPost returns a signed POST to url with a fresh nonce.
func signedPost(t testing.TB, url string, s signer) *http.Request {
	t.Helper()
	const body = `{"open": true}`
	r, err := http.NewRequest("POST", url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("X-API-Key", "gth_example")
	r.Header.Set("Content-Digest", contentDigest(body))
	s.covered = full
	s.sign(t, r)
	return r
}

func TestReplayedNonce(t *testing.T) {
	t.Parallel()
	clock := gatehousetest.NewClock(start)
	k := newKeys(t)
	n := newNode(t, clock, &httpsig.MemoryNonces{}, func() []httpsig.Key { return []httpsig.Key{k.edKey} })
	s := signer{created: start.Unix(), keyID: k.edKey.ID, nonce: "once", ed: k.ed}
	if o := n.do(t, signedPost(t, n.srv.URL+"/doors/1", s)); o.Status != 200 {
		t.Fatalf("first = %+v, want a pass", o)
	}
	clock.Add(4 * time.Minute)
	if o := n.do(t, signedPost(t, n.srv.URL+"/doors/1", s)); o.Part != "nonce" {
		t.Fatalf("replay = %+v, want a nonce failure", o)
	}
	// Another nonce passes; a forged request does not spend its nonce.
	s.nonce = "twice"
	forged := s
	forged.ed = k.ed2
	if o := n.do(t, signedPost(t, n.srv.URL+"/doors/1", forged)); o.Part != "signature" {
		t.Fatalf("forged = %+v, want a signature failure", o)
	}
	if o := n.do(t, signedPost(t, n.srv.URL+"/doors/1", s)); o.Status != 200 {
		t.Fatalf("after a forgery with its nonce = %+v, want a pass", o)
	}
}

// TestRemovedKey: a signature by a key that was removed from the API key
// fails, by keyid and without.
func TestRemovedKey(t *testing.T) {
	t.Parallel()
	clock := gatehousetest.NewClock(start)
	k := newKeys(t)
	registered := []httpsig.Key{k.edKey, k.ecKey}
	n := newNode(t, clock, &httpsig.MemoryNonces{}, func() []httpsig.Key { return registered })
	s := signer{created: start.Unix(), keyID: k.edKey.ID, nonce: "a", ed: k.ed}
	if o := n.do(t, signedPost(t, n.srv.URL+"/x", s)); o.Status != 200 {
		t.Fatalf("before removal = %+v, want a pass", o)
	}
	registered = []httpsig.Key{k.ecKey}
	s.nonce = "b"
	if o := n.do(t, signedPost(t, n.srv.URL+"/x", s)); o.Part != "keyid" {
		t.Fatalf("after removal = %+v, want a keyid failure", o)
	}
	s.keyID, s.nonce = "", "c"
	if o := n.do(t, signedPost(t, n.srv.URL+"/x", s)); o.Part != "signature" {
		t.Fatalf("after removal, without keyid = %+v, want a signature failure", o)
	}
}

// TestSeveralSignatures: the first signature that passes wins.
func TestSeveralSignatures(t *testing.T) {
	t.Parallel()
	clock := gatehousetest.NewClock(start)
	k := newKeys(t)
	n := newNode(t, clock, &httpsig.MemoryNonces{}, func() []httpsig.Key { return []httpsig.Key{k.ecKey} })
	bad := signer{label: "a", created: start.Unix(), nonce: "1", ed: k.ed}
	good := signer{label: "b", created: start.Unix(), nonce: "2", ec: k.ec}
	r := signedPost(t, n.srv.URL+"/x", bad)
	input, sig := r.Header.Get("Signature-Input"), r.Header.Get("Signature")
	good.covered = full
	good.sign(t, r)
	r.Header.Set("Signature-Input", input+", "+r.Header.Get("Signature-Input"))
	r.Header.Add("Signature", sig) // a second field line
	if o := n.do(t, r); o.Status != 200 || o.KeyID != k.ecKey.ID {
		t.Fatalf("Verify = %+v, want a pass by %s", o, k.ecKey.ID)
	}
}

func TestMemoryNoncesExpire(t *testing.T) {
	t.Parallel()
	var n httpsig.MemoryNonces
	ctx := context.Background()
	for i, want := range []bool{true, false} {
		if got, _ := n.Use(ctx, "k n", start, time.Minute); got != want {
			t.Fatalf("Use #%d = %v, want %v", i, got, want)
		}
	}
	if got, _ := n.Use(ctx, "k n", start.Add(time.Minute), time.Minute); !got {
		t.Fatal("Use after the TTL = false, want true")
	}
}

// anyNonce accepts every nonce: for benchmarks that verify one signed
// request many times.
type anyNonce struct{}

func (anyNonce) Use(context.Context, string, time.Time, time.Duration) (bool, error) {
	return true, nil
}

// BenchmarkVerifyEd25519 is the cost of verifying a signed write with a
// small body: parsing, the base, Ed25519, the body's SHA-256, the nonce.
func BenchmarkVerifyEd25519(b *testing.B) {
	k := newKeys(b)
	v := &httpsig.Verifier{Nonces: anyNonce{}, Now: func() time.Time { return start }}
	r := signedPost(b, "http://gw.example/api/v2/controls/7", signer{created: start.Unix(), keyID: k.edKey.ID, nonce: "n", ed: k.ed})
	body := `{"open": true}`
	m := httpsig.FromRequest(r)
	m.RequestURI = r.URL.RequestURI()
	m.Authority = r.URL.Host
	keys := []httpsig.Key{k.edKey}
	b.ReportAllocs()
	for b.Loop() {
		m.Body = strings.NewReader(body)
		if _, err := v.Verify(context.Background(), m, keys); err != nil {
			b.Fatal(err)
		}
	}
}
