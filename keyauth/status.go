// Package keyauth is the API key check.
//
// Its core (verifier.go) is a function from a Request (the presented
// X-API-Key values, the scope a route needs, the access a method needs,
// the client's address as the connection and X-Forwarded-For give it) to
// a Verdict: Verifier.Check runs the checks in the contract's order with
// the time read once. Failed checks are Status values, not errors. The
// core does not import net/http.
//
// net/http appears only in the thin adapter (http.go): Verifier.Authenticate
// reads the request, runs Check, records the outcome in the request's
// gatehouse.RequestInfo and writes the refusal (WriteRejection) or the rate
// headers (SetRateHeaders). The data plane (proxy) and the management API
// (mgmtapi) both call it through the Authenticator interface.
package keyauth

import "gatehouse"

// Status is the outcome of a key check.
type Status uint8

// Outcomes, in the order the checks run.
const (
	StatusValid Status = iota
	StatusMissing
	StatusInvalid
	StatusRolled
	StatusDisabled
	StatusExpired
	StatusIPNotAllowed
	StatusInsufficientScope
	StatusRateLimited
	StatusUnavailable
	// The checks of contract §9: a Bearer token (instead of a key, so
	// where StatusInvalid would be) and a write's signature (after the
	// scope).
	StatusInvalidToken
	StatusSignatureRequired
	StatusInvalidSignature
)

// Code returns the contract's error.code of a rejection ("" for valid).
func (s Status) Code() string {
	switch s {
	case StatusMissing:
		return gatehouse.EMissingKey
	case StatusInvalid:
		return gatehouse.EInvalidKey
	case StatusRolled:
		return gatehouse.EKeyRolled
	case StatusDisabled:
		return gatehouse.EKeyDisabled
	case StatusExpired:
		return gatehouse.EKeyExpired
	case StatusIPNotAllowed:
		return gatehouse.EIPNotAllowed
	case StatusInsufficientScope:
		return gatehouse.EInsufficientScope
	case StatusRateLimited:
		return gatehouse.ERateLimited
	case StatusUnavailable:
		return gatehouse.EUnavailable
	case StatusInvalidToken:
		return gatehouse.EInvalidToken
	case StatusSignatureRequired:
		return gatehouse.ESignatureRequired
	case StatusInvalidSignature:
		return gatehouse.EInvalidSignature
	}
	return ""
}

// message is the human message of a rejection. It never names the key.
func (s Status) message() string {
	switch s {
	case StatusMissing:
		return "This endpoint needs an API key in the X-API-Key header."
	case StatusInvalid:
		return "The API key is not valid."
	case StatusRolled:
		return "This secret of the API key was replaced by a roll and its overlap has ended; use the key's new secret."
	case StatusDisabled:
		return "The API key is disabled; an administrator can enable it."
	case StatusExpired:
		return "The API key has expired; an administrator can renew it."
	case StatusIPNotAllowed:
		return "The API key is not allowed from this client address."
	case StatusInsufficientScope:
		return "The API key is not allowed this endpoint with this method."
	case StatusRateLimited:
		return "The API key's rate limit is exceeded; retry later."
	case StatusUnavailable:
		return "The gateway cannot check keys right now; retry later."
	case StatusInvalidToken:
		return "The Bearer token is not valid."
	case StatusSignatureRequired:
		return "Writes to this endpoint must be signed (RFC 9421) with a signing key of the API key."
	case StatusInvalidSignature:
		return "The request's signature is not valid."
	}
	return ""
}
