package proxy

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/http/httputil"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"gatehouse"
	"gatehouse/jsonerr"
	"gatehouse/keyauth"
)

// Handler is the data plane. It runs the contract's checks in order (path,
// route, method, key, scope, rate) and forwards what passes. Fields must be
// set before the first request; Init must be called once.
type Handler struct {
	// Table holds the routes served from Init on. Required. SetTable
	// replaces it while the handler serves.
	Table *Table
	// Verifier checks the key of each request to a route that is not
	// public, for the route's scope (keyauth.Verifier), and answers the
	// requests it refuses. Required unless every route is public.
	Verifier keyauth.Authenticator
	// Watch, if set, returns a context that is cancelled when the key is
	// deleted, disabled or expires, or when the secret presented (of
	// digest secret) was rolled and its overlap ended, so that every answer still being sent with it
	// (websockets, streams, long downloads) is closed. It is asked at once
	// for answers that may last (upgrades, bodies of unknown length), and
	// for other keyed answers only when their body is read past the
	// request's first half second, so that short answers never pay a
	// watch.
	Watch func(ctx context.Context, keyID string, secret gatehouse.Digest) (context.Context, context.CancelFunc)
	// Transport reaches the upstreams. If nil, each route gets a transport
	// of its own (NewTransport) whose ResponseHeaderTimeout is the route's
	// Timeout, and which checks an https:// upstream's certificate against
	// the route's TLSCAFile, if it has one. A Transport set here serves
	// every route and must bound its waits and check certificates itself.
	Transport http.RoundTripper
	// WrapTransport, if set, wraps what reaches the upstreams (Transport,
	// or the routes' own), e.g. for a span around each upstream call; the
	// lean engine is then not used, so that every upstream call goes
	// through it. If nil, nothing is wrapped.
	WrapTransport func(http.RoundTripper) http.RoundTripper
	// BodyTimeout cuts a request body that sends nothing for this long
	// (silence while the body is read, not the whole body's time): the
	// upstream request is aborted and the client, if nothing was answered
	// yet, gets 408 body_timeout. It is a read deadline on the client's
	// connection, renewed before each read of a forwarded body; requests
	// without a body pay nothing. Whoever serves the handler sets the
	// first deadline when the request arrives (server does), so that the
	// body of a request the handler refuses cannot hold the connection
	// either. Zero means no deadline.
	BodyTimeout time.Duration
	// Logger receives upstream errors. If nil, they are discarded.
	Logger *slog.Logger
	// Registerer receives gatehouse_proxy_upstream_duration_seconds,
	// gatehouse_proxy_longlived_connections and
	// gatehouse_proxy_longlived_closed_total. If nil, nothing is
	// registered.
	Registerer prometheus.Registerer

	proxy    *httputil.ReverseProxy
	duration *prometheus.HistogramVec
	// openVec and closedVec are the long-lived answers' gauge and
	// counter, for the routes of a table.
	openVec   *prometheus.GaugeVec
	closedVec *prometheus.CounterVec
	// table is the table served: Table, until SetTable replaces it.
	table atomic.Pointer[Table]
	// open counts the long-lived answers being sent, for Wait.
	open counter
}

// NewTransport returns the transport used to reach upstreams: bounded dial
// and TLS handshake times, and enough idle connections per upstream that a
// busy gateway does not redial.
func NewTransport() *http.Transport {
	return &http.Transport{
		Proxy:                  nil, // never an environment proxy
		DialContext:            (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:    10 * time.Second,
		MaxIdleConns:           1024,
		MaxIdleConnsPerHost:    256,
		IdleConnTimeout:        90 * time.Second,
		ExpectContinueTimeout:  time.Second,
		MaxResponseHeaderBytes: 1 << 20,
	}
}

// Init prepares the handler and registers its metrics (with MustRegister:
// a metric registered twice is a programming error).
func (h *Handler) Init() {
	transport := h.Transport
	if transport == nil {
		transport = routeTransport{}
	}
	if h.WrapTransport != nil {
		transport = h.WrapTransport(transport)
	}
	if h.Logger == nil {
		h.Logger = slog.New(slog.DiscardHandler)
	}
	h.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "gatehouse_proxy_upstream_duration_seconds",
		Help:    "Time from forwarding a request to the upstream's response headers, by route.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
	}, []string{"route"})
	open := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "gatehouse_proxy_longlived_connections",
		Help: "Long-lived answers being sent (websockets, and streams: bodies of unknown length), by route.",
	}, []string{"route"})
	closed := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gatehouse_proxy_longlived_closed_total",
		Help: "Long-lived answers (websockets, streams) that ended, by route and reason: revoked (key deleted or expired), shutdown, client_closed, upstream_closed.",
	}, []string{"route", "reason"})
	if h.Registerer != nil {
		h.Registerer.MustRegister(h.duration, open, closed)
	}
	h.openVec, h.closedVec = open, closed
	h.prepareTable(h.Table, nil)
	h.table.Store(h.Table)
	h.proxy = &httputil.ReverseProxy{
		Rewrite:        h.rewrite,
		Transport:      transport,
		ModifyResponse: h.modifyResponse,
		ErrorHandler:   h.errorHandler,
		ErrorLog:       slog.NewLogLogger(h.Logger.Handler(), slog.LevelWarn),
	}
}

