// Package keys is the one place where API keys are created, revealed,
// renewed, rolled, disabled, enabled, changed and deleted. The management API, the CLI and the Settings UI are
// thin layers over its Service, so that validation, sealing, auditing and
// the bound on what an API key may change (see Caller) are the same
// whichever way a caller comes in.
package keys

import (
	"context"
	"fmt"
	"strings"
	"time"

	"gatehouse"
)

// Store is what a Service needs of a store: the keys, their audit log, and
// their usage for Details. sqlite.Store and postgres.Store are Stores.
type Store interface {
	CreateKey(ctx context.Context, k *gatehouse.APIKey) error
	FindKeyByID(ctx context.Context, id string) (*gatehouse.APIKey, error)
	FindKeyByName(ctx context.Context, name string) (*gatehouse.APIKey, error)
	FindKeys(ctx context.Context, f gatehouse.KeyFilter) ([]*gatehouse.APIKey, int, error)
	RenewKey(ctx context.Context, id string, r gatehouse.KeyRenewal, actor string) (*gatehouse.APIKey, error)
	DeleteKey(ctx context.Context, id, actor string) error
	AddSigningKey(ctx context.Context, id string, sk gatehouse.SigningKey, actor string) (*gatehouse.APIKey, error)
	RemoveSigningKey(ctx context.Context, id, keyID, actor string) (*gatehouse.APIKey, error)
	RollKey(ctx context.Context, id string, r gatehouse.KeyRoll, actor string) (*gatehouse.APIKey, error)
	SetKeyDisabled(ctx context.Context, id string, disabled bool, actor string) (*gatehouse.APIKey, error)
	UpdateKey(ctx context.Context, id string, u gatehouse.KeyUpdate, actor string) (*gatehouse.APIKey, error)
	RecordAudit(ctx context.Context, e gatehouse.AuditEvent) error
	FindAuditEvents(ctx context.Context, keyID string) ([]gatehouse.AuditEvent, error)
	FindUsage(ctx context.Context, keyID string, since time.Time) ([]gatehouse.Usage, error)
}

// Service manages API keys on a store.
type Service struct {
	// Store holds the keys. Required.
	Store Store
	// Sealer seals plain keys for "Copy key". Required.
	Sealer *gatehouse.Sealer
	// Now returns the current time. If nil, time.Now is used.
	Now func() time.Time
	// KnownScope reports whether a scope name is a configured route's
	// scope. "*" and "api-keys" are always known. If nil, every name is.
	KnownScope func(name string) bool
	// Changed is called after every successful change, so that the local
	// key index sees it before the next request. If nil, nothing is called.
	Changed func(ctx context.Context)
}

// CreateRequest is what a new key is made of.
type CreateRequest struct {
	Name        string
	ValidUntil  *time.Time
	Scopes      []string
	WriteAccess bool
	RateLimit   *gatehouse.RateLimit
	// AllowedIPs are addresses and CIDR ranges (gatehouse.ParseAllowedIP);
	// none for any address.
	AllowedIPs []string
	// ReadOnlyGrace is from 0 (none) to gatehouse.MaxReadOnlyGrace.
	ReadOnlyGrace time.Duration
}

// UpdateRequest is a change of a key: each field that is not nil replaces
// the key's. A pointer to a zero value clears: nil Scopes give the
// default scopes, a zero RateLimit the configured default, no AllowedIPs
// any address, a zero ReadOnlyGrace none.
type UpdateRequest struct {
	Name          *string
	Scopes        *[]string
	RateLimit     *gatehouse.RateLimit
	AllowedIPs    *[]string
	ReadOnlyGrace *time.Duration
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Service) changed(ctx context.Context) {
	if s.Changed != nil {
		s.Changed(ctx)
	}
}

