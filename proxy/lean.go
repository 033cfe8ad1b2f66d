package proxy

import (
	"bufio"
	"context"
	"errors"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"gatehouse"
)

// The lean engine forwards the requests that make most of a gateway's
// traffic (no body, no upgrade, to a plain http:// upstream) without
// httputil.ReverseProxy and http.Transport: it writes the request head
// straight from the client's header map into a pooled keep-alive
// connection, reads the answer with net/http's own parser
// (http.ReadResponse), and copies the body with a pooled buffer, on the
// handler's goroutine. No cloned request, no header map for the outgoing
// request, no per-connection goroutines and channels. Requests with a body
// or an upgrade, and https:// upstreams, take the stdlib path, whose
// Transport writes a body while it reads the answer.

// lean reports whether a request to the route can take the lean engine.
func lean(r *http.Request, rt *route) bool {
	return rt.up != nil && r.ContentLength == 0 && (r.Body == nil || r.Body == http.NoBody) &&
		r.Header["Upgrade"] == nil && r.Header["Expect"] == nil && r.Trailer == nil
}

// errUnaskedUpgrade is an upstream's 101 to a request that asked for no
// upgrade.
var errUnaskedUpgrade = errors.New("the upstream switched protocols unasked")

// errBadStatus is an answer whose status code is below 100.
var errBadStatus = errors.New("the upstream answered with a status code below 100")

// aLongTimeAgo is a deadline in the past: setting it ends any wait on a
// connection at once.
var aLongTimeAgo = time.Unix(1, 0)

// copyBufs are the buffers that bodies are copied through.
var copyBufs = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// serveLean forwards the request through the lean engine and writes the
// upstream's answer, as the stdlib path would.
func (h *Handler) serveLean(w http.ResponseWriter, r *http.Request, fw *forward, info *gatehouse.RequestInfo) {
	ctx := r.Context()
	resp, err := exchange(ctx, r, fw, info)
	if err != nil {
		h.upstreamError(w, ctx, fw, info, err)
		return
	}
	removeHopByHop(resp.Header)
	h.prepare(resp, fw, ctx)

	dst := w.Header()
	for k, vv := range resp.Header {
		dst[k] = append(dst[k], vv...)
	}
	announced := len(resp.Trailer)
	if announced > 0 {
		keys := make([]string, 0, announced)
		for k := range resp.Trailer {
			keys = append(keys, k)
		}
		dst.Add("Trailer", strings.Join(keys, ", "))
	}
	w.WriteHeader(resp.StatusCode)

	var flusher *http.ResponseController
	if resp.ContentLength < 0 || isEventStream(resp.Header) {
		// A stream: the head, then each piece, goes to the client as it
		// comes (and the head before any piece, so that no type is
		// sniffed for an answer that has none, as on the stdlib path).
		flusher = http.NewResponseController(w)
		flusher.Flush()
	}
	bp := copyBufs.Get().(*[]byte)
	err = copyBody(w, resp.Body, *bp, flusher)
	copyBufs.Put(bp)
	if err != nil {
		// Half an answer was sent and the rest cannot be: the client
		// must see a broken answer, not a short one that looks whole.
		resp.Body.Close()
		if ctx.Err() == nil && closeReason(fw.ended.Load()) == notEnded && !errors.Is(err, errClientWrite) {
			h.Logger.Warn("upstream answer broken off", "route", fw.route.Name, "err", err)
		}
		panic(http.ErrAbortHandler)
	}
	if len(resp.Trailer) > 0 {
		// Flushing forces a chunked answer, which can carry trailers.
		http.NewResponseController(w).Flush()
		if len(resp.Trailer) == announced {
			for k, vv := range resp.Trailer {
				dst[k] = append(dst[k], vv...)
			}
		} else {
			for k, vv := range resp.Trailer {
				for _, v := range vv {
					dst.Add(http.TrailerPrefix+k, v)
				}
			}
		}
	}
}

// isEventStream reports whether an answer is Server-Sent Events, which
// both engines pass on piece by piece whatever its length.
func isEventStream(h http.Header) bool {
	ct := h["Content-Type"]
	if len(ct) == 0 {
		return false
	}
	base, _, _ := mime.ParseMediaType(ct[0])
	return base == "text/event-stream"
}

// errClientWrite marks a failed write to the client (who went away).
var errClientWrite = errors.New("writing to the client failed")

// copyBody copies the body to the client, flushing after each piece when
// flusher is set. It returns nil at the body's end.
func copyBody(w io.Writer, body io.Reader, buf []byte, flusher *http.ResponseController) error {
	for {
		n, err := body.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return errClientWrite
			}
			if flusher != nil {
				if ferr := flusher.Flush(); ferr != nil {
					return errClientWrite
				}
			}
		}
		switch {
		case err == io.EOF:
			return nil
		case err != nil:
			return err
		}
	}
}

