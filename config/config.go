// Package config reads Gatehouse's configuration: defaults, then a YAML
// file, then GATEHOUSE_* environment variables, and checks every key so
// that an invalid config is refused at start with a message naming the key
// and the problem. Every problem is reported, one per line, in the order
// of the file, each with where its key was set: the file's line, or the
// environment variable.
package config

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"gatehouse"
	"gatehouse/certfile"
)

// MaxFileBytes is the largest config file read.
const MaxFileBytes = 1 << 20

// Config is the whole configuration. Field comments give the YAML key, the
// environment variable and the default.
type Config struct {
	// Listen is the address of the data plane: proxied routes, the
	// management API for X-API-Key callers (never a session), health and
	// /openapi.json (GATEHOUSE_LISTEN). Default: 127.0.0.1:8080.
	Listen string `yaml:"listen"`
	// TLS, when its files are set, serves HTTPS on Listen (see TLS).
	TLS TLS `yaml:"tls"`
	// HTTPRedirectListen, when set, is an address answering plain HTTP
	// with a redirect to the same URL in HTTPS on Listen
	// (GATEHOUSE_HTTP_REDIRECT_LISTEN). It needs tls. Default: none.
	HTTPRedirectListen string `yaml:"http_redirect_listen"`
	// AdminListen is the address of the administrators' origin: the
	// Settings UI and its sessions, the management API for sessions and
	// keys, /metrics, health and /openapi.json. Nothing is proxied there,
	// so no upstream's page can run in the origin of the Settings session
	// (GATEHOUSE_ADMIN_LISTEN). It must differ from Listen. Default:
	// 127.0.0.1:8081.
	AdminListen string `yaml:"admin_listen"`
	// Storage is "sqlite:PATH" or a postgres:// URL (GATEHOUSE_STORAGE).
	// Default: sqlite:./gatehouse-data/gatehouse.db.
	Storage string `yaml:"storage"`
	// SecretKeyFile holds the 32-byte master key, created on first start
	// (GATEHOUSE_SECRET_KEY_FILE). Default: ./gatehouse-data/secret.key.
	SecretKeyFile string `yaml:"secret_key_file"`
	// Redis, when set, makes rate limits cluster-wide (GATEHOUSE_REDIS),
	// e.g. redis://127.0.0.1:6379/0. Default: in-process limits.
	Redis string `yaml:"redis"`
	// RateLimit is the default per-key limit, e.g. "100/s"
	// (GATEHOUSE_RATE_LIMIT). Default: none.
	RateLimit string `yaml:"rate_limit"`
	// ReadHeaderTimeout cuts off clients slow to send headers
	// (GATEHOUSE_READ_HEADER_TIMEOUT). Default: 10s.
	ReadHeaderTimeout Duration `yaml:"read_header_timeout"`
	// BodyTimeout cuts a request body to an upstream that sends nothing
	// for this long (silence between reads, not the whole body's time):
	// the upstream request is aborted and the client, if nothing was
	// answered yet, gets 408 body_timeout (GATEHOUSE_BODY_TIMEOUT).
	// Default: 60s.
	BodyTimeout Duration `yaml:"body_timeout"`
	// ShutdownTimeout is how long SIGTERM waits for in-flight requests
	// (GATEHOUSE_SHUTDOWN_TIMEOUT). Default: 15s.
	ShutdownTimeout Duration `yaml:"shutdown_timeout"`
	// StoreOutageGrace is how long keys already known keep being served
	// while the store cannot be reached (GATEHOUSE_STORE_OUTAGE_GRACE).
	// Default: 5m.
	StoreOutageGrace Duration `yaml:"store_outage_grace"`
	// UsageFlushInterval is how often each node writes the usage it
	// counted (request counts, lastUsedAt) to the store
	// (GATEHOUSE_USAGE_FLUSH_INTERVAL). A flush costs a row write per key
	// used, so a longer interval costs the store less; lastUsedAt lags by
	// up to this much, and a crash loses at most this much usage. Default:
	// 10s.
	UsageFlushInterval Duration `yaml:"usage_flush_interval"`
	// ExpiryWarning is how long before its expiry a key counts as expiring
	// soon: the Settings list's notice, the CLI's status and
	// gatehouse_keys_expiring_soon (GATEHOUSE_EXPIRY_WARNING). Default:
	// 168h (7 days).
	ExpiryWarning Duration `yaml:"expiry_warning"`
	// TrustedProxies are the CIDR ranges (or single addresses) of the
	// proxies in front of the gateway whose X-Forwarded-For is believed:
	// a request from one of them is taken to come from the right-most
	// X-Forwarded-For address that is not itself trusted; a key's
	// allowedIps are checked against that address
	// (GATEHOUSE_TRUSTED_PROXIES, comma-separated). Default: none (the
	// TCP peer is the client, and X-Forwarded-For is never read).
	TrustedProxies []string `yaml:"trusted_proxies"`
	// SecureCookies marks the Settings session cookie Secure; set it when a
	// TLS-terminating proxy stands in front (GATEHOUSE_SECURE_COOKIES).
	// Default: false (the cookie is Secure anyway on TLS connections).
	SecureCookies bool `yaml:"secure_cookies"`
	// LogFormat is "text" or "json" (GATEHOUSE_LOG_FORMAT). Default: text.
	LogFormat string `yaml:"log_format"`
	// LogLevel is the least level logged: "debug", "info", "warn" or
	// "error", in any case (GATEHOUSE_LOG_LEVEL); Validate sets
	// ParsedLogLevel from it. Access-log lines are info (warn for 5xx
	// answers). Default: info.
	LogLevel string `yaml:"log_level"`
	// Tracing, when its endpoint is set, exports OpenTelemetry spans of
	// the data plane (see Tracing).
	Tracing Tracing `yaml:"tracing"`
	// Routes are the upstreams as written (GATEHOUSE_ROUTES, as a YAML or
	// JSON list); Validate builds ParsedRoutes from them.
	Routes []Route `yaml:"routes"`
	// Webhooks are the endpoints that key events are sent to, as written
	// (GATEHOUSE_WEBHOOKS, as a YAML or JSON list); Validate builds
	// ParsedWebhooks from them, reading each secret file. Default: none.
	Webhooks []Webhook `yaml:"webhooks"`
	// Bearer says how Bearer JWTs are verified on routes with bearer:
	// true (contract §9). Default: none, and no route may be bearer.
	Bearer Bearer `yaml:"bearer"`

	// Parsed values, set by Validate.
	DefaultRateLimit gatehouse.RateLimit `yaml:"-"`
	// ParsedRoutes are Routes with their defaults, once they are valid.
	ParsedRoutes []gatehouse.Route `yaml:"-"`
	// ParsedLogLevel is LogLevel as a slog.Level, for the logger's
	// handler.
	ParsedLogLevel slog.Level `yaml:"-"`
	// ParsedTrustedProxies are TrustedProxies as masked prefixes.
	ParsedTrustedProxies []netip.Prefix `yaml:"-"`
	// ParsedWebhooks are Webhooks with their secrets, once they are
	// valid.
	ParsedWebhooks []gatehouse.WebhookEndpoint `yaml:"-"`

	// pos says where each key path (listen, routes[1], routes[1].timeout)
	// was set, for the problems Validate reports; Parse and Load fill it.
	pos map[string]position
}

