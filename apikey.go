package gatehouse

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// MaxNameLen is the longest key name, in Unicode characters after trimming.
const MaxNameLen = 100

// APIKey is an API key as stored: everything but the plain secret.
type APIKey struct {
	// ID is the non-secret handle used for every operation after creation.
	ID string
	// Name is unique case-insensitively, 1–100 characters, stored trimmed.
	Name string
	// Digest is the SHA-256 digest of the plain key, used for lookup.
	Digest Digest
	// Sealed is the plain key sealed with AES-256-GCM under the master key
	// (see Sealer), so that "Copy key" can reveal it.
	Sealed []byte
	// Hint is the key's prefix and last four characters.
	Hint string
	// ValidUntil is when the key expires; nil for never.
	ValidUntil *time.Time
	// Scopes are what the key may do.
	Scopes Scopes
	// RateLimit overrides the configured default when not zero.
	RateLimit RateLimit
	CreatedAt time.Time
	CreatedBy string
	// LastUsedAt is nil until the key's first accepted request.
	LastUsedAt *time.Time

	// PreviousDigest is the digest of the secret the last roll replaced;
	// nil before the first roll. It stays after the overlap ends, so that
	// the old secret is told key_rolled rather than invalid_key.
	PreviousDigest *Digest
	// PreviousValidUntil is when the previous secret stops working (the
	// roll's time plus its overlap); nil before the first roll.
	PreviousValidUntil *time.Time
	// PreviousLastUsedAt is the previous secret's last accepted request
	// since the roll; nil when it has not been used since.
	PreviousLastUsedAt *time.Time
	// Disabled keys are refused (key_disabled) until enabled again.
	Disabled bool
	// AllowedIPs, when not empty, are the only client addresses the key is
	// accepted from (a single address is a /32 or /128 prefix).
	AllowedIPs []netip.Prefix
	// ReadOnlyGrace is how long after ValidUntil the key still passes
	// reads; zero for none.
	ReadOnlyGrace time.Duration
	// SigningKeys are the public keys whose RFC 9421 signatures the key's
	// writes to signed routes need, oldest first.
	SigningKeys []SigningKey
}

// MaxOverlap bounds a roll's overlap, and MaxReadOnlyGrace a key's
// read-only grace (contract §8).
const (
	MaxOverlap       = 720 * time.Hour
	MaxReadOnlyGrace = 720 * time.Hour
)

// MaxAllowedIPs bounds the length of a key's AllowedIPs.
const MaxAllowedIPs = 100

// InOverlap reports whether the previous secret of a rolled key still
// works at now.
func (k *APIKey) InOverlap(now time.Time) bool {
	return k.PreviousValidUntil != nil && now.Before(*k.PreviousValidUntil)
}

// InGrace reports whether the key has expired at now but is still inside
// its read-only grace.
func (k *APIKey) InGrace(now time.Time) bool {
	return k.Expired(now) && k.ReadOnlyGrace > 0 && now.Before(k.ValidUntil.Add(k.ReadOnlyGrace))
}

