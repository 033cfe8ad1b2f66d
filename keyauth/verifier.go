package keyauth

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"gatehouse"
)

// Index finds keys by digest without I/O (keyindex.Index).
type Index interface {
	Lookup(d gatehouse.Digest) (*gatehouse.APIKey, bool)
	// Usable reports whether the index is fresh enough to trust.
	Usable(now time.Time) bool
	// CatchUp brings the index up to what the store holds now, sharing
	// one sync among concurrent callers. It is asked only when a
	// well-formed key is not found, so that a key created a moment ago
	// elsewhere works on its first request.
	CatchUp(ctx context.Context) error
}

// Limiter decides whether a key may make one more request
// (ratelimit.Limiter).
type Limiter interface {
	Allow(ctx context.Context, key string, limit gatehouse.RateLimit, now time.Time) (gatehouse.RateDecision, error)
}

// UsageRecorder counts accepted requests (usage.Recorder).
type UsageRecorder interface {
	Record(keyID string, now time.Time)
}

// Verdict is the result of a check.
type Verdict struct {
	Status Status
	// Key is the key presented, when it was found (also when a later check
	// refused it).
	Key *gatehouse.APIKey
	// Rate is the rate limiter's decision, when a limit applies.
	Rate gatehouse.RateDecision
	// Limited is true when a rate limit applied to the request.
	Limited bool
}

// OK reports whether the request may proceed.
func (v Verdict) OK() bool { return v.Status == StatusValid }

// Verifier checks keys. Its zero value is not usable: Index is required.
type Verifier struct {
	// Index holds the keys. Required.
	Index Index
	// Limiter enforces rate limits. If nil, there are none.
	Limiter Limiter
	// DefaultLimit applies to keys without their own. Zero means none.
	// SetDefaultLimit replaces it while the Verifier serves.
	DefaultLimit gatehouse.RateLimit
	// Usage counts accepted requests. If nil, nothing is counted.
	Usage UsageRecorder
	// Now returns the current time. If nil, time.Now is used.
	Now func() time.Time
	// Registerer receives gatehouse_keyauth_rejections_total. If nil,
	// nothing is registered.
	Registerer prometheus.Registerer

	rejections *prometheus.CounterVec
	// limit is the default limit once SetDefaultLimit has set one.
	limit atomic.Pointer[gatehouse.RateLimit]
}

// SetDefaultLimit replaces DefaultLimit for the checks that start from now
// on (a config reload).
func (v *Verifier) SetDefaultLimit(l gatehouse.RateLimit) { v.limit.Store(&l) }

// Init registers the metrics. Call it once before the first Check when a
// Registerer is set. Like every package's metrics, they are registered
// with MustRegister: a metric registered twice is a programming error.
func (v *Verifier) Init() {
	if v.Registerer == nil {
		return
	}
	v.rejections = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gatehouse_keyauth_rejections_total",
		Help: "Requests refused by the key check, by reason (the error code).",
	}, []string{"reason"})
	for _, s := range []Status{StatusMissing, StatusInvalid, StatusExpired, StatusInsufficientScope, StatusRateLimited, StatusUnavailable} {
		v.rejections.WithLabelValues(s.Code())
	}
	v.Registerer.MustRegister(v.rejections)
}

// Request is what the key check reads of a request, whatever serves it:
// the HTTP adapter (Authenticate) fills it from an *http.Request, and
// another engine could fill it from its own.
//
// The checks still to come in the contract's order add their inputs here,
// so that each lands in Check and nowhere else: the client's address (for
// a key's allowed IPs), the Authorization header's bearer token, and the
// request's signature.
type Request struct {
	// Presented is every value of the X-API-Key header, in order: none
	// when the header was not sent. An empty value counts as invalid, not
	// missing, since the header was sent.
	Presented []string
	// Scope is the scope the route needs.
	Scope string
	// Access is the access the request's method needs
	// (gatehouse.MethodAccess).
	Access gatehouse.Access
}

// Check runs the checks in the contract's order: missing, invalid (more
// than one value, malformed or bad checksum, unknown), expired, scope, rate
// limit. The time is captured once. Only a valid request is counted as
// usage.
func (v *Verifier) Check(ctx context.Context, req Request) Verdict {
	now := v.now()
	verdict := v.check(ctx, req, now)
	if verdict.Status == StatusValid {
		if v.Usage != nil {
			v.Usage.Record(verdict.Key.ID, now)
		}
	} else if v.rejections != nil {
		v.rejections.WithLabelValues(verdict.Status.Code()).Inc()
	}
	return verdict
}

func (v *Verifier) check(ctx context.Context, req Request, now time.Time) Verdict {
	if len(req.Presented) == 0 {
		return Verdict{Status: StatusMissing}
	}
	if len(req.Presented) > 1 {
		return Verdict{Status: StatusInvalid}
	}
	secret, ok := gatehouse.ParseSecret(req.Presented[0])
	if !ok {
		return Verdict{Status: StatusInvalid}
	}
	if !v.Index.Usable(now) {
		return Verdict{Status: StatusUnavailable}
	}
	d := secret.Digest()
	k, ok := v.Index.Lookup(d)
	if !ok && v.Index.CatchUp(ctx) == nil {
		// A well-formed key the index does not know yet may have been
		// created a moment ago by the CLI or another node.
		k, ok = v.Index.Lookup(d)
	}
	if !ok || !k.Digest.Equal(d) {
		return Verdict{Status: StatusInvalid}
	}
	if k.Expired(now) {
		return Verdict{Status: StatusExpired, Key: k}
	}
	if !k.Scopes.Allows(req.Scope, req.Access) {
		return Verdict{Status: StatusInsufficientScope, Key: k}
	}
	limit := k.RateLimit
	if limit.IsZero() {
		limit = v.DefaultLimit
		if l := v.limit.Load(); l != nil {
			limit = *l
		}
	}
	if v.Limiter == nil || limit.IsZero() {
		return Verdict{Status: StatusValid, Key: k}
	}
	dec, err := v.Limiter.Allow(ctx, k.ID, limit, now)
	if err != nil {
		return Verdict{Status: StatusUnavailable, Key: k}
	}
	if !dec.Allowed {
		return Verdict{Status: StatusRateLimited, Key: k, Rate: dec, Limited: true}
	}
	return Verdict{Status: StatusValid, Key: k, Rate: dec, Limited: true}
}

func (v *Verifier) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}
