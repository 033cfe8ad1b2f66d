package server

import (
	"strings"
	"testing"

	"gatehouse"
)

// decodeAll undoes percent-escapes pass after pass until a pass changes
// nothing, leaving invalid escapes as they are: the slow, plain reference
// for what redactKeys decodes in one pass.
func decodeAll(s string) string {
	for {
		var b strings.Builder
		for i := 0; i < len(s); i++ {
			if s[i] == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
				b.WriteByte(unhex(s[i+1])<<4 | unhex(s[i+2]))
				i += 2
				continue
			}
			b.WriteByte(s[i])
		}
		if b.String() == s {
			return s
		}
		s = b.String()
	}
}

func TestLogPath(t *testing.T) {
	t.Parallel()
	key := gatehouse.NewSecret().Reveal()
	body := key[len(gatehouse.KeyPrefix):]
	long := strings.Repeat("x", 300)
	for _, tt := range []struct{ name, path, want string }{
		{"plain path", "/api/v2/assets/158", "/api/v2/assets/158"},
		{"escapes without a key", "/api/v2/assets/caf%C3%A9%20x", "/api/v2/assets/caf%C3%A9%20x"},
		{"gth_ alone", "/api/v2/gth_/x", "/api/v2/gth_/x"},
		{"too short to be a key", "/api/v2/gth_abc", "/api/v2/gth_abc"},
		{"key", "/api/v2/assets/" + key, "/api/v2/assets/gth_[REDACTED]"},
		{"key and more", "/a/x-" + key + ".json", "/a/x-gth_[REDACTED].json"},
		{"two keys", "/" + key + "/" + key, "/gth_[REDACTED]/gth_[REDACTED]"},
		{"glued to a shape", "/a/gth_abc" + key, "/a/gth_[REDACTED]"},
		{"glued to a short shape", "/a/gth_" + key, "/a/gth_gth_[REDACTED]"},
		{"prefix encoded", "/a/%67%74%68%5F" + body, "/a/gth_[REDACTED]"},
		{"lower-case hex", "/a/%67%74%68%5f" + body + "/b", "/a/gth_[REDACTED]/b"},
		{"one letter encoded", "/a/g%74h_" + body, "/a/gth_[REDACTED]"},
		{"a character in the middle encoded", "/a/" + key[:20] + "%" + pctHex(key[20]) + key[21:] + "/b", "/a/gth_[REDACTED]/b"},
		{"upper-case prefix", "/a/GTH_" + body, "/a/gth_[REDACTED]"},
		{"double-encoded", "/a/%2567th_" + body, "/a/gth_[REDACTED]"},
		{"triple-encoded", "/a/%252567th_" + body, "/a/gth_[REDACTED]"},
		{"an escape built of escapes", "/a/%%36%37th_" + body, "/a/gth_[REDACTED]"},
		{"invalid escape before", "/a/%zz" + key, "/a/%zzgth_[REDACTED]"},
		{"lone % before", "/a/%" + key, "/a/%gth_[REDACTED]"},
		{"invalid escape inside", "/a/gth_abcd%zzxyz", "/a/gth_[REDACTED]%zzxyz"},
		{"truncated escape at the end", "/a/" + key + "%4", "/a/gth_[REDACTED]%4"},
		{"escape after the key", "/a/" + key + "%2F", "/a/gth_[REDACTED]%2F"},
		{"long path", long + "/%67th_" + body, long + "/gth_[REDACTED]"},
		{"long path without a key", long + "%20", long + "%20"},
	} {
		got := logPath(tt.path)
		if got != tt.want {
			t.Errorf("%s: logPath(%q) = %q, want %q", tt.name, tt.path, got, tt.want)
		}
		if strings.Contains(got, body[:8]) {
			t.Errorf("%s: logPath(%q) = %q holds the key", tt.name, tt.path, got)
		}
	}
}

func pctHex(c byte) string {
	const digits = "0123456789ABCDEF"
	return string([]byte{digits[c>>4], digits[c&15]})
}

// FuzzLogPath: whatever the path, what is logged holds no key shape once
// decoded, and a path without one is logged as it is.
func FuzzLogPath(f *testing.F) {
	key := gatehouse.NewSecret().Reveal()
	for _, s := range []string{"/api/v2/assets/158", "/" + key, "/%67th_" + key[4:], "%%36%37th_abcd", "%2%35%36", "gth_abcd%", "%GTH_abcd"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		got := logPath(p)
		if start, _ := gatehouse.FindKeyShape(decodeAll(got)); start >= 0 {
			t.Fatalf("logPath(%q) = %q, which decodes to %q", p, got, decodeAll(got))
		}
		if start, _ := gatehouse.FindKeyShape(decodeAll(p)); start < 0 && got != p {
			t.Fatalf("logPath(%q) = %q, want it unchanged", p, got)
		}
	})
}

func TestLogMethod(t *testing.T) {
	t.Parallel()
	key := gatehouse.NewSecret().Reveal()
	for _, tt := range []struct{ method, want string }{
		{"GET", "GET"},
		{"DELETE", "DELETE"},
		{"PROPFIND", "PROPFIND"},
		{"VERSION-CONTROL", "VERSION-CONTROL"},
		{"get", "get"},
		{key, "gth_[REDACTED]"},
		{"GTH_" + key[4:], "gth_[REDACTED]"},
		{"g%74h_" + key[4:], "[OTHER]"},
		{key[4:], "[OTHER]"},
		{"Ab3dEf", "[OTHER]"}, // a fragment of a key: mixed case and digits
		{"Get", "[OTHER]"},
		{"GET_X", "[OTHER]"},
		{strings.Repeat("A", 21), "[OTHER]"},
		{"", "[OTHER]"},
	} {
		if got := logMethod(tt.method); got != tt.want {
			t.Errorf("logMethod(%q) = %q, want %q", tt.method, got, tt.want)
		}
	}
}

func TestValidRequestID(t *testing.T) {
	t.Parallel()
	key := gatehouse.NewSecret().Reveal()
	for _, tt := range []struct {
		id   string
		want bool
	}{
		{"abc-123", true},
		{"4bf92f3577b34da6a3ce929d0e0e4736", true},
		{"trace:1.2_3", true},
		{"length_ok", true},
		{strings.Repeat("a", 128), true},
		{strings.Repeat("a", 129), false},
		{"", false},
		{"a b", false},
		{"<script>", false},
		{key, false},
		{"x:" + key + ".1", false},
		{"GTH_" + key[4:], false},
		{"gth_abcd", false},
	} {
		if got := validRequestID(tt.id); got != tt.want {
			t.Errorf("validRequestID(%q) = %v, want %v", tt.id, got, tt.want)
		}
	}
}

// TestAccessLogFieldsDoNotAllocate: the redaction of an ordinary request,
// with or without percent-escapes, costs no allocation.
func TestAccessLogFieldsDoNotAllocate(t *testing.T) {
	for _, p := range []string{"/api/v2/assets/158", "/api/v2/assets/caf%C3%A9/a%20b"} {
		if n := testing.AllocsPerRun(100, func() { logPath(p) }); n != 0 {
			t.Errorf("logPath(%q): %v allocations, want 0", p, n)
		}
	}
	if n := testing.AllocsPerRun(100, func() { logMethod("GET"); validRequestID("4bf92f3577b34da6a3ce929d0e0e4736") }); n != 0 {
		t.Errorf("logMethod and validRequestID: %v allocations, want 0", n)
	}
}
