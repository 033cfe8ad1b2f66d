package proxy

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"io"
	"net/http"
	"sync"
	"time"

	"gatehouse/keyindex"
)

// Websocket close codes (RFC 6455 §7.4.1) the gateway sends.
const (
	closeGoingAway       = 1001 // the server shuts down
	closePolicyViolation = 1008 // the key was revoked
)

// opClose is the opcode of a close frame (RFC 6455 §5.5.1).
const opClose = 0x8

// How a websocket ends when the gateway ends it (see wsConn).
const (
	// frameGrace is how long a frame the upstream is sending has to
	// finish before the connection is cut in the middle of it.
	frameGrace = 500 * time.Millisecond
	// closeWait is how long the client has to answer the gateway's
	// close frame before its connection is closed.
	closeWait = time.Second
	// CloseTimeout bounds how long a websocket takes to end once its key
	// is revoked or the server shuts down: the frame in flight, then the
	// client's answer to the close frame.
	CloseTimeout = frameGrace + closeWait
)

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
	case errors.Is(cause, keyindex.ErrKeyDisabled):
		return "key disabled"
	case errors.Is(cause, keyindex.ErrKeyRolled):
		return "key rolled"
	}
	return "key revoked"
}

// errWebsocketClosed ends the copy from the upstream once the client got
// the gateway's close frame: an error, not io.EOF, so that the proxy closes
// the client's connection at once rather than wait for the client's side
// to end too.
var errWebsocketClosed = errors.New("proxy: websocket closed by the gateway")

// wsConn is the upstream's connection of a websocket (the body of its 101
// answer), which httputil.ReverseProxy copies to the client (Read) and the
// client to (Write). It follows the frames both ways, so that the gateway
// can end the websocket between two frames with a close frame of its own:
// 1008 when the key is revoked (revoke), 1001 when the server shuts down
// (the proxy closes the backend when the request's context ends, and
// server.Serve cancels it with http.ErrServerClosed).
//
// Ending, it stops forwarding the upstream's frames once the one in flight
// is whole (or cuts the connection, if that takes more than frameGrace),
// hands the copier the close frame, gives the client closeWait to answer
// it, and then ends the copy. The upstream gets a masked close frame 1001
// when nothing of the client's is half written to it, and its connection
// is closed; what the client sends after that is dropped.
type wsConn struct {
	io.ReadWriteCloser // the upstream's connection
	ctx                context.Context
	fw                 *forward

	mu       sync.Mutex
	in       frames // upstream to client, as forwarded
	out      frames // client to upstream, as received
	stopping bool   // a close frame is due: forward no frame after the one in flight
	closeMsg []byte // what is left to hand out of the close frame for the client
	wclosed  bool   // nothing more is written to the upstream
	writing  bool   // a Write to the upstream is under way
	upClosed bool   // the upstream's connection is closed
	timer    *time.Timer
	// answered is closed when there is nothing more to wait for from the
	// client: its close frame went by, it stopped sending, or the proxy
	// closed the connection.
	answered     chan struct{}
	answeredDone bool
}

func newWSConn(ctx context.Context, fw *forward, upstream io.ReadWriteCloser) *wsConn {
	return &wsConn{ReadWriteCloser: upstream, ctx: ctx, fw: fw, answered: make(chan struct{})}
}

func (c *wsConn) Read(p []byte) (int, error) {
	for {
		c.mu.Lock()
		if c.stopping && c.in.boundary() {
			return c.readClose(p)
		}
		c.mu.Unlock()
		n, err := c.ReadWriteCloser.Read(p)
		c.mu.Lock()
		if !c.stopping {
			c.in.advance(p[:n], false)
			// The upstream's close frame, or its connection's end (not
			// the gateway's closing it: the client's side ended first).
			if c.in.closed || err != nil && !c.upClosed {
				c.fw.end(upstreamClosed)
			}
			c.mu.Unlock()
			return n, err
		}
		// Only what finishes the frame in flight goes on.
		n = c.in.advance(p[:n], true)
		if err != nil && !c.in.boundary() {
			// The upstream is gone in the middle of a frame, which
			// cannot be finished: the client's connection is cut.
			c.mu.Unlock()
			return n, err
		}
		c.mu.Unlock()
		if n > 0 {
			return n, nil
		}
	}
}