// exchange sends the request's head to the route's upstream and reads the
// answer's head. The answer's body reads from the connection, which goes
// back to the pool at the body's end. A request that can be sent again is
// sent again, once, on a new connection when a reused one turns out to be
// closed before any byte of an answer came.
func exchange(ctx context.Context, r *http.Request, fw *forward, info *gatehouse.RequestInfo) (*http.Response, error) {
	up := fw.route.up
	for attempt := 0; ; attempt++ {
		c, err := up.get(ctx)
		if err != nil {
			return nil, err
		}
		resp, retry, err := roundTrip(ctx, c, r, fw, info)
		if err == nil {
			return resp, nil
		}
		if !retry || attempt > 0 || !replayable(r) {
			return nil, err
		}
	}
}

// roundTrip is exchange's one attempt on the connection c. retry reports
// that c was a reused connection that failed before any byte of an answer
// came, which a new connection may not.
func roundTrip(ctx context.Context, c *upConn, r *http.Request, fw *forward, info *gatehouse.RequestInfo) (resp *http.Response, retry bool, err error) {
	conn := c.conn
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(aLongTimeAgo) })
	fail := func(e error) (*http.Response, bool, error) {
		stop()
		conn.Close()
		if ctx.Err() != nil {
			e = ctx.Err()
		}
		return nil, retry, e
	}
	writeHead(c.bw, r, fw, info)
	if err := c.bw.Flush(); err != nil {
		retry = c.reused
		return fail(err)
	}
	if t := fw.route.Timeout; t > 0 {
		conn.SetReadDeadline(fw.start.Add(t))
	}
	c.lim.n = maxResponseHead
	if _, err := c.br.Peek(1); err != nil {
		retry = c.reused && !isTimeout(err) && (err == io.EOF || errors.Is(err, syscall.ECONNRESET))
		return fail(err)
	}
	// The heads of informational answers count against the one bound
	// (as in http.Transport), so that an upstream cannot send them
	// without end.
	for {
		resp, err = http.ReadResponse(c.br, r)
		if err != nil {
			return fail(err)
		}
		switch {
		case resp.StatusCode < 100:
			// net/http parses any three digits; no answer has these.
			return fail(errBadStatus)
		case resp.StatusCode == http.StatusSwitchingProtocols:
			return fail(errUnaskedUpgrade)
		}
		if resp.StatusCode >= 200 {
			break
		}
		// Informational answers (103 Early Hints, a stray 100 Continue)
		// are not passed on: their headers would reach the client
		// uncleaned, and no client of an API needs them.
	}
	c.lim.n = -1
	conn.SetReadDeadline(time.Time{})
	if ctx.Err() != nil {
		// Cancelled while the deadline was cleared: the AfterFunc's
		// deadline may have been undone.
		return fail(ctx.Err())
	}
	body := &leanBody{ReadCloser: resp.Body, c: c, up: fw.route.up, stop: stop, keep: !resp.Close}
	resp.Body = body
	if resp.ContentLength == 0 || r.Method == http.MethodHead || resp.StatusCode == http.StatusNoContent || resp.StatusCode == http.StatusNotModified {
		// No body comes: the connection is free now.
		body.finish(body.keep)
		resp.Body = http.NoBody
	}
	return resp, false, nil
}

// replayable reports whether a request that may have reached the upstream
// can be sent again, as http.Transport decides: no body, and a method
// that is meant to be idempotent, or an Idempotency-Key.
func replayable(r *http.Request) bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return true
	}
	return r.Header["Idempotency-Key"] != nil || r.Header["X-Idempotency-Key"] != nil
}

// leanBody is the body of an answer on a lean connection. Its end returns
// the connection to the pool; Close before the end closes the connection,
// which also ends a Read in progress on another goroutine (a revoked
// stream).
type leanBody struct {
	io.ReadCloser
	c    *upConn
	up   *upstream
	stop func() bool // ends the request context's watch of the connection
	keep bool        // the connection may carry another request
	done atomic.Bool
}

func (b *leanBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF {
		b.finish(b.keep)
	}
	return n, err
}

// Close ends the body; before its end, by closing the connection.
func (b *leanBody) Close() error {
	b.finish(false)
	return nil
}

// finish releases the connection once: to the pool if keep and nothing
// cancelled the request, else closed.
func (b *leanBody) finish(keep bool) {
	if b.done.Swap(true) {
		return
	}
	if b.stop() && keep {
		b.up.put(b.c)
		return
	}
	b.c.conn.Close()
}

