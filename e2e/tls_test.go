package e2e_test

import (
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"gatehouse/config"
	"gatehouse/gatehousetest"
)

// tlsGateway runs a gateway whose data plane serves HTTPS with a
// certificate of a new test CA (serial 1), in files it returns.
func tlsGateway(t *testing.T, change func(*config.Config)) (g *gateway, ca *gatehousetest.CA, certFile, keyFile string) {
	t.Helper()
	ca = gatehousetest.NewCA(t)
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	ca.MustWritePair(t, certFile, keyFile, 1)
	g = startGateway(t, func(c *config.Config) {
		c.TLS = config.TLS{CertFile: certFile, KeyFile: keyFile}
		if change != nil {
			change(c)
		}
	})
	return g, ca, certFile, keyFile
}

// handshake opens a TLS connection to addr with cfg and returns its state.
func handshake(t *testing.T, addr string, cfg *tls.Config) (tls.ConnectionState, error) {
	t.Helper()
	d := &tls.Dialer{Config: cfg}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return tls.ConnectionState{}, err
	}
	defer c.Close()
	return c.(*tls.Conn).ConnectionState(), nil
}

// TestTLSHandshakeAndALPN: the data plane serves HTTPS with the configured
// certificate, HTTP/2 to a client that offers h2 and HTTP/1.1 to one that
// offers only http/1.1 or nothing; a keyed request passes over both.
func TestTLSHandshakeAndALPN(t *testing.T) {
	t.Parallel()
	g, ca, _, _ := tlsGateway(t, nil)
	_, plain := g.key(t, "tls", "assets:read")

	for _, tc := range []struct {
		name   string
		offer  []string
		want   string
		client *http.Client
		proto  string
	}{
		{name: "h2", offer: []string{"h2", "http/1.1"}, want: "h2", proto: "HTTP/2.0",
			client: ca.Client(t)},
		{name: "http/1.1", offer: []string{"http/1.1"}, want: "http/1.1", proto: "HTTP/1.1",
			client: &http.Client{Transport: &http.Transport{TLSClientConfig: ca.TLSConfig()}}},
		{name: "no ALPN", want: "", proto: "HTTP/1.1"},
	} {
		st, err := handshake(t, g.Addr, ca.TLSConfig(tc.offer...))
		if err != nil {
			t.Fatalf("%s: handshake: %v", tc.name, err)
		}
		if st.NegotiatedProtocol != tc.want || st.Version < tls.VersionTLS12 {
			t.Errorf("%s: negotiated %q over %s, want %q over TLS 1.2+", tc.name, st.NegotiatedProtocol, tls.VersionName(st.Version), tc.want)
		}
		if got := st.PeerCertificates[0].SerialNumber.Int64(); got != 1 {
			t.Errorf("%s: certificate serial %d, want 1", tc.name, got)
		}
		if tc.client == nil {
			continue
		}
		req, _ := http.NewRequest("GET", g.URL+"/api/v2/assets/158?x=1", nil)
		req.Header.Set("X-API-Key", plain)
		resp, err := tc.client.Do(req)
		if err != nil {
			t.Fatalf("%s: GET: %v", tc.name, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Proto != tc.proto || !strings.Contains(string(body), `"/v2/assets/158?x=1"`) {
			t.Errorf("%s: GET = %d %s %s, want 200 %s from the upstream", tc.name, resp.StatusCode, resp.Proto, body, tc.proto)
		}
	}
}

// TestTLSHTTP2Body: a request body passes over HTTP/2 (the body timeout's
// read deadline works on an HTTP/2 stream too).
func TestTLSHTTP2Body(t *testing.T) {
	t.Parallel()
	g, ca, _, _ := tlsGateway(t, nil)
	resp, err := ca.Client(t).Post(g.URL+"/apps-public/hook", "application/json", strings.NewReader(`{"event":"door.opened"}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Proto != "HTTP/2.0" {
		t.Fatalf("POST over HTTP/2 = %d %s %s, want 200 over HTTP/2.0", resp.StatusCode, resp.Proto, body)
	}
	if reqs := g.up.Requests(); len(reqs) != 1 || reqs[0].Body != `{"event":"door.opened"}` || reqs[0].Method != "POST" {
		t.Errorf("the upstream got %+v, want the POST with its body", reqs)
	}
}

// TestTLSOldVersionsRefused: a client that offers at most TLS 1.1 gets no
// connection; plain HTTP on the TLS listener gets no answer from a route.
func TestTLSOldVersionsRefused(t *testing.T) {
	t.Parallel()
	g, ca, _, _ := tlsGateway(t, nil)
	old := ca.TLSConfig()
	old.MinVersion, old.MaxVersion = tls.VersionTLS10, tls.VersionTLS11
	if st, err := handshake(t, g.Addr, old); err == nil {
		t.Fatalf("a TLS 1.1 client connected (%s), want refused", tls.VersionName(st.Version))
	}
	if r := g.one(t, req("GET", "/healthz")); r.Status != http.StatusBadRequest {
		t.Errorf("plain HTTP to the TLS listener = %v, want 400", r)
	}
}

// TestTLSCertificateRenewed: a certificate written over the files is
// served to new connections without a restart; a broken pair written
// over them changes nothing and is logged.
func TestTLSCertificateRenewed(t *testing.T) {
	t.Parallel()
	g, ca, certFile, keyFile := tlsGateway(t, nil)
	serial := func() int64 {
		st, err := handshake(t, g.Addr, ca.TLSConfig())
		if err != nil {
			t.Fatalf("handshake: %v", err)
		}
		return st.PeerCertificates[0].SerialNumber.Int64()
	}
	if got := serial(); got != 1 {
		t.Fatalf("serial %d, want 1", got)
	}

	// A key that is not the certificate's: the pair is broken.
	other := t.TempDir()
	ca.MustWritePair(t, filepath.Join(other, "c.pem"), filepath.Join(other, "k.pem"), 9)
	wrongKey, err := os.ReadFile(filepath.Join(other, "k.pem"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, wrongKey, 0o600); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(g.Log.String(), "TLS certificate files changed but cannot be used"); {
		if time.Now().After(deadline) {
			t.Fatalf("no log line on a broken pair; log:\n%s", g.Log.String())
		}
		serial()
		time.Sleep(50 * time.Millisecond) // between handshakes, not a wait for a result
	}
	if got := serial(); got != 1 {
		t.Fatalf("after a broken pair: serial %d, want 1 still", got)
	}

	ca.MustWritePair(t, certFile, keyFile, 2)
	for deadline := time.Now().Add(10 * time.Second); serial() != 2; {
		if time.Now().After(deadline) {
			t.Fatal("the renewed certificate (serial 2) was not served within 10s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(g.Log.String(), "TLS certificate reloaded") {
		t.Error("no log line for the reload")
	}
}

// TestTLSWebSocket: a websocket passes over TLS (an HTTP/1.1 upgrade),
// with a client that also speaks HTTP/2.
func TestTLSWebSocket(t *testing.T) {
	t.Parallel()
	echo := gatehousetest.NewUpstream(t, gatehousetest.WebSocketEcho)
	g, ca, _, _ := tlsGateway(t, func(c *config.Config) {
		c.Routes = []config.Route{{Name: "data-listener", Path: "/api/v2/data-listener", Upstream: echo.URL + "/v2/data-listener", Scope: "data"}}
	})
	_, plain := g.key(t, "listener", "data:read")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, "wss"+strings.TrimPrefix(g.URL, "https")+"/api/v2/data-listener",
		&websocket.DialOptions{HTTPClient: ca.Client(t), HTTPHeader: http.Header{"X-API-Key": {plain}}})
	if err != nil {
		t.Fatalf("dial: %v (%v)", err, resp)
	}
	defer c.CloseNow()
	if err := c.Write(ctx, websocket.MessageText, []byte("ping")); err != nil {
		t.Fatal(err)
	}
	if _, msg, err := c.Read(ctx); err != nil || string(msg) != "ping" {
		t.Fatalf("echo = %q, %v; want ping", msg, err)
	}
	c.Close(websocket.StatusNormalClosure, "")
}

// TestHTTPRedirectListener: http_redirect_listen answers plain HTTP with a
// 308 to the same host, path and query in HTTPS on listen's port, which
// then answers.
func TestHTTPRedirectListener(t *testing.T) {
	t.Parallel()
	g, ca, _, _ := tlsGateway(t, func(c *config.Config) { c.HTTPRedirectListen = "127.0.0.1:0" })
	_, port, _ := strings.Cut(g.Addr, ":")
	for _, tc := range []struct{ host, want string }{
		{"gw.example", "https://gw.example:" + port + "/api/v2/assets/158?x=1&y=%2F"},
		{"gw.example:80", "https://gw.example:" + port + "/api/v2/assets/158?x=1&y=%2F"},
		{"[::1]:80", "https://[::1]:" + port + "/api/v2/assets/158?x=1&y=%2F"},
	} {
		r := rawTo(t, g.RedirectAddr, strings.Replace(req("POST", "/api/v2/assets/158?x=1&y=%2F"), "gw.example", tc.host, 1), 1)[0]
		if r.Status != http.StatusPermanentRedirect || r.Header.Get("Location") != tc.want {
			t.Errorf("Host %s: %v Location %q, want 308 to %s", tc.host, r, r.Header.Get("Location"), tc.want)
		}
	}
	resp, err := ca.Client(t).Get("http://" + g.RedirectAddr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Request.URL.Scheme != "https" || resp.TLS == nil {
		t.Errorf("GET over the redirect = %d at %s, want 200 over HTTPS", resp.StatusCode, resp.Request.URL)
	}
}