// TLS is the certificate of the data plane's listener. With both files
// set, Listen serves HTTPS (TLS 1.2 and later; HTTP/2 and HTTP/1.1 by
// ALPN), and the files are read again when they change, so that a renewed
// certificate is served to new connections without a restart.
type TLS struct {
	// CertFile is the PEM certificate chain, the server's certificate
	// first (GATEHOUSE_TLS_CERT_FILE).
	CertFile string `yaml:"cert_file"`
	// KeyFile is the PEM private key of the certificate
	// (GATEHOUSE_TLS_KEY_FILE).
	KeyFile string `yaml:"key_file"`
}

// Tracing is where the data plane's OpenTelemetry spans go. Off while
// OTLPEndpoint is empty.
type Tracing struct {
	// OTLPEndpoint is the collector's OTLP/HTTP base URL, e.g.
	// http://127.0.0.1:4318 (GATEHOUSE_TRACING_OTLP_ENDPOINT).
	OTLPEndpoint string `yaml:"otlp_endpoint"`
	// SampleRatio is the share of new traces sampled, from 0 to 1
	// (GATEHOUSE_TRACING_SAMPLE_RATIO). Default: 1.
	SampleRatio float64 `yaml:"sample_ratio"`
}

// Enabled reports whether HTTPS is configured.
func (t TLS) Enabled() bool { return t.CertFile != "" || t.KeyFile != "" }