// writeHead writes the request head that the upstream gets: the request
// line with the authorised path, the Host of the upstream, the client's
// headers cleaned as the stdlib path cleans them (forwardedValues, and
// the hop-by-hop headers), and the gateway's own.
func writeHead(bw *bufio.Writer, r *http.Request, fw *forward, info *gatehouse.RequestInfo) {
	bw.WriteString(r.Method)
	bw.WriteByte(' ')
	bw.WriteString(escapedPath(fw.route.upstreamPath(fw.path)))
	if r.URL.RawQuery != "" || r.URL.ForceQuery {
		bw.WriteByte('?')
		bw.WriteString(r.URL.RawQuery)
	}
	bw.WriteString(" HTTP/1.1\r\nHost: ")
	bw.WriteString(fw.route.target.Host)
	bw.WriteString("\r\n")

	hd := r.Header
	connTokens := hd["Connection"]
	for name, values := range hd {
		if hopByHop(name) || len(connTokens) > 0 && listsToken(connTokens, name) {
			continue
		}
		for _, v := range forwardedValues(name, values) {
			writeField(bw, name, v)
		}
	}
	if listsToken(hd["Te"], "trailers") {
		bw.WriteString("Te: trailers\r\n")
	}
	if fw.subject != "" {
		writeField(bw, "X-Gatehouse-Subject", headerText(fw.subject))
	}
	if fw.key != nil {
		writeField(bw, "X-Gatehouse-Key-Id", fw.key.ID)
		writeField(bw, "X-Gatehouse-Key-Name", headerText(fw.key.Name))
	}
	if ids := hd["X-Request-Id"]; len(ids) == 0 || ids[0] == "" || len(connTokens) > 0 && listsToken(connTokens, "X-Request-Id") {
		id := info.RequestID
		if id == "" {
			id = gatehouse.NewRequestID()
		}
		writeField(bw, "X-Request-Id", id)
	}
	if ip, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		writeField(bw, "X-Forwarded-For", ip)
	}
	writeField(bw, "X-Forwarded-Host", r.Host)
	if r.TLS != nil {
		bw.WriteString("X-Forwarded-Proto: https\r\n")
	} else {
		bw.WriteString("X-Forwarded-Proto: http\r\n")
	}
	switch r.Method {
	case http.MethodPost, http.MethodPut, http.MethodPatch:
		// As http.Transport: these methods say that their body is empty.
		bw.WriteString("Content-Length: 0\r\n")
	}
	bw.WriteString("\r\n")
}

// writeField writes a header field. A value is written as net/http writes
// it: CR and LF become spaces, so that no value can end the field (the
// server's parser lets none through; the gateway's own values are clean).
func writeField(bw *bufio.Writer, name, value string) {
	bw.WriteString(name)
	bw.WriteString(": ")
	if strings.ContainsAny(value, "\r\n") {
		value = strings.NewReplacer("\r", " ", "\n", " ").Replace(value)
	}
	bw.WriteString(value)
	bw.WriteString("\r\n")
}

// hopByHop reports whether a request header belongs to the client's
// connection rather than to the request, or is one the lean engine writes
// itself: none is forwarded as the client sent it.
func hopByHop(name string) bool {
	switch name {
	case "Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
		"Te", "Trailer", "Transfer-Encoding", "Upgrade", "Host", "Content-Length":
		return true
	}
	return false
}

// removeHopByHop removes an answer's hop-by-hop headers, and those its
// Connection header names, as httputil.ReverseProxy does.
func removeHopByHop(h http.Header) {
	for _, v := range h["Connection"] {
		for tok := range strings.SplitSeq(v, ",") {
			if tok = strings.TrimSpace(tok); tok != "" {
				h.Del(tok)
			}
		}
	}
	for _, name := range [...]string{"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
		"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade"} {
		delete(h, name)
	}
}

// listsToken reports whether a comma-separated header value of values
// holds token, case-insensitively.
func listsToken(values []string, token string) bool {
	for _, v := range values {
		for tok := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(tok), token) {
				return true
			}
		}
	}
	return false
}

// escapedPath returns the path escaped for a request line, as url.URL's
// EscapedPath does for a path without a raw form; a path that needs no
// escape (most do not) is returned as it is.
func escapedPath(p string) string {
	for i := 0; i < len(p); i++ {
		c := p[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' {
			continue
		}
		switch c {
		case '-', '_', '.', '~', '$', '&', '+', ',', '/', ':', ';', '=', '@':
			continue
		}
		return (&url.URL{Path: p}).EscapedPath()
	}
	return p
}

// newUpstream returns the lean engine's connection pool for a route's
// upstream, or nil when the route's upstream takes the stdlib path.
func newUpstream(target *url.URL) *upstream {
	if target.Scheme != "http" {
		return nil
	}
	host := target.Host
	if target.Port() == "" {
		host = net.JoinHostPort(target.Hostname(), strconv.Itoa(80))
	}
	return &upstream{addr: host}
}
