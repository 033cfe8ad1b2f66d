package e2e_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gatehouse/config"
	"gatehouse/gatehousetest"
	"gatehouse/gatehousetest/gatewaytest"
	"gatehouse/keys"
)

// gateway is a running gatehouse (gatewaytest) before a recording upstream.
type gateway struct {
	*gatewaytest.Gateway
	up  *gatehousetest.Upstream
	dir string // holds the store and the master key
}

// adminPassword is the password of every test gateway's user "admin".
const adminPassword = gatewaytest.AdminPassword

// startGateway runs a gateway on a real listener before a new recording
// upstream, with the routes of gatewaytest.Config and a 1 s
// read_header_timeout. change, if not nil, may edit the config before it
// is validated. When the test ends, the gateway's whole log is scanned for
// every plain key the test saw.
func startGateway(t *testing.T, change func(*config.Config)) *gateway {
	t.Helper()
	up := gatehousetest.NewUpstream(t, nil)
	cfg := gatewaytest.Config(t, up.URL, func(c *config.Config) {
		c.ReadHeaderTimeout = config.Duration(time.Second)
		if change != nil {
			change(c)
		}
	})
	return &gateway{
		Gateway: gatewaytest.MustStart(t, cfg, gatewaytest.Options{}),
		up:      up,
		dir:     filepath.Dir(strings.TrimPrefix(cfg.Storage, "sqlite:")),
	}
}

// nextNode runs another node of g's cluster: the same config (store and
// master key), clock and upstream.
func (g *gateway) nextNode(t *testing.T) *gateway {
	t.Helper()
	return &gateway{Gateway: g.MustStartNode(t), up: g.up, dir: g.dir}
}

// key creates a key through the key service and returns its id and plain
// key.
func (g *gateway) key(t *testing.T, name string, scopes ...string) (id, plain string) {
	t.Helper()
	return g.keyUntil(t, name, nil, scopes...)
}

func (g *gateway) keyUntil(t *testing.T, name string, until *time.Time, scopes ...string) (id, plain string) {
	t.Helper()
	k, plain := g.MustCreateKey(t, keys.CreateRequest{Name: name, Scopes: scopes, ValidUntil: until})
	return k.ID, plain
}

// reply is an answer read off a raw connection.
type reply struct {
	Status int // 0 when the connection closed without an answer
	Header http.Header
	Body   string
	Err    error
}

func (r reply) String() string {
	if r.Status == 0 {
		return fmt.Sprintf("no answer (%v)", r.Err)
	}
	return fmt.Sprintf("%d %.160s", r.Status, r.Body)
}

// code is the error code of a JSON error body, or "".
func (r reply) code() string {
	var e struct {
		Error struct{ Code string }
	}
	json.Unmarshal([]byte(r.Body), &e)
	return e.Error.Code
}

// raw sends request bytes as they are to the data plane's listener and
// reads up to n answers off the same connection (pipelined), stopping at
// the first that cannot be read.
func (g *gateway) raw(t *testing.T, request string, n int) []reply {
	t.Helper()
	return rawTo(t, g.Addr, request, n)
}

// oneAdmin sends one raw request to the administrators' listener.
func (g *gateway) oneAdmin(t *testing.T, request string) reply {
	t.Helper()
	return rawTo(t, g.AdminAddr, request, 1)[0]
}

func rawTo(t *testing.T, addr, request string, n int) []reply {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	go io.WriteString(c, request) // a request too large for the server is refused before it is all written
	br := bufio.NewReader(c)
	var out []reply
	for range n {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			out = append(out, reply{Err: err})
			break
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		out = append(out, reply{resp.StatusCode, resp.Header, string(b), err})
	}
	return out
}

// one sends one raw request and returns its answer.
func (g *gateway) one(t *testing.T, request string) reply {
	t.Helper()
	return g.raw(t, request, 1)[0]
}

// req builds a request with Connection: close; headers are whole lines
// without their CRLF.
func req(method, target string, headers ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: gw.example\r\n", method, target)
	for _, h := range headers {
		b.WriteString(h + "\r\n")
	}
	b.WriteString("Connection: close\r\n\r\n")
	return b.String()
}

// withBody builds a request with a body and its Content-Length.
func withBody(method, target, contentType, body string, headers ...string) string {
	hs := append([]string{"Content-Type: " + contentType, fmt.Sprintf("Content-Length: %d", len(body))}, headers...)
	return req(method, target, hs...) + body
}

func apiKey(k string) string { return "X-API-Key: " + k }

// do sends a request to url with Go's client (for cases Go does not
// normalise).
func do(t *testing.T, method, url, key, contentType, body string) reply {
	t.Helper()
	r, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		r.Header.Set("X-API-Key", key)
	}
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return reply{resp.StatusCode, resp.Header, string(b), err}
}

// createOverAPI creates a key through the management API and remembers its
// plain key.
func (g *gateway) createOverAPI(t *testing.T, admin, body string) (reply, string) {
	t.Helper()
	r := do(t, "POST", g.URL+"/api/v2/api-keys", admin, "application/json", body)
	var k struct{ ID, Key string }
	if r.Status == http.StatusCreated {
		if err := json.Unmarshal([]byte(r.Body), &k); err != nil || k.Key == "" {
			t.Fatalf("201 without a key: %s", r.Body)
		}
		g.RememberSecret(k.Key)
	}
	return r, k.ID
}

// waitStatus polls until a GET of url with key (if not "") answers want,
// and returns how long that took; it fails the test after limit.
func waitStatus(t *testing.T, url, key string, want int, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		r := do(t, "GET", url, key, "", "")
		if r.Status == want {
			return time.Since(start)
		}
		if time.Since(start) > limit {
			t.Fatalf("GET %s = %d after %v, want %d", url, r.Status, limit, want)
		}
		time.Sleep(5 * time.Millisecond) // poll interval
	}
}
