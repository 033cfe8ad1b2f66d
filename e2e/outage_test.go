package e2e_test

import (
	"io"
	"net"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"gatehouse"
	"gatehouse/config"
	"gatehouse/gatehousetest"
	"gatehouse/keys"
)

// cutter is a TCP proxy in front of PostgreSQL that a test can cut (close
// every connection and refuse new ones) and restore.
type cutter struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	cut    bool
	conns  map[net.Conn]bool
}

func newCutter(t *testing.T, target string) *cutter {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := &cutter{ln: ln, target: target, conns: map[net.Conn]bool{}}
	t.Cleanup(func() { ln.Close(); c.setCut(true) })
	go func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			c.mu.Lock()
			if c.cut {
				c.mu.Unlock()
				in.Close()
				continue
			}
			out, err := net.DialTimeout("tcp", target, 2*time.Second)
			if err != nil {
				c.mu.Unlock()
				in.Close()
				continue
			}
			c.conns[in], c.conns[out] = true, true
			c.mu.Unlock()
			go func() { io.Copy(out, in); out.Close() }()
			go func() { io.Copy(in, out); in.Close() }()
		}
	}()
	return c
}

func (c *cutter) setCut(cut bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cut = cut
	if cut {
		for conn := range c.conns {
			conn.Close()
		}
		c.conns = map[net.Conn]bool{}
	}
}

// TestClusterStoreOutage cuts the connection to PostgreSQL under a running
// node: known keys keep working, /readyz and management writes answer 503,
// and everything recovers by itself when the database is back.
func TestClusterStoreOutage(t *testing.T) {
	t.Parallel()
	storage := gatehousetest.MustPostgresSchema(t)
	u, _ := url.Parse(storage)
	cut := newCutter(t, u.Host)
	u.Host = cut.ln.Addr().String()
	q := u.Query()
	q.Set("connect_timeout", "1")
	u.RawQuery = q.Encode()
	g := startGateway(t, func(c *config.Config) { c.Storage = u.String() })
	_, admin := g.key(t, "admin", "api-keys:write", "*:write")
	_, data := g.key(t, "data", "assets:read")

	cut.setCut(true)
	if r := do(t, "GET", g.URL+"/api/v2/assets", data, "", ""); r.Status != 200 {
		t.Errorf("known key during the outage = %d %s, want 200", r.Status, r.Body)
	}
	waitStatus(t, g.URL+"/readyz", "", 503, 10*time.Second)
	r, _ := g.createOverAPI(t, admin, `{"name":"during outage"}`)
	if r.Status != 503 || r.code() != gatehouse.EUnavailable {
		t.Errorf("create during the outage = %d %s, want 503 store_unavailable", r.Status, r.Body)
	}

	cut.setCut(false)
	deadline := time.Now().Add(15 * time.Second)
	for {
		r, _ = g.createOverAPI(t, admin, `{"name":"after outage"}`)
		if r.Status == 201 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("create after the outage = %d %s, want 201 once PostgreSQL is back", r.Status, r.Body)
		}
		time.Sleep(50 * time.Millisecond) // poll interval
	}
	if r := do(t, "GET", g.URL+"/readyz", "", "", ""); r.Status != 200 {
		t.Errorf("/readyz after the outage = %d, want 200", r.Status)
	}
}

// TestClusterSharedRateLimit runs two nodes on one Redis: a key's limit is
// one budget for both.
func TestClusterSharedRateLimit(t *testing.T) {
	t.Parallel()
	redisURL := os.Getenv("GATEHOUSE_TEST_REDIS")
	if redisURL == "" {
		t.Skip("set GATEHOUSE_TEST_REDIS=redis://127.0.0.1:6379/0 to run the shared rate limit test")
	}
	storage := gatehousetest.MustPostgresSchema(t)
	a := startGateway(t, func(c *config.Config) { c.Storage, c.Redis = storage, redisURL })
	b := a.nextNode(t)
	rl := gatehouse.RateLimit{Requests: 5, Per: time.Minute}
	_, secret := a.MustCreateKey(t, keys.CreateRequest{Name: "limited", Scopes: []string{"assets:read"}, RateLimit: &rl})
	waitStatus(t, b.URL+"/api/v2/assets", secret, 200, time.Second) // 1 used on B
	ok, limited := 1, 0
	for i := range 6 {
		node := a
		if i%2 == 1 {
			node = b
		}
		r := do(t, "GET", node.URL+"/api/v2/assets", secret, "", "")
		switch r.Status {
		case 200:
			ok++
		case 429:
			limited++
			if r.Header.Get("Retry-After") == "" || r.Header.Get("RateLimit-Limit") != "5" {
				t.Errorf("429 headers = %v, want Retry-After and RateLimit-Limit 5", r.Header)
			}
		default:
			t.Errorf("status %d", r.Status)
		}
	}
	if ok != 5 || limited != 2 {
		t.Errorf("two nodes allowed %d and limited %d of 7 requests, want 5 and 2 (one shared budget)", ok, limited)
	}
}
