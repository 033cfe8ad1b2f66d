package e2e_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"gatehouse/config"
	"gatehouse/gatehousetest"
)

// signedGateway runs a gateway whose assets route is signed, on redis
// when it is not "".
func signedGateway(t *testing.T, redis string) *gateway {
	t.Helper()
	return startGateway(t, func(c *config.Config) {
		c.Routes[0].Signed = true
		c.Redis = redis
	})
}

// registerSigner registers s's public key on the key id through the
// management API, and returns its keyid.
func registerSigner(t *testing.T, g *gateway, admin, id string, s *gatehousetest.Signer) string {
	t.Helper()
	r := do(t, "POST", g.URL+"/api/v2/api-keys/"+id+"/signing-keys", admin, "application/json", `{"jwk": `+s.JWK()+`}`)
	var out struct{ Keyid string }
	if r.Status != 201 || json.Unmarshal([]byte(r.Body), &out) != nil || out.Keyid == "" {
		t.Fatalf("register the signing key = %s, want 201 with a keyid", r)
	}
	return out.Keyid
}

// sendSigned sends method to url with key and body, signed by s unless s is
// nil, with nonce.
func sendSigned(t *testing.T, method, url, key, body string, s *gatehousetest.Signer, keyID, nonce string) reply {
	t.Helper()
	r, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body == "" {
		r.Body, r.ContentLength = http.NoBody, 0
	}
	r.Header.Set("X-API-Key", key)
	r.Header.Set("Content-Type", "application/json")
	if s != nil {
		s.Sign(r, []byte(body), keyID, time.Now(), nonce)
	}
	return sendRequest(t, r)
}

func sendRequest(t *testing.T, r *http.Request) reply {
	t.Helper()
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return reply{resp.StatusCode, resp.Header, string(b), err}
}