// readClose hands the copier the close frame for the client, at a frame
// boundary, and then ends the copy once the client answered or closeWait
// passed. It is called with c.mu held and unlocks it.
func (c *wsConn) readClose(p []byte) (int, error) {
	c.closeUpstream()
	if len(c.closeMsg) > 0 && !c.in.closed {
		n := copy(p, c.closeMsg)
		c.closeMsg = c.closeMsg[n:]
		c.mu.Unlock()
		return n, nil
	}
	c.mu.Unlock()
	t := time.NewTimer(closeWait)
	defer t.Stop()
	select {
	case <-c.answered:
	case <-t.C:
	}
	return 0, errWebsocketClosed
}

func (c *wsConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	if c.wclosed {
		c.noteClient(p)
		c.mu.Unlock()
		return len(p), nil
	}
	c.writing = true
	c.mu.Unlock()
	n, err := c.ReadWriteCloser.Write(p)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.writing = false
	if err != nil && c.stopping {
		// The upstream was closed for the close frame: the client's
		// answer is still to be read.
		c.wclosed = true
		c.noteClient(p)
		return len(p), nil
	}
	c.noteClient(p[:n])
	if err != nil && !c.upClosed {
		c.fw.end(upstreamClosed)
	}
	return n, err
}

// noteClient follows what the client sent; its close frame ends the wait
// for its answer. Called with c.mu held.
func (c *wsConn) noteClient(p []byte) {
	c.out.advance(p, false)
	if c.out.closed {
		c.fw.end(clientClosed)
		c.answer()
	}
}

// CloseWrite passes on the end of what the client sends (the proxy calls
// it when the client's side reaches EOF).
func (c *wsConn) CloseWrite() error {
	c.mu.Lock()
	c.fw.end(clientClosed)
	c.answer()
	wclosed := c.wclosed
	c.wclosed = true
	c.mu.Unlock()
	if wclosed {
		return nil
	}
	if cw, ok := c.ReadWriteCloser.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return http.ErrNotSupported
}

// Close is called by the proxy when the copy is over, or when the
// request's context ends first: then, if the server shuts down, the
// websocket ends with a close frame 1001.
func (c *wsConn) Close() error {
	if errors.Is(context.Cause(c.ctx), http.ErrServerClosed) {
		c.stop(shutdown, closeGoingAway, "server shutting down")
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.answer()
	return c.closeUpstream()
}

// revoke ends the websocket with a close frame 1008 whose reason says why
// (cause is the watch's).
func (c *wsConn) revoke(cause error) {
	c.stop(revoked, closePolicyViolation, revokedReason(cause))
}

// stop starts the end of the websocket for reason r, with a close frame of
// code and text for the client.
func (c *wsConn) stop(r closeReason, code uint16, text string) {
	c.fw.end(r)
	c.mu.Lock()
	if c.stopping || c.upClosed {
		c.mu.Unlock()
		return
	}
	c.stopping = true
	c.closeMsg = closeFrame(code, text, false)
	tell := !c.wclosed && !c.writing && c.out.boundary()
	c.wclosed = true
	atBoundary := c.in.boundary()
	// Bounds the frame in flight, and the write of the upstream's close
	// frame to an upstream that does not read.
	c.timer = time.AfterFunc(frameGrace, c.cut)
	c.mu.Unlock()
	if tell {
		c.ReadWriteCloser.Write(closeFrame(closeGoingAway, "", true))
	}
	if atBoundary {
		// Unblocks a Read waiting on the upstream; the next one hands
		// out the close frame.
		c.cut()
	}
}

// cut closes the upstream's connection.
func (c *wsConn) cut() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closeUpstream()
}

// closeUpstream closes the upstream's connection once. Called with c.mu
// held.
func (c *wsConn) closeUpstream() error {
	if c.upClosed {
		return nil
	}
	c.upClosed = true
	if c.timer != nil {
		c.timer.Stop()
	}
	return c.ReadWriteCloser.Close()
}

// answer ends the wait for the client's answer. Called with c.mu held.
func (c *wsConn) answer() {
	if !c.answeredDone {
		c.answeredDone = true
		close(c.answered)
	}
}
