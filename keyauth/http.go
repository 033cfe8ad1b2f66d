package keyauth

import (
	"bytes"
	"io"
	"math"
	"net/http"
	"strconv"
	"time"

	"gatehouse"
	"gatehouse/httpsig"
	"gatehouse/jsonerr"
)

// Header is the one header a key is read from.
const Header = "X-API-Key"

// HeaderKey is Header as net/http stores it (http.CanonicalHeaderKey), for
// indexing an http.Header directly: Get, Values and Del canonicalise a
// non-canonical name on every call, which allocates on every request.
const HeaderKey = "X-Api-Key"

// ExpiresHeaderKey is the header that tells a client when the secret it
// presented ends, once that is within the expiry warning (contract §8):
// X-API-Key-Expires, as net/http stores it.
const ExpiresHeaderKey = "X-Api-Key-Expires"

// HTTPStatus returns the HTTP status of the outcome.
func (s Status) HTTPStatus() int {
	switch s {
	case StatusMissing, StatusInvalid, StatusRolled, StatusDisabled, StatusExpired,
		StatusInvalidToken, StatusSignatureRequired, StatusInvalidSignature:
		return http.StatusUnauthorized
	case StatusIPNotAllowed, StatusInsufficientScope:
		return http.StatusForbidden
	case StatusRateLimited:
		return http.StatusTooManyRequests
	case StatusUnavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusOK
}

// Authenticator is the key check of an HTTP request, the one seam between
// the check and its callers: the data plane (proxy.Handler) and the
// management API (mgmtapi.Handler) take it, and *Verifier implements it.
type Authenticator interface {
	// Authenticate checks the request's credentials for need, at the
	// access the request's method needs. It records the ID of the key
	// presented, when found, in the request's gatehouse.RequestInfo, and
	// the outcome when it refuses. When it reports false it has answered
	// the request already; when true it has set the rate headers, and the
	// verdict's Key is the caller's key (or its Subject the caller's
	// token's, on a Bearer route).
	Authenticate(w http.ResponseWriter, r *http.Request, need Need) (Verdict, bool)
}

// Need is what a request must show: a key with the scope, and what its
// route asks beyond that (contract §9).
type Need struct {
	// Scope is the scope name the key needs.
	Scope string
	// Bearer accepts an "Authorization: Bearer" token when the request
	// has no X-API-Key.
	Bearer bool
	// Signed asks writes for an RFC 9421 signature by one of the key's
	// signing keys.
	Signed bool
}

// Authenticate is the HTTP adapter of Check: it reads the X-API-Key
// header (every value, indexed by HeaderKey) and the access the method
// needs, and the client's address (RemoteAddr and X-Forwarded-For), runs
// Check, records the key's ID and a refusal's outcome in the request's
// gatehouse.RequestInfo, sets X-API-Key-Expires when the verdict has an
// Expires, and writes the refusal (WriteRejection) or, when the request
// may go on, the rate headers (SetRateHeaders). It allocates nothing
// beyond what Check and the rate headers do for a key that is not about
// to expire.
//
// On a Bearer route it also reads the Authorization header. On a signed
// route a write's signature is checked; when that reads the body (to check
// its Content-Digest), the verdict's Body holds it, and the caller puts it
// back with ReplaceBody.
func (v *Verifier) Authenticate(w http.ResponseWriter, r *http.Request, need Need) (Verdict, bool) {
	ctx := r.Context()
	req := Request{
		Presented: r.Header[HeaderKey], Scope: need.Scope, Access: gatehouse.MethodAccess(r.Method),
		RemoteAddr: r.RemoteAddr, ForwardedFor: r.Header["X-Forwarded-For"],
		Bearer: need.Bearer, Signed: need.Signed,
	}
	if need.Bearer {
		req.Authorization = r.Header["Authorization"]
	}
	if need.Signed && req.Access == gatehouse.AccessWrite {
		m := httpsig.FromRequest(r)
		req.Message = &m
	}
	verdict := v.Check(ctx, req)
	info := gatehouse.RequestInfoFromContext(ctx)
	if verdict.Key != nil {
		info.KeyID = verdict.Key.ID
	}
	if !verdict.Expires.IsZero() {
		w.Header()[ExpiresHeaderKey] = []string{verdict.Expires.UTC().Format(time.RFC3339)}
	}
	if !verdict.OK() {
		info.Outcome = verdict.Status.Code()
		WriteRejection(w, verdict)
		return verdict, false
	}
	SetRateHeaders(w.Header(), verdict)
	return verdict, true
}

// ReplaceBody gives r the body that a signature check read (v.Body), in
// place of the one it consumed; without one it does nothing. The caller
// does it on the request it forwards: a wrapper of Authenticate (a
// tracing span's) may have passed on a copy of r.
func ReplaceBody(r *http.Request, v Verdict) {
	if v.Body != nil {
		r.Body = io.NopCloser(bytes.NewReader(v.Body))
		r.ContentLength = int64(len(v.Body))
	}
}

// WriteRejection answers a refused request with the contract's JSON error:
// 401 (with WWW-Authenticate), 403, 429 (with Retry-After) or 503.
func WriteRejection(w http.ResponseWriter, v Verdict) {
	if v.Limited {
		SetRateHeaders(w.Header(), v)
	}
	if v.Status == StatusRateLimited {
		w.Header().Set("Retry-After", strconv.Itoa(ceilSeconds(v.Rate.RetryAfter)))
	}
	msg := v.Status.message()
	if v.Detail != "" {
		msg = v.Detail
	}
	if v.Status == StatusInvalidToken {
		// RFC 6750 §3.1's challenge, in place of the X-API-Key one.
		jsonerr.WriteChallenge(w, v.Status.HTTPStatus(), v.Status.Code(), msg, `Bearer error="invalid_token"`)
		return
	}
	jsonerr.Write(w, v.Status.HTTPStatus(), v.Status.Code(), msg)
}

// SetRateHeaders sets RateLimit-Limit, RateLimit-Remaining and
// RateLimit-Reset (seconds) when a limit applied to the request.
func SetRateHeaders(h http.Header, v Verdict) {
	if !v.Limited {
		return
	}
	// One string and one slice hold the three values: this runs on every
	// request, and three Sets would cost six allocations.
	var buf [3 * 20]byte
	b := strconv.AppendInt(buf[:0], int64(v.Rate.Limit), 10)
	n1 := len(b)
	b = strconv.AppendInt(b, int64(max(v.Rate.Remaining, 0)), 10)
	n2 := len(b)
	b = strconv.AppendInt(b, int64(ceilSeconds(v.Rate.ResetAfter)), 10)
	all := string(b)
	vals := []string{all[:n1], all[n1:n2], all[n2:]}
	h["Ratelimit-Limit"] = vals[0:1:1]
	h["Ratelimit-Remaining"] = vals[1:2:2]
	h["Ratelimit-Reset"] = vals[2:3:3]
}

func ceilSeconds(d time.Duration) int {
	if d <= 0 {
		return 0
	}
	return int(math.Ceil(d.Seconds()))
}

var _ Authenticator = (*Verifier)(nil)