// forward is what the handler learned about a request, for the proxy's
// hooks.
type forward struct {
	route *route
	key   *gatehouse.APIKey
	// subject is the sub of the Bearer token that was accepted instead of
	// a key.
	subject string
	// secret is the digest of the key's secret presented (its current or,
	// during a roll's overlap, its previous one).
	secret gatehouse.Digest
	path   string // the decoded path that was authorised
	start  time.Time
	// unwatch ends the watch of the answer, if one was started.
	unwatch context.CancelFunc
	// late is the body of a keyed answer of known length (lateWatch);
	// held here so that it costs no allocation of its own.
	late lateWatch
	// bodyErr is the error of reading the client's body, if any: a
	// broken body is the client's fault (400), not the upstream's. The
	// transport reads the body on a goroutine of its own.
	bodyErr atomic.Pointer[error]
	// longLived is set when the answer may last (startLongLived).
	longLived bool
	// ended is why a long-lived or watched answer ended (a closeReason),
	// set by whoever learns it first (end).
	ended atomic.Int32
}

// clientBody remembers why reading the client's request body failed, and
// holds the body to its timeout.
type clientBody struct {
	io.ReadCloser
	fw *forward
	// w sets the read deadline of the client's connection when timeout is
	// not zero.
	w       http.ResponseWriter
	timeout time.Duration
}

func (b *clientBody) Read(p []byte) (int, error) {
	if b.timeout > 0 {
		// From now, not from the last read: a body the transport reads
		// slowly (a slow upstream) is not the client's silence.
		http.NewResponseController(b.w).SetReadDeadline(time.Now().Add(b.timeout))
	}
	n, err := b.ReadCloser.Read(p)
	switch {
	case err == io.EOF && b.timeout > 0:
		// The server now reads the connection to notice a client that
		// goes away; that read must not time out while the upstream
		// takes its time to answer.
		http.NewResponseController(b.w).SetReadDeadline(time.Time{})
	case err != nil && err != io.EOF:
		b.fw.bodyErr.Store(&err)
	}
	return n, err
}

// routeTransport sends each request through its route's transport, which
// holds the route's response header timeout.
type routeTransport struct{}

func (routeTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	return r.Context().Value(forwardKey{}).(*forward).route.transport.RoundTrip(r)
}

type forwardKey struct{}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	info := gatehouse.RequestInfoFromContext(r.Context())
	hasBody := r.Body != nil && r.Body != http.NoBody
	if !CheckPath(r) {
		fail(w, info, http.StatusBadRequest, gatehouse.EBadPath, "The path holds dot segments, an empty segment or an encoded separator.")
		return
	}
	route, ok := h.table.Load().match(r.URL.Path)
	if !ok {
		fail(w, info, http.StatusNotFound, gatehouse.ENoRoute, "No route matches this path.")
		return
	}
	info.Route = route.Name
	if refusedMethod(r.Method) {
		w.Header().Set("Allow", allowedMethods)
		fail(w, info, http.StatusMethodNotAllowed, gatehouse.EMethodNotAllowed, "CONNECT, TRACE and TRACK are never forwarded.")
		return
	}
	fw := &forward{route: route, path: r.URL.Path}
	ctx := r.Context()
	if !route.Public {
		v, ok := h.Verifier.Authenticate(w, r, keyauth.Need{Scope: route.Scope, Bearer: route.Bearer, Signed: route.Signed})
		if !ok {
			return
		}
		if fw.subject = v.Subject; v.Key != nil {
			fw.key, fw.secret = v.Key, v.Secret()
		}
		keyauth.ReplaceBody(r, v)
	}
	stripUpgrade(r.Header, route.WebSocket)
	if hasBody {
		r.Body = &clientBody{ReadCloser: r.Body, fw: fw, w: w, timeout: h.BodyTimeout}
	}
	fw.start = time.Now()
	defer func() {
		if fw.unwatch != nil {
			fw.unwatch()
		}
		if fw.longLived {
			h.endLongLived(ctx, fw, info)
		}
		// An answer the gateway ended says so: not "ok".
		if r := closeReason(fw.ended.Load()); r == revoked || r == shutdown {
			info.Outcome = r.String()
		}
	}()
	if lean(r, route) {
		h.serveLean(w, r, fw, info)
		return
	}
	h.proxy.ServeHTTP(w, r.WithContext(context.WithValue(ctx, forwardKey{}, fw)))
}

