package httpsig_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"strings"
	"testing"

	"gatehouse/httpsig"
)

// TestThumbprintRFC8037 checks the thumbprint of the Ed25519 key of
// RFC 8037 Appendix A.3.
func TestThumbprintRFC8037(t *testing.T) {
	t.Parallel()
	k, err := httpsig.ParseJWK([]byte(`{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}`))
	if err != nil {
		t.Fatal(err)
	}
	if want := "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"; k.ID != want {
		t.Fatalf("ParseJWK(RFC 8037 A.3).ID = %s, want %s", k.ID, want)
	}
	if _, ok := k.Public.(ed25519.PublicKey); !ok || k.Algorithm() != httpsig.AlgEd25519 {
		t.Fatalf("ParseJWK = %T %s, want an ed25519 key", k.Public, k.Algorithm())
	}
}

func TestParseJWKP256(t *testing.T) {
	t.Parallel()
	k := newKeys(t)
	if _, ok := k.ecKey.Public.(*ecdsa.PublicKey); !ok || k.ecKey.Algorithm() != httpsig.AlgECDSAP256SHA256 {
		t.Fatalf("ParseJWK = %T %s, want a P-256 key", k.ecKey.Public, k.ecKey.Algorithm())
	}
	// The stored form parses back to the same key and thumbprint.
	again, err := httpsig.ParseJWK(k.ecKey.JWK())
	if err != nil || again.ID != k.ecKey.ID {
		t.Fatalf("ParseJWK(JWK()) = %v, %v, want %s", again.ID, err, k.ecKey.ID)
	}
	if !strings.HasPrefix(string(k.ecKey.JWK()), `{"crv":"P-256","kty":"EC","x":`) {
		t.Fatalf("JWK() = %s, want the RFC 7638 members in order", k.ecKey.JWK())
	}
}

func TestParseJWKRefuses(t *testing.T) {
	t.Parallel()
	x := "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
	tests := []struct{ name, jwk, want string }{
		{"not json", `{`, "not a JSON object"},
		{"private", `{"kty":"OKP","crv":"Ed25519","x":"` + x + `","d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"}`, "private key"},
		{"rsa", `{"kty":"RSA","n":"AQAB","e":"AQAB"}`, "must be an Ed25519 key"},
		{"p-384", `{"kty":"EC","crv":"P-384","x":"AA","y":"AA"}`, "must be an Ed25519 key"},
		{"short x", `{"kty":"OKP","crv":"Ed25519","x":"AAAA"}`, `"x" must be 32 bytes`},
		{"padded x", `{"kty":"OKP","crv":"Ed25519","x":"` + x + `="}`, `"x" must be 32 bytes`},
		{"not on the curve", `{"kty":"EC","crv":"P-256","x":"` + x + `","y":"` + x + `"}`, "not a point on P-256"},
		{"encryption key", `{"kty":"OKP","crv":"Ed25519","x":"` + x + `","use":"enc"}`, `"use"`},
		{"wrong alg", `{"kty":"OKP","crv":"Ed25519","x":"` + x + `","alg":"ES256"}`, `"alg"`},
		{"too large", `{"kty":"OKP","pad":"` + strings.Repeat("a", httpsig.MaxJWKBytes) + `"}`, "larger than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := httpsig.ParseJWK([]byte(tt.jwk))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("ParseJWK(%s) = %v, want an error with %q", tt.name, err, tt.want)
			}
		})
	}
}
