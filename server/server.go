// Package server wires a whole gateway from a config: the store, the key
// index, rate limits, usage, the data plane, the management API, the
// Settings UI, health and metrics. It serves them on two listeners, two
// origins: the data plane (proxied routes, and the management API for
// X-API-Key callers only) and the administrators' origin (the Settings UI,
// its sessions, /metrics; nothing proxied), so that no page an upstream
// serves can ever run in the origin of the Settings session.
// cmd/gatehouse runs it; end-to-end tests build it the same way.
package server

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/redis/go-redis/v9"

	"gatehouse"
	"gatehouse/certfile"
	"gatehouse/config"
	"gatehouse/keyauth"
	"gatehouse/keyindex"
	"gatehouse/keys"
	"gatehouse/mgmtapi"
	"gatehouse/proxy"
	"gatehouse/ratelimit"
	"gatehouse/tracing"
	"gatehouse/usage"
	"gatehouse/webhook"
	"gatehouse/webui"
)

// Options are what a Server takes beyond the config.
type Options struct {
	// Logger receives the access log and operational messages. If nil,
	// logs are discarded.
	Logger *slog.Logger
	// Now returns the current time. If nil, time.Now is used.
	Now func() time.Time
	// AdminPassword, when set and no admin user exists, creates user
	// "admin" with it (GATEHOUSE_ADMIN_PASSWORD).
	AdminPassword string
	// Version and Commit are what gatehouse_build_info says runs (the
	// binary's version and git commit). Empty: "unknown".
	Version, Commit string
}

// Server is a gateway assembled from a config.
type Server struct {
	cfg      *config.Config
	log      *slog.Logger
	now      func() time.Time
	store    gatehouse.Store
	keys     *keys.Service
	index    *keyindex.Index
	usage    *usage.Recorder
	hooks    *webhook.Sender
	schedule *webhook.Scheduler
	redis    *redis.Client
	registry *prometheus.Registry
	requests *prometheus.CounterVec
	duration *requestDuration
	proxy    *proxy.Handler
	verifier *keyauth.Verifier
	ui       *webui.UI
	reloads  *prometheus.CounterVec
	// scopes are the scope names of the routes served now.
	scopes atomic.Pointer[[]string]
	// running is the config that runs: the start's, with what reloads
	// applied; held with reloadMu.
	running  *config.Config
	reloadMu sync.Mutex
	// tracer makes the data plane's spans; nil without tracing.
	tracer *tracing.Tracer
	// certs serves the data plane's TLS certificate; nil without tls.
	certs *certfile.Holder
	data  http.Handler
	admin http.Handler

	closeOnce sync.Once
	// endDrain is closed by EndDrain.
	endDrain     chan struct{}
	endDrainOnce sync.Once
}

