package gatehouse

import "crypto/rand"

// NewKeyID returns a new random, non-secret key handle: "key_" and 20
// base62 characters.
func NewKeyID() string {
	const n = 20
	b := make([]byte, 0, 4+n)
	b = append(b, "key_"...)
	var r [n * 2]byte
	for len(b) < 4+n {
		rand.Read(r[:])
		for _, c := range r {
			if c < 248 && len(b) < 4+n {
				b = append(b, base62[c%62])
			}
		}
	}
	return string(b)
}

// NewRequestID returns a new request ID: 32 hex digits from crypto/rand,
// for a request that came without a usable X-Request-Id.
func NewRequestID() string {
	var b [16]byte
	rand.Read(b[:])
	const hex = "0123456789abcdef"
	out := make([]byte, 32)
	for i, c := range b {
		out[2*i], out[2*i+1] = hex[c>>4], hex[c&15]
	}
	return string(out)
}
