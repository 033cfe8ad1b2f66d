package gatehouse

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"hash/crc32"
)

// Key format: "gth_" + 32 random base62 characters (about 190 bits from
// crypto/rand) + 6 base62 characters of CRC32 over everything before them.
// The shape is fixed so that secret scanners can recognise a leaked key, and
// a mistyped or truncated key is refused before any lookup.
const (
	// KeyPrefix starts every API key.
	KeyPrefix = "gth_"
	// keyBodyLen is the number of random base62 characters.
	keyBodyLen = 32
	// keyChecksumLen is the number of base62 characters of the CRC32.
	keyChecksumLen = 6
	// KeyLen is the length of every well-formed API key.
	KeyLen = len(KeyPrefix) + keyBodyLen + keyChecksumLen
)

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// Digest is the SHA-256 digest of a plain API key: the only form in which a
// key is looked up.
type Digest [sha256.Size]byte

// Equal reports whether d and o are the same digest, in constant time.
func (d Digest) Equal(o Digest) bool {
	return subtle.ConstantTimeCompare(d[:], o[:]) == 1
}

// Secret is a plain API key. It never prints itself: String and
// LogValue-like formatting give only the hint, so that a key cannot reach a
// log by accident. Use Reveal where the plain key must be shown.
type Secret struct {
	_ [0]func() // not comparable with ==: compare digests instead
	s string
}

// NewSecret generates a new random API key.
func NewSecret() Secret {
	var b [keyBodyLen]byte
	buf := make([]byte, 0, KeyLen)
	buf = append(buf, KeyPrefix...)
	// Rejection sampling keeps every character uniform over base62.
	for n := 0; n < keyBodyLen; {
		rand.Read(b[:]) // never returns an error (crypto/rand, Go 1.24+)
		for _, c := range b {
			if c >= 248 { // 248 = 4*62
				continue
			}
			buf = append(buf, base62[c%62])
			n++
			if n == keyBodyLen {
				break
			}
		}
	}
	buf = appendChecksum(buf, checksum(string(buf)))
	return Secret{s: string(buf)}
}

// ParseSecret checks the shape and the checksum of a presented key and
// returns it as a Secret. It does not allocate, and it reports false for
// anything that is not a well-formed key.
func ParseSecret(s string) (Secret, bool) {
	if !WellFormed(s) {
		return Secret{}, false
	}
	return Secret{s: s}, true
}

// WellFormed reports whether s has the shape and the checksum of an API key.
// It does not allocate.
func WellFormed(s string) bool {
	if len(s) != KeyLen || s[:len(KeyPrefix)] != KeyPrefix {
		return false
	}
	for i := len(KeyPrefix); i < KeyLen; i++ {
		if base62Index(s[i]) < 0 {
			return false
		}
	}
	body := KeyLen - keyChecksumLen
	var sum [keyChecksumLen]byte
	appendChecksum(sum[:0], checksum(s[:body]))
	var diff byte
	for i, c := range sum {
		diff |= c ^ s[body+i]
	}
	return diff == 0
}

// keyShapeMin is how many base62 characters after the prefix make
// FindKeyShape take a string for a key or a part of one.
const keyShapeMin = 4

// FindKeyShape returns where s first holds something shaped like an API
// key, or a part of one, so that it can be kept out of logs and headers:
// the prefix "gth_" in any case (a key upper-cased by some tool can be
// restored by trying the case of each letter against its checksum),
// followed by at least four base62 characters. s[start:end] is the first
// such prefix with every base62 character after it, and with any such
// shape that begins in its last three characters ("gth_abgth_..."); start
// and end are -1 when s holds none. It does not allocate.
func FindKeyShape[S ~string | ~[]byte](s S) (start, end int) {
	for i := 0; i+len(KeyPrefix)+keyShapeMin <= len(s); i++ {
		if s[i+len(KeyPrefix)-1] != '_' { // the cheap test first
			continue
		}
		if end = keyShapeAt(s, i); end >= 0 {
			for next := end; next >= 0; next = keyShapeAt(s, end-(len(KeyPrefix)-1)) {
				end = next
			}
			return i, end
		}
	}
	return -1, -1
}

// keyShapeAt returns the end of the key shape (see FindKeyShape) that
// starts at s[i], or -1.
func keyShapeAt[S ~string | ~[]byte](s S, i int) int {
	if len(s)-i < len(KeyPrefix)+keyShapeMin {
		return -1
	}
	for k := 0; k < len(KeyPrefix); k++ {
		c := s[i+k]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != KeyPrefix[k] {
			return -1
		}
	}
	j := i + len(KeyPrefix)
	for j < len(s) && base62Index(s[j]) >= 0 {
		j++
	}
	if j-i-len(KeyPrefix) < keyShapeMin {
		return -1
	}
	return j
}

// Reveal returns the plain key. Call it only where the contract allows the
// plain key to appear: the answer to a create or a reveal.
func (k Secret) Reveal() string { return k.s }

// IsZero reports whether k holds no key.
func (k Secret) IsZero() bool { return k.s == "" }

// Digest returns the SHA-256 digest of the key. It does not allocate.
func (k Secret) Digest() Digest { return DigestOf(k.s) }

// Hint returns the displayable hint of the key: its prefix and its last four
// characters.
func (k Secret) Hint() string { return KeyHint(k.s) }

// String returns the hint, never the key.
func (k Secret) String() string { return k.Hint() }

// GoString returns the hint, never the key.
func (k Secret) GoString() string { return "gatehouse.Secret(" + k.Hint() + ")" }

// MarshalText refuses to serialise a secret by accident.
func (k Secret) MarshalText() ([]byte, error) { return []byte(k.Hint()), nil }

// DigestOf returns the SHA-256 digest of s without allocating.
func DigestOf(s string) Digest {
	var buf [2 * KeyLen]byte
	if len(s) <= len(buf) {
		n := copy(buf[:], s)
		return sha256.Sum256(buf[:n])
	}
	return sha256.Sum256([]byte(s))
}

// KeyHint returns "gth_…" followed by the last four characters of key.
func KeyHint(key string) string {
	if len(key) < len(KeyPrefix)+4 {
		return KeyPrefix + "…"
	}
	return KeyPrefix + "…" + key[len(key)-4:]
}

// checksum is CRC32 (IEEE) of s, computed over the string itself so that
// checking a presented key does not allocate.
func checksum(s string) uint32 {
	crc := ^uint32(0)
	for i := 0; i < len(s); i++ {
		crc = crc32.IEEETable[byte(crc)^s[i]] ^ (crc >> 8)
	}
	return ^crc
}

func appendChecksum(dst []byte, sum uint32) []byte {
	var c [keyChecksumLen]byte
	for i := keyChecksumLen - 1; i >= 0; i-- {
		c[i] = base62[sum%62]
		sum /= 62
	}
	return append(dst, c[:]...)
}

func base62Index(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'A' && c <= 'Z':
		return int(c-'A') + 10
	case c >= 'a' && c <= 'z':
		return int(c-'a') + 36
	}
	return -1
}
