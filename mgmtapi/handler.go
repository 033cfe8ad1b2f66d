// Package mgmtapi serves the management API of API keys
// (/api/v2/api-keys) and its OpenAPI description (/openapi.json).
//
// It is a thin HTTP layer over keys.Service: it authenticates the caller
// (a Settings UI session, or an X-API-Key holding api-keys scopes, checked
// by keyauth's Authenticate like the data plane's keys), decodes
// request bodies strictly, and maps error codes to statuses in one place
// (errors.go).
package mgmtapi

import (
	"errors"
	"log/slog"
	"net/http"
	"time"

	"gatehouse"
	"gatehouse/jsonerr"
	"gatehouse/keyauth"
	"gatehouse/keys"
)

// DefaultMaxBodyBytes is the largest request body accepted when
// Handler.MaxBodyBytes is zero.
const DefaultMaxBodyBytes = 64 << 10

// Handler serves /api/v2/api-keys and the paths below it. Every request,
// whatever its path or method, is authenticated before it is routed, so
// that nothing of the API answers a caller without api-keys scopes.
//
// A key caller reaches keys.Service as a keys.KeyCaller, so the service
// refuses (403 insufficient_scope) to let it create, renew, reveal or
// delete a key whose scopes are not all within its own; a session reaches
// it as an unbounded keys.Admin. Reads (list, get, details) are not
// bounded: api-keys:read shows every key, without its plain key.
type Handler struct {
	// Keys creates, lists, reveals, renews, rolls, disables, enables,
	// changes and deletes keys. Required.
	Keys *keys.Service

	// Verifier checks the X-API-Key of a request for the scope
	// gatehouse.ScopeAPIKeys at the access its method needs (read for
	// GET and HEAD, write otherwise), and its rate limit
	// (keyauth.Verifier), and answers the requests it refuses.
	// If nil, API keys are not accepted: a request that no session
	// authenticates is answered 401 missing_key or invalid_key.
	Verifier keyauth.Authenticator

	// Session, if not nil, authenticates a Settings UI session. It is
	// asked only when the request has no X-API-Key header. ok false
	// means there is no session, and the key check decides (so 401
	// missing_key); a non-nil err (a *gatehouse.Error, e.g. a bad CSRF
	// token on a state-changing request) is answered as it is. If nil,
	// only API keys are accepted.
	Session func(r *http.Request) (user string, ok bool, err error)

	// Now returns the current time, read once per request (for the
	// "expired" flag of the answers). If nil, time.Now is used.
	Now func() time.Time

	// Logger receives internal and store errors (never a key). If nil,
	// logs are discarded.
	Logger *slog.Logger

	// MaxBodyBytes limits request bodies; a larger one is answered 413.
	// If zero, DefaultMaxBodyBytes is used.
	MaxBodyBytes int64
	// BodyTimeout is how long a client has to send its request body, so
	// that a stalled body does not hold a connection. Zero means 10s.
	BodyTimeout time.Duration
}

// call is what a route's function learns about the request beyond the
// request itself.
type call struct {
	// id is the {id} path segment, checked by validID; "" on the
	// collection.
	id string
	// caller is who makes the call: an administrator ("admin:<user>" in
	// the audit log) or a key ("key:<id>"), whose changes keys.Service
	// bounds by its scopes.
	caller keys.Caller
	// now is the time of the request.
	now time.Time
}

// ServeHTTP authenticates the request, routes it, and answers.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("X-Content-Type-Options", "nosniff")
	info := gatehouse.RequestInfoFromContext(r.Context())
	info.Route = gatehouse.RouteLabelMgmt

	caller, ok := h.authenticate(w, r)
	if !ok {
		return
	}
	rt, id, found := match(r.URL.EscapedPath())
	if !found {
		h.fail(w, r, gatehouse.Errorf(gatehouse.ENotFound, "No management API resource has this path."))
		return
	}
	serve := rt.lookup(r.Method)
	if serve == nil {
		hdr.Set("Allow", rt.allow())
		h.fail(w, r, gatehouse.Errorf(gatehouse.EMethodNotAllowed, "%s is not allowed here; allowed: %s.", r.Method, rt.allow()))
		return
	}
	if rt.hasID() && !validID(id) {
		// Not a key ID that the service could have made: no store lookup.
		h.fail(w, r, gatehouse.Errorf(gatehouse.ENotFound, "No key has this ID."))
		return
	}
	if err := serve(h, w, r, &call{id: id, caller: caller, now: h.now()}); err != nil {
		h.fail(w, r, err)
	}
}

// authenticate finds who makes the request. When it reports false it has
// answered already.
func (h *Handler) authenticate(w http.ResponseWriter, r *http.Request) (caller keys.Caller, ok bool) {
	sent := len(r.Header[keyauth.HeaderKey]) > 0
	if !sent && h.Session != nil {
		user, ok, err := h.Session(r)
		if err != nil {
			h.fail(w, r, err)
			return keys.Caller{}, false
		}
		if ok {
			return keys.Admin("admin:" + user), true
		}
	}
	if h.Verifier == nil {
		if !sent {
			h.fail(w, r, gatehouse.Errorf(gatehouse.EMissingKey, "Sign in or send an API key in the X-API-Key header."))
		} else {
			h.fail(w, r, gatehouse.Errorf(gatehouse.EInvalidKey, "API keys are not accepted here."))
		}
		return keys.Caller{}, false
	}
	v, ok := h.Verifier.Authenticate(w, r, keyauth.Need{Scope: gatehouse.ScopeAPIKeys})
	if !ok {
		return keys.Caller{}, false
	}
	if v.Key == nil {
		// Only a broken Authenticator: keys.KeyCaller needs the key.
		h.fail(w, r, errors.New("key check: valid verdict without a key"))
		return keys.Caller{}, false
	}
	return keys.KeyCaller(v.Key), true
}

func (h *Handler) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

func (h *Handler) logger() *slog.Logger {
	if h.Logger != nil {
		return h.Logger
	}
	return slog.New(slog.DiscardHandler)
}

func (h *Handler) maxBody() int64 {
	if h.MaxBodyBytes > 0 {
		return h.MaxBodyBytes
	}
	return DefaultMaxBodyBytes
}

// fail answers err in the contract's JSON error shape.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	code := gatehouse.ErrorCode(err)
	status := statusOf(code)
	switch {
	case status >= 500 && code == gatehouse.EInternal:
		// The route pattern, not the path: a path may hold anything.
		h.logger().ErrorContext(r.Context(), "management api: internal error",
			"method", r.Method, "route", routeName(r.URL.EscapedPath()), "err", err)
	case status >= 500:
		h.logger().WarnContext(r.Context(), "management api: error",
			"method", r.Method, "route", routeName(r.URL.EscapedPath()), "code", code, "err", err)
	}
	gatehouse.RequestInfoFromContext(r.Context()).Outcome = code
	jsonerr.Write(w, status, code, gatehouse.ErrorMessage(err))
}

func (h *Handler) bodyTimeout() time.Duration {
	if h.BodyTimeout > 0 {
		return h.BodyTimeout
	}
	return 10 * time.Second
}
