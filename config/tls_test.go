package config_test

import (
	"path/filepath"
	"strings"
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
		{"missing file", "tls:\n  cert_file: " + cert + "x\n  key_file: " + key + "\n", "tls.cert_file: open " + cert + "x: no such file"},
		{"not a pair", "tls:\n  cert_file: " + key + "\n  key_file: " + key + "\n", "are no certificate and key pair"},
		{"unknown key", "tls:\n  cert_fil: x\n", "yaml:2: unknown key tls.cert_fil (did you mean cert_file?)"},
		{"not a mapping", "tls: yes\n", "yaml:1: tls: must be a mapping of keys such as cert_file:"},
		{"redirect without tls", "http_redirect_listen: 127.0.0.1:8079\n", "http_redirect_listen: needs tls"},
		{"redirect on listen", "tls: {cert_file: " + cert + ", key_file: " + key + "}\nhttp_redirect_listen: 127.0.0.1:8080\n", `http_redirect_listen: must differ from listen`},
		{"ca for http", route("http://127.0.0.1:9", ca.File), "routes[0].tls_ca_file: only an https:// upstream"},
		{"ca unreadable", route("https://127.0.0.1:9", ca.File+"x"), "routes[0].tls_ca_file: open "},
		{"ca not PEM", route("https://127.0.0.1:9", cert+"/.."), "routes[0].tls_ca_file: "},
		{"ca no certificate", route("https://127.0.0.1:9", key), "holds no PEM certificate"},
	} {
		_, err := config.Load(writeFile(t, tc.yaml), nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Load = %v, want an error with %q", tc.name, err, tc.want)
		}
	}
}