// Open builds a Server: it opens the store, loads the master key (and
// fails with ErrMasterKeyMismatch when it is not the one the store's keys
// are sealed under) and every key into the index, and assembles the
// handler. A failed Open releases what it acquired.
func Open(ctx context.Context, cfg *config.Config, opts Options) (_ *Server, err error) {
	s := &Server{cfg: cfg, running: cfg, log: opts.Logger, now: opts.Now, endDrain: make(chan struct{})}
	scopes := cfg.ScopeNames()
	s.scopes.Store(&scopes)
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	// Every failure returns nil, so s here, not a named result, is what
	// was opened.
	defer func() {
		if err != nil {
			s.Close()
		}
	}()

	if cfg.TLS.Enabled() {
		if s.certs, err = certfile.Load(cfg.TLS.CertFile, cfg.TLS.KeyFile, s.log); err != nil {
			return nil, fmt.Errorf("config: tls: %w", err)
		}
		s.log.Info("TLS certificate loaded", s.certs.Attrs()...)
	}
	if t := cfg.Tracing; t.OTLPEndpoint != "" {
		if s.tracer, err = tracing.New(tracing.Options{Endpoint: t.OTLPEndpoint, SampleRatio: t.SampleRatio, Version: opts.Version}); err != nil {
			return nil, err
		}
		s.log.Info("tracing on: spans go to the OTLP collector", "otlp_endpoint", t.OTLPEndpoint, "sample_ratio", t.SampleRatio)
	}
	if s.store, err = OpenStore(ctx, cfg, s.log); err != nil {
		return nil, err
	}
	var master []byte
	if s.keys, master, err = NewKeyService(ctx, cfg, s.store, s.log); err != nil {
		return nil, err
	}

	s.registry = prometheus.NewRegistry()
	s.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gatehouse_proxy_requests_total",
		Help: "Requests answered, by route (or gatehouse endpoint), HTTP status and outcome (ok or the error code).",
	}, []string{"route", "status", "outcome"})
	s.duration = newRequestDuration(cfg.ParsedRoutes)
	s.reloads = newReloads()
	s.registry.MustRegister(s.requests, s.duration.vec, buildInfo(opts.Version, opts.Commit), s.reloads,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	s.index = keyindex.New(s.store, keyindex.Options{
		Logger:        s.log,
		MaxStale:      time.Duration(cfg.StoreOutageGrace),
		ExpiryWarning: time.Duration(cfg.ExpiryWarning),
		Now:           s.now,
		Registerer:    s.registry,
	})
	if err := s.index.Load(ctx); err != nil {
		return nil, fmt.Errorf("load keys: %w", err)
	}

	if err := s.openWebhooks(); err != nil {
		return nil, err
	}
	s.keys.Now = s.now
	// The scopes of the routes served now, which a reload may change.
	s.keys.KnownScope = func(name string) bool { return slices.Contains(s.scopeNames(), name) }
	s.keys.Changed = func(ctx context.Context) {
		if err := s.index.Sync(ctx); err != nil {
			s.log.Warn("sync key index after a change", "err", err)
		}
		s.hooks.Wake()
	}

	var limiter ratelimit.Limiter = ratelimit.NewLocal()
	if cfg.Redis != "" {
		ropts, err := redis.ParseURL(cfg.Redis)
		if err != nil {
			return nil, fmt.Errorf("config: redis: %w", err)
		}
		ropts.DialTimeout, ropts.ReadTimeout, ropts.WriteTimeout = 2*time.Second, 500*time.Millisecond, 500*time.Millisecond
		s.redis = redis.NewClient(ropts)
		limiter = ratelimit.NewFallback(ratelimit.NewRedis(s.redis, "gatehouse:rl:"), limiter, s.log, s.registry)
	}
	s.usage = usage.New(s.store, usage.Options{Logger: s.log, FlushInterval: time.Duration(cfg.UsageFlushInterval), Registerer: s.registry})

	// One key check for every caller: the data plane and both management
	// APIs take it as their Verifier (keyauth.Authenticator).
	s.verifier = &keyauth.Verifier{
		Index:          s.index,
		Limiter:        limiter,
		DefaultLimit:   cfg.DefaultRateLimit,
		Usage:          s.usage,
		TrustedProxies: cfg.ParsedTrustedProxies,
		ExpiryWarning:  time.Duration(cfg.ExpiryWarning),
		Now:            s.now,
		Registerer:     s.registry,
	}
	if err := s.credentials(ctx, s.verifier); err != nil {
		return nil, err
	}

	table, err := proxy.NewTable(cfg.ParsedRoutes)
	if err != nil {
		return nil, fmt.Errorf("config: routes: %w", err)
	}
	verifier := s.verifier
	verifier.Init()
	dataPlane := &proxy.Handler{
		Table:       table,
		Verifier:    verifier,
		Watch:       s.index.Watch,
		BodyTimeout: time.Duration(cfg.BodyTimeout),
		Logger:      s.log,
		Registerer:  s.registry,
	}
	if s.tracer != nil {
		dataPlane.Verifier = s.tracer.Authenticator(verifier)
		dataPlane.WrapTransport = s.tracer.Transport
	}
	dataPlane.Init()
	s.proxy = dataPlane

	ui := &webui.UI{
		Keys:          s.keys,
		Store:         s.store,
		MasterKey:     master,
		Scopes:        s.scopeNames,
		Now:           s.now,
		Logger:        s.log,
		SecureCookies: cfg.SecureCookies,
		ExpiryWarning: time.Duration(cfg.ExpiryWarning),
		BodyTimeout:   time.Duration(cfg.ReadHeaderTimeout),
	}
	s.ui = ui
	if err := ui.Init(); err != nil {
		return nil, err
	}
	if err := ui.EnsureAdmin(ctx, opts.AdminPassword); err != nil {
		return nil, fmt.Errorf("create admin user: %w", err)
	}
	// The management API twice: for keys alone on the data plane's
	// origin, where a session must never count, and for sessions and keys
	// on the administrators' origin.
	keyMgmt := &mgmtapi.Handler{
		Keys:        s.keys,
		Verifier:    verifier,
		Now:         s.now,
		Logger:      s.log,
		BodyTimeout: time.Duration(cfg.ReadHeaderTimeout),
	}
	adminMgmt := *keyMgmt
	adminMgmt.Session = ui.SessionAuth

	data := s.bodyDeadline(s.dataRoutes(dataPlane, keyMgmt))
	if s.tracer != nil {
		data = s.tracer.Middleware(data)
	}
	s.data = s.accessLog(data)
	s.admin = s.accessLog(s.bodyDeadline(s.adminRoutes(&adminMgmt, ui.Handler())))
	return s, nil
}

