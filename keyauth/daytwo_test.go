package keyauth_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	"gatehouse"
	"gatehouse/keyauth"
)

// TestCheckDayTwo: the rows of §3 that §8 added, in their order: rolled,
// disabled, expired (with read-only grace), ip_not_allowed, then scope.
func TestCheckDayTwo(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	past, soon, later := now.Add(-time.Minute), now.Add(48*time.Hour), now.Add(30*24*time.Hour)
	idx := &index{keys: map[gatehouse.Digest]*gatehouse.APIKey{}}
	// add stores a key and returns its current and previous secrets (the
	// previous one is the zero Secret when prevUntil is nil).
	add := func(k gatehouse.APIKey, prevUntil *time.Time) (cur, prev string) {
		s := gatehouse.NewSecret()
		k.Digest = s.Digest()
		if k.Scopes == nil {
			k.Scopes = gatehouse.Scopes{{Name: "assets", Access: gatehouse.AccessRead}}
		}
		kp := &k
		idx.keys[s.Digest()] = kp
		if prevUntil != nil {
			p := gatehouse.NewSecret()
			d := p.Digest()
			kp.PreviousDigest, kp.PreviousValidUntil = &d, prevUntil
			idx.keys[d] = kp
			prev = p.Reveal()
		}
		return s.Reveal(), prev
	}
	nets := []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24"), netip.MustParsePrefix("2001:db8::/32")}
	cur, inOverlap := add(gatehouse.APIKey{ID: "overlap", ValidUntil: &later}, &soon)
	_, afterOverlap := add(gatehouse.APIKey{ID: "rolled"}, &past)
	// The previous secret after its overlap is key_rolled even when the
	// key is also disabled, expired and out of its addresses.
	_, rolledEverything := add(gatehouse.APIKey{ID: "rolled-all", Disabled: true, ValidUntil: &past, AllowedIPs: nets}, &past)
	disabled, _ := add(gatehouse.APIKey{ID: "disabled", Disabled: true, ValidUntil: &past, AllowedIPs: nets}, nil)
	grace, _ := add(gatehouse.APIKey{ID: "grace", ValidUntil: &past, ReadOnlyGrace: time.Hour}, nil)
	graceOver, _ := add(gatehouse.APIKey{ID: "grace-over", ValidUntil: &past, ReadOnlyGrace: 30 * time.Second}, nil)
	expiredBound, _ := add(gatehouse.APIKey{ID: "expired-bound", ValidUntil: &past, AllowedIPs: nets}, nil)
	bound, _ := add(gatehouse.APIKey{ID: "bound", AllowedIPs: nets}, nil)
	boundNoScope, _ := add(gatehouse.APIKey{ID: "bound-noscope", AllowedIPs: nets,
		Scopes: gatehouse.Scopes{{Name: "data", Access: gatehouse.AccessRead}}}, nil)

	proxy := netip.MustParsePrefix("10.0.0.0/8")
	tests := []struct {
		name    string
		key     string
		access  gatehouse.Access
		remote  string
		xff     []string
		trusted []netip.Prefix
		want    keyauth.Status
		prev    bool
		expires *time.Time
	}{
		{name: "CurrentDuringOverlap", key: cur, want: keyauth.StatusValid},
		{name: "PreviousDuringOverlap", key: inOverlap, want: keyauth.StatusValid, prev: true, expires: &soon},
		{name: "PreviousAfterOverlap", key: afterOverlap, want: keyauth.StatusRolled, prev: true},
		{name: "RolledBeforeEverything", key: rolledEverything, remote: "198.51.100.1:1", want: keyauth.StatusRolled, prev: true},
		{name: "DisabledBeforeExpiredAndAddress", key: disabled, remote: "198.51.100.1:1", want: keyauth.StatusDisabled},
		{name: "GraceRead", key: grace, want: keyauth.StatusValid, expires: &past},
		{name: "GraceWrite", key: grace, access: gatehouse.AccessWrite, want: keyauth.StatusExpired, expires: &past},
		{name: "GraceOver", key: graceOver, want: keyauth.StatusExpired, expires: &past},
		{name: "ExpiredBeforeAddress", key: expiredBound, remote: "198.51.100.1:1", want: keyauth.StatusExpired, expires: &past},
		{name: "AddressAllowed", key: bound, remote: "203.0.113.9:5000", want: keyauth.StatusValid},
		{name: "AddressIPv6Allowed", key: bound, remote: "[2001:db8::7]:443", want: keyauth.StatusValid},
		{name: "AddressIPv4MappedAllowed", key: bound, remote: "[::ffff:203.0.113.9]:443", want: keyauth.StatusValid},
		{name: "AddressRefused", key: bound, remote: "198.51.100.1:1", want: keyauth.StatusIPNotAllowed},
		{name: "AddressIPv6Refused", key: bound, remote: "[2001:db9::1]:1", want: keyauth.StatusIPNotAllowed},
		{name: "AddressUnreadable", key: bound, remote: "", want: keyauth.StatusIPNotAllowed},
		{name: "SpoofedXFFFromUntrustedPeer", key: bound, remote: "198.51.100.1:1", xff: []string{"203.0.113.9"},
			want: keyauth.StatusIPNotAllowed},
		{name: "SpoofedXFFWithoutTrustedProxies", key: bound, remote: "10.0.0.1:1", xff: []string{"203.0.113.9"},
			want: keyauth.StatusIPNotAllowed},
		{name: "XFFFromTrustedProxy", key: bound, remote: "10.0.0.1:1", xff: []string{"203.0.113.9"},
			trusted: []netip.Prefix{proxy}, want: keyauth.StatusValid},
		{name: "ForgedLeftMostXFFIgnored", key: bound, remote: "10.0.0.1:1", xff: []string{"203.0.113.9, 198.51.100.1"},
			trusted: []netip.Prefix{proxy}, want: keyauth.StatusIPNotAllowed},
		{name: "AddressBeforeScope", key: boundNoScope, remote: "198.51.100.1:1", want: keyauth.StatusIPNotAllowed},
		{name: "ScopeAfterAddress", key: boundNoScope, remote: "203.0.113.1:1", want: keyauth.StatusInsufficientScope},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := &usage{n: map[string]int{}}
			v := &keyauth.Verifier{Index: idx, Usage: u, Now: func() time.Time { return now },
				TrustedProxies: tt.trusted, ExpiryWarning: 7 * 24 * time.Hour}
			access := tt.access
			if access == 0 {
				access = gatehouse.AccessRead
			}
			got := v.Check(t.Context(), keyauth.Request{Presented: []string{tt.key}, Scope: "assets", Access: access,
				RemoteAddr: tt.remote, ForwardedFor: tt.xff})
			if got.Status != tt.want {
				t.Fatalf("Check() = %v (%s), want %v (%s)", got.Status, got.Status.Code(), tt.want, tt.want.Code())
			}
			if got.Key == nil {
				t.Fatalf("Check().Key = nil, want the key")
			}
			if got.Previous != tt.prev {
				t.Errorf("Check().Previous = %v, want %v", got.Previous, tt.prev)
			}
			switch {
			case tt.expires == nil && !got.Expires.IsZero():
				t.Errorf("Check().Expires = %v, want none", got.Expires)
			case tt.expires != nil && !got.Expires.Equal(*tt.expires):
				t.Errorf("Check().Expires = %v, want %v", got.Expires, *tt.expires)
			}
			if got.OK() && (u.n[got.Key.ID] != 1 || (u.previous[got.Key.ID] == 1) != tt.prev) {
				t.Errorf("usage = %v, previous %v; want one request, previous %v", u.n, u.previous, tt.prev)
			}
		})
	}
}