// AllowsAddr reports whether a request from addr may use the key: always
// when the key has no AllowedIPs, else only when addr is inside one of
// them. An IPv4-mapped IPv6 address counts as its IPv4 address.
func (k *APIKey) AllowsAddr(addr netip.Addr) bool {
	if len(k.AllowedIPs) == 0 {
		return true
	}
	addr = addr.Unmap()
	for _, p := range k.AllowedIPs {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// ParseAllowedIPs parses addresses and CIDR ranges, IPv4 or IPv6, into
// masked prefixes (a lone address becomes a /32 or /128). It refuses
// zones, more than MaxAllowedIPs entries, and anything else with
// EInvalidRequest naming the bad entry.
func ParseAllowedIPs(list []string) ([]netip.Prefix, error) {
	if len(list) > MaxAllowedIPs {
		return nil, Errorf(EInvalidRequest, "A key holds at most %d allowed addresses; %d given.", MaxAllowedIPs, len(list))
	}
	out := make([]netip.Prefix, 0, len(list))
	for _, s := range list {
		p, err := ParseAllowedIP(s)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// ParseAllowedIP parses one address or CIDR range (see ParseAllowedIPs).
func ParseAllowedIP(s string) (netip.Prefix, error) {
	t := strings.TrimSpace(s)
	bad := func() (netip.Prefix, error) {
		if len(t) > 64 {
			t = t[:64] + "..."
		}
		return netip.Prefix{}, Errorf(EInvalidRequest,
			"Allowed address %q is neither an IP address nor a CIDR range (like 203.0.113.7, 10.0.0.0/8 or 2001:db8::/32).", t)
	}
	if strings.Contains(t, "/") {
		p, err := netip.ParsePrefix(t)
		if err != nil || p.Addr().Zone() != "" {
			return bad()
		}
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(t)
	if err != nil || a.Zone() != "" {
		return bad()
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// FormatAllowedIPs returns the prefixes as the API shows them: a single
// address without its /32 or /128.
func FormatAllowedIPs(ps []netip.Prefix) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		if p.IsSingleIP() {
			out[i] = p.Addr().String()
		} else {
			out[i] = p.String()
		}
	}
	return out
}

// SigningKey is a public key registered on an API key (contract §9).
// Stores keep a key's list as JSON of these fields.
type SigningKey struct {
	// KeyID is the JWK's RFC 7638 thumbprint: the keyid signatures name.
	KeyID string `json:"keyid"`
	// JWK is the public key as a JWK of its thumbprint's members.
	JWK       string    `json:"jwk"`
	CreatedAt time.Time `json:"createdAt"`
}

// EncodeSigningKeys returns a key's signing keys as stores keep them: a
// JSON array.
func EncodeSigningKeys(list []SigningKey) (string, error) {
	if len(list) == 0 {
		return "[]", nil
	}
	b, err := json.Marshal(list)
	if err != nil {
		return "", fmt.Errorf("encode signing keys: %w", err)
	}
	return string(b), nil
}

// DecodeSigningKeys reads what EncodeSigningKeys wrote into list (nil for
// none).
func DecodeSigningKeys(s string, list *[]SigningKey) error {
	*list = nil
	if s == "[]" {
		return nil
	}
	if err := json.Unmarshal([]byte(s), list); err != nil {
		return fmt.Errorf("decode signing keys: %w", err)
	}
	return nil
}

// MaxSigningKeys is how many signing keys one API key may have.
const MaxSigningKeys = 10

// AddSigningKey returns list with sk at its end. A key already in list
// (by KeyID) is not added twice: added is then false. Returns
// EInvalidRequest when list is full.
func AddSigningKey(list []SigningKey, sk SigningKey) (_ []SigningKey, added bool, err error) {
	for _, have := range list {
		if have.KeyID == sk.KeyID {
			return list, false, nil
		}
	}
	if len(list) >= MaxSigningKeys {
		return nil, false, Errorf(EInvalidRequest, "A key has at most %d signing keys; remove one first.", MaxSigningKeys)
	}
	return append(list[:len(list):len(list)], sk), true, nil
}

// RemoveSigningKey returns list without the signing key keyID. Returns
// ENotFound when list does not hold it.
func RemoveSigningKey(list []SigningKey, keyID string) ([]SigningKey, error) {
	for i, have := range list {
		if have.KeyID == keyID {
			out := make([]SigningKey, 0, len(list)-1)
			return append(append(out, list[:i]...), list[i+1:]...), nil
		}
	}
	return nil, Errorf(ENotFound, "The key has no signing key %q.", keyID)
}

// Expired reports whether the key has expired at now.
func (k *APIKey) Expired(now time.Time) bool {
	return k.ValidUntil != nil && !now.Before(*k.ValidUntil)
}

// DefaultExpiryWarning is how long before its expiry a key is said to
// expire soon, unless the config's expiry_warning says otherwise.
const DefaultExpiryWarning = 7 * 24 * time.Hour

// ExpiresWithin reports whether the key has not expired at now but will
// within window: the list's "Expires in N days", the CLI's "expires soon"
// and gatehouse_keys_expiring_soon.
func (k *APIKey) ExpiresWithin(now time.Time, window time.Duration) bool {
	return k.ValidUntil != nil && !k.Expired(now) && k.ValidUntil.Sub(now) <= window
}

// NormalizeName trims a key name and checks its length. It returns the
// name to store.
func NormalizeName(name string) (string, error) {
	n := strings.TrimSpace(name)
	if n == "" {
		return "", Errorf(EInvalidRequest, "Name is required.")
	}
	if !utf8.ValidString(n) {
		return "", Errorf(EInvalidRequest, "Name must be valid UTF-8.")
	}
	if c := utf8.RuneCountInString(n); c > MaxNameLen {
		return "", Errorf(EInvalidRequest, "Name is %d characters long; the limit is %d.", c, MaxNameLen)
	}
	for _, r := range n {
		if r < 0x20 || r == 0x7f {
			return "", Errorf(EInvalidRequest, "Name must not hold control characters.")
		}
	}
	return n, nil
}

// NameKey folds a name for case-insensitive uniqueness: two names have the
// same key exactly when strings.EqualFold says they are equal (Unicode
// simple case folding, so "Οδός" and "ΟΔΌΣ" are one name).
func NameKey(name string) string { return strings.Map(foldRune, name) }

// foldRune maps r to the smallest rune of its case-folding orbit.
func foldRune(r rune) rune {
	m := r
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		m = min(m, f)
	}
	return m
}

// KeyFilter selects keys in FindKeys. Keys come ordered by creation time,
// then ID.
type KeyFilter struct {
	Offset int
	Limit  int // 0 means no limit
}

// KeyRenewal is what RenewKey changes.
type KeyRenewal struct {
	// ValidUntil is the new expiry; nil for none.
	ValidUntil *time.Time
	// RateLimit, when not nil, replaces the key's rate limit (a zero value
	// removes the override).
	RateLimit *RateLimit
}

// KeyRoll is what RollKey changes: the new secret replaces the key's
// current one, which becomes its previous secret until PreviousValidUntil.
type KeyRoll struct {
	Digest Digest
	Sealed []byte
	Hint   string
	// PreviousValidUntil is the end of the overlap (the roll's time plus
	// the overlap; the roll's time when there is none).
	PreviousValidUntil time.Time
}

// KeyUpdate is what UpdateKey changes: each field that is not nil
// replaces the key's (a pointer to a zero value clears it).
type KeyUpdate struct {
	Name          *string
	Scopes        *Scopes
	RateLimit     *RateLimit
	AllowedIPs    *[]netip.Prefix
	ReadOnlyGrace *time.Duration
}

// Apply sets the fields of u on k.
func (u KeyUpdate) Apply(k *APIKey) {
	if u.Name != nil {
		k.Name = *u.Name
	}
	if u.Scopes != nil {
		k.Scopes = *u.Scopes
	}
	if u.RateLimit != nil {
		k.RateLimit = *u.RateLimit
	}
	if u.AllowedIPs != nil {
		k.AllowedIPs = *u.AllowedIPs
	}
	if u.ReadOnlyGrace != nil {
		k.ReadOnlyGrace = *u.ReadOnlyGrace
	}
}

// Audit actions.
const (
	AuditCreate  = "create"
	AuditReveal  = "reveal"
	AuditRenew   = "renew"
	AuditDelete  = "delete"
	AuditRoll    = "roll"
	AuditDisable = "disable"
	AuditEnable  = "enable"
	AuditUpdate  = "update"
	// A signing key was added to or removed from the key.
	AuditAddSigningKey    = "add_signing_key"
	AuditRemoveSigningKey = "remove_signing_key"
)

// AuditEvent is one change to a key, with who made it and when.
type AuditEvent struct {
	KeyID  string
	Action string // one of the Audit* actions
	// Actor is "admin:<user>", "key:<id>" or "cli:<os user>".
	Actor string
	At    time.Time
}

// Usage is a count of accepted requests of one key in one hour.
type Usage struct {
	KeyID string
	Hour  time.Time // truncated to the hour, UTC
	Count int64
	// LastUsedAt is the time of the latest request counted.
	LastUsedAt time.Time
	// PreviousLastUsedAt is the time of the latest request counted that
	// presented the key's previous secret (a roll's overlap); zero when
	// none did.
	PreviousLastUsedAt time.Time
}

// KeyChange records that a key was created, changed or deleted. Revisions
// grow strictly in the order the changes were committed.
type KeyChange struct {
	Revision int64
	KeyID    string
}

// User is a local administrator of the Settings UI.
type User struct {
	Username     string
	PasswordHash string
	CreatedAt    time.Time
	// SessionsAfter voids the user's Settings sessions issued before it:
	// logging out moves it to now, and so does replacing the user.
	SessionsAfter time.Time
}

// LoginFailures counts the failed Settings logins of one subject (a
// username or a client address) since its last success.
type LoginFailures struct {
	Subject string
	Count   int
	Last    time.Time
}
