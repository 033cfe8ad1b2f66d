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

// FuzzOneCharOff: every single-character change of a valid key is refused
// before any lookup (CRC32 catches them all).
func FuzzOneCharOff(f *testing.F) {
	valid := gatehouse.NewSecret().Reveal()
	for _, s := range []string{valid, "", "gth_", valid[:len(valid)-1], strings.ToUpper(valid), valid + "x", "gth_" + strings.Repeat("0", 38), "gth_\x00"} {
		f.Add(s, 5, byte('a'))
	}
	f.Fuzz(func(t *testing.T, s string, pos int, c byte) {
		k, ok := gatehouse.ParseSecret(s)
		if ok {
			if len(s) != gatehouse.KeyLen || !strings.HasPrefix(s, gatehouse.KeyPrefix) || k.Reveal() != s {
				t.Fatalf("ParseSecret(%q) accepted a key of the wrong shape", s)
			}
			if strings.Contains(k.String(), s[4:]) {
				t.Fatalf("Secret.String() = %q shows the key", k.String())
			}
		}
		// Any one changed character of a valid key is refused.
		if pos < 0 {
			pos = -pos
		}
		b := []byte(valid)
		i := pos % len(b)
		if b[i] == c {
			return
		}
		b[i] = c
		if gatehouse.WellFormed(string(b)) {
			// CRC32 catches every single-character change.
			t.Fatalf("WellFormed accepted %q, one character off a valid key", b)
		}
	})
}
