package proxy

import (
	"context"
	"net"
	"net/url"
	"testing"
)

// FuzzEscapedPath: the lean engine's request line carries the path exactly
// as url.URL escapes it for the stdlib path.
func FuzzEscapedPath(f *testing.F) {
	for _, p := range []string{"/", "/v2/assets/158", "/a b/ü/%", "/a;b=c,d@e:f", "/?#[]", "/\x00\x7f", "/a+b$c&d'e(f)*"} {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, p string) {
		if got, want := escapedPath(p), (&url.URL{Path: p}).EscapedPath(); got != want {
			t.Errorf("escapedPath(%q) = %q, url.URL gives %q", p, got, want)
		}
	})
}

// TestClosedPoolTakesNothingBack: a connection returned to a pool that a
// reload or the shutdown closed is closed, not kept idle for ever.
func TestClosedPoolTakesNothingBack(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	u := &upstream{addr: ln.Addr().String()}
	c, err := u.get(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	u.closeIdle()
	u.put(c)
	if len(u.idle) != 0 {
		t.Fatalf("%d idle connections after the pool was closed, want 0", len(u.idle))
	}
	if _, err := c.conn.Write([]byte("x")); err == nil {
		t.Error("the returned connection is still open")
	}
}