// Bearer is the bearer section: the identity provider whose JWTs the
// routes with bearer: true accept.
type Bearer struct {
	// JWKSURL is the identity provider's JWKS, fetched and cached
	// (GATEHOUSE_BEARER_JWKS_URL).
	JWKSURL string `yaml:"jwks_url"`
	// JWKSFile is a file holding the JWKS instead
	// (GATEHOUSE_BEARER_JWKS_FILE).
	JWKSFile string `yaml:"jwks_file"`
	// Issuer is the iss that tokens must have (GATEHOUSE_BEARER_ISSUER).
	Issuer string `yaml:"issuer"`
	// Audience must be among the tokens' aud (GATEHOUSE_BEARER_AUDIENCE).
	Audience string `yaml:"audience"`
	// ScopesClaim names the claim with the gatehouse scopes
	// (GATEHOUSE_BEARER_SCOPES_CLAIM). Default: scope.
	ScopesClaim string `yaml:"scopes_claim"`
}

// IsZero reports whether the bearer section is left out.
func (b Bearer) IsZero() bool { return b == Bearer{} }

// Route is one entry of routes, as written: gatehouse.Route holds its
// meaning.
type Route struct {
	// Name identifies the route in logs and metrics.
	Name string `yaml:"name"`
	// Path is a prefix matched on whole path segments.
	Path string `yaml:"path"`
	// Upstream is the URL the prefix is replaced with.
	Upstream string `yaml:"upstream"`
	// Scope is the scope name keys need (<scope>:read or :write).
	Scope string `yaml:"scope"`
	// Public routes ask for no key.
	Public bool `yaml:"public"`
	// Timeout is how long the upstream has to answer. Default:
	// gatehouse.DefaultRouteTimeout (30s).
	Timeout Duration `yaml:"timeout"`
	// WebSocket allows websocket upgrades on the route. Default:
	// gatehouse.DefaultRouteWebSocket (true).
	WebSocket *bool `yaml:"websocket"`
	// TLSCAFile is a PEM bundle of the CAs whose certificates an https://
	// upstream may present. Default: the system's roots.
	TLSCAFile string `yaml:"tls_ca_file"`
	// Bearer routes also accept Bearer JWTs (the bearer section).
	Bearer bool `yaml:"bearer"`
	// Signed routes need an RFC 9421 signature on every write.
	Signed bool `yaml:"signed"`
}

// Webhook is one entry of webhooks, as written.
type Webhook struct {
	// URL is the http:// or https:// URL that events are POSTed to.
	URL string `yaml:"url"`
	// SecretFile holds the signing secret: "whsec_" and the base64 of at
	// least 24 random bytes, in a file only its owner may read (0600).
	SecretFile string `yaml:"secret_file"`
	// Events are the event types sent there. Default: every one.
	Events []string `yaml:"events"`
}

// route returns the route r describes, with the defaults for what it
// leaves unset.
func (r Route) route() gatehouse.Route {
	out := gatehouse.Route{Name: r.Name, Path: r.Path, Upstream: r.Upstream, Scope: r.Scope, Public: r.Public,
		Timeout: gatehouse.DefaultRouteTimeout, WebSocket: gatehouse.DefaultRouteWebSocket, TLSCAFile: r.TLSCAFile,
		Bearer: r.Bearer, Signed: r.Signed}
	if r.Timeout != 0 {
		out.Timeout = time.Duration(r.Timeout)
	}
	if r.WebSocket != nil {
		out.WebSocket = *r.WebSocket
	}
	return out
}