// Create validates req, generates a key and stores it. It returns the
// stored key and the plain secret, which is never stored. A key caller can
// create only keys whose scopes (after the defaults) are all within its own.
// Errors: EInvalidRequest, EUnknownScope, EInsufficientScope, ENameTaken.
func (s *Service) Create(ctx context.Context, req CreateRequest, c Caller) (*gatehouse.APIKey, gatehouse.Secret, error) {
	now := s.now().UTC()
	name, err := gatehouse.NormalizeName(req.Name)
	if err != nil {
		return nil, gatehouse.Secret{}, err
	}
	if err := s.checkValidUntil(req.ValidUntil, now); err != nil {
		return nil, gatehouse.Secret{}, err
	}
	scopes, err := s.scopes(req.Scopes, req.WriteAccess)
	if err != nil {
		return nil, gatehouse.Secret{}, err
	}
	if !c.within(scopes) {
		return nil, gatehouse.Secret{}, gatehouse.Errorf(gatehouse.EInsufficientScope,
			"This key cannot create a key with the scopes %s: a key can grant only scopes within its own (%s).",
			strings.Join(scopes.Strings(), ", "), strings.Join(c.scopes.Strings(), ", "))
	}
	var rl gatehouse.RateLimit
	if req.RateLimit != nil {
		if err := req.RateLimit.Validate(); err != nil {
			return nil, gatehouse.Secret{}, err
		}
		rl = *req.RateLimit
	}
	ips, err := gatehouse.ParseAllowedIPs(req.AllowedIPs)
	if err != nil {
		return nil, gatehouse.Secret{}, err
	}
	if err := checkGrace(req.ReadOnlyGrace); err != nil {
		return nil, gatehouse.Secret{}, err
	}
	secret := gatehouse.NewSecret()
	k := &gatehouse.APIKey{
		ID:         gatehouse.NewKeyID(),
		Name:       name,
		Digest:     secret.Digest(),
		Hint:       secret.Hint(),
		ValidUntil: utcPtr(req.ValidUntil),
		Scopes:     scopes,
		RateLimit:  rl,
		CreatedAt:  now.Truncate(time.Millisecond),
		CreatedBy:  c.actor,

		AllowedIPs:    ips,
		ReadOnlyGrace: req.ReadOnlyGrace,
	}
	k.Sealed = s.Sealer.Seal(k.ID, secret)
	if err := s.Store.CreateKey(ctx, k); err != nil {
		return nil, gatehouse.Secret{}, err
	}
	s.changed(ctx)
	return k, secret, nil
}

// Get returns a key by ID. Errors: ENotFound.
func (s *Service) Get(ctx context.Context, id string) (*gatehouse.APIKey, error) {
	return s.Store.FindKeyByID(ctx, id)
}

// Resolve returns a key by ID or, failing that, by name. Errors: ENotFound.
func (s *Service) Resolve(ctx context.Context, nameOrID string) (*gatehouse.APIKey, error) {
	k, err := s.Store.FindKeyByID(ctx, nameOrID)
	if gatehouse.ErrorCode(err) == gatehouse.ENotFound {
		k, err = s.Store.FindKeyByName(ctx, nameOrID)
		if gatehouse.ErrorCode(err) == gatehouse.ENotFound {
			return nil, gatehouse.Errorf(gatehouse.ENotFound, "No key has the ID or name %q.", nameOrID)
		}
	}
	return k, err
}

// List returns a page of keys and the total count.
func (s *Service) List(ctx context.Context, offset, size int) ([]*gatehouse.APIKey, int, error) {
	return s.Store.FindKeys(ctx, gatehouse.KeyFilter{Offset: offset, Limit: size})
}

// Reveal returns the plain key for "Copy key" and audits the reveal. A key
// caller can reveal only keys whose scopes are all within its own; a
// refused reveal is not audited. Errors: ENotFound, EInsufficientScope.
func (s *Service) Reveal(ctx context.Context, id string, c Caller) (gatehouse.Secret, error) {
	k, err := s.Store.FindKeyByID(ctx, id)
	if err != nil {
		return gatehouse.Secret{}, err
	}
	if !c.within(k.Scopes) {
		return gatehouse.Secret{}, beyond("reveal")
	}
	secret, err := s.Sealer.Open(k.ID, k.Sealed)
	if err != nil {
		return gatehouse.Secret{}, fmt.Errorf("reveal key %s: %w", k.ID, err)
	}
	if err := s.Store.RecordAudit(ctx, gatehouse.AuditEvent{
		KeyID: k.ID, Action: gatehouse.AuditReveal, Actor: c.actor, At: s.now().UTC(),
	}); err != nil {
		return gatehouse.Secret{}, err
	}
	return secret, nil
}

// Renew sets a new expiry (nil for none) and, when rl is not nil, a new
// rate limit (zero removes the override). A key caller can renew only keys
// whose scopes are all within its own.
// Errors: EInvalidRequest, ENotFound, EInsufficientScope.
func (s *Service) Renew(ctx context.Context, id string, validUntil *time.Time, rl *gatehouse.RateLimit, c Caller) (*gatehouse.APIKey, error) {
	if err := s.checkValidUntil(validUntil, s.now()); err != nil {
		return nil, err
	}
	if rl != nil && !rl.IsZero() {
		if err := rl.Validate(); err != nil {
			return nil, err
		}
	}
	if err := s.checkTarget(ctx, id, c, "renew"); err != nil {
		return nil, err
	}
	k, err := s.Store.RenewKey(ctx, id, gatehouse.KeyRenewal{ValidUntil: utcPtr(validUntil), RateLimit: rl}, c.actor)
	if err != nil {
		return nil, err
	}
	s.changed(ctx)
	return k, nil
}

