// Package gatewaytest runs whole gateways for tests: server.Open, and
// Serve on two real listeners of 127.0.0.1, so that the server's own
// limits and timeouts apply, with an injected clock and a log to read.
// Only tests import it. It is apart from gatehousetest because it imports
// server, which imports most of the module: the internal tests of those
// packages could not import it.
package gatewaytest

import (
	"context"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"gatehouse"
	"gatehouse/config"
	"gatehouse/gatehousetest"
	"gatehouse/keys"
	"gatehouse/server"
)

// AdminPassword is the password of the administrator "admin" of every
// gateway whose Options do not give another.
const AdminPassword = "correct horse battery staple"

// Config returns a checked config for a test gateway: a new SQLite store
// and master key file in a temporary directory, a 5 s shutdown timeout and
// four routes to upstream (a base URL):
//
//	assets    /api/v2/assets → upstream/v2/assets   scope assets
//	platform  /api/v2        → upstream/v2          scope platform
//	hooks     /apps-public   → upstream/apps-public public
//	files     /files         → upstream/store/      scope files
//
// The platform route is the catch-all for /api/v2, so that a path that
// slips out of /api/v2/assets would land on a route its key has no scope
// for. change, if not nil, may edit the config before it is checked.
func Config(tb testing.TB, upstream string, change func(*config.Config)) *config.Config {
	tb.Helper()
	dir := tb.TempDir()
	cfg := config.Default()
	cfg.Storage = "sqlite:" + filepath.Join(dir, "gatehouse.db")
	cfg.SecretKeyFile = filepath.Join(dir, "secret.key")
	cfg.ShutdownTimeout = config.Duration(5 * time.Second)
	cfg.Routes = []config.Route{
		{Name: "assets", Path: "/api/v2/assets", Upstream: upstream + "/v2/assets", Scope: "assets"},
		{Name: "platform", Path: "/api/v2", Upstream: upstream + "/v2", Scope: "platform"},
		{Name: "hooks", Path: "/apps-public", Upstream: upstream + "/apps-public", Public: true},
		{Name: "files", Path: "/files", Upstream: upstream + "/store/", Scope: "files"},
	}
	if change != nil {
		change(cfg)
	}
	if err := cfg.Validate(); err != nil {
		tb.Fatal(err)
	}
	return cfg
}

// Options are what MustStart takes beyond the config.
type Options struct {
	// Clock is the gateway's time. If nil, a new wall clock: the real
	// time until the test moves it.
	Clock *gatehousetest.Clock
	// AdminPassword creates the user "admin" with it if the store has no
	// administrator. If empty, AdminPassword is used.
	AdminPassword string
	// Logger receives the gateway's log. If nil, the gateway logs JSON
	// from the debug level on into Gateway.Log. A benchmark may discard
	// its log (Gateway.Log then stays empty).
	Logger *slog.Logger
}

// Gateway is a gateway running for a test.
type Gateway struct {
	*server.Server
	// URL and AdminURL are the data plane's listener and the
	// administrators' (the Settings UI, /metrics): http://127.0.0.1:port
	// (https:// for the data plane when the config has tls).
	URL, AdminURL string
	// Addr and AdminAddr are the same listeners' host:port, for raw
	// connections.
	Addr, AdminAddr string
	// RedirectAddr is the host:port of the redirect listener when the
	// config sets http_redirect_listen (whose address MustStart replaces
	// with one of its own), else "".
	RedirectAddr string
	// Config is the gateway's config, Clock its time.
	Config *config.Config
	Clock  *gatehousetest.Clock
	// Log is what the gateway logged, one JSON object a line.
	Log *gatehousetest.LogBuffer

	opts    Options
	mu      sync.Mutex
	secrets []string // every plain key the test saw, for the log check
}

// MustStart runs a gateway on cfg until tb ends. Then it stops the gateway
// as a signal would (draining requests for the config's shutdown timeout),
// fails tb if Serve returned an error, and fails it if Log holds a plain
// key of those the test saw (MustCreateKey, RememberSecret).
func MustStart(tb testing.TB, cfg *config.Config, opts Options) *Gateway {
	tb.Helper()
	if opts.Clock == nil {
		opts.Clock = gatehousetest.NewWallClock()
	}
	if opts.AdminPassword == "" {
		opts.AdminPassword = AdminPassword
	}
	g := &Gateway{Config: cfg, Clock: opts.Clock, Log: &gatehousetest.LogBuffer{}, opts: opts}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.NewJSONHandler(g.Log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	ctx, cancel := context.WithCancel(context.Background())
	s, err := server.Open(ctx, cfg, server.Options{Logger: logger, Now: g.Clock.Now, AdminPassword: opts.AdminPassword})
	if err != nil {
		cancel()
		tb.Fatal(err)
	}
	data, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		cancel()
		s.Close()
		tb.Fatal(err)
	}
	admin, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		cancel()
		data.Close()
		s.Close()
		tb.Fatal(err)
	}
	ls := server.Listeners{Data: data, Admin: admin}
	if cfg.HTTPRedirectListen != "" {
		if ls.Redirect, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			cancel()
			data.Close()
			admin.Close()
			s.Close()
			tb.Fatal(err)
		}
		g.RedirectAddr = ls.Redirect.Addr().String()
	}
	done := make(chan error, 1)
	go func() { done <- s.ServeListeners(ctx, ls) }()
	g.Server = s
	g.Addr, g.AdminAddr = data.Addr().String(), admin.Addr().String()
	g.URL, g.AdminURL = "http://"+g.Addr, "http://"+g.AdminAddr
	if cfg.TLS.Enabled() {
		g.URL = "https://" + g.Addr
	}
	tb.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			tb.Errorf("Serve returned %v", err)
		}
		s.Close()
		g.checkLog(tb)
	})
	return g
}

// MustStartNode runs another gateway on a copy of g's config, with g's
// clock and options: another node of g's cluster, with the same store and
// master key.
func (g *Gateway) MustStartNode(tb testing.TB) *Gateway {
	tb.Helper()
	cfg := *g.Config
	return MustStart(tb, &cfg, g.opts)
}

// MustCreateKey creates a key through the gateway's key service, as the
// administrator "test", and returns it and its plain key, which the log
// check then looks for.
func (g *Gateway) MustCreateKey(tb testing.TB, req keys.CreateRequest) (*gatehouse.APIKey, string) {
	tb.Helper()
	k, secret, err := g.Keys().Create(context.Background(), req, keys.Admin("test"))
	if err != nil {
		tb.Fatalf("create key %q: %v", req.Name, err)
	}
	g.RememberSecret(secret.Reveal())
	return k, secret.Reveal()
}

// RememberSecret adds a plain key that the test saw (in an answer of the
// management API, say) to those that the gateway's log must not hold.
func (g *Gateway) RememberSecret(plain string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.secrets = append(g.secrets, plain)
}

// checkLog fails tb if any plain key the test saw is in the gateway's log,
// whole or as its secret part without the prefix.
func (g *Gateway) checkLog(tb testing.TB) {
	tb.Helper()
	if g.opts.Logger != nil {
		return // the log went elsewhere
	}
	log := g.Log.String()
	g.mu.Lock()
	defer g.mu.Unlock()
	found := false
	for _, s := range g.secrets {
		if strings.Contains(log, s) || len(s) > 24 && strings.Contains(log, s[4:24]) {
			tb.Errorf("the gateway's log holds the plain key %s…", s[:8])
			found = true
		}
	}
	if len(g.secrets) > 0 && !found {
		tb.Logf("log scan: %d bytes of log, %d plain keys, none found", len(log), len(g.secrets))
	}
}