// Duration is a time.Duration written as "10s" in YAML.
type Duration time.Duration

// UnmarshalYAML parses a Go duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return fmt.Errorf("want a duration such as 10s")
	}
	v, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return fmt.Errorf("%q is not a duration such as 10s", s)
	}
	*d = Duration(v)
	return nil
}

// Default returns the embedded default configuration.
func Default() *Config {
	return &Config{
		Listen:             "127.0.0.1:8080",
		AdminListen:        "127.0.0.1:8081",
		Storage:            "sqlite:./gatehouse-data/gatehouse.db",
		SecretKeyFile:      "./gatehouse-data/secret.key",
		ReadHeaderTimeout:  Duration(10 * time.Second),
		BodyTimeout:        Duration(60 * time.Second),
		ShutdownTimeout:    Duration(15 * time.Second),
		StoreOutageGrace:   Duration(5 * time.Minute),
		UsageFlushInterval: Duration(10 * time.Second),
		ExpiryWarning:      Duration(gatehouse.DefaultExpiryWarning),
		LogFormat:          "text",
		LogLevel:           "info",
		Tracing:            Tracing{SampleRatio: 1},
	}
}

// Load returns the configuration from the defaults, the file at path (if
// path is not empty) and the environment (getenv; nil means none), checked.
// Its error lists every problem (see Validate), one per line: those of the
// file in its order, each at its line ("config: FILE:LINE: KEY: PROBLEM"),
// then those of the environment under their variable, then those of the
// defaults.
func Load(path string, getenv func(string) string) (*Config, error) {
	c := Default()
	d := newDecoder(c)
	if path != "" {
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
		defer f.Close()
		data, err := io.ReadAll(io.LimitReader(f, MaxFileBytes+1))
		if err != nil {
			return nil, fmt.Errorf("config: read %s: %w", path, err)
		}
		if len(data) > MaxFileBytes {
			return nil, fmt.Errorf("config: %s is larger than %d bytes", path, MaxFileBytes)
		}
		d.file = path
		d.document(data)
	}
	if getenv != nil {
		d.environment(getenv)
	}
	problems := d.problems
	for _, p := range c.validate() {
		// A value that could not be decoded is reported once: what
		// Validate says of the value left in its place is not news.
		if !d.failedAt(p.key) {
			problems = append(problems, p)
		}
	}
	if err := joinProblems(problems); err != nil {
		return nil, err
	}
	return c, nil
}

// Parse decodes YAML into c, refusing unknown keys (with the closest known
// one, if one is close), keys written twice and values of the wrong kind.
// Its error lists every problem, one per line, each at its line ("config:
// line 7: shutdown_timeout: ..."). It remembers the line of each key, so
// that Validate's problems give it too.
func Parse(data []byte, c *Config) error {
	d := newDecoder(c)
	d.document(data)
	return joinProblems(d.problems)
}

// EnvVar is an environment variable and the key it sets.
type EnvVar struct{ Var, Key string }