// Delete removes a key. A key caller can delete only keys whose scopes are
// all within its own (itself included). Errors: ENotFound,
// EInsufficientScope.
func (s *Service) Delete(ctx context.Context, id string, c Caller) error {
	if err := s.checkTarget(ctx, id, c, "delete"); err != nil {
		return err
	}
	if err := s.Store.DeleteKey(ctx, id, c.actor); err != nil {
		return err
	}
	s.changed(ctx)
	return nil
}

// Roll gives the key a new secret and returns the key and the new secret,
// which is never stored. The old secret keeps working for overlap (0 to
// gatehouse.MaxOverlap), then is refused with key_rolled; a running
// overlap of an earlier roll ends at once. A key caller can roll only
// keys whose scopes are all within its own.
// Errors: EInvalidRequest, ENotFound, EInsufficientScope.
func (s *Service) Roll(ctx context.Context, id string, overlap time.Duration, c Caller) (*gatehouse.APIKey, gatehouse.Secret, error) {
	if overlap < 0 || overlap > gatehouse.MaxOverlap {
		return nil, gatehouse.Secret{}, gatehouse.Errorf(gatehouse.EInvalidRequest,
			"overlap %s is out of range: it must be from 0s to %s.", overlap, formatHours(gatehouse.MaxOverlap))
	}
	if err := s.checkTarget(ctx, id, c, "roll"); err != nil {
		return nil, gatehouse.Secret{}, err
	}
	secret := gatehouse.NewSecret()
	k, err := s.Store.RollKey(ctx, id, gatehouse.KeyRoll{
		Digest:             secret.Digest(),
		Sealed:             s.Sealer.Seal(id, secret),
		Hint:               secret.Hint(),
		PreviousValidUntil: s.now().UTC().Add(overlap).Truncate(time.Millisecond),
	}, c.actor)
	if err != nil {
		return nil, gatehouse.Secret{}, err
	}
	s.changed(ctx)
	return k, secret, nil
}

// SetDisabled disables a key (refused with key_disabled, its long-lived
// connections closed) or enables it again, unchanged otherwise. A key
// caller can do so only to keys whose scopes are all within its own.
// Errors: ENotFound, EInsufficientScope.
func (s *Service) SetDisabled(ctx context.Context, id string, disabled bool, c Caller) (*gatehouse.APIKey, error) {
	verb := "enable"
	if disabled {
		verb = "disable"
	}
	if err := s.checkTarget(ctx, id, c, verb); err != nil {
		return nil, err
	}
	k, err := s.Store.SetKeyDisabled(ctx, id, disabled, c.actor)
	if err != nil {
		return nil, err
	}
	s.changed(ctx)
	return k, nil
}

// Update changes a key's name, scopes, rate limit, allowed addresses or
// read-only grace, validated as Create validates them. A key caller can
// change only keys whose scopes are all within its own, and give them
// only scopes within its own.
// Errors: EInvalidRequest, EUnknownScope, ENotFound, EInsufficientScope,
// ENameTaken.
func (s *Service) Update(ctx context.Context, id string, req UpdateRequest, c Caller) (*gatehouse.APIKey, error) {
	var u gatehouse.KeyUpdate
	if req.Name != nil {
		name, err := gatehouse.NormalizeName(*req.Name)
		if err != nil {
			return nil, err
		}
		u.Name = &name
	}
	if req.Scopes != nil {
		scopes, err := s.scopes(*req.Scopes, false)
		if err != nil {
			return nil, err
		}
		if !c.within(scopes) {
			return nil, gatehouse.Errorf(gatehouse.EInsufficientScope,
				"This key cannot give a key the scopes %s: a key can grant only scopes within its own (%s).",
				strings.Join(scopes.Strings(), ", "), strings.Join(c.scopes.Strings(), ", "))
		}
		u.Scopes = &scopes
	}
	if req.RateLimit != nil {
		if !req.RateLimit.IsZero() {
			if err := req.RateLimit.Validate(); err != nil {
				return nil, err
			}
		}
		u.RateLimit = req.RateLimit
	}
	if req.AllowedIPs != nil {
		ips, err := gatehouse.ParseAllowedIPs(*req.AllowedIPs)
		if err != nil {
			return nil, err
		}
		u.AllowedIPs = &ips
	}
	if req.ReadOnlyGrace != nil {
		if err := checkGrace(*req.ReadOnlyGrace); err != nil {
			return nil, err
		}
		u.ReadOnlyGrace = req.ReadOnlyGrace
	}
	if err := s.checkTarget(ctx, id, c, "change"); err != nil {
		return nil, err
	}
	k, err := s.Store.UpdateKey(ctx, id, u, c.actor)
	if err != nil {
		return nil, err
	}
	s.changed(ctx)
	return k, nil
}

