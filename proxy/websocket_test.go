package proxy

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"testing"

	"gatehouse/keyindex"
)

// frame returns a websocket frame with the opcode and a payload of n bytes
// (the 7-, 16- or 64-bit length, as n needs), masked when mask is set.
func frame(op byte, n int, mask bool) []byte {
	b := []byte{0x80 | op, 0}
	switch {
	case n < 126:
		b[1] = byte(n)
	case n <= 0xffff:
		b[1] = 126
		b = binary.BigEndian.AppendUint16(b, uint16(n))
	default:
		b[1] = 127
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	if mask {
		b[1] |= 0x80
		b = append(b, 1, 2, 3, 4)
	}
	return append(b, bytes.Repeat([]byte{0xa5}, n)...)
}

// TestFramesFindBoundaries: wherever a stream of frames is split, frames
// takes, up to a boundary, exactly the bytes that finish the frame in
// flight, whatever the length's encoding, the mask, or where the split
// falls in a header.
func TestFramesFindBoundaries(t *testing.T) {
	t.Parallel()
	for _, mask := range []bool{false, true} {
		var stream []byte
		ends := []int{0} // where each frame ends
		for _, f := range []struct {
			op byte
			n  int
		}{{0x1, 0}, {0x2, 5}, {0x9, 125}, {0x2, 126}, {0x0, 300}, {0x2, 0xffff}, {0x2, 0x10000}, {0x1, 1}, {opClose, 2}} {
			stream = append(stream, frame(f.op, f.n, mask)...)
			ends = append(ends, len(stream))
		}
		// Splits in and next to every header, and a sample of the
		// payloads.
		var splits []int
		for _, e := range ends {
			for i := max(e-1, 0); i <= min(e+16, len(stream)); i++ {
				splits = append(splits, i)
			}
		}
		for i := 0; i < len(stream); i += 997 {
			splits = append(splits, i)
		}
		for _, pos := range splits {
			next := ends[sort.SearchInts(ends, pos)] // the first frame end at or after pos
			var f frames
			// The bytes before pos arrive in pieces of 3.
			for i := 0; i < pos; i += 3 {
				if got, want := f.advance(stream[i:min(i+3, pos)], false), min(i+3, pos)-i; got != want {
					t.Fatalf("advance without toBoundary took %d of %d bytes", got, want)
				}
			}
			if got, want := f.boundary(), next == pos; got != want {
				t.Errorf("mask %v, after %d bytes: boundary() = %v, want %v", mask, pos, got, want)
			}
			if closed := pos >= len(stream)-2; f.closed != closed {
				t.Errorf("mask %v, after %d bytes: closed = %v, want %v", mask, pos, f.closed, closed)
			}
			if got := f.advance(stream[pos:], true); got != next-pos {
				t.Errorf("mask %v, after %d bytes: advance(toBoundary) took %d, want %d (to the frame's end at %d)", mask, pos, got, next-pos, next)
			}
		}
	}
}

// TestCloseFrame: the close frames the gateway sends read back as a close
// frame with the code and reason, masked (as the upstream gets it) or not
// (as the client gets it).
func TestCloseFrame(t *testing.T) {
	t.Parallel()
	if got, want := closeFrame(closePolicyViolation, "key deleted", false), append([]byte{0x88, 13, 0x03, 0xf0}, "key deleted"...); !bytes.Equal(got, want) {
		t.Errorf("closeFrame(1008, key deleted) = % x, want % x", got, want)
	}
	b := closeFrame(closeGoingAway, "", true)
	if len(b) != 8 || b[0] != 0x88 || b[1] != 0x80|2 {
		t.Fatalf("masked closeFrame(1001) = % x, want a masked close frame with a 2-byte payload", b)
	}
	if code := binary.BigEndian.Uint16([]byte{b[6] ^ b[2], b[7] ^ b[3]}); code != closeGoingAway {
		t.Errorf("masked closeFrame(1001) unmasks to code %d", code)
	}
	var f frames
	if f.advance(b, false); !f.boundary() || !f.closed {
		t.Errorf("after a masked close frame: boundary() %v, closed %v; want both", f.boundary(), f.closed)
	}
}

func TestRevokedReason(t *testing.T) {
	t.Parallel()
	for cause, want := range map[error]string{
		keyindex.ErrKeyRemoved:                          "key deleted",
		keyindex.ErrKeyDisabled:                         "key disabled",
		keyindex.ErrKeyRolled:                           "key rolled",
		fmt.Errorf("watch: %w", keyindex.ErrKeyExpired): "key expired",
		errors.New("something else"):                    "key revoked",
	} {
		if got := revokedReason(cause); got != want {
			t.Errorf("revokedReason(%v) = %q, want %q", cause, got, want)
		}
	}
}