// Env lists the environment variables and the key each one sets.
var Env = []EnvVar{
	{"GATEHOUSE_LISTEN", "listen"},
	{"GATEHOUSE_TLS_CERT_FILE", "tls.cert_file"},
	{"GATEHOUSE_TLS_KEY_FILE", "tls.key_file"},
	{"GATEHOUSE_HTTP_REDIRECT_LISTEN", "http_redirect_listen"},
	{"GATEHOUSE_ADMIN_LISTEN", "admin_listen"},
	{"GATEHOUSE_STORAGE", "storage"},
	{"GATEHOUSE_SECRET_KEY_FILE", "secret_key_file"},
	{"GATEHOUSE_REDIS", "redis"},
	{"GATEHOUSE_RATE_LIMIT", "rate_limit"},
	{"GATEHOUSE_READ_HEADER_TIMEOUT", "read_header_timeout"},
	{"GATEHOUSE_BODY_TIMEOUT", "body_timeout"},
	{"GATEHOUSE_SHUTDOWN_TIMEOUT", "shutdown_timeout"},
	{"GATEHOUSE_STORE_OUTAGE_GRACE", "store_outage_grace"},
	{"GATEHOUSE_USAGE_FLUSH_INTERVAL", "usage_flush_interval"},
	{"GATEHOUSE_EXPIRY_WARNING", "expiry_warning"},
	{"GATEHOUSE_TRUSTED_PROXIES", "trusted_proxies"},
	{"GATEHOUSE_SECURE_COOKIES", "secure_cookies"},
	{"GATEHOUSE_LOG_FORMAT", "log_format"},
	{"GATEHOUSE_LOG_LEVEL", "log_level"},
	{"GATEHOUSE_TRACING_OTLP_ENDPOINT", "tracing.otlp_endpoint"},
	{"GATEHOUSE_TRACING_SAMPLE_RATIO", "tracing.sample_ratio"},
	{"GATEHOUSE_ROUTES", "routes"},
	{"GATEHOUSE_WEBHOOKS", "webhooks"},
	{"GATEHOUSE_BEARER_JWKS_URL", "bearer.jwks_url"},
	{"GATEHOUSE_BEARER_JWKS_FILE", "bearer.jwks_file"},
	{"GATEHOUSE_BEARER_ISSUER", "bearer.issuer"},
	{"GATEHOUSE_BEARER_AUDIENCE", "bearer.audience"},
	{"GATEHOUSE_BEARER_SCOPES_CLAIM", "bearer.scopes_claim"},
}

// Validate checks every key and sets the parsed fields. Its error lists
// every problem, one per line, each naming the key and the problem, after
// where the key was set when Parse or Load read it: "config:
// gatehouse.yaml:12: routes[1].path: must start with / (got "a")", or
// "config: GATEHOUSE_LISTEN: listen: ...". They come in the order of the
// file, then of the environment variables, then come the keys left at
// their default or set in code.
func (c *Config) Validate() error {
	return joinProblems(c.validate())
}

