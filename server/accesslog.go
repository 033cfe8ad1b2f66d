package server

import (
	"log/slog"
	"net/http"
	"strings"
	"time"

	"gatehouse"
)

// validRequestID accepts client request IDs that are safe to log and pass
// on: 1–128 of A-Z a-z 0-9 . _ : -, and nothing shaped like an API key.
func validRequestID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == ':' || c == '-') {
			return false
		}
	}
	start, _ := gatehouse.FindKeyShape(id)
	return start < 0
}

// redactedKey stands in the log for whatever was shaped like an API key.
const redactedKey = "gth_[REDACTED]"

// logPath returns the escaped path p as the access log writes it: as it
// is, unless its decoded form holds something shaped like an API key (see
// redactKeys). A path with neither "%" nor that shape costs one look at
// each byte, and no allocation.
func logPath(p string) string {
	if strings.IndexByte(p, '%') < 0 {
		if start, _ := gatehouse.FindKeyShape(p); start < 0 {
			return p
		}
	}
	return redactKeys(p)
}

// redactKeys replaces each part of the escaped path p that decodes to
// something shaped like an API key with redactedKey, and returns p as it
// is if there is none. Decoding undoes percent-escapes, in either case of
// hex digit, until none is left, as a chain of decoders might: so
// "%2567th_" is found as "gth_" too. What is not a valid escape stays as
// it is. It takes one pass: a byte that completes an escape at the end of
// what is decoded so far replaces the escape, and may complete another.
func redactKeys(p string) string {
	// dec[k] is the k-th decoded byte and from[k] where it starts in p;
	// it ends where dec[k+1] starts.
	var decBuf [256]byte
	var fromBuf [256]int
	dec, from := decBuf[:0], fromBuf[:0]
	if len(p) > len(decBuf) {
		dec, from = make([]byte, 0, len(p)), make([]int, 0, len(p))
	}
	for i := 0; i < len(p); i++ {
		dec, from = append(dec, p[i]), append(from, i)
		for n := len(dec); n >= 3 && dec[n-3] == '%' && isHex(dec[n-2]) && isHex(dec[n-1]); n = len(dec) {
			dec[n-3] = unhex(dec[n-2])<<4 | unhex(dec[n-1])
			dec, from = dec[:n-2], from[:n-2]
		}
	}
	var b strings.Builder
	done := 0 // p[:done] is written to b
	for k := 0; ; {
		start, end := gatehouse.FindKeyShape(dec[k:])
		if start < 0 {
			break
		}
		start, end = k+start, k+end
		b.WriteString(p[done:from[start]])
		b.WriteString(redactedKey)
		done = len(p)
		if end < len(dec) {
			done = from[end]
		}
		k = end
	}
	if b.Len() == 0 {
		return p
	}
	b.WriteString(p[done:])
	return b.String()
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}

// maxLoggedMethod is the longest method the access log writes as it is.
const maxLoggedMethod = 20

// logMethod returns the method as the access log writes it. Go's server
// takes any token for a method, an API key too, so a method is written as
// it is only when it is plain (see plainMethod); else as redactedKey if it
// is shaped like a key, or as "[OTHER]".
func logMethod(m string) string {
	if plainMethod(m) {
		return m
	}
	if start, _ := gatehouse.FindKeyShape(m); start >= 0 {
		return redactedKey
	}
	return "[OTHER]"
}

// plainMethod reports whether m is 1 to maxLoggedMethod letters of one
// case and "-", as GET, PROPFIND, VERSION-CONTROL or get are, and a key or
// a part of one would hardly be.
func plainMethod(m string) bool {
	if m == "" || len(m) > maxLoggedMethod {
		return false
	}
	var upper, lower bool
	for i := 0; i < len(m); i++ {
		switch c := m[i]; {
		case 'A' <= c && c <= 'Z':
			upper = true
		case 'a' <= c && c <= 'z':
			lower = true
		case c != '-':
			return false
		}
	}
	return !(upper && lower)
}

// accessLog writes one log line per request and sets X-Request-Id.
func (s *Server) accessLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		// One valid X-Request-Id is kept; anything else, also a second
		// header that could carry a key past the first, is replaced.
		ids := r.Header["X-Request-Id"]
		var id string
		if len(ids) == 1 && validRequestID(ids[0]) {
			id = ids[0]
		} else {
			id = gatehouse.NewRequestID()
			r.Header.Set("X-Request-Id", id)
		}
		w.Header().Set("X-Request-Id", id)
		info := &gatehouse.RequestInfo{RequestID: id}
		r = r.WithContext(gatehouse.NewContextWithRequestInfo(r.Context(), info))
		rec := &recorder{ResponseWriter: w, status: http.StatusOK}
		defer func() {
			outcome := info.Outcome
			if outcome == "" {
				outcome = "ok"
			}
			route := info.Route
			if route == "" {
				route = gatehouse.RouteLabelNone
			}
			s.requests.WithLabelValues(route, statusLabel(rec.status), outcome).Inc()
			s.duration.observe(route, time.Since(start))
			level := levelFor(rec.status)
			if !s.log.Enabled(r.Context(), level) {
				return
			}
			// Every field is either the gateway's own (route, key_id,
			// outcome, reason, the checked request ID), the TCP peer's
			// address, or redacted here: never a key, in any encoding.
			// The line is written when the handler returns: for a
			// websocket or a stream, when it ends, so duration_ms is its
			// whole life and reason why it ended.
			attrs := [...]slog.Attr{
				slog.String("request_id", id),
				slog.String("method", logMethod(r.Method)),
				// Never the query string: a client may put anything there.
				slog.String("path", logPath(r.URL.EscapedPath())),
				slog.Int("status", rec.status),
				slog.Int64("bytes", rec.bytes),
				slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
				slog.String("route", info.Route),
				slog.String("key_id", info.KeyID),
				slog.String("outcome", outcome),
				slog.String("remote", r.RemoteAddr),
				slog.String("reason", info.Closed),
			}
			n := len(attrs)
			if info.Closed == "" {
				n-- // only long-lived answers have a reason
			}
			s.log.LogAttrs(r.Context(), level, "request", attrs[:n]...)
		}()
		next.ServeHTTP(rec, r)
	})
}
