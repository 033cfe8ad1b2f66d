package proxy

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"syscall"
	"time"
)

// Limits of the lean engine's connections to an upstream.
const (
	// maxIdlePerUpstream is how many idle keep-alive connections an
	// upstream keeps; one more returned is closed.
	maxIdlePerUpstream = 256
	// idleTimeout is how long an idle connection may wait for its next
	// request; an older one is closed when it is next taken.
	idleTimeout = 90 * time.Second
	// maxResponseHead bounds an upstream's response head (status line and
	// headers, 1xx heads included), as http.Transport's
	// MaxResponseHeaderBytes does for the stdlib path.
	maxResponseHead = 1 << 20
	// connBufSize is the size of a connection's read and write buffers.
	connBufSize = 4 << 10
)

// dialer reaches the upstreams: a bounded dial, and TCP keep-alives so
// that a dead upstream host is noticed.
var dialer = net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}

// upstream is the lean engine's set of keep-alive connections to one
// upstream (a route's host and port): a stack, so that the connection
// used last, the one least likely to have been closed by the upstream's
// idle timeout, is used first.
type upstream struct {
	addr string // host:port, dialed
	mu   sync.Mutex
	idle []*upConn
	// closed is set by closeIdle: the pool is no longer served (shutdown,
	// or a reload that replaced its route), and a connection returned to
	// it afterwards is closed.
	closed bool
}

// upConn is a connection to an upstream with its buffers.
type upConn struct {
	conn net.Conn
	// lim is what br reads through: it bounds the response head.
	lim headLimit
	br  *bufio.Reader
	bw  *bufio.Writer
	// raw peeks at the connection without blocking (usable).
	raw       syscall.RawConn
	idleSince time.Time
	// reused is set when the connection served a request before.
	reused bool
}

// headLimit is the reader between a connection and its bufio.Reader: while
// n > 0 it lets through at most n more bytes, so that an upstream cannot
// send a response head without end; with n < 0 it lets everything through
// (the body, which the handler copies as it comes).
type headLimit struct {
	r io.Reader
	n int64
}

// errHeadTooLarge is a response head longer than maxResponseHead.
var errHeadTooLarge = errors.New("the upstream's response head is larger than 1 MiB")

func (l *headLimit) Read(p []byte) (int, error) {
	if l.n < 0 {
		return l.r.Read(p)
	}
	if l.n == 0 {
		return 0, errHeadTooLarge
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	return n, err
}

// get returns an idle connection that is still usable, or dials a new one.
func (u *upstream) get(ctx context.Context) (*upConn, error) {
	now := time.Now()
	for {
		u.mu.Lock()
		n := len(u.idle)
		if n == 0 {
			u.mu.Unlock()
			break
		}
		c := u.idle[n-1]
		u.idle[n-1] = nil
		u.idle = u.idle[:n-1]
		u.mu.Unlock()
		if now.Sub(c.idleSince) < idleTimeout && c.usable() {
			return c, nil
		}
		c.conn.Close()
	}
	conn, err := dialer.DialContext(ctx, "tcp", u.addr)
	if err != nil {
		return nil, err
	}
	c := &upConn{conn: conn}
	c.lim.r = conn
	c.br = bufio.NewReaderSize(&c.lim, connBufSize)
	c.bw = bufio.NewWriterSize(conn, connBufSize)
	if sc, ok := conn.(syscall.Conn); ok {
		c.raw, _ = sc.SyscallConn()
	}
	return c, nil
}

// put returns a connection whose exchange ended cleanly (the whole
// response read, nothing more buffered) to the idle set, or closes it if
// the set is full.
func (u *upstream) put(c *upConn) {
	if c.br.Buffered() > 0 {
		// The upstream sent more than its response: whatever it is,
		// it must not be read as the next request's answer.
		c.conn.Close()
		return
	}
	c.idleSince = time.Now()
	c.reused = true
	u.mu.Lock()
	if !u.closed && len(u.idle) < maxIdlePerUpstream {
		u.idle = append(u.idle, c)
		c = nil
	}
	u.mu.Unlock()
	if c != nil {
		c.conn.Close()
	}
}

// closeIdle closes the idle connections, and those returned from now on.
func (u *upstream) closeIdle() {
	u.mu.Lock()
	idle := u.idle
	u.idle = nil
	u.closed = true
	u.mu.Unlock()
	for _, c := range idle {
		c.conn.Close()
	}
}
