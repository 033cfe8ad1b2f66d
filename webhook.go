package gatehouse

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"
)

// Event types of the webhooks (contract §10). An endpoint subscribes to
// some of them; EventTest is sent only by "gatehouse webhooks test".
const (
	EventKeyCreated         = "key.created"
	EventKeyRenewed         = "key.renewed"
	EventKeyRolled          = "key.rolled"
	EventKeyUpdated         = "key.updated"
	EventKeyDisabled        = "key.disabled"
	EventKeyEnabled         = "key.enabled"
	EventKeyDeleted         = "key.deleted"
	EventKeyExpiring        = "key.expiring"
	EventKeyExpired         = "key.expired"
	EventKeyPreviousExpired = "key.previous_expired"
	EventTest               = "test"
)

// EventTypes lists the event types an endpoint may subscribe to, in the
// contract's order.
var EventTypes = []string{EventKeyCreated, EventKeyRenewed, EventKeyRolled, EventKeyUpdated, EventKeyDisabled,
	EventKeyEnabled, EventKeyDeleted, EventKeyExpiring, EventKeyExpired, EventKeyPreviousExpired}

// KeyEventType returns the event type that reports a change audited as
// action (AuditCreate, AuditRoll, ...), or "" for an action that changes
// no key (AuditReveal).
func KeyEventType(action string) string {
	switch action {
	case AuditCreate:
		return EventKeyCreated
	case AuditRenew:
		return EventKeyRenewed
	case AuditRoll:
		return EventKeyRolled
	case AuditUpdate:
		return EventKeyUpdated
	case AuditDisable:
		return EventKeyDisabled
	case AuditEnable:
		return EventKeyEnabled
	case AuditDelete:
		return EventKeyDeleted
	}
	return ""
}

// WebhookEvent is one event of the outbox: what happened to a key, and how
// far its delivery got. The store writes a key change's event in the
// transaction of the change, so that a crash between the change and the
// send loses nothing.
type WebhookEvent struct {
	// ID is the event's webhook-id, the same on every attempt, so that a
	// receiver can drop repeats.
	ID string
	// Type is one of EventTypes.
	Type string
	// At is when the change was made, or the moment a time-driven event
	// stands for (the key's validUntil for key.expired).
	At time.Time
	// Key is the key as it was at At, without its digest and sealed
	// secret (see SnapshotKey); a deleted key's event keeps it.
	Key *APIKey

	// Attempts is how many times the event was sent.
	Attempts int
	// NextAttemptAt is when the event is due (again).
	NextAttemptAt time.Time
	// LastAttemptAt is when it was last sent; nil before the first
	// attempt.
	LastAttemptAt *time.Time
	// LastResult says how the last attempt went, per endpoint.
	LastResult string
	// Done lists the endpoints (EndpointID) that have the event: they
	// answered 2xx, or 410 to stop its retries.
	Done []string
	// DeliveredAt is when every endpoint had it; nil while pending.
	DeliveredAt *time.Time
	// Failed is true once the retry schedule is used up.
	Failed bool
	// ClaimedUntil is the lease of the sender that claimed the event:
	// no other sender takes it before, and the claimant's update counts
	// only while the lease is still its own.
	ClaimedUntil time.Time
}

// NewWebhookEventID returns a new random webhook-id: "msg_" and 22
// base64url characters (128 bits).
func NewWebhookEventID() string {
	var b [16]byte
	rand.Read(b[:]) // never fails (crypto/rand, Go 1.24+)
	return "msg_" + base64.RawURLEncoding.EncodeToString(b[:])
}

// SnapshotKey returns the JSON the outbox keeps of k: every field but the
// digests and the sealed secret, so that an event never holds the key
// itself, in any form, and a deleted key's event can still be sent.
func SnapshotKey(k *APIKey) ([]byte, error) {
	c := *k
	c.Digest = Digest{}
	c.PreviousDigest = nil
	c.Sealed = nil
	b, err := json.Marshal(&c)
	if err != nil {
		return nil, fmt.Errorf("snapshot key %s: %w", k.ID, err)
	}
	return b, nil
}

// ParseKeySnapshot reads what SnapshotKey wrote.
func ParseKeySnapshot(b []byte) (*APIKey, error) {
	var k APIKey
	if err := json.Unmarshal(b, &k); err != nil {
		return nil, fmt.Errorf("read key snapshot: %w", err)
	}
	return &k, nil
}

// WebhookFilter selects events in FindWebhookEvents, newest first.
type WebhookFilter struct {
	// Failed selects only the events whose last attempt failed, or whose
	// retries are used up; else every event not yet delivered.
	Failed bool
	// Limit is the most events returned; 0 means 100.
	Limit int
}

