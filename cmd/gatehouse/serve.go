package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"time"

	"github.com/spf13/cobra"

	"gatehouse/config"
	"gatehouse/demo"
	"gatehouse/logbuf"
	"gatehouse/server"
)

func (a *app) newServeCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "serve",
		Short: "Run the gateway",
		Long: `Run the gateway on two listeners: listen, the data plane (the proxied routes
and the management API for X-API-Key callers), and admin_listen, the
administrators' origin (the Settings UI, /metrics). SIGTERM stops accepting at
once and lets requests in flight finish within shutdown_timeout.

With no config it runs on the built-in defaults: 127.0.0.1:8080 and
127.0.0.1:8081, a SQLite store and a master key under ./gatehouse-data.

--demo also starts a sample building API on a loopback port, routes
/api/v2/assets, /api/v2/data and /api/v2/data-listener to it, writes the
config it runs to demo.yaml beside the store, and prints the commands to
create a key and call the API.`,
		Example: `  # Try it: the gateway and a sample building API, then follow what it prints
  gatehouse serve --demo

  # In production, with JSON logs
  gatehouse serve --config /etc/gatehouse/gatehouse.yaml --log-format json`,
		Args: noArgs,
	}
	cfgPath := configFlag(c)
	withDemo := c.Flags().Bool("demo", false, "also start the sample building API and route /api/v2/assets, /api/v2/data and /api/v2/data-listener to it")
	logFormat := c.Flags().String("log-format", "", "text or json (default: the config's log_format)")
	c.RunE = func(c *cobra.Command, _ []string) error { return a.serve(c.Context(), *cfgPath, *withDemo, *logFormat) }
	return c
}

func (a *app) serve(ctx context.Context, cfgFlag string, withDemo bool, logFormat string) error {
	cfgPath := a.configPath(cfgFlag)
	if logFormat == "json" || logFormat == "" && a.getenv("GATEHOUSE_LOG_FORMAT") == "json" {
		// Even a config that does not load is reported as JSON.
		a.errLog = a.logger("json", slog.LevelInfo)
	}
	cfg, err := config.Load(cfgPath, a.getenv)
	if err != nil {
		return err
	}
	if logFormat != "" {
		cfg.LogFormat = logFormat
		if err := cfg.Validate(); err != nil {
			return fmt.Errorf("%w: --log-format must be text or json", errUsage)
		}
	}
	// The access log writes a line per request: buffered, it costs no
	// system call per request. Flushed every 100 ms and when serve ends.
	out := logbuf.New(a.stderr, 100*time.Millisecond)
	defer out.Close()
	log := slog.New(a.logHandler(out, cfg.LogFormat, cfg.ParsedLogLevel))
	a.errLog = log

	var demoAPI *demo.Server
	if withDemo {
		d, err := demo.Start()
		if err != nil {
			return fmt.Errorf("start demo API: %w", err)
		}
		defer d.Close()
		if err := dropStaleDemoRoutes(cfg, cfgPath, d); err != nil {
			return fmt.Errorf("demo: %w", err)
		}
		if err := addDemoRoutes(cfg, d); err != nil {
			return err
		}
		log.Info("demo building API started", "url", d.URL)
		demoAPI = d
	}

	bv := readBuildVersion()
	s, err := server.Open(ctx, cfg, server.Options{Logger: log, AdminPassword: a.getenv("GATEHOUSE_ADMIN_PASSWORD"),
		Version: bv.Version, Commit: bv.Commit})
	if err != nil {
		return err
	}
	defer s.Close()
	// Before the start line: a signal that comes once it is logged is
	// logged too.
	reload := func() {
		// The error is logged and counted by Reload.
		s.Reload(func() (*config.Config, error) { return a.reloadConfig(cfgPath, logFormat, demoAPI) })
	}
	a.signals.serving(s.EndDrain, reload, log)
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	adminLn, err := net.Listen("tcp", cfg.AdminListen)
	if err != nil {
		ln.Close()
		return fmt.Errorf("admin_listen on %s: %w", cfg.AdminListen, err)
	}
	listeners := server.Listeners{Data: ln, Admin: adminLn}
	if cfg.HTTPRedirectListen != "" {
		if listeners.Redirect, err = net.Listen("tcp", cfg.HTTPRedirectListen); err != nil {
			ln.Close()
			adminLn.Close()
			return fmt.Errorf("http_redirect_listen on %s: %w", cfg.HTTPRedirectListen, err)
		}
	}
	dataURL, adminURL := "http://"+ln.Addr().String(), "http://"+adminLn.Addr().String()
	if cfg.TLS.Enabled() {
		dataURL = "https://" + ln.Addr().String()
	}
	log.Info("gatehouse listening", "version", bv.String(), "url", dataURL, "admin_url", adminURL,
		"storage", storageKind(cfg.Storage), "redis", cfg.Redis != "", "routes", len(cfg.Routes))
	if withDemo {
		if err := a.demoBanner(ctx, cfg, s, dataURL, adminURL, log, out); err != nil {
			ln.Close()
			adminLn.Close()
			if listeners.Redirect != nil {
				listeners.Redirect.Close()
			}
			return err
		}
	}
	if err := s.ServeListeners(ctx, listeners); err != nil {
		return err
	}
	log.Info("gatehouse stopped")
	return nil
}

