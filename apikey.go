package gatehouse

import (
	"context"
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

// KeyStore is where keys, their audit log and usage live. Implementations:
// sqlite.Store and postgres.Store; both pass storetest.Run.
//
// Errors: application errors carry ENotFound, ENameTaken or EUnavailable;
// anything else is internal.
type KeyStore interface {
	// CreateKey stores a new key and its AuditCreate event, and records a
	// change. Returns ENameTaken if another key has the name
	// case-insensitively.
	CreateKey(ctx context.Context, k *APIKey) error
	// FindKeyByID returns the key with the ID. Returns ENotFound.
	FindKeyByID(ctx context.Context, id string) (*APIKey, error)
	// FindKeyByName returns the key with the name, case-insensitively.
	// Returns ENotFound.
	FindKeyByName(ctx context.Context, name string) (*APIKey, error)
	// FindKeys returns a page of keys ordered by creation time and ID, and
	// the total number of keys.
	FindKeys(ctx context.Context, f KeyFilter) ([]*APIKey, int, error)
	// ForEachKey calls fn for every key, all read in one snapshot, in no
	// particular order, and stops at fn's first error, which it returns.
	// It is how a key index loads: one pass, whatever the number of keys.
	ForEachKey(ctx context.Context, fn func(*APIKey) error) error
	// RenewKey sets a new expiry (and optionally rate limit), records an
	// AuditRenew event by actor and a change, and returns the key.
	// Returns ENotFound.
	RenewKey(ctx context.Context, id string, r KeyRenewal, actor string) (*APIKey, error)
	// DeleteKey removes the key, records an AuditDelete event by actor and a
	// change. Returns ENotFound.
	DeleteKey(ctx context.Context, id, actor string) error

	// RecordAudit appends an event to the audit log (used for reveals).
	RecordAudit(ctx context.Context, e AuditEvent) error
	// FindAuditEvents returns a key's audit events, oldest first.
	FindAuditEvents(ctx context.Context, keyID string) ([]AuditEvent, error)

	// RecordUsage adds counts to the hourly buckets and moves each key's
	// LastUsedAt forward (never back). Rows of deleted keys are ignored.
	// It records no change.
	RecordUsage(ctx context.Context, u []Usage) error
	// FindUsage returns a key's hourly buckets since the given hour,
	// oldest first.
	FindUsage(ctx context.Context, keyID string, since time.Time) ([]Usage, error)

	// Revision returns the revision of the latest change (0 when none).
	Revision(ctx context.Context) (int64, error)
	// FindChanges returns the changes after revision since, oldest first.
	// ok is false when changes after since were pruned and the caller must
	// reload every key.
	FindChanges(ctx context.Context, since int64) (changes []KeyChange, ok bool, err error)

	// CreateUser adds or replaces a Settings UI administrator. Its
	// SessionsAfter is set to its CreatedAt, so replacing a user (a new
	// password) voids the sessions issued before.
	CreateUser(ctx context.Context, u *User) error
	// EndSessions voids the user's sessions issued before at: it moves
	// SessionsAfter forward to at, never back. Returns ENotFound.
	EndSessions(ctx context.Context, username string, at time.Time) error
	// FindUserByName returns an administrator. Returns ENotFound.
	FindUserByName(ctx context.Context, username string) (*User, error)
	// FindUsers returns every administrator, by username.
	FindUsers(ctx context.Context) ([]*User, error)
	// DeleteUser removes an administrator, which ends their sessions.
	// Returns ENotFound.
	DeleteUser(ctx context.Context, username string) error
	// CountUsers returns the number of administrators.
	CountUsers(ctx context.Context) (int, error)

	// FindLoginFailures returns the counts of those subjects whose last
	// failure is at or after since.
	FindLoginFailures(ctx context.Context, subjects []string, since time.Time) ([]LoginFailures, error)
	// RecordLoginFailure counts a failure at at for each subject and
	// returns the subjects' counts with it, by subject. The counting and
	// the counts returned are atomic: of concurrent calls for a subject,
	// each gets a different count. Counts whose last failure is before
	// since are forgotten first, so a count starts again after a quiet
	// spell and the table stays small.
	RecordLoginFailure(ctx context.Context, subjects []string, at, since time.Time) ([]LoginFailures, error)
	// ClearLoginFailures forgets the subjects' failures (a successful
	// login).
	ClearLoginFailures(ctx context.Context, subjects []string) error

	// Ping reports whether the store answers.
	Ping(ctx context.Context) error
	// Close releases the store. It is safe after a partial open.
	Close() error
}

// ChangeNotifier is implemented by stores that can wake a waiting reader as
// soon as a change is committed (PostgreSQL's LISTEN/NOTIFY). Readers still
// poll, so a missed notification only delays a change.
type ChangeNotifier interface {
	// Notify returns a channel that receives a value after changes are
	// committed by any process. It is closed when the store closes.
	Notify() <-chan struct{}
}