// TestExpiresHeader: the adapter sends X-API-Key-Expires on answers to a
// key inside the expiry warning, and only then.
func TestExpiresHeader(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	soon, later := now.Add(3*24*time.Hour), now.Add(30*24*time.Hour)
	idx := &index{keys: map[gatehouse.Digest]*gatehouse.APIKey{}}
	add := func(id string, until *time.Time) string {
		s := gatehouse.NewSecret()
		idx.keys[s.Digest()] = &gatehouse.APIKey{ID: id, Digest: s.Digest(), ValidUntil: until,
			Scopes: gatehouse.Scopes{{Name: "assets", Access: gatehouse.AccessRead}}}
		return s.Reveal()
	}
	v := &keyauth.Verifier{Index: idx, Now: func() time.Time { return now }}
	for _, tt := range []struct {
		name, key, want string
	}{
		{"Soon", add("soon", &soon), "2026-12-01T12:00:00Z"},
		{"Later", add("later", &later), ""},
		{"Never", add("never", nil), ""},
	} {
		r := httptest.NewRequest(http.MethodGet, "/api/v2/assets", nil)
		r.Header.Set(keyauth.Header, tt.key)
		w := httptest.NewRecorder()
		if _, ok := v.Authenticate(w, r, keyauth.Need{Scope: "assets"}); !ok {
			t.Fatalf("%s: Authenticate refused: %s", tt.name, w.Body)
		}
		if got := w.Header().Get("X-API-Key-Expires"); got != tt.want {
			t.Errorf("%s: X-API-Key-Expires = %q, want %q", tt.name, got, tt.want)
		}
	}
}

