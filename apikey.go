package gatehouse

import (
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

// Audit actions.
const (
	AuditCreate = "create"
	AuditReveal = "reveal"
	AuditRenew  = "renew"
	AuditDelete = "delete"
)

// AuditEvent is one change to a key, with who made it and when.
type AuditEvent struct {
	KeyID  string
	Action string // AuditCreate, AuditReveal, AuditRenew or AuditDelete
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
}

// KeyChange records that a key was created, renewed or deleted. Revisions
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