// buildInfo is gatehouse_build_info: 1, labelled with what runs.
func buildInfo(version, commit string) prometheus.Collector {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "gatehouse_build_info",
		Help: "Always 1; the labels say what runs: the version and git commit of gatehouse and the Go version it was built with.",
	}, []string{"version", "commit", "goversion"})
	g.WithLabelValues(cmp.Or(version, "unknown"), cmp.Or(commit, "unknown"), runtime.Version()).Set(1)
	return g
}

// openWebhooks sets up the webhooks' sender and scheduler (see Run). They
// run without endpoints too: the scheduler then keeps its place, and the
// sender marks events delivered, so that the outbox does not grow.
func (s *Server) openWebhooks() error {
	s.hooks = &webhook.Sender{Store: s.store, Endpoints: s.cfg.ParsedWebhooks, Now: s.now, Logger: s.log, Registerer: s.registry}
	if err := s.hooks.Init(); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	s.schedule = &webhook.Scheduler{Store: s.store, Window: time.Duration(s.cfg.ExpiryWarning), Now: s.now, Added: s.hooks.Wake, Logger: s.log}
	return nil
}

// DataHandler returns the handler of the data plane's listener (listen).
func (s *Server) DataHandler() http.Handler { return s.data }

// AdminHandler returns the handler of the administrators' listener
// (admin_listen).
func (s *Server) AdminHandler() http.Handler { return s.admin }

// Keys returns the key service (for tests and the CLI).
func (s *Server) Keys() *keys.Service { return s.keys }

// Store returns the store.
func (s *Server) Store() gatehouse.Store { return s.store }

// Run runs the background work (index sync, usage flushes, webhooks)
// until ctx is done, then flushes usage a last time.
func (s *Server) Run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Go(func() { s.index.Run(ctx) })
	wg.Go(func() { s.usage.Run(ctx) })
	wg.Go(func() { s.hooks.Run(ctx) })
	wg.Go(func() { s.schedule.Run(ctx) })
	wg.Wait()
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := s.usage.Flush(fctx); err != nil {
		s.log.Warn("flush usage at shutdown", "err", err)
	}
}

// Listeners are the listeners a Server serves.
type Listeners struct {
	// Data is the data plane's (listen): HTTPS when the config has tls.
	// Required.
	Data net.Listener
	// Admin is the administrators' origin (admin_listen). Not served when
	// nil.
	Admin net.Listener
	// Redirect answers plain HTTP with a redirect to HTTPS on Data
	// (http_redirect_listen). Not served when nil.
	Redirect net.Listener
}

// Serve serves the data plane on data and the administrators' origin on
// admin (not served when nil): ServeListeners without a redirect listener.
func (s *Server) Serve(ctx context.Context, data, admin net.Listener) error {
	return s.ServeListeners(ctx, Listeners{Data: data, Admin: admin})
}