// logLevels are the values of log_level.
var logLevels = map[string]slog.Level{"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError}

// validate is Validate's problems, in the order of the keys.
func (c *Config) validate() []problem {
	var ps []problem
	bad := func(key, format string, args ...any) {
		ps = append(ps, problem{at: c.position(key), key: key, msg: fmt.Sprintf(format, args...)})
	}
	listenOK := checkAddr(bad, "listen", c.Listen)
	if checkAddr(bad, "admin_listen", c.AdminListen) && listenOK && sameAddr(c.Listen, c.AdminListen) {
		bad("admin_listen", "must differ from listen (both are %q): the Settings UI needs an origin of its own", c.AdminListen)
	}
	c.validateTLS(bad, listenOK)
	if _, _, err := ParseStorage(c.Storage); err != nil {
		bad("storage", "%v", err)
	}
	if c.SecretKeyFile == "" {
		bad("secret_key_file", "is required")
	}
	if c.Redis != "" {
		if u, err := url.Parse(c.Redis); err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") || u.Host == "" {
			bad("redis", "must be a redis:// or rediss:// URL with a host (got %q)", redactURL(c.Redis))
		}
	}
	c.DefaultRateLimit = gatehouse.RateLimit{}
	if c.RateLimit != "" {
		rl, err := gatehouse.ParseRateLimit(c.RateLimit)
		if err != nil {
			bad("rate_limit", "%s", gatehouse.ErrorMessage(err))
		}
		c.DefaultRateLimit = rl
	}
	for _, d := range []struct {
		key string
		v   Duration
		min time.Duration // and why, when it is more than "positive"
		why string
	}{
		{key: "read_header_timeout", v: c.ReadHeaderTimeout},
		{key: "body_timeout", v: c.BodyTimeout},
		{key: "shutdown_timeout", v: c.ShutdownTimeout},
		{key: "store_outage_grace", v: c.StoreOutageGrace},
		{key: "usage_flush_interval", v: c.UsageFlushInterval, min: 100 * time.Millisecond, why: "each flush writes to the store"},
		{key: "expiry_warning", v: c.ExpiryWarning},
	} {
		switch {
		case d.v <= 0:
			bad(d.key, "must be a positive duration such as 10s")
		case time.Duration(d.v) < d.min:
			bad(d.key, "must be at least %s: %s (got %s)", d.min, d.why, time.Duration(d.v))
		}
	}
	c.ParsedTrustedProxies = nil
	for i, v := range c.TrustedProxies {
		p, err := gatehouse.ParseAllowedIP(v)
		if err != nil {
			bad("trusted_proxies["+strconv.Itoa(i)+"]", "must be an IP address or a CIDR range such as 10.0.0.0/8 (got %q)", v)
			continue
		}
		c.ParsedTrustedProxies = append(c.ParsedTrustedProxies, p)
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		bad("log_format", "must be text or json (got %q)", c.LogFormat)
	}
	c.ParsedLogLevel = slog.LevelInfo
	if l, ok := logLevels[strings.ToLower(c.LogLevel)]; ok {
		c.ParsedLogLevel = l
	} else {
		bad("log_level", "must be debug, info, warn or error (got %q)", c.LogLevel)
	}
	if t := c.Tracing; t.OTLPEndpoint != "" {
		if u, err := url.Parse(t.OTLPEndpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
			bad("tracing.otlp_endpoint", "must be an http:// or https:// URL with a host and no credentials, e.g. http://127.0.0.1:4318 (got %q)", redactURL(t.OTLPEndpoint))
		}
	}
	if r := c.Tracing.SampleRatio; !(r >= 0 && r <= 1) {
		bad("tracing.sample_ratio", "must be a number from 0 to 1 (got %v)", r)
	}
	ps = append(ps, c.parseRoutes()...)
	ps = append(ps, c.parseWebhooks()...)
	return append(ps, c.validateBearer()...)
}

// validateBearer checks the bearer section, and that a route with bearer:
// true has one to use.
func (c *Config) validateBearer() []problem {
	var ps []problem
	bad := func(key, format string, args ...any) {
		ps = append(ps, problem{at: c.position(key), key: key, msg: fmt.Sprintf(format, args...)})
	}
	if c.Bearer.IsZero() {
		for i, r := range c.Routes {
			if r.Bearer {
				key := fmt.Sprintf("routes[%d].bearer", i)
				bad(key, "needs the bearer section (jwks_url or jwks_file, issuer, audience) to verify tokens with")
			}
		}
		return ps
	}
	b := c.Bearer
	switch {
	case b.JWKSURL == "" && b.JWKSFile == "":
		bad("bearer", "needs jwks_url or jwks_file: where the identity provider's keys are")
	case b.JWKSURL != "" && b.JWKSFile != "":
		bad("bearer.jwks_file", "bearer takes jwks_url or jwks_file, not both")
	case b.JWKSURL != "":
		if u, err := url.Parse(b.JWKSURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			bad("bearer.jwks_url", "must be an https:// (or http://) URL with a host (got %q)", redactURL(b.JWKSURL))
		}
	}
	if b.Issuer == "" {
		bad("bearer.issuer", "is required: the iss that tokens must have")
	}
	if b.Audience == "" {
		bad("bearer.audience", "is required: a value the tokens' aud must hold")
	}
	return ps
}

