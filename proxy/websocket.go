package proxy

import (
	"crypto/rand"
	"encoding/binary"
	"errors"

	"gatehouse/keyindex"
)

// Websocket close codes (RFC 6455 §7.4.1) the gateway sends.
const (
	closeGoingAway       = 1001 // the server shuts down
	closePolicyViolation = 1008 // the key was revoked
)

// opClose is the opcode of a close frame (RFC 6455 §5.5.1).
const opClose = 0x8

// frames follows the frame boundaries of one direction of a websocket
// (RFC 6455 §5.2) as its bytes go by: it reads each frame's header and
// counts its payload, and holds nothing but a header.
type frames struct {
	hdr  [14]byte // the header of the frame being read, so far
	n    int      // bytes of hdr read
	rest uint64   // payload bytes of the current frame still to come
	// closed is set once the header of a close frame went by.
	closed bool
}

// boundary reports whether the bytes so far end a frame (or none began).
func (f *frames) boundary() bool { return f.n == 0 && f.rest == 0 }

// advance follows the bytes of p and returns how many it took: all of them,
// or, with toBoundary, only those that finish the frame in flight (none at
// a boundary).
func (f *frames) advance(p []byte, toBoundary bool) int {
	i := 0
	for i < len(p) && !(toBoundary && f.boundary()) {
		if f.rest > 0 {
			k := int(min(f.rest, uint64(len(p)-i)))
			i += k
			f.rest -= uint64(k)
			continue
		}
		f.hdr[f.n] = p[i]
		f.n++
		i++
		if f.n >= 2 && f.n == headerSize(f.hdr[1]) {
			f.rest = payloadSize(f.hdr[:f.n])
			f.closed = f.closed || f.hdr[0]&0x0f == opClose
			f.n = 0
		}
	}
	return i
}

// headerSize returns the size of a frame's header from its second byte:
// the 7-bit length, maybe 16 or 64 more bits of it, maybe a masking key.
func headerSize(b1 byte) int {
	n := 2
	switch b1 & 0x7f {
	case 126:
		n += 2
	case 127:
		n += 8
	}
	if b1&0x80 != 0 {
		n += 4
	}
	return n
}

// payloadSize returns the payload length a whole frame header gives.
func payloadSize(h []byte) uint64 {
	switch l := h[1] & 0x7f; l {
	case 126:
		return uint64(binary.BigEndian.Uint16(h[2:]))
	case 127:
		return binary.BigEndian.Uint64(h[2:])
	default:
		return uint64(l)
	}
}

// closeFrame returns a close frame with code and reason (at most 123
// bytes); masked, as a client sends it, when mask is set.
func closeFrame(code uint16, reason string, mask bool) []byte {
	size := 2 + len(reason)
	b := make([]byte, 2, 2+4+size)
	b[0], b[1] = 0x80|opClose, byte(size) // FIN, close
	var key [4]byte
	if mask {
		b[1] |= 0x80
		rand.Read(key[:])
		b = append(b, key[:]...)
	}
	start := len(b)
	b = binary.BigEndian.AppendUint16(b, code)
	b = append(b, reason...)
	for i := range b[start:] {
		b[start+i] ^= key[i%4]
	}
	return b
}

// revokedReason is the reason of the close frame of a websocket whose key
// was revoked (the cause of its watch's end).
func revokedReason(cause error) string {
	switch {
	case errors.Is(cause, keyindex.ErrKeyExpired):
		return "key expired"
	case errors.Is(cause, keyindex.ErrKeyRemoved):
		return "key deleted"
	}
	return "key revoked"
}
