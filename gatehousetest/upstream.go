package gatehousetest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/coder/websocket"
)

// Request is a request as it reached an Upstream.
type Request struct {
	Method     string
	RequestURI string // as sent on the wire
	Host       string
	Header     http.Header
	Body       string // what was read of the body (see NewUpstream)
}

// Upstream is a real HTTP server (an httptest.Server) that records every
// request that reaches it, to prove what got through a gateway.
type Upstream struct {
	*httptest.Server
	h    http.HandlerFunc
	mu   sync.Mutex
	reqs []*Request
}

// NewUpstream starts an upstream that answers with h and closes it when tb
// ends. A request is recorded as it arrives, and its Body as h reads it.
// If h is nil, the upstream reads the whole body before it records the
// request, and answers 200 with the request as it saw it in JSON,
// {"method": …, "uri": …} (uri as sent on the wire).
func NewUpstream(tb testing.TB, h http.HandlerFunc) *Upstream {
	tb.Helper()
	u := &Upstream{h: h}
	u.Server = httptest.NewServer(http.HandlerFunc(u.serve))
	tb.Cleanup(u.Close)
	return u
}

// serve records r and answers it.
func (u *Upstream) serve(w http.ResponseWriter, r *http.Request) {
	seen := &Request{Method: r.Method, RequestURI: r.RequestURI, Host: r.Host, Header: r.Header.Clone()}
	if u.h == nil {
		b, _ := io.ReadAll(r.Body)
		seen.Body = string(b)
		u.add(seen)
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]string{"method": r.Method, "uri": r.RequestURI})
		return
	}
	u.add(seen)
	r.Body = &recordedBody{ReadCloser: r.Body, u: u, seen: seen}
	u.h(w, r)
}

func (u *Upstream) add(r *Request) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.reqs = append(u.reqs, r)
}

// Requests returns every request that reached the upstream (since the
// last Take).
func (u *Upstream) Requests() []Request {
	u.mu.Lock()
	defer u.mu.Unlock()
	out := make([]Request, len(u.reqs))
	for i, r := range u.reqs {
		out[i] = *r
	}
	return out
}

// Take returns the requests that reached the upstream since the last Take
// and forgets them.
func (u *Upstream) Take() []Request {
	out := u.Requests()
	u.mu.Lock()
	defer u.mu.Unlock()
	u.reqs = u.reqs[len(out):]
	return out
}

// recordedBody adds what a handler reads of a body to its Request.
type recordedBody struct {
	io.ReadCloser
	u    *Upstream
	seen *Request
}

func (b *recordedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.u.mu.Lock()
	b.seen.Body += string(p[:n])
	b.u.mu.Unlock()
	return n, err
}

// WebSocketEcho is an upstream handler that accepts a websocket and sends
// every message back until the connection ends.
func WebSocketEcho(w http.ResponseWriter, r *http.Request) {
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	defer c.CloseNow()
	for {
		typ, msg, err := c.Read(r.Context())
		if err != nil {
			return
		}
		c.Write(r.Context(), typ, msg)
	}
}
