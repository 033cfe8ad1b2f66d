package mgmtapi

import (
	"net/http"

	"gatehouse"
)

// statuses maps every error code the management API answers with to its
// HTTP status. A code that is not here is answered 500.
var statuses = map[string]int{
	gatehouse.EInvalidRequest:    http.StatusBadRequest,
	gatehouse.EUnknownScope:      http.StatusBadRequest,
	gatehouse.ENameTaken:         http.StatusConflict,
	gatehouse.ENotFound:          http.StatusNotFound,
	gatehouse.EUnavailable:       http.StatusServiceUnavailable,
	gatehouse.ETooLarge:          http.StatusRequestEntityTooLarge,
	gatehouse.EUnsupportedMedia:  http.StatusUnsupportedMediaType,
	gatehouse.EMethodNotAllowed:  http.StatusMethodNotAllowed,
	gatehouse.EForbidden:         http.StatusForbidden,
	gatehouse.EUnauthorized:      http.StatusUnauthorized,
	gatehouse.EMissingKey:        http.StatusUnauthorized,
	gatehouse.EInvalidKey:        http.StatusUnauthorized,
	gatehouse.EKeyRolled:         http.StatusUnauthorized,
	gatehouse.EKeyDisabled:       http.StatusUnauthorized,
	gatehouse.EKeyExpired:        http.StatusUnauthorized,
	gatehouse.EIPNotAllowed:      http.StatusForbidden,
	gatehouse.EInsufficientScope: http.StatusForbidden,
	gatehouse.ERateLimited:       http.StatusTooManyRequests,
	gatehouse.EInternal:          http.StatusInternalServerError,
}

// statusOf returns the HTTP status of an error code.
func statusOf(code string) int {
	if s, ok := statuses[code]; ok {
		return s
	}
	return http.StatusInternalServerError
}