// parseWebhooks checks each entry of Webhooks, reads its secret file, sets
// ParsedWebhooks if they are all valid and returns their problems, each
// under its key (webhooks[0].secret_file).
func (c *Config) parseWebhooks() []problem {
	c.ParsedWebhooks = nil
	var ps []problem
	bad := func(key, format string, args ...any) {
		ps = append(ps, problem{at: c.position(key), key: key, msg: fmt.Sprintf(format, args...)})
	}
	eps := make([]gatehouse.WebhookEndpoint, len(c.Webhooks))
	seen := map[string]int{}
	for i, w := range c.Webhooks {
		key := fmt.Sprintf("webhooks[%d]", i)
		ep := &eps[i]
		ep.URL, ep.Events = w.URL, w.Events
		if u, err := url.Parse(w.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad(key+".url", "must be an http:// or https:// URL with a host (got %q)", (&gatehouse.WebhookEndpoint{URL: w.URL}).Redacted())
		} else if j, dup := seen[w.URL]; dup {
			bad(key+".url", "is the URL of webhooks[%d] too: give each endpoint one entry, with the events it wants", j)
		} else {
			seen[w.URL] = i
		}
		if w.SecretFile == "" {
			bad(key+".secret_file", `is required: a file holding "whsec_" and the base64 of at least %d random bytes (make one with: echo "whsec_$(head -c 32 /dev/urandom | base64)" > webhook.secret; chmod 600 webhook.secret)`, gatehouse.MinWebhookSecretBytes)
		} else if sec, err := gatehouse.LoadWebhookSecret(w.SecretFile); err != nil {
			bad(key+".secret_file", "%v", err)
		} else {
			ep.Secret = sec
		}
		for j, e := range w.Events {
			if !slices.Contains(gatehouse.EventTypes, e) {
				bad(fmt.Sprintf("%s.events[%d]", key, j), "unknown event %q (known: %s)", e, strings.Join(gatehouse.EventTypes, ", "))
			}
		}
	}
	if len(ps) == 0 {
		c.ParsedWebhooks = eps
	}
	return ps
}

// parseRoutes builds the gatehouse.Route of each entry of Routes, sets
// ParsedRoutes if they are valid and returns their problems, each under
// its key (routes[1].path).
func (c *Config) parseRoutes() []problem {
	c.ParsedRoutes = nil
	routes := make([]gatehouse.Route, len(c.Routes))
	for i, r := range c.Routes {
		routes[i] = r.route()
	}
	err := gatehouse.ValidateRoutes(routes)
	var ps []problem
	for i, r := range routes {
		if r.TLSCAFile == "" {
			continue
		}
		if _, err := certfile.ReadPool(r.TLSCAFile); err != nil {
			key := fmt.Sprintf("routes[%d].tls_ca_file", i)
			ps = append(ps, problem{at: c.position(key), key: key, msg: err.Error()})
		}
	}
	if err == nil && len(ps) == 0 {
		c.ParsedRoutes = routes
		return nil
	}
	if err == nil {
		return ps
	}
	errs := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	}
	for _, e := range errs {
		if re, ok := e.(*gatehouse.RouteError); ok {
			key := fmt.Sprintf("routes[%d].%s", re.Index, re.Field)
			ps = append(ps, problem{at: c.position(key), key: key, msg: re.Problem, cause: re})
		} else {
			ps = append(ps, problem{at: c.position("routes"), key: "routes", msg: e.Error(), cause: e})
		}
	}
	return ps
}

// validateTLS checks tls and http_redirect_listen: both files or none, a
// pair that can be read, and a redirect listener only with TLS, on an
// address of its own.
func (c *Config) validateTLS(bad func(key, format string, args ...any), listenOK bool) {
	t := c.TLS
	switch {
	case t.CertFile != "" && t.KeyFile == "":
		bad("tls.key_file", "is required with tls.cert_file")
	case t.CertFile == "" && t.KeyFile != "":
		bad("tls.cert_file", "is required with tls.key_file")
	case t.Enabled():
		if _, err := certfile.ReadPair(t.CertFile, t.KeyFile); err != nil {
			bad("tls.cert_file", "%v", err)
		}
	}
	if c.HTTPRedirectListen == "" {
		return
	}
	if !t.Enabled() {
		bad("http_redirect_listen", "needs tls: it redirects to HTTPS on listen")
	}
	if checkAddr(bad, "http_redirect_listen", c.HTTPRedirectListen) && listenOK {
		for _, other := range []struct{ key, addr string }{{"listen", c.Listen}, {"admin_listen", c.AdminListen}} {
			if sameAddr(c.HTTPRedirectListen, other.addr) {
				bad("http_redirect_listen", "must differ from %s (both are %q)", other.key, other.addr)
			}
		}
	}
}

