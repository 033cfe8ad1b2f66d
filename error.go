package gatehouse

import (
	"errors"
	"fmt"
)

// Application error codes. They are part of the contract: they appear as
// error.code in every JSON error body.
const (
	EInvalidRequest    = "invalid_request"
	EUnknownScope      = "unknown_scope"
	ENameTaken         = "name_taken"
	ENotFound          = "not_found"
	EUnavailable       = "store_unavailable"
	EInternal          = "internal"
	EUnauthorized      = "unauthorized"
	EForbidden         = "forbidden"
	ETooLarge          = "request_too_large"
	EBodyTimeout       = "body_timeout"
	EUnsupportedMedia  = "unsupported_media_type"
	EMethodNotAllowed  = "method_not_allowed"
	EBadPath           = "bad_path"
	ENoRoute           = "no_route"
	EMissingKey        = "missing_key"
	EInvalidKey        = "invalid_key"
	EKeyExpired        = "key_expired"
	EKeyRolled         = "key_rolled"
	EKeyDisabled       = "key_disabled"
	EIPNotAllowed      = "ip_not_allowed"
	EInsufficientScope = "insufficient_scope"
	ERateLimited       = "rate_limited"
	// The credentials of contract §9.
	EInvalidToken      = "invalid_token"
	ESignatureRequired = "signature_required"
	EInvalidSignature  = "invalid_signature"
	EUpstreamDown      = "upstream_unavailable"
	EUpstreamTimeout   = "upstream_timeout"
)

// Error is an application error: a code for machines and a message for
// humans. Any error that is not an *Error is reported as EInternal.
type Error struct {
	Code    string
	Message string
}

// Error implements the error interface.
func (e *Error) Error() string {
	return fmt.Sprintf("gatehouse error: code=%s message=%s", e.Code, e.Message)
}

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the application error in err's chain, or
// EInternal when there is none. It returns "" for a nil error.
func ErrorCode(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Code
	}
	return EInternal
}

// ErrorMessage returns the human message of the application error in err's
// chain, or a generic message that reveals nothing of an internal error.
func ErrorMessage(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Message
	}
	return "Internal error."
}
