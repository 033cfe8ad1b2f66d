package keyauth

import (
	"math"
	"net/http"
	"strconv"
	"time"

	"gatehouse/jsonerr"
)

// Header is the one header a key is read from.
const Header = "X-API-Key"

// HeaderKey is Header as net/http stores it (http.CanonicalHeaderKey), for
// indexing an http.Header directly: Get, Values and Del canonicalise a
// non-canonical name on every call, which allocates on every request.
const HeaderKey = "X-Api-Key"

// HTTPStatus returns the HTTP status of the outcome.
func (s Status) HTTPStatus() int {
	switch s {
	case StatusMissing, StatusInvalid, StatusExpired:
		return http.StatusUnauthorized
	case StatusInsufficientScope:
		return http.StatusForbidden
	case StatusRateLimited:
		return http.StatusTooManyRequests
	case StatusUnavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusOK
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
	jsonerr.Write(w, v.Status.HTTPStatus(), v.Status.Code(), v.Status.message())
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