// TestSignedWrites: on a signed route, every write must be signed by a
// signing key of its API key, fresh and never replayed; reads need no
// signature; the signature's headers and the body reach the upstream
// unchanged; a removed signing key stops working.
func TestSignedWrites(t *testing.T) {
	t.Parallel()
	g := signedGateway(t, "")
	_, admin := g.key(t, "admin", "api-keys:write", "*:write")
	id, key := g.key(t, "controller", "assets:write")
	s := gatehousetest.NewSigner(t)
	keyID := registerSigner(t, g, admin, id, s)
	url := g.URL + "/api/v2/assets/7?mode=eco"
	const body = `{"setpoint": 21.5}`

	r, err := http.NewRequest("POST", url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("X-API-Key", key)
	s.Sign(r, []byte(body), keyID, time.Now(), "n-1")
	sent := r.Header.Clone()
	if got := sendRequest(t, r); got.Status != 200 {
		t.Fatalf("a signed write = %s, want 200", got)
	}
	seen := g.up.Take()
	if len(seen) != 1 || seen[0].Body != body {
		t.Fatalf("upstream saw %+v, want the body %q", seen, body)
	}
	for _, h := range []string{"Signature", "Signature-Input", "Content-Digest"} {
		if seen[0].Header.Get(h) != sent.Get(h) {
			t.Errorf("upstream's %s = %q, want it unchanged %q", h, seen[0].Header.Get(h), sent.Get(h))
		}
	}

	// Replayed as it was sent: refused.
	r2, _ := http.NewRequest("POST", url, strings.NewReader(body))
	r2.Header = sent
	if got := sendRequest(t, r2); got.Status != 401 || got.code() != "invalid_signature" || !strings.Contains(got.Body, "nonce") {
		t.Fatalf("a replay = %s, want 401 invalid_signature (nonce)", got)
	}

	for _, tt := range []struct {
		name, method, body string
		signer             *gatehousetest.Signer
		status             int
		code, part         string
	}{
		{"read needs none", "GET", "", nil, 200, "", ""},
		{"unsigned write", "POST", body, nil, 401, "signature_required", ""},
		{"unsigned delete", "DELETE", "", nil, 401, "signature_required", ""},
		{"signed delete", "DELETE", "", s, 200, "", ""},
		{"another key's signature", "PUT", body, gatehousetest.NewSigner(t), 401, "invalid_signature", "signature"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := sendSigned(t, tt.method, url, key, tt.body, tt.signer, keyID, "n-"+tt.name)
			if got.Status != tt.status || got.code() != tt.code || !strings.Contains(got.Body, tt.part) {
				t.Fatalf("%s = %s, want %d %s (%s)", tt.name, got, tt.status, tt.code, tt.part)
			}
			if tt.status == 401 && got.Header.Get("WWW-Authenticate") == "" {
				t.Errorf("a 401 without WWW-Authenticate")
			}
		})
	}

	// A tampered body: the digest no longer matches.
	r3, _ := http.NewRequest("POST", url, strings.NewReader(body))
	r3.Header.Set("X-API-Key", key)
	s.Sign(r3, []byte(body), keyID, time.Now(), "n-tampered")
	r3.Body, r3.ContentLength = io.NopCloser(strings.NewReader(`{"setpoint": 35.0}`)), 18
	if got := sendRequest(t, r3); got.Status != 401 || !strings.Contains(got.Body, "content-digest") {
		t.Fatalf("a tampered body = %s, want 401 invalid_signature (content-digest)", got)
	}
	// An old signature.
	r4, _ := http.NewRequest("POST", url, bytes.NewReader([]byte(body)))
	r4.Header.Set("X-API-Key", key)
	s.Sign(r4, []byte(body), keyID, time.Now().Add(-6*time.Minute), "n-old")
	if got := sendRequest(t, r4); got.Status != 401 || !strings.Contains(got.Body, "created") {
		t.Fatalf("a 6-minute-old signature = %s, want 401 invalid_signature (created)", got)
	}

	// The signing key removed: refused, on another node too, within a second.
	other := g.nextNode(t)
	if got := do(t, "DELETE", g.URL+"/api/v2/api-keys/"+id+"/signing-keys/"+keyID, admin, "", ""); got.Status != 204 {
		t.Fatalf("remove the signing key = %s, want 204", got)
	}
	if got := sendSigned(t, "POST", url, key, body, s, keyID, "n-removed"); got.Status != 401 || !strings.Contains(got.Body, "keyid") {
		t.Fatalf("a write signed by a removed key = %s, want 401 invalid_signature (keyid)", got)
	}
	i := 0
	gatehousetest.Eventually(t, time.Second, "the other node refuses a removed signing key", func() bool {
		i++
		return sendSigned(t, "POST", other.URL+"/api/v2/assets/7", key, body, s, keyID, fmt.Sprintf("n-other-%d", i)).Status == 401
	})
}

// TestSignedReplayAcrossNodes: with Redis, a signed write accepted by one
// node is a replay on another.
func TestSignedReplayAcrossNodes(t *testing.T) {
	t.Parallel()
	redis := os.Getenv("GATEHOUSE_TEST_REDIS")
	if redis == "" {
		t.Skip("set GATEHOUSE_TEST_REDIS=redis://127.0.0.1:6379/0 to run the cluster replay test")
	}
	g := signedGateway(t, redis)
	other := g.nextNode(t)
	_, admin := g.key(t, "admin", "api-keys:write", "*:write")
	id, key := g.key(t, "controller", "assets:write")
	s := gatehousetest.NewSigner(t)
	keyID := registerSigner(t, g, admin, id, s)
	const body = `{"open": true}`
	nonce := "cluster-" + id
	r, _ := http.NewRequest("POST", g.URL+"/api/v2/assets/door", strings.NewReader(body))
	r.Header.Set("X-API-Key", key)
	s.Sign(r, []byte(body), keyID, time.Now(), nonce)
	if got := sendRequest(t, r); got.Status != 200 {
		t.Fatalf("node 1 = %s, want 200", got)
	}
	// The same signed request, to node 2 (its Host is in the signature, so
	// it is sent with node 1's).
	r2, _ := http.NewRequest("POST", other.URL+"/api/v2/assets/door", strings.NewReader(body))
	r2.Header = r.Header.Clone()
	r2.Host = r.URL.Host
	if got := sendRequest(t, r2); got.Status != 401 || !strings.Contains(got.Body, "nonce") {
		t.Fatalf("the replay on node 2 = %s, want 401 invalid_signature (nonce)", got)
	}
}
