package server

import (
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
var reloadable = []string{"routes", "rate_limit", "trusted_proxies"}

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
// routes (added, changed, removed), rate_limit and trusted_proxies. Each
// part is swapped at once (atomically): a request reads the routes once,
// when it arrives, and its key check the policy once, so the
// requests and websockets in flight finish on the routes they matched. A
// config that does not load, or whose routes cannot be built (a CA file
// gone), changes nothing: the error is logged, counted
// (gatehouse_config_reload_total{result="error"}) and returned. Keys that
// changed but need a restart (listen, storage, tls, ...) are named in a
// warning, and keep their running values. Reloads are serialised.
func (s *Server) Reload(load func() (*config.Config, error)) error {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	cfg, err := load()
	var table *proxy.Table
	if err == nil {
		table, err = proxy.NewTable(cfg.ParsedRoutes)
	}
	if err != nil {
		s.reloads.WithLabelValues("error").Inc()
		s.log.Error("config reload refused; the running config stays", "err", err)
		return err
	}
	old := s.running
	var restart []string
	for _, k := range cfg.Changed(old) {
		if !slices.Contains(reloadable, k) {
			restart = append(restart, k)
		}
	}
	s.proxy.SetTable(table)
	s.verifier.SetPolicy(keyauth.Policy{DefaultLimit: cfg.DefaultRateLimit, TrustedProxies: cfg.ParsedTrustedProxies,
		ExpiryWarning: time.Duration(old.ExpiryWarning)})
	scopes := cfg.ScopeNames()
	s.scopes.Store(&scopes)

	next := *old
	next.Routes, next.ParsedRoutes = cfg.Routes, cfg.ParsedRoutes
	next.RateLimit, next.DefaultRateLimit = cfg.RateLimit, cfg.DefaultRateLimit
	next.TrustedProxies, next.ParsedTrustedProxies = cfg.TrustedProxies, cfg.ParsedTrustedProxies
	s.running = &next

	added, changed, removed := routeChanges(old, cfg)
	s.reloads.WithLabelValues("ok").Inc()
	s.log.Info("config reloaded", "routes", len(cfg.ParsedRoutes), "added", strings.Join(added, ","),
		"changed", strings.Join(changed, ","), "removed", strings.Join(removed, ","), "rate_limit", cfg.RateLimit, "trusted_proxies", strings.Join(cfg.TrustedProxies, ","))
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
