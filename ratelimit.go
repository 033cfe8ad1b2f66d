package gatehouse

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// RateLimit is a number of requests allowed per period.
type RateLimit struct {
	Requests int           // > 0
	Per      time.Duration // > 0
}

// IsZero reports whether no limit is set.
func (r RateLimit) IsZero() bool { return r.Requests == 0 }

// String returns the "100/s" form (or "100/1m30s" for other periods).
func (r RateLimit) String() string {
	if r.IsZero() {
		return ""
	}
	switch r.Per {
	case time.Second:
		return fmt.Sprintf("%d/s", r.Requests)
	case time.Minute:
		return fmt.Sprintf("%d/m", r.Requests)
	case time.Hour:
		return fmt.Sprintf("%d/h", r.Requests)
	}
	return fmt.Sprintf("%d/%s", r.Requests, r.Per)
}

// Validate checks that the limit is positive and sane.
func (r RateLimit) Validate() error {
	if r.Requests <= 0 || r.Requests > 1_000_000_000 {
		return Errorf(EInvalidRequest, "A rate limit needs between 1 and 1000000000 requests.")
	}
	if r.Per < time.Millisecond || r.Per > 24*time.Hour {
		return Errorf(EInvalidRequest, "A rate limit's period must be between 1ms and 24h.")
	}
	return nil
}

// ParseRateLimit parses "100/s", "100/m", "100/h", "100/1s", "5/250ms".
func ParseRateLimit(s string) (RateLimit, error) {
	n, per, ok := strings.Cut(strings.TrimSpace(s), "/")
	if !ok {
		return RateLimit{}, Errorf(EInvalidRequest, "Rate limit %q must look like 100/s.", s)
	}
	req, err := strconv.Atoi(strings.TrimSpace(n))
	if err != nil {
		return RateLimit{}, Errorf(EInvalidRequest, "Rate limit %q: %q is not a whole number.", s, n)
	}
	var d time.Duration
	switch per = strings.TrimSpace(per); per {
	case "s":
		d = time.Second
	case "m", "min":
		d = time.Minute
	case "h":
		d = time.Hour
	default:
		if d, err = time.ParseDuration(per); err != nil {
			return RateLimit{}, Errorf(EInvalidRequest, "Rate limit %q: %q is not a period (s, m, h or a duration like 10s).", s, per)
		}
	}
	r := RateLimit{Requests: req, Per: d}
	return r, r.Validate()
}

// RateDecision is a rate limiter's answer for one request.
type RateDecision struct {
	// Allowed is true when the request may proceed.
	Allowed bool
	// Limit is the number of requests allowed per period.
	Limit int
	// Remaining is how many more requests are allowed right now.
	Remaining int
	// RetryAfter is, when not allowed, how long until one request is.
	RetryAfter time.Duration
	// ResetAfter is how long until the full limit is available again.
	ResetAfter time.Duration
}