// ServeListeners serves each of ls until ctx is done, then stops accepting
// connections at once, lets in-flight requests finish within the shutdown
// timeout, and returns nil after a clean shutdown. It returns the first
// error of a listener that fails.
func (s *Server) ServeListeners(ctx context.Context, ls Listeners) error {
	// Long-lived connections (websockets, streams) hang off base: cancelled
	// with http.ErrServerClosed when the drain is over (websockets then
	// end with a close frame 1001), and waited for, so that none outlives
	// the process's exit.
	base, cancelBase := context.WithCancelCause(context.WithoutCancel(ctx))
	newServer := func(h http.Handler) *http.Server {
		return &http.Server{
			Handler:           h,
			ReadHeaderTimeout: time.Duration(s.cfg.ReadHeaderTimeout),
			IdleTimeout:       120 * time.Second,
			MaxHeaderBytes:    64 << 10,
			BaseContext:       func(net.Listener) context.Context { return base },
			ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		}
	}
	servers := []*http.Server{newServer(s.data)}
	listeners := []net.Listener{ls.Data}
	if s.certs != nil {
		servers[0].TLSConfig = s.tlsConfig()
		listeners[0] = tls.NewListener(ls.Data, servers[0].TLSConfig)
	}
	if ls.Admin != nil {
		servers = append(servers, newServer(s.admin))
		listeners = append(listeners, ls.Admin)
	}
	if ls.Redirect != nil {
		_, port, _ := net.SplitHostPort(ls.Data.Addr().String())
		servers = append(servers, newServer(redirectToHTTPS(port)))
		listeners = append(listeners, ls.Redirect)
	}
	bgctx, stopBg := context.WithCancel(context.WithoutCancel(ctx))
	bgDone := make(chan struct{})
	go func() { s.Run(bgctx); close(bgDone) }()

	errc := make(chan error, len(servers))
	for i, srv := range servers {
		go func() { errc <- srv.Serve(listeners[i]) }()
	}
	var err error
	select {
	case err = <-errc:
		// One listener failed: stop the other too.
		for _, srv := range servers {
			srv.Close()
		}
	case <-ctx.Done():
		s.log.Info("shutting down: draining in-flight requests", "timeout", time.Duration(s.cfg.ShutdownTimeout).String())
		sctx, cancel := context.WithTimeout(context.Background(), time.Duration(s.cfg.ShutdownTimeout))
		go func() {
			select {
			case <-s.endDrain:
				cancel()
			case <-sctx.Done():
			}
		}()
		var wg sync.WaitGroup
		for _, srv := range servers {
			wg.Go(func() {
				if err := srv.Shutdown(sctx); err != nil {
					s.log.Warn("the drain ended with requests in flight (shutdown_timeout passed, or a second signal); closing them", "err", err)
					srv.Close()
				}
			})
		}
		wg.Wait()
		cancel()
	}
	cancelBase(http.ErrServerClosed)
	wctx, cancelWait := context.WithTimeout(context.Background(), 2*proxy.CloseTimeout)
	if err := s.proxy.Wait(wctx); err != nil {
		s.log.Warn("long-lived connections still open after shutdown", "err", err)
	}
	cancelWait()
	s.proxy.CloseIdle()
	stopBg()
	<-bgDone
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// EndDrain ends a drain in progress (or the next one) at once: Serve closes
// the requests still in flight instead of waiting shutdown_timeout for them
// (a second Ctrl-C).
func (s *Server) EndDrain() {
	s.endDrainOnce.Do(func() { close(s.endDrain) })
}

// Close releases the store and connections. It is safe after a failed Open
// and more than once.
func (s *Server) Close() error {
	var err error
	s.closeOnce.Do(func() {
		if s.redis != nil {
			s.redis.Close()
		}
		if s.tracer != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			if err := s.tracer.Shutdown(ctx); err != nil {
				s.log.Warn("export the last spans", "err", err)
			}
			cancel()
		}
		if s.store != nil {
			err = s.store.Close()
		}
	})
	return err
}

// Ready reports whether the store answers.
func (s *Server) Ready(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	return s.store.Ping(ctx)
}
