package keys

import (
	"time"

	"gatehouse"
)

// RateLimitJSON is the JSON form of a rate limit: {"requests": 100, "per": "1s"}.
type RateLimitJSON struct {
	Requests int    `json:"requests"`
	Per      string `json:"per"`
}

// View is the ApiKey of the contract: the JSON shape the management API
// answers and `keys show --json` prints. It never holds the plain key.
type View struct {
	ID          string         `json:"id"`
	Name        string         `json:"name"`
	KeyHint     string         `json:"keyHint"`
	ValidUntil  *time.Time     `json:"validUntil"`
	Expired     bool           `json:"expired"`
	Scopes      []string       `json:"scopes"`
	WriteAccess bool           `json:"writeAccess"`
	RateLimit   *RateLimitJSON `json:"rateLimit"`
	CreatedAt   time.Time      `json:"createdAt"`
	CreatedBy   string         `json:"createdBy"`
	LastUsedAt  *time.Time     `json:"lastUsedAt"`
	// PreviousValidUntil is the end of a running roll's overlap, null when
	// none runs.
	PreviousValidUntil *time.Time `json:"previousValidUntil"`
	// PreviousLastUsedAt is when the previous secret was last used since
	// the last roll, null when it was not (or before any roll).
	PreviousLastUsedAt *time.Time `json:"previousLastUsedAt"`
	Enabled            bool       `json:"enabled"`
	// AllowedIPs are addresses and CIDR ranges; empty for any address.
	AllowedIPs []string `json:"allowedIps"`
	// ReadOnlyGrace is a duration ("36h0m0s"), null for none.
	ReadOnlyGrace *string `json:"readOnlyGrace"`
	// SigningKeys are the keyids (JWK thumbprints) of the key's signing
	// keys, oldest first; never null.
	SigningKeys []string `json:"signingKeys"`
}

// NewView returns the JSON view of k at now.
func NewView(k *gatehouse.APIKey, now time.Time) View {
	v := View{
		ID:          k.ID,
		Name:        k.Name,
		KeyHint:     k.Hint,
		ValidUntil:  k.ValidUntil,
		Expired:     k.Expired(now),
		Scopes:      k.Scopes.Strings(),
		WriteAccess: k.Scopes.WriteAccess(),
		CreatedAt:   k.CreatedAt,
		CreatedBy:   k.CreatedBy,
		LastUsedAt:  k.LastUsedAt,

		PreviousLastUsedAt: k.PreviousLastUsedAt,
		Enabled:            !k.Disabled,
		AllowedIPs:         gatehouse.FormatAllowedIPs(k.AllowedIPs),
		SigningKeys:        make([]string, len(k.SigningKeys)),
	}
	for i, sk := range k.SigningKeys {
		v.SigningKeys[i] = sk.KeyID
	}
	if k.InOverlap(now) {
		v.PreviousValidUntil = k.PreviousValidUntil
	}
	if k.ReadOnlyGrace > 0 {
		g := k.ReadOnlyGrace.String()
		v.ReadOnlyGrace = &g
	}
	if !k.RateLimit.IsZero() {
		v.RateLimit = &RateLimitJSON{Requests: k.RateLimit.Requests, Per: k.RateLimit.Per.String()}
	}
	return v
}

// ParseRateLimitJSON turns the JSON form into a RateLimit.
func ParseRateLimitJSON(r RateLimitJSON) (gatehouse.RateLimit, error) {
	d, err := time.ParseDuration(r.Per)
	if err != nil {
		return gatehouse.RateLimit{}, gatehouse.Errorf(gatehouse.EInvalidRequest, "rateLimit.per %q is not a duration like \"1s\".", r.Per)
	}
	rl := gatehouse.RateLimit{Requests: r.Requests, Per: d}
	return rl, rl.Validate()
}