// WebhookStore is the part of a Store that holds the webhooks' outbox.
// The key-changing methods of KeyStore add their events to it
// (key.created, key.renewed, key.rolled, key.updated, key.disabled,
// key.enabled, key.deleted; see KeyEventType) in the transaction of the
// change; ScheduleKeyEvents adds the time-driven ones; the senders of
// every node claim and update them.
type WebhookStore interface {
	// ScheduleKeyEvents adds the time-driven events up to now and returns
	// how many it added: key.expired for each key whose validUntil passed
	// since the previous call (by any process; now itself on the first
	// call), and key.expiring for each key whose validUntil lies within
	// window after now and that has no key.expiring for that validUntil
	// yet (a key created or renewed inside the window, too), and
	// key.previous_expired for each rolled key whose previous secret's
	// end (PreviousValidUntil) passed since the previous call. Each fires
	// once per key and moment, however many nodes call it and however
	// long none did. It also prunes finished events
	// older than 30 days (or twice window, if longer).
	ScheduleKeyEvents(ctx context.Context, now time.Time, window time.Duration) (int, error)
	// ClaimWebhookEvents claims at most limit events due at now (not
	// delivered, not failed, NextAttemptAt reached, no live lease) for
	// lease, oldest first, and returns them with ClaimedUntil set. Of
	// concurrent claims, each event goes to one.
	ClaimWebhookEvents(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]*WebhookEvent, error)
	// UpdateWebhookEvent records an attempt of a claimed event: Attempts,
	// NextAttemptAt, LastAttemptAt, LastResult, Done, DeliveredAt and
	// Failed, and ends the claim. It changes nothing and returns false
	// when the claim (e.ClaimedUntil) is no longer the event's: its lease
	// ran out and another sender took it.
	UpdateWebhookEvent(ctx context.Context, e *WebhookEvent) (bool, error)
	// FindWebhookEvents returns the events not yet delivered (see
	// WebhookFilter), newest first.
	FindWebhookEvents(ctx context.Context, f WebhookFilter) ([]*WebhookEvent, error)
}

// WebhookSecretPrefix starts a webhook secret, as the Standard Webhooks
// specification writes them.
const WebhookSecretPrefix = "whsec_"

// MinWebhookSecretBytes is the least number of random bytes a webhook
// secret holds (the specification asks for 24 to 64).
const MinWebhookSecretBytes = 24

// maxWebhookSecretFile is the largest webhook secret file read.
const maxWebhookSecretFile = 4 << 10

// WebhookSecret is the key that signs an endpoint's webhooks. Like
// Secret, it never prints itself and cannot be compared with ==.
type WebhookSecret struct {
	_ [0]func() // not comparable with ==
	b []byte
}

// ParseWebhookSecret parses "whsec_" followed by the standard base64 of at
// least MinWebhookSecretBytes bytes.
func ParseWebhookSecret(s string) (WebhookSecret, error) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(s), WebhookSecretPrefix)
	if !ok {
		return WebhookSecret{}, errors.New(`must start with "whsec_" (make one with: echo "whsec_$(head -c 32 /dev/urandom | base64)")`)
	}
	b, err := base64.StdEncoding.DecodeString(rest)
	if err != nil {
		return WebhookSecret{}, errors.New(`must be "whsec_" and standard base64 (make one with: echo "whsec_$(head -c 32 /dev/urandom | base64)")`)
	}
	if len(b) < MinWebhookSecretBytes {
		return WebhookSecret{}, fmt.Errorf("holds %d bytes, want at least %d random bytes", len(b), MinWebhookSecretBytes)
	}
	return WebhookSecret{b: b}, nil
}

// LoadWebhookSecret reads a webhook secret file. Like the master key, the
// file must not be readable or writable by group or others.
func LoadWebhookSecret(path string) (WebhookSecret, error) {
	f, err := os.Open(path)
	if err != nil {
		return WebhookSecret{}, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return WebhookSecret{}, err
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return WebhookSecret{}, fmt.Errorf("%s: mode %v lets others read it; run chmod 600 %s", path, fi.Mode().Perm(), path)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxWebhookSecretFile+1))
	if err != nil {
		return WebhookSecret{}, err
	}
	if len(data) > maxWebhookSecretFile {
		return WebhookSecret{}, fmt.Errorf("%s: larger than %d bytes: not a webhook secret", path, maxWebhookSecretFile)
	}
	sec, err := ParseWebhookSecret(string(data))
	if err != nil {
		return WebhookSecret{}, fmt.Errorf("%s: %w", path, err)
	}
	return sec, nil
}

// Reveal returns the secret's bytes, for signing.
func (s WebhookSecret) Reveal() []byte { return s.b }

// IsZero reports whether the secret is unset.
func (s WebhookSecret) IsZero() bool { return len(s.b) == 0 }

// String never gives the secret.
func (s WebhookSecret) String() string { return WebhookSecretPrefix + "[REDACTED]" }

// GoString never gives the secret.
func (s WebhookSecret) GoString() string { return "gatehouse.WebhookSecret([REDACTED])" }

// MarshalText never gives the secret.
func (s WebhookSecret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// WebhookEndpoint is an entry of the config's webhooks: where events go,
// signed with which secret.
type WebhookEndpoint struct {
	// URL is an http:// or https:// URL that events are POSTed to.
	URL string
	// Secret signs each event.
	Secret WebhookSecret
	// Events are the event types the endpoint receives; empty for all.
	Events []string
}

// Wants reports whether the endpoint receives events of type typ.
func (e *WebhookEndpoint) Wants(typ string) bool {
	return len(e.Events) == 0 || slices.Contains(e.Events, typ)
}

// ID names the endpoint in the outbox (WebhookEvent.Done) without its URL,
// which may carry a token: "ep_" and 16 hex digits of the URL's SHA-256.
func (e *WebhookEndpoint) ID() string {
	sum := sha256.Sum256([]byte(e.URL))
	return "ep_" + hex.EncodeToString(sum[:8])
}

// Redacted returns the URL's scheme and host alone, for logs and the CLI:
// its path or query may carry a token (as chat services' hook URLs do).
func (e *WebhookEndpoint) Redacted() string {
	u, err := url.Parse(e.URL)
	if err != nil {
		return "[invalid URL]"
	}
	return u.Scheme + "://" + u.Host
}
