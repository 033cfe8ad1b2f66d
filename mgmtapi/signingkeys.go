package mgmtapi

import (
	"encoding/json"
	"net/http"
	"path"

	"gatehouse"
)

// addSigningKeyBody is the body of POST /api/v2/api-keys/{id}/signing-keys.
type addSigningKeyBody struct {
	JWK *jwkJSON `json:"jwk"`
}

// jwkJSON is the members of a JWK that a signing key may have (RFC 7517
// §4, RFC 7518 §6.2, RFC 8037 §2); another member is refused like any
// unknown field. D is read only to refuse a private key by name.
type jwkJSON struct {
	Kty    string   `json:"kty"`
	Crv    string   `json:"crv"`
	X      string   `json:"x"`
	Y      string   `json:"y,omitempty"`
	D      string   `json:"d,omitempty"`
	Kid    string   `json:"kid,omitempty"`
	Alg    string   `json:"alg,omitempty"`
	Use    string   `json:"use,omitempty"`
	KeyOps []string `json:"key_ops,omitempty"`
}

// signingKeyID is the answer to adding a signing key.
type signingKeyID struct {
	KeyID string `json:"keyid"`
}

// addSigningKey answers POST /api/v2/api-keys/{id}/signing-keys: 201 with
// the keyid of the JWK it registers.
func (h *Handler) addSigningKey(w http.ResponseWriter, r *http.Request, c *call) error {
	var b addSigningKeyBody
	if _, err := h.decodeBody(w, r, &b, false); err != nil {
		return err
	}
	if b.JWK == nil {
		return gatehouse.Errorf(gatehouse.EInvalidRequest, "jwk is required: the public key as a JWK object.")
	}
	jwk, err := json.Marshal(b.JWK)
	if err != nil {
		return err
	}
	_, keyID, err := h.Keys.AddSigningKey(r.Context(), c.id, jwk, c.caller)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, signingKeyID{KeyID: keyID})
}

// removeSigningKey answers DELETE
// /api/v2/api-keys/{id}/signing-keys/{keyid}: 204.
func (h *Handler) removeSigningKey(w http.ResponseWriter, r *http.Request, c *call) error {
	keyID := path.Base(r.URL.Path)
	if _, err := h.Keys.RemoveSigningKey(r.Context(), c.id, keyID, c.caller); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