func checkGrace(d time.Duration) error {
	if d < 0 || d > gatehouse.MaxReadOnlyGrace {
		return gatehouse.Errorf(gatehouse.EInvalidRequest,
			"readOnlyGrace %s is out of range: it must be from 0s to %s.", d, formatHours(gatehouse.MaxReadOnlyGrace))
	}
	return nil
}

// formatHours writes a whole number of hours as the contract does: "720h".
func formatHours(d time.Duration) string { return fmt.Sprintf("%dh", int(d.Hours())) }

// Details is what "More information" shows beyond the key itself.
type Details struct {
	Audit []gatehouse.AuditEvent
	// Usage holds the hourly request counts of the last 7 days.
	Usage []gatehouse.Usage
	// Requests is the sum of Usage.
	Requests int64
}

// Details returns a key's audit log and recent usage.
func (s *Service) Details(ctx context.Context, id string) (*Details, error) {
	audit, err := s.Store.FindAuditEvents(ctx, id)
	if err != nil {
		return nil, err
	}
	since := s.now().UTC().Add(-7 * 24 * time.Hour).Truncate(time.Hour)
	usage, err := s.Store.FindUsage(ctx, id, since)
	if err != nil {
		return nil, err
	}
	d := &Details{Audit: audit, Usage: usage}
	for _, u := range usage {
		d.Requests += u.Count
	}
	return d, nil
}

// checkTarget returns nil when c may change the key id by verb, else
// ENotFound or EInsufficientScope. Administrators are not bounded: their
// changes need no lookup. The scopes of a stored key never change, so the
// check need not share the change's transaction. Update, which can change
// scopes, checks the old ones here and the new ones before; a concurrent
// Update of the same key's scopes by an administrator between the two is
// the one race left (the key caller's check then saw the old scopes).
func (s *Service) checkTarget(ctx context.Context, id string, c Caller, verb string) error {
	if c.admin {
		return nil
	}
	k, err := s.Store.FindKeyByID(ctx, id)
	if err != nil {
		return err
	}
	if !c.within(k.Scopes) {
		return beyond(verb)
	}
	return nil
}

// beyond is the refusal of a change to a key whose scopes are not all
// within the caller's. It names neither set of scopes.
func beyond(verb string) error {
	return gatehouse.Errorf(gatehouse.EInsufficientScope,
		"This key cannot %s that key: a key can manage only keys whose scopes are all within its own.", verb)
}

func (s *Service) checkValidUntil(t *time.Time, now time.Time) error {
	if t == nil {
		return nil
	}
	if !t.After(now) {
		return gatehouse.Errorf(gatehouse.EInvalidRequest, "validUntil %s is in the past.", t.UTC().Format(time.RFC3339))
	}
	if t.Year() > 9999 {
		return gatehouse.Errorf(gatehouse.EInvalidRequest, "validUntil is too far in the future.")
	}
	return nil
}

func (s *Service) scopes(list []string, writeAccess bool) (gatehouse.Scopes, error) {
	if len(list) == 0 {
		return gatehouse.DefaultScopes(writeAccess), nil
	}
	if len(list) > 100 {
		return nil, gatehouse.Errorf(gatehouse.EInvalidRequest, "A key holds at most 100 scopes.")
	}
	scopes, err := gatehouse.ParseScopes(list)
	if err != nil {
		return nil, err
	}
	for _, sc := range scopes {
		if sc.Name == gatehouse.ScopeAll || sc.Name == gatehouse.ScopeAPIKeys {
			continue
		}
		if s.KnownScope != nil && !s.KnownScope(sc.Name) {
			return nil, gatehouse.Errorf(gatehouse.EUnknownScope, "No configured route has the scope %q.", sc.Name)
		}
	}
	return scopes, nil
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC().Truncate(time.Second)
	return &u
}
