package server

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"gatehouse/config"
	"gatehouse/keyauth"
	"gatehouse/proxy"
)

// reloadable are the config keys that a reload applies; every other key
// needs a restart, which the reload logs.
var reloadable = []string{"routes", "rate_limit", "trusted_proxies", "expiry_warning", "webhooks",
	"bearer.jwks_url", "bearer.jwks_file", "bearer.issuer", "bearer.audience", "bearer.scopes_claim"}

// newReloads returns gatehouse_config_reload_total with both of its
// results on /metrics from the start.
func newReloads() *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gatehouse_config_reload_total",
		Help: "Config reloads (SIGHUP), by result: ok, or error when the new config was refused and the running one stays.",
	}, []string{"result"})
	c.WithLabelValues("ok")
	c.WithLabelValues("error")
	return c
}

// Reload reads the config again with load (the file and the environment,
// as at start) and applies what may change while the gateway serves: the
// routes (added, changed, removed), rate_limit, trusted_proxies,
// expiry_warning, webhooks and bearer. Each part is swapped at once
// (atomically) in the package that reads it: a request reads the routes
// once, when it arrives, and its key check the policy and the Bearer
// verifier once, so the requests and websockets in flight finish on the
// routes they matched. A config that does not load, whose routes cannot
// be built (a CA file gone) or whose bearer JWKS file cannot be read
// changes nothing: the error is logged, counted
// (gatehouse_config_reload_total{result="error"}) and returned. Keys that
// changed but need a restart (listen, storage, tls, ...) are named in a
// warning, and keep their running values. Reloads are serialised.
func (s *Server) Reload(load func() (*config.Config, error)) error {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	old := s.running
	cfg, err := load()
	var table *proxy.Table
	if err == nil {
		table, err = proxy.NewTable(cfg.ParsedRoutes)
	}
	// The Bearer verifier is built again when its section changed, or
	// names a file (which is read again); an unchanged jwks_url keeps the
	// running verifier and its cached keys.
	var bv keyauth.BearerVerifier
	newBearer := cfg != nil && (cfg.Bearer != old.Bearer || cfg.Bearer.JWKSFile != "")
	if err == nil && newBearer {
		bv, err = s.newBearer(context.Background(), cfg.Bearer)
	}
	if err == nil {
		// The first swap, and the only one that can fail: on an error
		// nothing changed.
		err = s.hooks.SetEndpoints(cfg.ParsedWebhooks)
	}
	if err != nil {
		s.reloads.WithLabelValues("error").Inc()
		s.log.Error("config reload refused; the running config stays", "err", err)
		return err
	}
	var restart []string
	for _, k := range cfg.Changed(old) {
		if !slices.Contains(reloadable, k) {
			restart = append(restart, k)
		}
	}
	s.proxy.SetTable(table)
	s.verifier.SetPolicy(keyauth.Policy{DefaultLimit: cfg.DefaultRateLimit, TrustedProxies: cfg.ParsedTrustedProxies,
		ExpiryWarning: time.Duration(cfg.ExpiryWarning)})
	if newBearer {
		s.verifier.SetBearer(bv)
	}
	expiry := time.Duration(cfg.ExpiryWarning)
	s.index.SetExpiryWarning(expiry)
	s.ui.SetExpiryWarning(expiry)
	s.schedule.SetWindow(expiry)
	scopes := cfg.ScopeNames()
	s.scopes.Store(&scopes)

	next := *old
	next.Routes, next.ParsedRoutes = cfg.Routes, cfg.ParsedRoutes
	next.RateLimit, next.DefaultRateLimit = cfg.RateLimit, cfg.DefaultRateLimit
	next.TrustedProxies, next.ParsedTrustedProxies = cfg.TrustedProxies, cfg.ParsedTrustedProxies
	next.ExpiryWarning = cfg.ExpiryWarning
	next.Webhooks, next.ParsedWebhooks = cfg.Webhooks, cfg.ParsedWebhooks
	next.Bearer = cfg.Bearer
	s.running = &next

	added, changed, removed := routeChanges(old, cfg)
	s.reloads.WithLabelValues("ok").Inc()
	s.log.Info("config reloaded", "routes", len(cfg.ParsedRoutes), "added", strings.Join(added, ","),
		"changed", strings.Join(changed, ","), "removed", strings.Join(removed, ","), "rate_limit", cfg.RateLimit, "trusted_proxies", strings.Join(cfg.TrustedProxies, ","),
		"expiry_warning", time.Duration(cfg.ExpiryWarning).String(), "webhooks", len(cfg.ParsedWebhooks), "bearer", !cfg.Bearer.IsZero())
	if len(restart) > 0 {
		s.log.Warn("config reload: these keys changed but take effect only after a restart; they keep their running values",
			"keys", strings.Join(restart, ","))
	}
	return nil
}

// routeChanges returns the names of the routes of next that old has not,
// those whose settings differ, and those of old that next has not.
func routeChanges(old, next *config.Config) (added, changed, removed []string) {
	was := map[string]int{}
	for i, r := range old.ParsedRoutes {
		was[r.Name] = i
	}
	for _, r := range next.ParsedRoutes {
		i, ok := was[r.Name]
		switch {
		case !ok:
			added = append(added, r.Name)
		case old.ParsedRoutes[i] != r:
			changed = append(changed, r.Name)
		}
		delete(was, r.Name)
	}
	for _, r := range old.ParsedRoutes {
		if _, ok := was[r.Name]; ok {
			removed = append(removed, r.Name)
		}
	}
	return added, changed, removed
}

// scopeNames returns the scopes of the routes served now, for the
// Settings UI.
func (s *Server) scopeNames() []string { return *s.scopes.Load() }