// TestClientAddr: the TCP peer is the client unless it is a trusted
// proxy; then the right-most X-Forwarded-For entry that is not trusted.
func TestClientAddr(t *testing.T) {
	t.Parallel()
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}
	tests := []struct {
		name    string
		remote  string
		xff     []string
		trusted []netip.Prefix
		want    string // "" for the zero Addr
	}{
		{"Peer", "192.0.2.1:1234", nil, trusted, "192.0.2.1"},
		{"PeerIPv6", "[2001:db8::1]:1234", nil, trusted, "2001:db8::1"},
		{"PeerMapped", "[::ffff:192.0.2.1]:1", nil, trusted, "192.0.2.1"},
		{"PeerWithoutPort", "192.0.2.1", nil, trusted, "192.0.2.1"},
		{"PeerUnreadable", "nonsense", nil, trusted, ""},
		{"PeerZone", "[fe80::1%eth0]:1", nil, nil, ""},
		{"UntrustedPeerXFFIgnored", "192.0.2.1:1", []string{"203.0.113.5"}, trusted, "192.0.2.1"},
		{"NoTrustedProxiesXFFIgnored", "10.0.0.1:1", []string{"203.0.113.5"}, nil, "10.0.0.1"},
		{"TrustedPeer", "10.0.0.1:1", []string{"203.0.113.5"}, trusted, "203.0.113.5"},
		{"TrustedPeerNoXFF", "10.0.0.1:1", nil, trusted, "10.0.0.1"},
		{"RightMostUntrusted", "10.0.0.1:1", []string{"198.51.100.7, 203.0.113.5, 10.1.1.1"}, trusted, "203.0.113.5"},
		{"SeveralHeaders", "10.0.0.1:1", []string{"198.51.100.7", "203.0.113.5, 10.2.2.2", "10.1.1.1"}, trusted, "203.0.113.5"},
		{"AllTrustedLeftMost", "10.0.0.1:1", []string{"10.3.3.3, 10.1.1.1"}, trusted, "10.3.3.3"},
		{"GarbageWhereTrusted", "10.0.0.1:1", []string{"203.0.113.5, garbage"}, trusted, ""},
		{"GarbageLeftIgnored", "10.0.0.1:1", []string{"garbage, 203.0.113.5"}, trusted, "203.0.113.5"},
		{"EmptyEntries", "10.0.0.1:1", []string{"203.0.113.5, , ", ""}, trusted, "203.0.113.5"},
		{"IPv6Entry", "[fd00::1]:1", []string{"2001:db8::5"}, trusted, "2001:db8::5"},
		{"BracketedWithPort", "10.0.0.1:1", []string{"[2001:db8::5]:4711"}, trusted, "2001:db8::5"},
		{"IPv4WithPort", "10.0.0.1:1", []string{"203.0.113.5:4711"}, trusted, "203.0.113.5"},
	}
	for _, tt := range tests {
		got := keyauth.ClientAddr(tt.remote, tt.xff, tt.trusted)
		want := netip.Addr{}
		if tt.want != "" {
			want = netip.MustParseAddr(tt.want)
		}
		if got != want {
			t.Errorf("%s: ClientAddr(%q, %q) = %v, want %v", tt.name, tt.remote, tt.xff, got, want)
		}
	}
	// A chain of trusted entries longer than any deployment is cut off.
	long := "203.0.113.5"
	for range 100 {
		long += ", 10.0.0.1"
	}
	if got := keyauth.ClientAddr("10.0.0.1:1", []string{long}, trusted); got.IsValid() {
		t.Errorf("ClientAddr(100 trusted hops) = %v, want the zero Addr", got)
	}
}