// refusedMethod reports whether no upstream behind the gateway can mean the
// method: CONNECT asks the upstream for a tunnel, TRACE (and IIS's TRACK)
// echo the request back, cookies and identity headers included. Method
// names are case-sensitive, but not to every server: any case is refused.
// Other methods, WebDAV's among them, are the upstream's to judge.
func refusedMethod(m string) bool {
	switch len(m) {
	case 5:
		return strings.EqualFold(m, http.MethodTrace) || strings.EqualFold(m, "TRACK")
	case 7:
		return strings.EqualFold(m, http.MethodConnect)
	}
	return false
}

// allowedMethods is the Allow header of a refused method's 405: the methods
// of HTTP that the gateway forwards (the upstream may allow fewer).
const allowedMethods = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"

// spoofable are request headers that upstream frameworks commonly trust to
// name the client or the user, or to override the method or path: a key
// allowed to read /api/v2/assets must not make an upstream see a DELETE or
// another path, a client must not choose the address the upstream believes
// it came from, and no client may name the user that an auth proxy
// (Authelia, oauth2-proxy, Kong, Apache's REMOTE_USER) would have
// authenticated. They are dropped, as are every X-Forwarded-* (the gateway
// sets X-Forwarded-For/Host/Proto itself) and X-Auth-Request-* (oauth2-proxy's
// user, email, groups and token).
var spoofable = map[string]bool{
	"X-Real-Ip": true, "X-Client-Ip": true, "True-Client-Ip": true, "X-Cluster-Client-Ip": true, "Client-Ip": true,
	"X-Remote-Addr": true, "X-Remote-Ip": true, "X-Originating-Ip": true, "Remote-Addr": true,
	"X-Original-Forwarded-For": true, "X-Original-Url": true, "X-Rewrite-Url": true, "X-Original-Uri": true,
	"X-Http-Method-Override": true, "X-Http-Method": true, "X-Method-Override": true, "X-Original-Method": true,
	"Remote-User": true, "X-Remote-User": true, "X-Authenticated-User": true, "X-Authenticated-Userid": true,
	"Remote-Groups": true, "Remote-Email": true, "Remote-Name": true,
}

func (h *Handler) rewrite(pr *httputil.ProxyRequest) {
	fw := pr.In.Context().Value(forwardKey{}).(*forward)
	pr.SetURL(fw.route.target)
	// Forward exactly the authorised path, canonically escaped: the raw
	// form was checked, and no encoded separator or dot can be in it.
	pr.Out.URL.Path = fw.route.upstreamPath(fw.path)
	pr.Out.URL.RawPath = ""
	pr.Out.URL.RawQuery = pr.In.URL.RawQuery

	hd := pr.Out.Header
	for name, values := range hd {
		if kept := forwardedValues(name, values); len(kept) == 0 {
			delete(hd, name)
		} else {
			hd[name] = kept
		}
	}
	if fw.subject != "" {
		hd.Set("X-Gatehouse-Subject", headerText(fw.subject))
	}
	if fw.key != nil {
		hd.Set("X-Gatehouse-Key-Id", fw.key.ID)
		hd.Set("X-Gatehouse-Key-Name", headerText(fw.key.Name))
	}
	if hd.Get("X-Request-Id") == "" {
		hd.Set("X-Request-Id", gatehouse.RequestInfoFromContext(pr.In.Context()).RequestID)
		if hd.Get("X-Request-Id") == "" {
			hd.Set("X-Request-Id", gatehouse.NewRequestID())
		}
	}
	pr.SetXForwarded()
}

