package gatehouse

import (
	"net/http"
	"strings"
)

// Access is the level a scope grants: read, or write (which includes read).
type Access uint8

// Access levels.
const (
	AccessRead Access = iota + 1
	AccessWrite
)

// String returns "read" or "write".
func (a Access) String() string {
	if a == AccessWrite {
		return "write"
	}
	return "read"
}

// MethodAccess returns the access a request method needs: GET, HEAD and
// OPTIONS need read; every other method needs write.
func MethodAccess(method string) Access {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return AccessRead
	}
	return AccessWrite
}

// Scope names with a meaning of their own.
const (
	// ScopeAll is the scope name that covers every route, but never the
	// management API.
	ScopeAll = "*"
	// ScopeAPIKeys is the scope name of the management API.
	ScopeAPIKeys = "api-keys"
)

// Scope is a parsed "<name>:read" or "<name>:write".
type Scope struct {
	Name   string
	Access Access
}

// String returns the scope in its "<name>:<access>" form.
func (s Scope) String() string { return s.Name + ":" + s.Access.String() }

// ParseScope parses "<name>:read" or "<name>:write". It checks the shape
// only; whether the name is a configured route's scope is the caller's
// concern.
func ParseScope(s string) (Scope, error) {
	name, access, ok := strings.Cut(s, ":")
	if !ok || name == "" || len(s) > 200 {
		return Scope{}, Errorf(EInvalidRequest, "Scope %q must be <name>:read or <name>:write.", s)
	}
	var a Access
	switch access {
	case "read":
		a = AccessRead
	case "write":
		a = AccessWrite
	default:
		return Scope{}, Errorf(EInvalidRequest, "Scope %q must end in :read or :write.", s)
	}
	for _, c := range name {
		if !(c == '*' || c == '-' || c == '_' || c == '.' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return Scope{}, Errorf(EInvalidRequest, "Scope %q has a character that a scope name cannot hold.", s)
		}
	}
	if strings.Contains(name, "*") && name != ScopeAll {
		return Scope{}, Errorf(EInvalidRequest, "Scope %q: * stands alone.", s)
	}
	return Scope{Name: name, Access: a}, nil
}

// Scopes is the set of scopes a key holds.
type Scopes []Scope

// Allows reports whether the scopes grant access at level need to the scope
// name. "*" covers every name except ScopeAPIKeys; write includes read.
func (ss Scopes) Allows(name string, need Access) bool {
	for _, s := range ss {
		if s.Access < need {
			continue
		}
		if s.Name == name || (s.Name == ScopeAll && name != ScopeAPIKeys) {
			return true
		}
	}
	return false
}

// Covers reports whether every scope of other is within ss, so that a key
// holding ss may hand out or manage a key holding other: each scope of
// other must be allowed by ss (see Allows). Write includes read; "*"
// covers every route's scope and "*" itself, never ScopeAPIKeys; and "*"
// in other is covered only by "*" in ss, since route scopes, however
// many, are not every route. An empty other is covered by any ss.
func (ss Scopes) Covers(other Scopes) bool {
	for _, o := range other {
		if !ss.Allows(o.Name, o.Access) {
			return false
		}
	}
	return true
}

// WriteAccess reports whether any scope is a write scope.
func (ss Scopes) WriteAccess() bool {
	for _, s := range ss {
		if s.Access == AccessWrite {
			return true
		}
	}
	return false
}

// Strings returns the scopes in their text form.
func (ss Scopes) Strings() []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = s.String()
	}
	return out
}

// ParseScopes parses a list of scopes, dropping exact duplicates.
func ParseScopes(list []string) (Scopes, error) {
	out := make(Scopes, 0, len(list))
	seen := make(map[Scope]bool, len(list))
	for _, s := range list {
		sc, err := ParseScope(strings.TrimSpace(s))
		if err != nil {
			return nil, err
		}
		if !seen[sc] {
			seen[sc] = true
			out = append(out, sc)
		}
	}
	return out, nil
}

// DefaultScopes returns the scopes of a key created without any:
// ["*:read"], or ["*:write"] when writeAccess is set.
func DefaultScopes(writeAccess bool) Scopes {
	if writeAccess {
		return Scopes{{Name: ScopeAll, Access: AccessWrite}}
	}
	return Scopes{{Name: ScopeAll, Access: AccessRead}}
}
