package gatehouse_test

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"gatehouse"
)

func TestParseAllowedIP(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want string // want "" for a refusal
	}{
		{"203.0.113.7", "203.0.113.7/32"},
		{" 10.0.0.0/8 ", "10.0.0.0/8"},
		{"10.1.2.3/8", "10.0.0.0/8"}, // masked
		{"2001:db8::1", "2001:db8::1/128"},
		{"2001:db8::/32", "2001:db8::/32"},
		{"::ffff:192.0.2.1", "192.0.2.1/32"},
		{"::ffff:192.0.2.0/120", "192.0.2.0/24"},
		{"fe80::1%eth0", ""},
		{"10.0.0.0/33", ""},
		{"10.0.0", ""},
		{"example.com", ""},
		{"", ""},
		{"10.0.0.1/8/8", ""},
	}
	for _, tt := range tests {
		got, err := gatehouse.ParseAllowedIP(tt.in)
		switch {
		case tt.want == "" && gatehouse.ErrorCode(err) != gatehouse.EInvalidRequest:
			t.Errorf("ParseAllowedIP(%q) = %v, %v; want invalid_request", tt.in, got, err)
		case tt.want != "" && (err != nil || got != netip.MustParsePrefix(tt.want)):
			t.Errorf("ParseAllowedIP(%q) = %v, %v; want %s", tt.in, got, err, tt.want)
		}
	}
	if _, err := gatehouse.ParseAllowedIPs(make([]string, gatehouse.MaxAllowedIPs+1)); gatehouse.ErrorCode(err) != gatehouse.EInvalidRequest {
		t.Errorf("ParseAllowedIPs(too many) = %v, want invalid_request", err)
	}
	ps, _ := gatehouse.ParseAllowedIPs([]string{"192.0.2.1", "2001:db8::/32"})
	if got := strings.Join(gatehouse.FormatAllowedIPs(ps), " "); got != "192.0.2.1 2001:db8::/32" {
		t.Errorf("FormatAllowedIPs() = %q", got)
	}
}

func TestAllowsAddrAndGrace(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	until := now.Add(-time.Minute)
	k := &gatehouse.APIKey{ValidUntil: &until, ReadOnlyGrace: time.Hour}
	if !k.AllowsAddr(netip.Addr{}) {
		t.Errorf("a key without AllowedIPs refused an address")
	}
	if !k.InGrace(now) || !k.InGrace(now.Add(58*time.Minute)) || k.InGrace(now.Add(59*time.Minute)) {
		t.Errorf("InGrace wrong around the end of a one-hour grace")
	}
	k.AllowedIPs = []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}
	for addr, want := range map[string]bool{"192.0.2.9": true, "::ffff:192.0.2.9": true, "192.0.3.1": false} {
		if got := k.AllowsAddr(netip.MustParseAddr(addr)); got != want {
			t.Errorf("AllowsAddr(%s) = %v, want %v", addr, got, want)
		}
	}
	if k.AllowsAddr(netip.Addr{}) {
		t.Errorf("AllowsAddr(zero) = true for a bound key")
	}
}

// FuzzParseAllowedIP: an accepted entry is a masked prefix without a zone
// or a mapped address, and its formatted form parses to itself.
func FuzzParseAllowedIP(f *testing.F) {
	for _, s := range []string{"10.0.0.0/8", "2001:db8::1", "::ffff:1.2.3.4/104", "fe80::1%x", "1.2.3.4/0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := gatehouse.ParseAllowedIP(s)
		if err != nil {
			return
		}
		if p != p.Masked() || p.Addr().Zone() != "" || p.Addr().Is4In6() {
			t.Fatalf("ParseAllowedIP(%q) = %v: not masked, zoned or mapped", s, p)
		}
		again, err := gatehouse.ParseAllowedIP(gatehouse.FormatAllowedIPs([]netip.Prefix{p})[0])
		if err != nil || again != p {
			t.Fatalf("ParseAllowedIP(Format(%v)) = %v, %v", p, again, err)
		}
	})
}