// forwardedValues returns the values of the client's request header name
// that the upstream gets: none for the key, the gateway's own and the
// forwarding headers (which the gateway sets itself), the spoofable ones
// and any name holding _; the Cookie header without the session cookie;
// else values as they are. Both engines clean headers with it.
func forwardedValues(name string, values []string) []string {
	switch {
	// A name holding _ is dropped whatever it says (nginx's and Envoy's
	// default): CGI-style servers (Python's wsgiref, PHP) read
	// X_Gatehouse_Key_Id as X-Gatehouse-Key-Id.
	case name == keyauth.HeaderKey || spoofable[name] || name == "Forwarded" ||
		strings.HasPrefix(name, "X-Gatehouse-") || strings.HasPrefix(name, "X-Forwarded-") ||
		strings.HasPrefix(name, "X-Auth-Request-") || strings.IndexByte(name, '_') >= 0:
		return nil
	case name == "Cookie":
		return withoutSessionCookie(values)
	}
	return values
}

func (h *Handler) modifyResponse(resp *http.Response) error {
	fw := resp.Request.Context().Value(forwardKey{}).(*forward)
	h.prepare(resp, fw, resp.Request.Context())
	return nil
}

// prepare readies an upstream's answer for the client, on either engine:
// it records the upstream's time, removes what the upstream may not set,
// makes its Location public, and starts what a long-lived or keyed answer
// needs (the long-lived count, the watch of its key). ctx is the
// request's.
func (h *Handler) prepare(resp *http.Response, fw *forward, ctx context.Context) {
	fw.route.duration.Observe(time.Since(fw.start).Seconds())
	// The upstream cannot set the gateway's identity headers on the
	// answer, nor the Settings session cookie.
	delete(resp.Header, keyauth.HeaderKey)
	if sc := resp.Header["Set-Cookie"]; sc != nil {
		if sc = slices.DeleteFunc(sc, setsSessionCookie); len(sc) == 0 {
			delete(resp.Header, "Set-Cookie")
		} else {
			resp.Header["Set-Cookie"] = sc
		}
	}
	if loc := resp.Header["Location"]; len(loc) == 1 {
		if public, ok := fw.route.publicLocation(loc[0]); ok {
			loc[0] = public
		}
	}
	watched := fw.key != nil && h.Watch != nil
	switch {
	case longLived(resp):
		r := h.startLongLived(resp, fw, ctx)
		if watched {
			h.watch(ctx, fw, r)
		}
	case watched && resp.Body != http.NoBody:
		fw.late = lateWatch{ReadCloser: resp.Body, h: h, fw: fw, ctx: ctx}
		resp.Body = &fw.late
	}
}

// watch starts the watch of the answer's key: deleting, disabling or
// expiring the key, or the end of the overlap of the secret presented,
// revokes the answer: a websocket gets a close frame, another answer's
// body is closed, which ends the copy to the client and closes its
// connection. It returns the watch's context.
func (h *Handler) watch(reqCtx context.Context, fw *forward, r revoker) context.Context {
	watch, cancel := h.Watch(reqCtx, fw.key.ID, fw.secret)
	stop := context.AfterFunc(watch, func() {
		if reqCtx.Err() == nil {
			fw.end(revoked)
			r.revoke(context.Cause(watch))
		}
	})
	fw.unwatch = func() { stop(); cancel() }
	return watch
}

// watchAfter is how long a keyed answer of known length runs before a
// Read of its body starts the watch of its key.
const watchAfter = 500 * time.Millisecond

// lateWatch is the body of a keyed answer of known length. Most such
// answers are over in milliseconds, and a watch costs a registration with
// the key index, so the watch is started only by a Read past the request's
// first watchAfter: a short answer pays a clock read per Read. A key
// deleted before that is caught when the watch starts, so a flowing answer
// ends within about watchAfter of the deletion. (A Read begun before
// watchAfter that then waits on a stalled upstream is not watched while it
// waits: what it returns is passed on, and the next Read ends the answer.)
type lateWatch struct {
	io.ReadCloser
	h   *Handler
	fw  *forward
	ctx context.Context
}

func (b *lateWatch) Read(p []byte) (int, error) {
	if b.fw.unwatch == nil && time.Since(b.fw.start) >= watchAfter {
		if watch := b.h.watch(b.ctx, b.fw, b); watch.Err() != nil {
			return 0, context.Cause(watch)
		}
	}
	return b.ReadCloser.Read(p)
}

// revoke ends the answer: closing its body ends the copy to the client.
func (b *lateWatch) revoke(error) { b.ReadCloser.Close() }