// reloadConfig loads the config again for a reload (SIGHUP), with what
// serve's flags add: --log-format, and the demo API's routes.
func (a *app) reloadConfig(cfgPath, logFormat string, d *demo.Server) (*config.Config, error) {
	cfg, err := config.Load(cfgPath, a.getenv)
	if err != nil {
		return nil, err
	}
	if logFormat != "" {
		cfg.LogFormat = logFormat
	}
	if d != nil {
		if err := dropStaleDemoRoutes(cfg, cfgPath, d); err != nil {
			return nil, fmt.Errorf("demo: %w", err)
		}
		if err := addDemoRoutes(cfg, d); err != nil {
			return nil, err
		}
	}
	return cfg, cfg.Validate()
}

// demoBanner writes the demo's config beside its store and prints how to
// follow the demo: every command it prints works as written, from any
// directory, for the server that printed it.
func (a *app) demoBanner(ctx context.Context, cfg *config.Config, s *server.Server, dataURL, adminURL string, log *slog.Logger, out *logbuf.Writer) error {
	path, err := demoConfigPath(cfg)
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	if err := writeDemoConfig(path, cfg); err != nil {
		return fmt.Errorf("demo: write %s: %w", path, err)
	}
	// A name no key has yet, so that following the banner again, after a
	// restart, creates a key instead of failing on a taken name.
	name := "demo"
	for i := 2; i < 1000; i++ {
		if _, err := s.Keys().Resolve(ctx, name); err != nil {
			break
		}
		name = fmt.Sprintf("demo-%d", i)
	}
	out.Flush() // the log so far comes before the banner
	if cfg.LogFormat == "json" {
		// Every line on stderr is JSON in this mode: the banner is a record.
		log.Info("demo ready: create a key, then call the API with it",
			"data_url", dataURL, "settings_url", adminURL+"/settings/api-keys", "config", path,
			"create_key", "gatehouse keys create --config "+shellQuote(path)+" --name "+shellQuote(name)+" --scope assets:read --scope data:read",
			"call_api", `curl -H "X-API-Key: <the key>" `+dataURL+"/api/v2/assets",
			"create_admin", "gatehouse admin create-user --config "+shellQuote(path)+" --username admin --password-stdin")
		return nil
	}
	fmt.Fprintf(a.stderr, `
Gatehouse is running with the demo building API behind it.
  Data plane:   %[1]s  (your integrations call this)
  Settings UI:  %[2]s/settings/api-keys  (administrators only)
  Config:       %[3]s  (what this server runs, for the CLI)

In another terminal:
  1. Create a key that may read the assets and the data stream (it is printed alone):
       gatehouse keys create --config %[3]s --name %[4]s --scope assets:read --scope data:read
  2. Call the API with it, then without it (401 missing_key):
       curl -H "X-API-Key: <the key>" %[1]s/api/v2/assets
       curl -H "X-API-Key: <the key>" %[1]s/api/v2/data
       curl %[1]s/api/v2/assets
  3. For the Settings UI, create an administrator (type a password of 12 or more
     characters, then Enter) and log in at the address above:
       gatehouse admin create-user --config %[3]s --username admin --password-stdin

  Every command takes --config; or name the config once:
       export GATEHOUSE_CONFIG=%[3]s

`, dataURL, adminURL, shellQuote(path), shellQuote(name))
	return nil
}

// logger writes to stderr in format (text or json) the records at level
// and above.
func (a *app) logger(format string, level slog.Level) *slog.Logger {
	return slog.New(a.logHandler(a.stderr, format, level))
}

// logHandler writes to w in format (text or json) the records at level
// and above.
func (a *app) logHandler(w io.Writer, format string, level slog.Level) slog.Handler {
	opts := &slog.HandlerOptions{Level: level}
	if format == "json" {
		return slog.NewJSONHandler(w, opts)
	}
	return slog.NewTextHandler(w, opts)
}

// addDemoRoutes adds the demo's routes unless the config already routes
// their paths.
func addDemoRoutes(cfg *config.Config, d *demo.Server) error {
	taken := map[string]bool{}
	for _, r := range cfg.Routes {
		taken[r.Path] = true
		taken["name:"+r.Name] = true
	}
	for _, r := range d.Routes() {
		if taken[r[1]] || taken["name:"+r[0]] {
			continue
		}
		cfg.Routes = append(cfg.Routes, config.Route{Name: r[0], Path: r[1], Upstream: r[2], Scope: r[3]})
	}
	return cfg.Validate()
}

// storageKind names the store for the start line: the SQLite setting
// whole, or "postgres" (never the URL, which may hold a password).
func storageKind(s string) string {
	if kind, _, _ := config.ParseStorage(s); kind == config.StorageSQLite {
		return s
	}
	return config.StoragePostgres
}
