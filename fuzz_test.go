package gatehouse_test

import (
	"strings"
	"testing"

	"gatehouse"
)

// FuzzWellFormed: WellFormed and ParseSecret agree on every input; what
// they accept has the key's exact shape, and no printed form of a secret
// shows more than its hint.
func FuzzWellFormed(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		k, ok := gatehouse.ParseSecret(s)
		if ok != gatehouse.WellFormed(s) {
			t.Fatalf("ParseSecret(%q) ok=%v, WellFormed=%v", s, ok, !ok)
		}
		if !ok {
			return
		}
		if len(s) != gatehouse.KeyLen || !strings.HasPrefix(s, gatehouse.KeyPrefix) {
			t.Fatalf("accepted %q: not the key's shape", s)
		}
		for _, c := range s[len(gatehouse.KeyPrefix):] {
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
				t.Fatalf("accepted %q: %q is not base62", s, c)
			}
		}
		if k.Reveal() != s || k.Digest() != gatehouse.DigestOf(s) {
			t.Fatalf("ParseSecret(%q) does not round-trip", s)
		}
		middle := s[len(gatehouse.KeyPrefix) : len(s)-4]
		text, _ := k.MarshalText()
		for _, shown := range []string{k.String(), k.GoString(), k.Hint(), string(text), gatehouse.KeyHint(s)} {
			if strings.Contains(shown, middle) {
				t.Fatalf("a printed form of the secret shows it: %q", shown)
			}
		}
		if gatehouse.WellFormed(s+"0") || gatehouse.WellFormed(s[:len(s)-1]) || gatehouse.WellFormed(strings.ToUpper(s[:3])+s[3:]) {
			t.Fatalf("a longer, shorter or re-cased %q is accepted too", s)
		}
	})
}

// FuzzScopeSet: whatever scope lists parse, "write" includes "read", "*"
// never reaches the management API, and a scope grants nothing to another
// name.
func FuzzScopeSet(f *testing.F) {
	f.Fuzz(func(t *testing.T, a, b, name string) {
		ss, err := gatehouse.ParseScopes([]string{a, b})
		if err != nil {
			return
		}
		if len(ss.Strings()) == 0 {
			t.Fatalf("ParseScopes(%q, %q) accepted an empty set", a, b)
		}
		if ss.Allows(name, gatehouse.AccessWrite) && !ss.Allows(name, gatehouse.AccessRead) {
			t.Fatalf("%v allows %s:write but not %s:read", ss.Strings(), name, name)
		}
		named := func(n string) bool {
			for _, s := range ss {
				if s.Name == n {
					return true
				}
			}
			return false
		}
		if ss.Allows(gatehouse.ScopeAPIKeys, gatehouse.AccessRead) && !named(gatehouse.ScopeAPIKeys) {
			t.Fatalf("%v reaches the management API", ss.Strings())
		}
		if ss.Allows(name, gatehouse.AccessRead) && !named(name) && !named(gatehouse.ScopeAll) {
			t.Fatalf("%v allows %q", ss.Strings(), name)
		}
		again, err := gatehouse.ParseScopes(ss.Strings())
		if err != nil || strings.Join(again.Strings(), " ") != strings.Join(ss.Strings(), " ") {
			t.Fatalf("%v does not parse back: %v, %v", ss.Strings(), again.Strings(), err)
		}
	})
}