// withoutSessionCookie returns the values of a request's Cookie headers
// without the Settings session cookie, every other cookie kept byte for
// byte and in order; a value left empty is dropped. Values that cannot hold
// the session cookie are returned as they are, without allocating.
func withoutSessionCookie(values []string) []string {
	i := slices.IndexFunc(values, func(v string) bool { return strings.Contains(v, gatehouse.SessionCookie) })
	if i < 0 {
		return values
	}
	out := slices.Clone(values[:i])
	for _, v := range values[i:] {
		var kept []string
		for pair := range strings.SplitSeq(v, ";") {
			if cookieName(pair) != gatehouse.SessionCookie {
				kept = append(kept, pair)
			}
		}
		if v = strings.TrimLeft(strings.Join(kept, ";"), " \t"); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// setsSessionCookie reports whether the value of a Set-Cookie header sets
// the Settings session cookie.
func setsSessionCookie(v string) bool {
	if !strings.Contains(v, gatehouse.SessionCookie) {
		return false
	}
	pair, _, _ := strings.Cut(v, ";")
	return cookieName(pair) == gatehouse.SessionCookie
}

// cookieName returns the name of a cookie pair of a Cookie or Set-Cookie
// header as browsers read it: trimmed of spaces and tabs (RFC 6265 §5.2),
// and case-sensitive. A pair without = is taken as all name, which drops
// more than a browser would read as that cookie, never less.
func cookieName(pair string) string {
	name, _, _ := strings.Cut(pair, "=")
	return strings.Trim(name, " \t")
}

func (h *Handler) errorHandler(w http.ResponseWriter, r *http.Request, err error) {
	fw := r.Context().Value(forwardKey{}).(*forward)
	h.upstreamError(w, r.Context(), fw, gatehouse.RequestInfoFromContext(r.Context()), err)
}

// upstreamError answers a request whose upstream exchange failed before an
// answer came, on either engine: 408 or 400 for the client's broken body,
// 504 for an upstream out of time, nothing for a client that went away,
// else 502. ctx is the request's.
func (h *Handler) upstreamError(w http.ResponseWriter, ctx context.Context, fw *forward, info *gatehouse.RequestInfo, err error) {
	fw.route.duration.Observe(time.Since(fw.start).Seconds())
	switch {
	case fw.bodyErr.Load() != nil && errors.Is(*fw.bodyErr.Load(), os.ErrDeadlineExceeded):
		// The server cancelled the request's context when the read failed;
		// the connection can still carry the answer, not another request.
		w.Header().Set("Connection", "close")
		fail(w, info, http.StatusRequestTimeout, gatehouse.EBodyTimeout, "The request body sent nothing for "+h.BodyTimeout.String()+".")
	case fw.bodyErr.Load() != nil && ctx.Err() == nil:
		fail(w, info, http.StatusBadRequest, gatehouse.EInvalidRequest, "The request body could not be read: "+(*fw.bodyErr.Load()).Error()+".")
	case isTimeout(err):
		fail(w, info, http.StatusGatewayTimeout, gatehouse.EUpstreamTimeout, "The upstream did not answer in time.")
	case errors.Is(err, context.Canceled):
		// The client went away: nobody to answer (logged as 499).
		info.Outcome = "client_closed"
		w.WriteHeader(499)
	default:
		h.Logger.Warn("upstream unavailable", "route", fw.route.Name, "err", err)
		fail(w, info, http.StatusBadGateway, gatehouse.EUpstreamDown, "The upstream could not be reached.")
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}

func fail(w http.ResponseWriter, info *gatehouse.RequestInfo, status int, code, msg string) {
	info.Outcome = code
	jsonerr.Write(w, status, code, msg)
}

// stripUpgrade removes an Upgrade the route does not allow: only
// "websocket", and only on websocket routes, is ever forwarded (Go's proxy
// would otherwise forward h2c and any other protocol).
func stripUpgrade(h http.Header, websocket bool) {
	up := h.Get("Upgrade")
	if up == "" && h.Get("Connection") == "" {
		return
	}
	if websocket && strings.EqualFold(strings.TrimSpace(up), "websocket") && len(h.Values("Upgrade")) == 1 {
		return
	}
	h.Del("Upgrade")
	h.Del("HTTP2-Settings")
	var keep []string
	for _, v := range h.Values("Connection") {
		for _, tok := range strings.Split(v, ",") {
			if tok = strings.TrimSpace(tok); tok != "" && !strings.EqualFold(tok, "upgrade") && !strings.EqualFold(tok, "HTTP2-Settings") {
				keep = append(keep, tok)
			}
		}
	}
	h.Del("Connection")
	if len(keep) > 0 {
		h.Set("Connection", strings.Join(keep, ", "))
	}
}

// headerText returns s as a header value: as is when it is printable
// ASCII, else RFC 2047 encoded (=?utf-8?q?...?=).
func headerText(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return mime.QEncoding.Encode("utf-8", s)
		}
	}
	return s
}