// FuzzClientAddr: whatever the peer and the header, ClientAddr does not
// panic, returns the peer when it is not trusted, and never returns a
// trusted address unless every entry was trusted.
func FuzzClientAddr(f *testing.F) {
	f.Add("10.0.0.1:1", "203.0.113.5, 10.1.1.1")
	f.Add("[fd00::1]:1", "2001:db8::5, [fd00::2]:9")
	f.Add("192.0.2.1:1", "garbage,,, ")
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}
	f.Fuzz(func(t *testing.T, remote, xff string) {
		got := keyauth.ClientAddr(remote, []string{xff}, trusted)
		peer, err := netip.ParseAddrPort(remote)
		if err == nil && peer.Addr().Zone() == "" {
			p := peer.Addr().Unmap()
			if !trusted[0].Contains(p) && !trusted[1].Contains(p) && got != p {
				t.Fatalf("ClientAddr(%q, %q) = %v, want the untrusted peer %v", remote, xff, got, p)
			}
		}
		if got.Is4In6() || got.Zone() != "" {
			t.Fatalf("ClientAddr(%q, %q) = %v: mapped or zoned", remote, xff, got)
		}
	})
}

// BenchmarkCheckAllowedIPs: what a key's allowed addresses cost. "any" is
// a key without them (the cost must match BenchmarkCheck's hit: one
// length check); "peer" a key with four ranges, the client the TCP peer;
// "forwarded" the same behind a trusted proxy, read from X-Forwarded-For.
func BenchmarkCheckAllowedIPs(b *testing.B) {
	idx := &index{keys: map[gatehouse.Digest]*gatehouse.APIKey{}}
	sc, _ := gatehouse.ParseScopes([]string{"assets:read"})
	add := func(id string, ips []netip.Prefix) string {
		s := gatehouse.NewSecret()
		idx.keys[s.Digest()] = &gatehouse.APIKey{ID: id, Digest: s.Digest(), Scopes: sc, AllowedIPs: ips}
		return s.Reveal()
	}
	ips := []netip.Prefix{
		netip.MustParsePrefix("192.0.2.0/24"), netip.MustParsePrefix("198.51.100.0/24"),
		netip.MustParsePrefix("2001:db8::/32"), netip.MustParsePrefix("203.0.113.0/24"),
	}
	anyKey, bound := add("any", nil), add("bound", ips)
	v := &keyauth.Verifier{Index: idx, TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}
	for _, bc := range []struct {
		name string
		req  keyauth.Request
	}{
		{"any", keyauth.Request{Presented: []string{anyKey}, RemoteAddr: "203.0.113.9:4711"}},
		{"peer", keyauth.Request{Presented: []string{bound}, RemoteAddr: "203.0.113.9:4711"}},
		{"forwarded", keyauth.Request{Presented: []string{bound}, RemoteAddr: "10.0.0.1:4711",
			ForwardedFor: []string{"198.51.100.1, 203.0.113.9, 10.1.1.1"}}},
	} {
		bc.req.Scope, bc.req.Access = "assets", gatehouse.AccessRead
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if v.Check(context.Background(), bc.req).Status != keyauth.StatusValid {
					b.Fatal("refused")
				}
			}
		})
	}
}
