package proxy

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
)

// longLived reports whether an answer may last: an upgrade, or a body of
// unknown length (a stream).
func longLived(resp *http.Response) bool {
	return resp.StatusCode == http.StatusSwitchingProtocols || resp.ContentLength < 0 && resp.Body != http.NoBody
}

// startLongLived wraps the body of a long-lived answer, so that it can be
// ended, and counts it open. It returns what revokes it.
func (h *Handler) startLongLived(resp *http.Response, fw *forward) revoker {
	fw.longLived = true
	h.open.add(1)
	ctx := resp.Request.Context()
	if up, ok := resp.Body.(io.ReadWriteCloser); ok && resp.StatusCode == http.StatusSwitchingProtocols &&
		strings.EqualFold(strings.TrimSpace(resp.Header.Get("Upgrade")), "websocket") {
		ws := newWSConn(ctx, up)
		resp.Body = ws
		return ws
	}
	s := &streamBody{ReadCloser: resp.Body}
	resp.Body = s
	return s
}

// streamBody is the body of a stream (an answer of unknown length, not an
// upgrade).
type streamBody struct {
	io.ReadCloser
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
