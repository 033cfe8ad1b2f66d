// Package httpsig verifies RFC 9421 HTTP message signatures on requests,
// with the RFC 9530 Content-Digest of their bodies, for the routes whose
// writes must be signed by a key registered on the caller's API key.
//
// It is written from the RFCs: Signature-Input and Signature are parsed as
// RFC 8941 structured fields (github.com/dunglas/httpsfv), the signature
// base is built as RFC 9421 §2.5 says, and Ed25519 and ECDSA P-256
// signatures are checked with the standard library. Verifier.Verify then
// applies the gateway's policy on top: the components a signature must
// cover, the freshness of created, a nonce never seen within the window,
// and a keyid and alg that match a registered key.
//
// The package does not import net/http's server side: a request reaches
// it as a Message, which any HTTP engine can fill (FromRequest does it for
// an *http.Request).
package httpsig

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
)

// The signature algorithms of RFC 9421 §6.2.2 that keys may use.
const (
	AlgEd25519         = "ed25519"
	AlgECDSAP256SHA256 = "ecdsa-p256-sha256"
)

// MaxJWKBytes bounds the JWK document that ParseJWK reads.
const MaxJWKBytes = 4096

// Key is a public signing key registered on an API key.
type Key struct {
	// ID is the key's JWK thumbprint (RFC 7638, SHA-256, base64url): the
	// keyid a signature names.
	ID string
	// Public is an ed25519.PublicKey or an *ecdsa.PublicKey on P-256.
	Public crypto.PublicKey
}

// Algorithm returns the RFC 9421 algorithm the key verifies.
func (k Key) Algorithm() string {
	if _, ok := k.Public.(*ecdsa.PublicKey); ok {
		return AlgECDSAP256SHA256
	}
	return AlgEd25519
}

// JWK returns the key as a public JWK holding only the members that
// RFC 7638 hashes, in its order: the form to store, and the thumbprint's
// input.
func (k Key) JWK() []byte {
	b64 := base64.RawURLEncoding.EncodeToString
	switch pub := k.Public.(type) {
	case ed25519.PublicKey:
		return fmt.Appendf(nil, `{"crv":"Ed25519","kty":"OKP","x":"%s"}`, b64(pub))
	case *ecdsa.PublicKey:
		raw, _ := pub.Bytes() // 0x04 || x || y, 32 bytes each on P-256
		return fmt.Appendf(nil, `{"crv":"P-256","kty":"EC","x":"%s","y":"%s"}`, b64(raw[1:33]), b64(raw[33:]))
	}
	return nil
}

// jwk holds the members of a JWK that ParseJWK reads; others are ignored.
type jwk struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
	D   string `json:"d"`
	Alg string `json:"alg"`
	Use string `json:"use"`
}

// ParseJWK parses a public JWK: an Ed25519 key (kty OKP, crv Ed25519) or
// an ECDSA P-256 key (kty EC, crv P-256), and computes its thumbprint. A
// private JWK (one with "d") is refused, so that a private key sent by
// mistake is never stored. The error says what is wrong with the JWK.
func ParseJWK(data []byte) (Key, error) {
	if len(data) > MaxJWKBytes {
		return Key{}, fmt.Errorf("the JWK is larger than %d bytes", MaxJWKBytes)
	}
	var j jwk
	if err := json.Unmarshal(data, &j); err != nil {
		return Key{}, fmt.Errorf("the JWK is not a JSON object: %w", err)
	}
	if j.D != "" {
		return Key{}, errors.New(`the JWK holds a private key ("d"); register the public key only`)
	}
	if j.Use != "" && j.Use != "sig" {
		return Key{}, fmt.Errorf(`the JWK's "use" is %q; a signing key needs "sig" or none`, j.Use)
	}
	var k Key
	switch {
	case j.Kty == "OKP" && j.Crv == "Ed25519":
		if j.Alg != "" && j.Alg != "EdDSA" && j.Alg != "Ed25519" {
			return Key{}, fmt.Errorf(`the JWK's "alg" %q does not fit an Ed25519 key`, j.Alg)
		}
		x, err := decodeCoordinate("x", j.X, ed25519.PublicKeySize)
		if err != nil {
			return Key{}, err
		}
		k.Public = ed25519.PublicKey(x)
	case j.Kty == "EC" && j.Crv == "P-256":
		if j.Alg != "" && j.Alg != "ES256" {
			return Key{}, fmt.Errorf(`the JWK's "alg" %q does not fit a P-256 key`, j.Alg)
		}
		x, err := decodeCoordinate("x", j.X, 32)
		if err != nil {
			return Key{}, err
		}
		y, err := decodeCoordinate("y", j.Y, 32)
		if err != nil {
			return Key{}, err
		}
		pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
		if err != nil {
			return Key{}, errors.New("the JWK's x and y are not a point on P-256")
		}
		k.Public = pub
	default:
		return Key{}, fmt.Errorf(`the JWK is kty %q crv %q; a signing key must be an Ed25519 key (kty "OKP", crv "Ed25519") or an ECDSA P-256 key (kty "EC", crv "P-256")`, j.Kty, j.Crv)
	}
	sum := sha256.Sum256(k.JWK())
	k.ID = base64.RawURLEncoding.EncodeToString(sum[:])
	return k, nil
}

func decodeCoordinate(name, s string, size int) ([]byte, error) {
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil || len(b) != size {
		return nil, fmt.Errorf("the JWK's %q must be %d bytes in unpadded base64url", name, size)
	}
	return b, nil
}
