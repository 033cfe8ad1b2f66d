package proxy

import (
	"net/http"
	"strings"
)

// CheckPath reports whether the request target is safe to authorise and
// forward. It reads the raw target as the client sent it, so that no
// decoding on the way can make the gateway authorise one path while the
// upstream serves another. It refuses:
//
//   - "." and ".." segments, raw or percent-encoded in any case;
//   - empty segments ("//");
//   - encoded "/", "\", "." and "%" (%2F, %5C, %2E, %25: double decoding);
//   - raw "\", ";" (path parameters), "#", NUL and other control characters;
//   - invalid percent-encoding, and targets that are not a path.
func CheckPath(r *http.Request) bool {
	raw := r.RequestURI
	if raw == "" { // a request built in process, not read from the wire
		raw = r.URL.RequestURI()
	}
	if i := strings.Index(raw, "://"); i > 0 && !strings.HasPrefix(raw, "/") {
		// absolute-form: scheme://authority/path
		rest := raw[i+3:]
		j := strings.IndexByte(rest, '/')
		if j < 0 {
			return false
		}
		raw = rest[j:]
	}
	if i := strings.IndexByte(raw, '?'); i >= 0 {
		raw = raw[:i]
	}
	return safePath(raw)
}

// safePath checks an escaped path; see CheckPath.
func safePath(p string) bool {
	if p == "" || p[0] != '/' {
		return false
	}
	segStart := 1
	dots, other := 0, false // what the current segment holds, decoded
	for i := 1; i <= len(p); i++ {
		if i == len(p) || p[i] == '/' {
			seg := i - segStart
			if seg == 0 && i != len(p) {
				return false // "//"
			}
			if !other && (dots == 1 || dots == 2) {
				return false // "." or ".."
			}
			segStart, dots, other = i+1, 0, false
			continue
		}
		c := p[i]
		switch {
		case c == '%':
			if i+2 >= len(p) || !isHex(p[i+1]) || !isHex(p[i+2]) {
				return false
			}
			d := unhex(p[i+1])<<4 | unhex(p[i+2])
			if d == '/' || d == '\\' || d == '.' || d == '%' || d < 0x20 || d == 0x7f {
				return false
			}
			other = true
			i += 2
		case c == '.':
			dots++
		case c == '\\', c == ';', c == '#', c < 0x20, c == 0x7f:
			return false
		default:
			other = true
		}
	}
	return true
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}
