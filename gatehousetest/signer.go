package gatehousetest

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Signer signs requests as an integration would for a route with signed:
// true: RFC 9421 with Ed25519, covering "@method", "@target-uri",
// "x-api-key" and, with a body, "content-digest" (RFC 9530, sha-256).
// It is written from the RFCs, apart from the gateway's verifier, so that
// tests check one against the other.
type Signer struct {
	Key ed25519.PrivateKey
}

// NewSigner returns a signer with a new key.
func NewSigner(tb testing.TB) *Signer {
	tb.Helper()
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	return &Signer{Key: k}
}

// JWK returns the signer's public key as a JWK (RFC 8037 §2).
func (s *Signer) JWK() string {
	return fmt.Sprintf(`{"kty":"OKP","crv":"Ed25519","x":%q}`, base64.RawURLEncoding.EncodeToString(s.Key.Public().(ed25519.PublicKey)))
}

// Sign sets Content-Digest (when body is not empty), Signature-Input and
// Signature on r, whose body is body, with created and nonce; keyID is
// put in the signature when not empty. r.URL must be absolute and
// r.Header must hold X-API-Key.
func (s *Signer) Sign(r *http.Request, body []byte, keyID string, created time.Time, nonce string) {
	covered := []string{"@method", "@target-uri", "x-api-key"}
	if len(body) > 0 {
		sum := sha256.Sum256(body)
		r.Header.Set("Content-Digest", "sha-256=:"+base64.StdEncoding.EncodeToString(sum[:])+":")
		covered = append(covered, "content-digest")
	}
	params := `("` + strings.Join(covered, `" "`) + `")` + fmt.Sprintf(";created=%d;nonce=%q;alg=\"ed25519\"", created.Unix(), nonce)
	if keyID != "" {
		params += fmt.Sprintf(";keyid=%q", keyID)
	}
	var base strings.Builder
	for _, c := range covered {
		v := r.Header.Get(c)
		switch c {
		case "@method":
			v = r.Method
		case "@target-uri":
			v = r.URL.String()
		}
		fmt.Fprintf(&base, "%q: %s\n", c, v)
	}
	base.WriteString(`"@signature-params": ` + params)
	sig := ed25519.Sign(s.Key, []byte(base.String()))
	r.Header.Set("Signature-Input", "sig1="+params)
	r.Header.Set("Signature", "sig1=:"+base64.StdEncoding.EncodeToString(sig)+":")
}
