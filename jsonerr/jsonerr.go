// Package jsonerr writes the contract's JSON error bodies:
// {"error": {"code": "...", "message": "..."}}.
package jsonerr

import (
	"encoding/json"
	"net/http"
)

// Body is the JSON error body of every error answer.
type Body struct {
	Error Detail `json:"error"`
}

// Detail is the error object inside Body.
type Detail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Write answers with status and the JSON error body. 401 answers also get
// the WWW-Authenticate challenge of the X-API-Key scheme.
func Write(w http.ResponseWriter, status int, code, message string) {
	WriteChallenge(w, status, code, message, `ApiKey header="X-API-Key"`)
}

// WriteChallenge is Write with another WWW-Authenticate challenge for a
// 401 answer (a Bearer token's).
func WriteChallenge(w http.ResponseWriter, status int, code, message, challenge string) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	if status == http.StatusUnauthorized {
		h.Set("WWW-Authenticate", challenge)
	}
	w.WriteHeader(status)
	b, _ := json.Marshal(Body{Error: Detail{Code: code, Message: message}})
	w.Write(append(b, '\n'))
}
