package httpsig

import (
	"crypto/ed25519"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
)

// The test request of RFC 9421 Appendix B.2 and its signature with the
// key test-key-ed25519 (Appendix B.1.4), from Appendix B.2.6.
const (
	rfcPublicKeyEd25519 = "MCowBQYDK2VwAyEAJrQLj5P/89iXES9+vFgrIy29clF9CC/oPPsw3c5D0bs="
	rfcInputB26         = `sig-b26=("date" "@method" "@path" "@authority" "content-type" "content-length");created=1618884473;keyid="test-key-ed25519"`
	rfcSignatureB26     = `sig-b26=:wqcAqbmYJ2ji2glfAMaRy4gruYYnx2nEFN2HN6jrnDnQCK1u02Gb04v9EDgwUPiu4A0w6vuQv5lIp5WPpBKRCw==:`
	rfcBaseB26          = `"date": Tue, 20 Apr 2021 02:07:55 GMT
"@method": POST
"@path": /foo
"@authority": example.com
"content-type": application/json
"content-length": 18
"@signature-params": ("date" "@method" "@path" "@authority" "content-type" "content-length");created=1618884473;keyid="test-key-ed25519"`
)

// rfcRequest returns the test request of RFC 9421 Appendix B.2 as
// received by a server (over HTTPS, per its target URI).
func rfcRequest() Message {
	h := http.Header{}
	h.Set("Host", "example.com")
	h.Set("Date", "Tue, 20 Apr 2021 02:07:55 GMT")
	h.Set("Content-Type", "application/json")
	h.Set("Content-Digest", "sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:")
	h.Set("Content-Length", "18")
	return Message{
		Method:     "POST",
		Scheme:     "https",
		Authority:  "example.com",
		RequestURI: "/foo?param=Value&Pet=dog",
		Header:     h,
		Body:       strings.NewReader(`{"hello": "world"}`),
	}
}

func TestRFC9421B26Ed25519(t *testing.T) {
	m := rfcRequest()
	sigs, err := parseSignatures([]string{rfcInputB26}, []string{rfcSignatureB26})
	if err != nil {
		t.Fatalf("parseSignatures = %v", err)
	}
	if len(sigs) != 1 || sigs[0].label != "sig-b26" || sigs[0].keyID != "test-key-ed25519" || sigs[0].created.Unix() != 1618884473 {
		t.Fatalf("parseSignatures = %+v, want the one signature sig-b26", sigs)
	}
	base, err := sigs[0].base(&m)
	if err != nil {
		t.Fatalf("base = %v", err)
	}
	if string(base) != rfcBaseB26 {
		t.Fatalf("base =\n%s\nwant\n%s", base, rfcBaseB26)
	}
	spki, _ := base64.StdEncoding.DecodeString(rfcPublicKeyEd25519)
	pub := ed25519.PublicKey(spki[len(spki)-ed25519.PublicKeySize:])
	if !verifyBytes(pub, base, sigs[0].value) {
		t.Fatal("the RFC's signature does not verify over the base")
	}
	base[len(base)-2] ^= 1
	if verifyBytes(pub, base, sigs[0].value) {
		t.Fatal("the RFC's signature verifies over a changed base")
	}
}

func TestRFC9421B2ContentDigest(t *testing.T) {
	m := rfcRequest()
	b := &bodyDigest{r: m.Body, limit: 1 << 10}
	if err := b.check(m.Header.Values("Content-Digest")); err != nil {
		t.Fatalf("check(the RFC's Content-Digest) = %v", err)
	}
	if string(b.data) != `{"hello": "world"}` {
		t.Fatalf("body = %q", b.data)
	}
}

// TestRFC9421DerivedComponents checks each derived component against the
// values RFC 9421 §2.2 gives for its examples.
func TestRFC9421DerivedComponents(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, scheme, authority, target, component, want string
	}{
		{"method", "https", "www.example.com", "/path?param=value", "@method", "POST"},
		{"target-uri", "https", "www.example.com", "/path?param=value", "@target-uri", "https://www.example.com/path?param=value"},
		{"authority default port", "https", "www.Example.com:443", "/", "@authority", "www.example.com"},
		{"authority other port", "http", "www.example.com:8080", "/", "@authority", "www.example.com:8080"},
		{"scheme", "http", "www.example.com", "/", "@scheme", "http"},
		{"request-target", "https", "www.example.com", "/path?param=value", "@request-target", "/path?param=value"},
		{"path", "https", "www.example.com", "/path?param=value", "@path", "/path"},
		{"query", "https", "www.example.com", "/path?param=value&foo=bar&baz=bat%2Dman", "@query", "?param=value&foo=bar&baz=bat%2Dman"},
		{"query empty", "https", "www.example.com", "/path?", "@query", "?"},
		{"query absent", "https", "www.example.com", "/path", "@query", "?"},
		{"absolute form path", "https", "www.example.com", "https://www.example.com/p/q?x=1", "@path", "/p/q"},
		{"absolute form target", "https", "www.example.com", "https://www.example.com/p?x=1", "@target-uri", "https://www.example.com/p?x=1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := Message{Method: "POST", Scheme: tt.scheme, Authority: tt.authority, RequestURI: tt.target, Header: http.Header{}}
			got, err := componentValue(&m, tt.component)
			if err != nil || got != tt.want {
				t.Fatalf("componentValue(%s) = %q, %v, want %q", tt.component, got, err, tt.want)
			}
		})
	}
}

// TestFieldValues checks RFC 9421 §2.1: several field lines are trimmed
// and joined with ", ", and the header itself is left as it was.
func TestFieldValues(t *testing.T) {
	t.Parallel()
	h := http.Header{"X-Obs": {"  Value   ", "\tSecond value "}}
	m := Message{Header: h}
	got, err := componentValue(&m, "x-obs")
	if want := "Value, Second value"; err != nil || got != want {
		t.Fatalf("componentValue(x-obs) = %q, %v, want %q", got, err, want)
	}
	if h["X-Obs"][0] != "  Value   " {
		t.Fatalf("the header was changed: %q", h["X-Obs"])
	}
}
