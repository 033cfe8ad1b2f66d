package proxy_test

import (
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gatehouse"
	"gatehouse/gatehousetest"
	"gatehouse/keyauth"
	"gatehouse/proxy"
)

// TestHTTPSUpstream: an https:// upstream is reached when its certificate
// comes from the route's tls_ca_file, and refused (502) when the route
// trusts the system's roots or another CA; NewTable names the route of a
// CA file it cannot read.
func TestHTTPSUpstream(t *testing.T) {
	t.Parallel()
	up := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "secure "+r.URL.Path)
	}))
	t.Cleanup(up.Close)
	caFile := filepath.Join(t.TempDir(), "upstream-ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: up.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	other := gatehousetest.NewCA(t).File

	route := func(name, ca string) gatehouse.Route {
		return gatehouse.Route{Name: name, Path: "/" + name, Upstream: up.URL + "/v2", Public: true, Timeout: 5 * time.Second, TLSCAFile: ca}
	}
	table, err := proxy.NewTable([]gatehouse.Route{route("trusted", caFile), route("system", ""), route("other", other)})
	if err != nil {
		t.Fatal(err)
	}
	h := &proxy.Handler{Table: table, Verifier: &keyauth.Verifier{Index: &index{}}}
	h.Init()
	gw := httptest.NewServer(h)
	t.Cleanup(gw.Close)

	for _, tc := range []struct {
		path   string
		status int
		body   string
	}{
		{"/trusted/x", 200, "secure /v2/x"},
		{"/system/x", 502, gatehouse.EUpstreamDown},
		{"/other/x", 502, gatehouse.EUpstreamDown},
	} {
		status, body := raw(t, gw.URL, "GET "+tc.path+" HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n")
		if status != tc.status || !strings.Contains(body, tc.body) {
			t.Errorf("GET %s = %d %q, want %d with %q", tc.path, status, body, tc.status, tc.body)
		}
	}

	_, err = proxy.NewTable([]gatehouse.Route{route("missing", caFile+".gone")})
	if err == nil || !strings.Contains(err.Error(), "route missing: tls_ca_file: stat ") {
		t.Errorf("NewTable with a missing CA file = %v, want an error naming the route and the file", err)
	}
}