// checkAddr reports whether addr is host:port, and says why not under key.
func checkAddr(bad func(key, format string, args ...any), key, addr string) bool {
	host, port, err := net.SplitHostPort(addr)
	if err == nil {
		_, err = net.LookupPort("tcp", port)
	}
	if err != nil || strings.ContainsAny(host, "/ ") {
		bad(key, "%q is not host:port", addr)
		return false
	}
	return true
}

// sameAddr reports whether two host:port addresses name one listener. Port
// 0 picks a free port each time, so two of them never collide.
func sameAddr(a, b string) bool {
	ah, ap, _ := net.SplitHostPort(a)
	bh, bp, _ := net.SplitHostPort(b)
	if ap == "0" || bp == "0" {
		return false
	}
	pa, _ := net.LookupPort("tcp", ap)
	pb, _ := net.LookupPort("tcp", bp)
	if pa != pb {
		return false
	}
	// An unspecified host (":8080", "0.0.0.0", "::") takes the port on
	// every address.
	unspecified := func(h string) bool { return h == "" || h == "0.0.0.0" || h == "::" }
	return ah == bh || unspecified(ah) || unspecified(bh)
}

// ScopeNames returns the distinct scope names of the routes.
func (c *Config) ScopeNames() []string {
	var out []string
	seen := map[string]bool{}
	for _, r := range c.Routes {
		if r.Scope != "" && !seen[r.Scope] {
			seen[r.Scope] = true
			out = append(out, r.Scope)
		}
	}
	return out
}

// The kinds of store a storage setting names.
const (
	StorageSQLite   = "sqlite"
	StoragePostgres = "postgres"
)

// ParseStorage splits a storage setting into the kind of store and what it
// opens: the database file of "sqlite:PATH", or the whole URL of
// "postgres://..." (or "postgresql://...").
func ParseStorage(storage string) (kind, location string, err error) {
	switch {
	case strings.HasPrefix(storage, "sqlite:"):
		p := strings.TrimPrefix(storage, "sqlite:")
		if p == "" {
			return "", "", errors.New("sqlite: needs a file path, e.g. sqlite:./gatehouse-data/gatehouse.db")
		}
		return StorageSQLite, p, nil
	case strings.HasPrefix(storage, "postgres://"), strings.HasPrefix(storage, "postgresql://"):
		if _, err := url.Parse(storage); err != nil {
			return "", "", errors.New("not a valid postgres:// URL")
		}
		return StoragePostgres, storage, nil
	}
	return "", "", fmt.Errorf("must start with sqlite: or postgres:// (got %q)", redactURL(storage))
}

// SQLitePath returns the database path of a sqlite: storage, made absolute
// against the working directory, and whether the storage is SQLite.
func (c *Config) SQLitePath() (string, bool) {
	kind, p, err := ParseStorage(c.Storage)
	if err != nil || kind != StorageSQLite {
		return "", false
	}
	if abs, err := filepath.Abs(p); err == nil {
		p = abs
	}
	return p, true
}

// redactURL hides a password in a URL for error messages.
func redactURL(s string) string {
	if u, err := url.Parse(s); err == nil && u.User != nil {
		return u.Redacted()
	}
	return s
}

// Changed returns the keys whose values differ between c and old, in the
// order of Env: "listen", "tls.cert_file", "routes".
func (c *Config) Changed(old *Config) []string {
	var out []string
	for _, e := range Env {
		if !reflect.DeepEqual(reflect.ValueOf(fieldPtr(c, e.Key)).Elem().Interface(), reflect.ValueOf(fieldPtr(old, e.Key)).Elem().Interface()) {
			out = append(out, e.Key)
		}
	}
	return out
}
