package httpsig

import (
	"io"
	"net/http"
	"strings"
)

// Message is what the verifier reads of a request, whatever HTTP engine
// received it.
type Message struct {
	// Method is the request's method, as received.
	Method string
	// Scheme is "http" or "https": how the client reached the gateway.
	Scheme string
	// Authority is the request's Host, as received.
	Authority string
	// RequestURI is the request target as received: "/path?query" (or an
	// absolute URI).
	RequestURI string
	// Header holds the request's header fields.
	Header http.Header
	// Body is the request's body; nil when it has none.
	Body io.Reader
}

// FromRequest returns the Message of r, as received by a net/http server.
// The scheme is "https" when r came over TLS. The body is r.Body when r
// has one (a length other than zero).
func FromRequest(r *http.Request) Message {
	m := Message{
		Method:     r.Method,
		Scheme:     "http",
		Authority:  r.Host,
		RequestURI: r.RequestURI,
		Header:     r.Header,
	}
	if r.TLS != nil {
		m.Scheme = "https"
	}
	if m.RequestURI == "" && r.URL != nil {
		m.RequestURI = r.URL.RequestURI()
	}
	if r.Body != nil && r.Body != http.NoBody && r.ContentLength != 0 {
		m.Body = r.Body
	}
	return m
}

// targetURI returns the message's target URI (RFC 9110 §7.1).
func (m *Message) targetURI() string {
	if !strings.HasPrefix(m.RequestURI, "/") {
		return m.RequestURI // absolute form
	}
	return strings.ToLower(m.Scheme) + "://" + m.Authority + m.RequestURI
}

// pathAndQuery splits the target into its path and its query; hasQuery
// reports whether the target had a "?".
func (m *Message) pathAndQuery() (path, query string, hasQuery bool) {
	target := m.RequestURI
	if !strings.HasPrefix(target, "/") {
		// Absolute form: skip "scheme://authority".
		if _, rest, ok := strings.Cut(target, "://"); ok {
			if i := strings.IndexAny(rest, "/?"); i >= 0 {
				target = rest[i:]
			} else {
				target = ""
			}
		}
	}
	path, query, hasQuery = strings.Cut(target, "?")
	if path == "" {
		path = "/"
	}
	return path, query, hasQuery
}

// authority returns the normalised authority (RFC 9421 §2.2.3): lower
// case, without the scheme's default port.
func (m *Message) authority() string {
	a := strings.ToLower(m.Authority)
	switch strings.ToLower(m.Scheme) {
	case "http":
		a = strings.TrimSuffix(a, ":80")
	case "https":
		a = strings.TrimSuffix(a, ":443")
	}
	return a
}
