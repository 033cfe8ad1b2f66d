package server

import (
	"crypto/rand"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"time"

	"gatehouse"
)

// validRequestID accepts client request IDs that are safe to log and pass
// on: 1–128 of A-Z a-z 0-9 . _ : -.
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
	return true
}

// keyShape finds anything that looks like an API key, so that a key pasted
// into a path by mistake never reaches the log.
var keyShape = regexp.MustCompile(`gth_[0-9A-Za-z]{4,}`)

// accessLog writes one log line per request and sets X-Request-Id.
func (s *Server) accessLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get("X-Request-Id")
		if !validRequestID(id) {
			id = newRequestID()
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
				route = "none"
			}
			s.requests.WithLabelValues(route, statusLabel(rec.status), outcome).Inc()
			level := levelFor(rec.status)
			if !s.log.Enabled(r.Context(), level) {
				return
			}
			path := r.URL.EscapedPath()
			if strings.Contains(path, "gth_") {
				path = keyShape.ReplaceAllString(path, "gth_[REDACTED]")
			}
			s.log.LogAttrs(r.Context(), level, "request",
				slog.String("request_id", id),
				slog.String("method", r.Method),
				// Never the query string: a client may put anything there.
				slog.String("path", path),
				slog.Int("status", rec.status),
				slog.Int64("bytes", rec.bytes),
				slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
				slog.String("route", info.Route),
				slog.String("key_id", info.KeyID),
				slog.String("outcome", outcome),
				slog.String("remote", r.RemoteAddr),
			)
		}()
		next.ServeHTTP(rec, r)
	})
}

func newRequestID() string {
	var b [16]byte
	rand.Read(b[:])
	const hex = "0123456789abcdef"
	out := make([]byte, 32)
	for i, c := range b {
		out[2*i], out[2*i+1] = hex[c>>4], hex[c&15]
	}
	return string(out)
}
