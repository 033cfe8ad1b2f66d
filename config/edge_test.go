package config_test

import (
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"gatehouse/config"
	"gatehouse/gatehousetest"
)

// TestTLSKeys: tls: from the file or the environment, checked: both files,
// a pair that can be read, http_redirect_listen only with tls, and a
// route's tls_ca_file only for an https:// upstream, readable.
func TestTLSKeys(t *testing.T) {
	t.Parallel()
	ca := gatehousetest.NewCA(t)
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	ca.MustWritePair(t, cert, key, 1)

	c, err := config.Load(writeFile(t, "tls:\n  cert_file: "+cert+"\n  key_file: "+key+"\nhttp_redirect_listen: 127.0.0.1:8079\n"), nil)
	if err != nil || c.TLS.CertFile != cert || c.TLS.KeyFile != key || c.HTTPRedirectListen != "127.0.0.1:8079" || !c.TLS.Enabled() {
		t.Fatalf("Load = %+v, %v; want the tls files and the redirect listener", c, err)
	}
	env := map[string]string{"GATEHOUSE_TLS_CERT_FILE": cert, "GATEHOUSE_TLS_KEY_FILE": key}
	if c, err := config.Load("", func(k string) string { return env[k] }); err != nil || c.TLS.CertFile != cert || c.TLS.KeyFile != key {
		t.Fatalf("Load from the environment = %+v, %v; want the tls files", c.TLS, err)
	}

	route := func(upstream, ca string) string {
		return "routes:\n  - name: a\n    path: /a\n    scope: a\n    upstream: " + upstream + "\n    tls_ca_file: " + ca + "\n"
	}
	if c, err := config.Load(writeFile(t, route("https://127.0.0.1:9", ca.File)), nil); err != nil || c.ParsedRoutes[0].TLSCAFile != ca.File {
		t.Fatalf("route with tls_ca_file: %v, %v", c, err)
	}
	for _, tc := range []struct{ name, yaml, want string }{
		{"cert alone", "tls:\n  cert_file: " + cert + "\n", "yaml:1: tls.key_file: is required with tls.cert_file"},
		{"key alone", "tls: {key_file: " + key + "}\n", "yaml:1: tls.cert_file: is required with tls.key_file"},
		{"missing file", "tls:\n  cert_file: " + cert + "x\n  key_file: " + key + "\n", "tls.cert_file: stat " + cert + "x: no such file"},
		{"not a pair", "tls:\n  cert_file: " + key + "\n  key_file: " + key + "\n", "are no certificate and key pair"},
		{"unknown key", "tls:\n  cert_fil: x\n", "yaml:2: unknown key tls.cert_fil (did you mean cert_file?)"},
		{"not a mapping", "tls: yes\n", "yaml:1: tls: must be a mapping of keys such as cert_file:"},
		{"redirect without tls", "http_redirect_listen: 127.0.0.1:8079\n", "http_redirect_listen: needs tls"},
		{"redirect on listen", "tls: {cert_file: " + cert + ", key_file: " + key + "}\nhttp_redirect_listen: 127.0.0.1:8080\n", `http_redirect_listen: must differ from listen`},
		{"ca for http", route("http://127.0.0.1:9", ca.File), "routes[0].tls_ca_file: only an https:// upstream"},
		{"ca unreadable", route("https://127.0.0.1:9", ca.File+"x"), "routes[0].tls_ca_file: stat " + ca.File + "x: no such file"},
		{"ca not PEM", route("https://127.0.0.1:9", cert+"/.."), "routes[0].tls_ca_file: "},
		{"ca no certificate", route("https://127.0.0.1:9", key), "holds no PEM certificate"},
	} {
		_, err := config.Load(writeFile(t, tc.yaml), nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Load = %v, want an error with %q", tc.name, err, tc.want)
		}
	}
}

// TestTracingKeys: tracing: is off by default with a sample ratio of 1,
// set from the file or the environment, and checked.
func TestTracingKeys(t *testing.T) {
	t.Parallel()
	c, err := config.Load("", nil)
	if err != nil || c.Tracing.OTLPEndpoint != "" || c.Tracing.SampleRatio != 1 {
		t.Fatalf("default tracing = %+v, %v; want off, ratio 1", c.Tracing, err)
	}
	c, err = config.Load(writeFile(t, "tracing:\n  otlp_endpoint: http://127.0.0.1:4318\n  sample_ratio: 0.1\n"), nil)
	if err != nil || c.Tracing != (config.Tracing{OTLPEndpoint: "http://127.0.0.1:4318", SampleRatio: 0.1}) {
		t.Fatalf("Load = %+v, %v", c.Tracing, err)
	}
	env := map[string]string{"GATEHOUSE_TRACING_OTLP_ENDPOINT": "https://otel.example:4318", "GATEHOUSE_TRACING_SAMPLE_RATIO": "0.25"}
	if c, err := config.Load("", func(k string) string { return env[k] }); err != nil || c.Tracing != (config.Tracing{OTLPEndpoint: "https://otel.example:4318", SampleRatio: 0.25}) {
		t.Fatalf("Load from the environment = %+v, %v", c.Tracing, err)
	}
	for _, tc := range []struct{ yaml, want string }{
		{"tracing:\n  otlp_endpoint: 127.0.0.1:4318\n", "yaml:2: tracing.otlp_endpoint: must be an http:// or https:// URL"},
		{"tracing:\n  otlp_endpoint: http://u:secret@otel:4318\n", `tracing.otlp_endpoint: must be an http:// or https:// URL with a host and no credentials, e.g. http://127.0.0.1:4318 (got "http://u:xxxxx@otel:4318")`},
		{"tracing:\n  sample_ratio: 1.5\n", "yaml:2: tracing.sample_ratio: must be a number from 0 to 1 (got 1.5)"},
		{"tracing:\n  sample_ratio: half\n", `yaml:2: tracing.sample_ratio: must be a number (got "half")`},
	} {
		if _, err := config.Load(writeFile(t, tc.yaml), nil); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: Load = %v, want an error with %q", tc.yaml, err, tc.want)
		}
	}
	if _, err := config.Load("", func(k string) string { return map[string]string{"GATEHOUSE_TRACING_SAMPLE_RATIO": "x"}[k] }); err == nil || !strings.Contains(err.Error(), `GATEHOUSE_TRACING_SAMPLE_RATIO: tracing.sample_ratio: must be a number (got "x")`) {
		t.Errorf("GATEHOUSE_TRACING_SAMPLE_RATIO=x: %v", err)
	}
}

// TestTLSFilesNotRegular: a certificate path that names no regular file (a
// directory, a FIFO that would block a read) is refused without reading it.
func TestTLSFilesNotRegular(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skip("no FIFO here:", err)
	}
	_, err := config.Load(writeFile(t, "tls:\n  cert_file: "+fifo+"\n  key_file: "+dir+"\n"), nil)
	if err == nil || !strings.Contains(err.Error(), "tls.cert_file: "+fifo+" is not a regular file") {
		t.Errorf("Load with a FIFO for cert_file = %v, want it refused", err)
	}
}
