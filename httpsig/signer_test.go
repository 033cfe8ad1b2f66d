package httpsig_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// signer signs requests as a client would, written from RFC 9421 §2 and
// §3.1 and RFC 9530 §2, without the verifier's code: the components are
// read from the client's *http.Request, the base is concatenated by hand.
type signer struct {
	label   string // "sig1" if empty
	covered []string
	created int64
	keyID   string // omitted if empty
	alg     string // omitted if empty
	nonce   string // omitted if empty
	expires int64  // omitted if zero
	ed      ed25519.PrivateKey
	ec      *ecdsa.PrivateKey
}

// sign sets Signature-Input and Signature on r.
func (s signer) sign(t testing.TB, r *http.Request) {
	t.Helper()
	label := s.label
	if label == "" {
		label = "sig1"
	}
	quoted := make([]string, len(s.covered))
	for i, c := range s.covered {
		quoted[i] = `"` + c + `"`
	}
	params := "(" + strings.Join(quoted, " ") + ")"
	if s.created != 0 {
		params += fmt.Sprintf(";created=%d", s.created)
	}
	if s.expires != 0 {
		params += fmt.Sprintf(";expires=%d", s.expires)
	}
	if s.keyID != "" {
		params += fmt.Sprintf(";keyid=%q", s.keyID)
	}
	if s.alg != "" {
		params += fmt.Sprintf(";alg=%q", s.alg)
	}
	if s.nonce != "" {
		params += fmt.Sprintf(";nonce=%q", s.nonce)
	}
	var base strings.Builder
	for _, c := range s.covered {
		var v string
		switch c {
		case "@method":
			v = r.Method
		case "@target-uri":
			v = r.URL.String()
		case "@authority":
			v = r.URL.Host
		case "@path":
			v = r.URL.EscapedPath()
		case "@query":
			v = "?" + r.URL.RawQuery
		default:
			v = r.Header.Get(c)
		}
		fmt.Fprintf(&base, "%q: %s\n", c, v)
	}
	fmt.Fprintf(&base, "\"@signature-params\": %s", params)

	var sig []byte
	if s.ed != nil {
		sig = ed25519.Sign(s.ed, []byte(base.String()))
	} else {
		sum := sha256.Sum256([]byte(base.String()))
		r, ss, err := ecdsa.Sign(rand.Reader, s.ec, sum[:])
		if err != nil {
			t.Fatal(err)
		}
		sig = make([]byte, 64)
		r.FillBytes(sig[:32])
		ss.FillBytes(sig[32:])
	}
	r.Header.Set("Signature-Input", label+"="+params)
	r.Header.Set("Signature", label+"=:"+base64.StdEncoding.EncodeToString(sig)+":")
}

// contentDigest returns the RFC 9530 Content-Digest of body with sha-256.
func contentDigest(body string) string {
	sum := sha256.Sum256([]byte(body))
	return "sha-256=:" + base64.StdEncoding.EncodeToString(sum[:]) + ":"
}

// publicJWK returns the public JWK of an Ed25519 or P-256 key, written
// from RFC 8037 §2 and RFC 7518 §6.2.1.
func publicJWK(t testing.TB, ed ed25519.PrivateKey, ec *ecdsa.PrivateKey) string {
	t.Helper()
	b64 := base64.RawURLEncoding.EncodeToString
	if ed != nil {
		return fmt.Sprintf(`{"kty":"OKP","crv":"Ed25519","x":%q,"kid":"laptop"}`, b64(ed.Public().(ed25519.PublicKey)))
	}
	raw, err := ec.PublicKey.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf(`{"kty":"EC","crv":"P-256","x":%q,"y":%q,"use":"sig","alg":"ES256"}`, b64(raw[1:33]), b64(raw[33:]))
}
