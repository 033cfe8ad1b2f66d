package keyauth

import (
	"context"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"gatehouse"
	"gatehouse/httpsig"
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

// UsageRecorder counts accepted requests (usage.Recorder): Record those
// with a key's current secret, RecordPrevious those with its previous one
// (during a roll's overlap).
type UsageRecorder interface {
	Record(keyID string, now time.Time)
	RecordPrevious(keyID string, now time.Time)
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
	// Previous is true when the secret presented is the key's previous
	// one (a roll's overlap, or after it: StatusRolled).
	Previous bool
	// Expires, when not zero, is the end of the secret presented (the
	// key's ValidUntil, or the overlap's end for a previous secret), and
	// it is within the Verifier's ExpiryWarning or past (read-only
	// grace): the adapter sends it as X-API-Key-Expires.
	Expires time.Time
	// Subject is the sub of the Bearer token that authenticated the
	// request (Key is then nil).
	Subject string
	// Detail says what failed of a token or a signature, for the client.
	Detail string
	// Body is the request body that a signature check read, to be
	// forwarded in place of the consumed one; nil when none was read.
	Body []byte
}

// Secret returns the digest of the secret presented, when the key was
// found: the key's current one, or its previous one (Previous).
func (v Verdict) Secret() gatehouse.Digest {
	if v.Previous && v.Key.PreviousDigest != nil {
		return *v.Key.PreviousDigest
	}
	return v.Key.Digest
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
	// SetPolicy replaces it while the Verifier serves, as it does
	// TrustedProxies and ExpiryWarning.
	DefaultLimit gatehouse.RateLimit
	// Usage counts accepted requests. If nil, nothing is counted.
	Usage UsageRecorder
	// TrustedProxies are the peers whose X-Forwarded-For is read for the
	// client's address (see ClientAddr). If empty, the TCP peer is the
	// client.
	TrustedProxies []netip.Prefix
	// ExpiryWarning is how long before its end a secret's answers carry
	// Verdict.Expires. Zero means gatehouse.DefaultExpiryWarning.
	ExpiryWarning time.Duration
	// Now returns the current time. If nil, time.Now is used.
	Now func() time.Time
	// Registerer receives gatehouse_keyauth_rejections_total. If nil,
	// nothing is registered.
	Registerer prometheus.Registerer
	// Bearer verifies the Bearer tokens of routes that accept them. If
	// nil, no route does. SetBearer replaces it while the Verifier serves.
	Bearer BearerVerifier
	// Signatures verifies the signatures of writes to signed routes. If
	// nil, such writes are refused as unavailable.
	Signatures SignatureVerifier

	signingKeys signingKeyCache

	rejections *prometheus.CounterVec
	// policy replaces DefaultLimit, TrustedProxies and ExpiryWarning once
	// SetPolicy has set one.
	policy atomic.Pointer[Policy]
	// bearer replaces Bearer once SetBearer has set one.
	bearer atomic.Pointer[bearerBox]
}

// bearerBox holds what SetBearer set, nil included.
type bearerBox struct{ b BearerVerifier }

// SetBearer replaces Bearer, at once, for the checks that start from now
// on (a config reload); nil means no route accepts Bearer tokens. A check
// under way finishes with the verifier it started with.
func (v *Verifier) SetBearer(b BearerVerifier) { v.bearer.Store(&bearerBox{b}) }

// currentBearer returns the verifier SetBearer set last, or Bearer.
func (v *Verifier) currentBearer() BearerVerifier {
	if box := v.bearer.Load(); box != nil {
		return box.b
	}
	return v.Bearer
}

// Policy is what a config reload may change of the check, read once per
// check.
type Policy struct {
	DefaultLimit   gatehouse.RateLimit
	TrustedProxies []netip.Prefix
	ExpiryWarning  time.Duration
}

// SetPolicy replaces DefaultLimit, TrustedProxies and ExpiryWarning, at
// once, for the checks that start from now on (a config reload). p must
// not be changed afterwards.
func (v *Verifier) SetPolicy(p Policy) { v.policy.Store(&p) }

// currentPolicy returns the policy set last, or the Verifier's fields.
func (v *Verifier) currentPolicy() Policy {
	if p := v.policy.Load(); p != nil {
		return *p
	}
	return Policy{DefaultLimit: v.DefaultLimit, TrustedProxies: v.TrustedProxies, ExpiryWarning: v.ExpiryWarning}
}

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
	for _, s := range []Status{StatusMissing, StatusInvalid, StatusRolled, StatusDisabled, StatusExpired,
		StatusIPNotAllowed, StatusInsufficientScope, StatusRateLimited, StatusUnavailable,
		StatusInvalidToken, StatusSignatureRequired, StatusInvalidSignature} {
		v.rejections.WithLabelValues(s.Code())
	}
	v.Registerer.MustRegister(v.rejections)
}

