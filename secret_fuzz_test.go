package gatehouse_test

import (
	"strings"
	"testing"

	"gatehouse"
)

// FuzzParseSecret: parsing never panics, accepts only the documented shape,
// and refuses every single-character change of a valid key.
func FuzzParseSecret(f *testing.F) {
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

// FuzzParseScope: parsing never panics and what it accepts prints back.
func FuzzParseScope(f *testing.F) {
	for _, s := range []string{"assets:read", "*:write", "api-keys:read", "a:b:read", ":read", "x:", "é:read"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sc, err := gatehouse.ParseScope(s)
		if err != nil {
			return
		}
		if sc.String() != s {
			t.Fatalf("ParseScope(%q).String() = %q", s, sc.String())
		}
	})
}
