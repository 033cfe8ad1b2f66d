package keyauth

import (
	"net/netip"
	"strings"
)

// maxForwardedHops bounds the X-Forwarded-For entries ClientAddr reads
// from the right: a chain of trusted proxies longer than that is not a
// deployment but an attack on the walk's cost.
const maxForwardedHops = 32

// ClientAddr returns the client's address: the TCP peer's (remoteAddr,
// "host:port" as net/http gives it), unless the peer is inside trusted;
// then the right-most X-Forwarded-For address (forwardedFor holds every
// value of the header, in order) that is not itself inside trusted. The
// entries left of it were written by the client or by proxies it chose,
// and are never believed. It returns the zero Addr, which no allowed
// range contains, when the peer's address cannot be read, or when the
// entry to believe is not an IP address. When every entry is trusted it
// returns the left-most one; without any entry, the peer's.
//
// IPv4-mapped IPv6 addresses are returned as IPv4.
func ClientAddr(remoteAddr string, forwardedFor []string, trusted []netip.Prefix) netip.Addr {
	peer := parseAddr(remoteAddr)
	if !peer.IsValid() || !inPrefixes(peer, trusted) {
		return peer
	}
	addr := peer
	hops := 0
	for i := len(forwardedFor) - 1; i >= 0; i-- {
		rest := forwardedFor[i]
		for rest != "" {
			if hops++; hops > maxForwardedHops {
				return netip.Addr{}
			}
			var entry string
			if j := strings.LastIndexByte(rest, ','); j >= 0 {
				rest, entry = rest[:j], rest[j+1:]
			} else {
				rest, entry = "", rest
			}
			entry = strings.TrimSpace(entry)
			if entry == "" {
				continue
			}
			addr = parseAddr(entry)
			if !addr.IsValid() || !inPrefixes(addr, trusted) {
				return addr
			}
		}
	}
	return addr
}

// parseAddr reads an address with or without a port ("192.0.2.1",
// "192.0.2.1:80", "[2001:db8::1]:443", "2001:db8::1"). It returns the
// zero Addr when s is none of these or has a zone.
func parseAddr(s string) netip.Addr {
	var a netip.Addr
	// Pick the parser by shape: a failed parse allocates its error.
	if strings.Count(s, ":") == 1 || strings.Contains(s, "]:") {
		ap, err := netip.ParseAddrPort(s)
		if err != nil {
			return netip.Addr{}
		}
		a = ap.Addr()
	} else {
		var err error
		if a, err = netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")); err != nil {
			return netip.Addr{}
		}
	}
	if a.Zone() != "" {
		return netip.Addr{}
	}
	return a.Unmap()
}

func inPrefixes(a netip.Addr, ps []netip.Prefix) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