// Request is what the key check reads of a request, whatever serves it:
// the HTTP adapter (Authenticate) fills it from an *http.Request, and
// another engine could fill it from its own.
//
// A check to come in the contract's order adds its inputs here, so that
// it lands in Check and nowhere else.
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
	// RemoteAddr is the TCP peer's "host:port", and ForwardedFor every
	// value of X-Forwarded-For: the client's address is read from them
	// (ClientAddr) only for a key with allowed addresses.
	RemoteAddr   string
	ForwardedFor []string
	// Bearer is true when the route accepts Bearer tokens; Authorization
	// then holds every value of the Authorization header.
	Bearer        bool
	Authorization []string
	// Signed is true when the route's writes must be signed; Message is
	// then the request, for a write.
	Signed  bool
	Message *httpsig.Message
}

// Check runs the checks in the contract's order: missing (or, on a
// Bearer route without a key, the token: invalid_token, then its scope
// and its subject's rate limit), invalid (more than one value, malformed
// or bad checksum, unknown), rolled (a previous secret after its
// overlap), disabled, expired (reads inside a key's read-only grace
// pass), client address (a key's allowed addresses), scope, a write's
// signature on a signed route, rate limit. The time is captured once.
// Only a valid request with a key is counted as usage, as the current or
// the previous secret's.
func (v *Verifier) Check(ctx context.Context, req Request) Verdict {
	now := v.now()
	verdict := v.check(ctx, req, now)
	if verdict.Status == StatusValid {
		switch {
		case v.Usage == nil, verdict.Key == nil:
		case verdict.Previous:
			v.Usage.RecordPrevious(verdict.Key.ID, now)
		default:
			v.Usage.Record(verdict.Key.ID, now)
		}
	} else if v.rejections != nil {
		v.rejections.WithLabelValues(verdict.Status.Code()).Inc()
	}
	return verdict
}

func (v *Verifier) check(ctx context.Context, req Request, now time.Time) Verdict {
	if len(req.Presented) == 0 {
		if bv := v.currentBearer(); req.Bearer && bv != nil && len(req.Authorization) > 0 {
			return v.checkBearer(ctx, bv, req, now)
		}
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
	if !ok {
		return Verdict{Status: StatusInvalid}
	}
	verdict := Verdict{Key: k}
	if !k.Digest.Equal(d) {
		if k.PreviousDigest == nil || !k.PreviousDigest.Equal(d) {
			return Verdict{Status: StatusInvalid}
		}
		verdict.Previous = true
		if !k.InOverlap(now) {
			verdict.Status = StatusRolled
			return verdict
		}
	}
	if k.Disabled {
		verdict.Status = StatusDisabled
		return verdict
	}
	policy := v.currentPolicy()
	verdict.Expires = expires(k, verdict.Previous, now, policy.ExpiryWarning)
	if k.Expired(now) && (req.Access != gatehouse.AccessRead || !k.InGrace(now)) {
		verdict.Status = StatusExpired
		return verdict
	}
	// A key without allowed addresses pays one length check here.
	if len(k.AllowedIPs) > 0 && !k.AllowsAddr(ClientAddr(req.RemoteAddr, req.ForwardedFor, policy.TrustedProxies)) {
		verdict.Status = StatusIPNotAllowed
		return verdict
	}
	if !k.Scopes.Allows(req.Scope, req.Access) {
		verdict.Status = StatusInsufficientScope
		return verdict
	}
	if req.Signed && req.Access == gatehouse.AccessWrite {
		if verdict = v.checkSignature(ctx, req, verdict); verdict.Status != StatusValid {
			return verdict
		}
	}
	limit := k.RateLimit
	if limit.IsZero() {
		limit = policy.DefaultLimit
	}
	return v.limit(ctx, verdict, k.ID, limit, now)
}

// limit applies limit to the requests counted under id, and returns
// verdict with the decision.
func (v *Verifier) limit(ctx context.Context, verdict Verdict, id string, limit gatehouse.RateLimit, now time.Time) Verdict {
	if v.Limiter == nil || limit.IsZero() {
		return verdict
	}
	dec, err := v.Limiter.Allow(ctx, id, limit, now)
	if err != nil {
		verdict.Status = StatusUnavailable
		return verdict
	}
	verdict.Rate, verdict.Limited = dec, true
	if !dec.Allowed {
		verdict.Status = StatusRateLimited
	}
	return verdict
}

// expires returns the end of the secret presented when it is within the
// expiry warning window (zero: gatehouse.DefaultExpiryWarning), or past,
// in a read-only grace, else the zero time. A previous secret ends with
// its overlap, or with the key if that is sooner.
func expires(k *gatehouse.APIKey, previous bool, now time.Time, window time.Duration) time.Time {
	end := k.ValidUntil
	if previous && (end == nil || k.PreviousValidUntil.Before(*end)) {
		end = k.PreviousValidUntil
	}
	if window <= 0 {
		window = gatehouse.DefaultExpiryWarning
	}
	if end == nil || end.Sub(now) > window {
		return time.Time{}
	}
	return *end
}

func (v *Verifier) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}
