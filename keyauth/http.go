package keyauth

import (
	"math"
	"net/http"
	"strconv"
	"time"

	"gatehouse/jsonerr"
)

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
	h.Set("RateLimit-Limit", strconv.Itoa(v.Rate.Limit))
	h.Set("RateLimit-Remaining", strconv.Itoa(max(v.Rate.Remaining, 0)))
	h.Set("RateLimit-Reset", strconv.Itoa(ceilSeconds(v.Rate.ResetAfter)))
}

func ceilSeconds(d time.Duration) int {
	if d <= 0 {
		return 0
	}
	return int(math.Ceil(d.Seconds()))
}
