package gatehouse

import (
	"context"
	"time"
)

// Store is the whole of a store's contract: what server and the CLI open.
// Implementations: sqlite.Store and postgres.Store; both pass
// storetest.Run.
//
// The contract is grouped by what it is about: KeyStore, UserStore and
// UsageStore. The packages that use a store take no more than they need:
// usage.Recorder (usage.Store: RecordUsage), keyindex.Index
// (keyindex.Store: loading the keys and following the change log),
// keys.Service (keys.Store: the keys, their audit log and FindUsage) and
// the Settings UI's login throttle (the login failures) each declare the
// methods they call where they call them; webui.UI takes a UserStore;
// server.NewKeyService, which builds the key service of the server and of
// the CLI, also checks the node's master key against the ClusterStore.
//
// Errors: application errors carry ENotFound, ENameTaken or EUnavailable;
// anything else is internal.
type Store interface {
	KeyStore
	UserStore
	UsageStore
	ClusterStore
	WebhookStore

	// Ping reports whether the store answers.
	Ping(ctx context.Context) error
	// Close releases the store. It is safe after a partial open.
	Close() error
}

// KeyStore is the part of a Store about keys: the keys, their audit log,
// and the change log that key indexes follow. keys.Service creates, finds,
// renews, rolls, disables, enables, updates and deletes keys and reads their audit log (keys.Store);
// keyindex.Index loads every key and follows the change log
// (keyindex.Store).
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
	// AddSigningKey registers sk on the key (AddSigningKey: a signing key
	// it has already is not added twice, and nothing is recorded), records
	// an AuditAddSigningKey event by actor and a change, and returns the
	// key. Returns ENotFound, or EInvalidRequest when the key has
	// MaxSigningKeys.
	AddSigningKey(ctx context.Context, id string, sk SigningKey, actor string) (*APIKey, error)
	// RemoveSigningKey removes the signing key keyID from the key, records
	// an AuditRemoveSigningKey event by actor and a change, and returns the
	// key. Returns ENotFound for either key.
	RemoveSigningKey(ctx context.Context, id, keyID, actor string) (*APIKey, error)
	// RollKey replaces the key's secret (r's digest, sealed key and
	// hint); the secret it had becomes PreviousDigest until
	// r.PreviousValidUntil, with no PreviousLastUsedAt. It records an
	// AuditRoll event by actor and a change, and returns the key. Returns
	// ENotFound.
	RollKey(ctx context.Context, id string, r KeyRoll, actor string) (*APIKey, error)
	// SetKeyDisabled disables (or enables) the key, records an
	// AuditDisable (or AuditEnable) event by actor and a change, and
	// returns the key. Returns ENotFound.
	SetKeyDisabled(ctx context.Context, id string, disabled bool, actor string) (*APIKey, error)
	// UpdateKey sets the fields of u that are not nil, records an
	// AuditUpdate event by actor and a change, and returns the key.
	// Returns ENotFound, or ENameTaken if another key has the new name
	// case-insensitively.
	UpdateKey(ctx context.Context, id string, u KeyUpdate, actor string) (*APIKey, error)

	// RecordAudit appends an event to the audit log (used for reveals).
	RecordAudit(ctx context.Context, e AuditEvent) error
	// FindAuditEvents returns a key's audit events, oldest first.
	FindAuditEvents(ctx context.Context, keyID string) ([]AuditEvent, error)

	// Revision returns the revision of the latest change (0 when none).
	Revision(ctx context.Context) (int64, error)
	// FindChanges returns the changes after revision since, oldest first.
	// ok is false when changes after since were pruned and the caller must
	// reload every key.
	FindChanges(ctx context.Context, since int64) (changes []KeyChange, ok bool, err error)
}

// UserStore is the part of a Store about the Settings UI's
// administrators: the users, and the counts of failed logins that slow
// down password guessing.
//
// webui.UI takes a UserStore: it logs users in and out, creates the first
// administrator, and its login throttle counts the failures. The CLI's
// admin commands create, list and delete users.
type UserStore interface {
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
}

// UsageStore is the part of a Store about the keys' usage: hourly counts
// of accepted requests and each key's LastUsedAt. The usage recorder
// writes them (usage.Store); keys.Service reads them for a key's details.
type UsageStore interface {
	// RecordUsage adds counts to the hourly buckets and moves each key's
	// LastUsedAt forward (never back). Rows of deleted keys are ignored.
	// It records no change.
	RecordUsage(ctx context.Context, u []Usage) error
	// FindUsage returns a key's hourly buckets since the given hour,
	// oldest first.
	FindUsage(ctx context.Context, keyID string, since time.Time) ([]Usage, error)
}

// ClusterStore is the part of a Store that holds what every node of a
// cluster, and every process on one database, must agree on: for now the
// fingerprint of the master key that seals the keys and signs the
// Settings sessions (keys.Fingerprint; never the key itself). The first
// node records its fingerprint; server.NewKeyService refuses a node, or a
// CLI command, whose master key has another.
type ClusterStore interface {
	// MasterKeyFingerprint returns the fingerprint that ClaimMasterKey
	// recorded, or "" when none is.
	MasterKeyFingerprint(ctx context.Context) (string, error)
	// ClaimMasterKey records fingerprint unless a fingerprint is recorded
	// already, and returns the recorded one: fingerprint, or the other
	// one that was there first. Of concurrent claims on a store without
	// one, exactly one records its fingerprint and every claim returns
	// it. A recorded fingerprint never changes. fingerprint must not be
	// empty.
	ClaimMasterKey(ctx context.Context, fingerprint string) (stored string, err error)
}

// ChangeNotifier is implemented by stores that can wake a waiting reader as
// soon as a change is committed (PostgreSQL's LISTEN/NOTIFY). Readers still
// poll, so a missed notification only delays a change.
type ChangeNotifier interface {
	// Notify returns a channel that receives a value after changes are
	// committed by any process. It is closed when the store closes.
	Notify() <-chan struct{}
}
