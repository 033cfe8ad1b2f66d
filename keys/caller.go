package keys

import (
	"slices"

	"gatehouse"
)

// Caller is who asks the Service for a change: an administrator (a
// Settings UI session or the CLI), whose changes are not bounded, or an
// API key, which may create, renew, reveal or delete only keys whose scopes
// are all within its own (gatehouse.Scopes.Covers), so that no key grants
// more than it holds. Make one with Admin or KeyCaller; the zero Caller
// may change nothing.
type Caller struct {
	// actor names the caller in the audit log.
	actor string
	// admin is true for administrators, who are not bounded by scopes.
	admin bool
	// scopes bound a key's changes.
	scopes gatehouse.Scopes
}

// Admin returns an administrator that the audit log names actor, e.g.
// "admin:alice" or "cli:bob". Its changes are not bounded by scopes.
func Admin(actor string) Caller { return Caller{actor: actor, admin: true} }

// KeyCaller returns the API key k as a caller: the audit log names it
// "key:<id>", and its changes are bounded by k's scopes.
func KeyCaller(k *gatehouse.APIKey) Caller {
	return Caller{actor: "key:" + k.ID, scopes: slices.Clone(k.Scopes)}
}

// within reports whether c may create or manage a key holding scopes.
func (c Caller) within(scopes gatehouse.Scopes) bool {
	return c.admin || c.actor != "" && c.scopes.Covers(scopes)
}
