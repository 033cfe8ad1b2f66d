package proxy

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"

	"gatehouse"
)

// closeReason is why a long-lived answer (a websocket, a stream) ended.
type closeReason int32

const (
	notEnded closeReason = iota
	// revoked: its key was deleted or expired.
	revoked
	// shutdown: the server shut down (the request's context was cancelled
	// with http.ErrServerClosed).
	shutdown
	// clientClosed: the client closed it, or went away.
	clientClosed
	// upstreamClosed: the upstream closed it, or went away.
	upstreamClosed
	closeReasons // the number of reasons
)

// String returns the reason as the access log and the metrics write it.
func (r closeReason) String() string {
	return [...]string{"", "revoked", "shutdown", "client_closed", "upstream_closed"}[r]
}

// end records why the answer ended; the first to know wins.
func (fw *forward) end(r closeReason) {
	fw.ended.CompareAndSwap(int32(notEnded), int32(r))
}

// longLived reports whether an answer may last: an upgrade, or a body of
// unknown length (a stream).
func longLived(resp *http.Response) bool {
	return resp.StatusCode == http.StatusSwitchingProtocols || resp.ContentLength < 0 && resp.Body != http.NoBody
}

// startLongLived wraps the body of a long-lived answer, so that its end
// and why are known, and counts it open. It returns what revokes it.
func (h *Handler) startLongLived(resp *http.Response, fw *forward, ctx context.Context) revoker {
	fw.longLived = true
	h.open.add(1)
	fw.route.open.Inc()
	if up, ok := resp.Body.(io.ReadWriteCloser); ok && resp.StatusCode == http.StatusSwitchingProtocols &&
		strings.EqualFold(strings.TrimSpace(resp.Header.Get("Upgrade")), "websocket") {
		ws := newWSConn(ctx, fw, up)
		resp.Body = ws
		return ws
	}
	s := &streamBody{ReadCloser: resp.Body, fw: fw, ctx: ctx}
	resp.Body = s
	return s
}

// endLongLived records the end of a long-lived answer: why it ended in the
// request's info (the access log's) and the route's metrics.
func (h *Handler) endLongLived(ctx context.Context, fw *forward, info *gatehouse.RequestInfo) {
	r := closeReason(fw.ended.Load())
	if r == notEnded {
		r = clientClosed
		if errors.Is(context.Cause(ctx), http.ErrServerClosed) {
			r = shutdown
		}
		fw.end(r)
	}
	info.Closed = r.String()
	fw.route.open.Dec()
	fw.route.closed[r].Inc()
	h.open.add(-1)
}

// streamBody is the body of a stream (an answer of unknown length, not an
// upgrade): it notes when the upstream ends it.
type streamBody struct {
	io.ReadCloser
	fw  *forward
	ctx context.Context
}

func (b *streamBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && b.ctx.Err() == nil {
		b.fw.end(upstreamClosed)
	}
	return n, err
}

// revoke ends the stream: closing its body ends the copy and closes the
// client's connection.
func (b *streamBody) revoke(error) { b.ReadCloser.Close() }

// revoker ends an answer whose key was revoked; cause is why (the watch's
// cause).
type revoker interface{ revoke(cause error) }

// counter counts the open long-lived answers, so that Wait can wait for
// them.
type counter struct {
	mu   sync.Mutex
	n    int
	zero chan struct{} // closed when n drops to 0, if someone waits
}

func (c *counter) add(d int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n += d
	if c.n == 0 && c.zero != nil {
		close(c.zero)
		c.zero = nil
	}
}

// CloseIdle closes the idle keep-alive connections to the upstreams, both
// engines': after the server's shutdown, nothing will use them.
func (h *Handler) CloseIdle() {
	for _, r := range h.table.Load().routes {
		if r.up != nil {
			r.up.closeIdle()
		}
		if t, ok := r.transport.(interface{ CloseIdleConnections() }); ok {
			t.CloseIdleConnections()
		}
	}
}

// Wait waits until every long-lived answer (websocket, stream) has ended,
// or ctx is done. Once their requests' contexts are cancelled with
// http.ErrServerClosed, websockets end within CloseTimeout and streams at
// once; server.Serve cancels them when its drain is over and waits here,
// so that their close frames are sent and their access-log lines written
// before the process exits.
func (h *Handler) Wait(ctx context.Context) error {
	c := &h.open
	c.mu.Lock()
	if c.n == 0 {
		c.mu.Unlock()
		return nil
	}
	if c.zero == nil {
		c.zero = make(chan struct{})
	}
	zero := c.zero
	c.mu.Unlock()
	select {
	case <-zero:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
