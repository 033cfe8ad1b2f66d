package server

import (
	"bufio"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"gatehouse"
	"gatehouse/jsonerr"
	"gatehouse/mgmtapi"
	"gatehouse/proxy"
)

// dataRoutes assembles the data plane's listener: health, the OpenAPI
// description and the management API for X-API-Key callers, then the
// proxied routes. The administrators' endpoints are never proxied and
// answer 404 here.
func (s *Server) dataRoutes(dataPlane http.Handler, mgmt *mgmtapi.Handler) http.Handler {
	own := s.ownMux(mgmt)
	own.HandleFunc("/", noRoute)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The data plane checks the path of what it proxies itself; the
		// gateway's own paths are checked here, once either way.
		if _, reserved := gatehouse.ReservedPath(r.URL.Path); !reserved {
			dataPlane.ServeHTTP(w, r)
			return
		}
		gatehouse.RequestInfoFromContext(r.Context()).Route = gatehouse.RouteLabelOwn
		serveChecked(own, w, r)
	})
}

// adminRoutes assembles the administrators' listener: the Settings UI, the
// management API for sessions and keys, /metrics and health. Nothing is
// proxied here.
func (s *Server) adminRoutes(mgmt *mgmtapi.Handler, ui http.Handler) http.Handler {
	own := s.ownMux(mgmt)
	own.Handle("GET /metrics", promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{}))
	own.Handle("/login", ui)
	own.Handle("/logout", ui)
	own.Handle("/settings", ui)
	own.Handle("/settings/", ui)
	own.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/" && r.Method == http.MethodGet {
			http.Redirect(w, r, "/settings/api-keys", http.StatusSeeOther)
			return
		}
		noRoute(w, r)
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gatehouse.RequestInfoFromContext(r.Context()).Route = gatehouse.RouteLabelOwn
		serveChecked(own, w, r)
	})
}

// bodyDeadline gives a request's body body_timeout to arrive. A body that
// nothing reads (a refused request, a bad path, the gateway's own
// endpoints) is read by the server when the answer is written, to keep the
// connection: without a deadline, a body that stalls would hold the
// connection for ever. The data plane renews the deadline on every read of
// a body it forwards.
func (s *Server) bodyDeadline(next http.Handler) http.Handler {
	timeout := time.Duration(s.cfg.BodyTimeout)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil && r.Body != http.NoBody {
			http.NewResponseController(w).SetReadDeadline(time.Now().Add(timeout))
		}
		next.ServeHTTP(w, r)
	})
}

// ownMux serves the endpoints both listeners have: health, the OpenAPI
// description and the management API.
func (s *Server) ownMux(mgmt *mgmtapi.Handler) *http.ServeMux {
	own := http.NewServeMux()
	own.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("ok\n"))
	})
	own.HandleFunc("GET /readyz", s.readyz)
	own.Handle("/openapi.json", mgmt.OpenAPIHandler())
	own.Handle("/api/v2/api-keys", mgmt)
	own.Handle("/api/v2/api-keys/", mgmt)
	return own
}

// serveChecked serves r with h if its path is safe (proxy.CheckPath), and
// answers 400 bad_path if not.
func serveChecked(h http.Handler, w http.ResponseWriter, r *http.Request) {
	if !proxy.CheckPath(r) {
		gatehouse.RequestInfoFromContext(r.Context()).Outcome = gatehouse.EBadPath
		jsonerr.Write(w, http.StatusBadRequest, gatehouse.EBadPath, "The path holds dot segments, an empty segment or an encoded separator.")
		return
	}
	h.ServeHTTP(w, r)
}

func noRoute(w http.ResponseWriter, r *http.Request) {
	gatehouse.RequestInfoFromContext(r.Context()).Outcome = gatehouse.ENoRoute
	jsonerr.Write(w, http.StatusNotFound, gatehouse.ENoRoute, "No route matches this path.")
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if err := s.Ready(r.Context()); err != nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		json.NewEncoder(w).Encode(map[string]string{"status": "unavailable", "store": "unreachable"})
		return
	}
	json.NewEncoder(w).Encode(map[string]string{"status": "ready"})
}

// recorder remembers the status and size of a response. Unwrap lets
// http.ResponseController reach Flush and Hijack of the writer beneath.
type recorder struct {
	http.ResponseWriter
	status      int
	bytes       int64
	wroteHeader bool
}

// WriteHeader records the final status; 1xx answers (103 Early Hints)
// pass through unrecorded. A 101 never comes this way (see Hijack).
func (r *recorder) WriteHeader(code int) {
	if !r.wroteHeader && code >= 200 {
		r.status, r.wroteHeader = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	r.wroteHeader = true
	n, err := r.ResponseWriter.Write(b)
	r.bytes += int64(n)
	return n, err
}

func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// Hijack passes a hijack on. The only hijacker behind the access log is
// the proxy's protocol switch (a websocket), which writes the upstream's
// 101 on the hijacked connection itself, past WriteHeader: a hijacked
// answer is logged as 101.
func (r *recorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, rw, err := http.NewResponseController(r.ResponseWriter).Hijack()
	if err == nil {
		r.status, r.wroteHeader = http.StatusSwitchingProtocols, true
	}
	return c, rw, err
}

// Flush passes a flush on, for streamed responses.
func (r *recorder) Flush() {
	http.NewResponseController(r.ResponseWriter).Flush()
}

// statusLabels holds the metric label of every HTTP status, so that
// counting a request does not format one.
var statusLabels = func() (l [600]string) {
	for i := range l {
		l[i] = strconv.Itoa(i)
	}
	return l
}()

func statusLabel(code int) string {
	if code >= 0 && code < len(statusLabels) {
		return statusLabels[code]
	}
	return strconv.Itoa(code)
}

// levelFor logs server-side failures above the ordinary access lines.
func levelFor(status int) slog.Level {
	if status >= 500 {
		return slog.LevelWarn
	}
	return slog.LevelInfo
}
