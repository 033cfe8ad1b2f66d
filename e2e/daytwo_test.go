package e2e_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"gatehouse/config"
	"gatehouse/keys"
)

// The data plane's side of contract §8: rolled, disabled, address-bound
// and expiring keys, as a client sees them.

// get sends a GET to the data plane with the key and the extra headers
// (name, value, ...).
func get(t *testing.T, url, key string, header ...string) reply {
	t.Helper()
	return send(t, "GET", url, key, header...)
}

func send(t *testing.T, method, url, key string, header ...string) reply {
	t.Helper()
	r, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("X-API-Key", key)
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Add(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return reply{resp.StatusCode, resp.Header, string(b), err}
}

// wantReply fails the test unless r has the status and error code ("" for
// a success).
func wantReply(t *testing.T, what string, r reply, status int, code string) {
	t.Helper()
	if r.Status != status || r.code() != code {
		t.Errorf("%s: %v, want %d %s", what, r, status, code)
	}
}

// waitCode polls a GET with the key until it answers status and code; the
// index may be stale (503) for a moment after the test clock jumped.
func waitCode(t *testing.T, url, key string, status int, code string, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		r := get(t, url, key)
		if r.Status == status && r.code() == code {
			return time.Since(start)
		}
		if time.Since(start) > limit {
			t.Fatalf("GET %s = %v after %v, want %d %s", url, r, limit, status, code)
		}
		time.Sleep(5 * time.Millisecond) // poll interval
	}
}

// TestRollWithOverlap: after a roll both secrets work until the overlap
// ends; then the old one gets 401 key_rolled and its websocket closes
// with 1008 "key rolled" within a second, while the new one works on.
func TestRollWithOverlap(t *testing.T) {
	t.Parallel()
	up := newWSUpstream(t)
	g := startGateway(t, wsRoutes(up))
	id, old := g.key(t, "rolled", "assets:read", "data:read")
	assets := g.URL + "/api/v2/assets/158"
	c := dialWS(t, g.Addr, old, "ws-rolled")
	echo(t, c)

	k, secret, err := g.Keys().Roll(context.Background(), id, time.Hour, keys.Admin("e2e"))
	if err != nil {
		t.Fatal(err)
	}
	next := secret.Reveal()
	g.RememberSecret(next)
	wantReply(t, "new secret", get(t, assets, next), 200, "")
	r := get(t, assets, old)
	wantReply(t, "old secret inside the overlap", r, 200, "")
	// The old secret's answers say when it stops: the overlap's end.
	if got, want := r.Header.Get("X-API-Key-Expires"), k.PreviousValidUntil.UTC().Format(time.RFC3339); got != want {
		t.Errorf("old secret's X-API-Key-Expires = %q, want %q", got, want)
	}
	echo(t, c) // the old secret's websocket lives on during the overlap

	g.Clock.Add(time.Hour)
	rolled := time.Now()
	code, reason, err := readEnd(c, 5*time.Second)
	if code != websocket.StatusPolicyViolation || reason != "key rolled" {
		t.Fatalf("the old secret's websocket after the overlap: %v; want a close frame 1008 \"key rolled\"", err)
	}
	if took := time.Since(rolled); took > time.Second {
		t.Errorf("the close frame came %v after the overlap ended, want within 1s", took)
	}
	waitCode(t, assets, old, 401, "key_rolled", 5*time.Second)
	wantReply(t, "new secret after the overlap", get(t, assets, next), 200, "")
	// A websocket with the new secret opens.
	echo(t, dialWS(t, g.Addr, next, "ws-new"))
}

// TestDisableEnable: a disabled key gets 401 key_disabled and its stream
// is closed within a second; enabled again, it works as before.
func TestDisableEnable(t *testing.T) {
	t.Parallel()
	up := newWSUpstream(t)
	g := startGateway(t, wsRoutes(up))
	id, key := g.key(t, "paused", "assets:read", "data:read")
	ctx := context.Background()

	// A stream that lasts until the gateway ends it.
	r, _ := http.NewRequest("GET", g.URL+"/events/forever", nil)
	r.Header.Set("X-API-Key", key)
	resp, err := http.DefaultClient.Do(r)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("open the stream: %v %v", resp, err)
	}
	defer resp.Body.Close()
	first := make([]byte, 8)
	if _, err := io.ReadFull(resp.Body, first); err != nil {
		t.Fatalf("first line of the stream: %v", err)
	}
	ended := make(chan struct{})
	go func() { io.Copy(io.Discard, resp.Body); close(ended) }()

	if _, err := g.Keys().SetDisabled(ctx, id, true, keys.Admin("e2e")); err != nil {
		t.Fatal(err)
	}
	disabled := time.Now()
	select {
	case <-ended:
		if took := time.Since(disabled); took > time.Second {
			t.Errorf("the stream ended %v after the key was disabled, want within 1s", took)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the stream is still open 5s after its key was disabled")
	}
	wantReply(t, "disabled key", get(t, g.URL+"/api/v2/assets/1", key), 401, "key_disabled")
	if _, err := g.Keys().SetDisabled(ctx, id, false, keys.Admin("e2e")); err != nil {
		t.Fatal(err)
	}
	wantReply(t, "enabled key", get(t, g.URL+"/api/v2/assets/1", key), 200, "")
}

// TestAllowedIPs: a key bound to addresses is refused from elsewhere with
// 403 ip_not_allowed. Without trusted_proxies X-Forwarded-For is ignored
// (a client cannot claim an address); behind a trusted proxy the right-most
// address it did not add itself counts, so entries the client forged on
// the left do not.
func TestAllowedIPs(t *testing.T) {
	t.Parallel()
	t.Run("NoTrustedProxies", func(t *testing.T) {
		t.Parallel()
		g := startGateway(t, nil)
		_, far := g.MustCreateKey(t, keys.CreateRequest{Name: "far", Scopes: []string{"assets:read"}, AllowedIPs: []string{"203.0.113.7"}})
		_, near := g.MustCreateKey(t, keys.CreateRequest{Name: "near", Scopes: []string{"assets:read"}, AllowedIPs: []string{"127.0.0.0/8", "::1"}})
		url := g.URL + "/api/v2/assets/1"
		wantReply(t, "bound elsewhere", get(t, url, far), 403, "ip_not_allowed")
		wantReply(t, "spoofed X-Forwarded-For from an untrusted peer", get(t, url, far, "X-Forwarded-For", "203.0.113.7"), 403, "ip_not_allowed")
		wantReply(t, "spoofed X-Real-IP", get(t, url, far, "X-Real-IP", "203.0.113.7", "Forwarded", "for=203.0.113.7"), 403, "ip_not_allowed")
		wantReply(t, "bound to the loopback", get(t, url, near), 200, "")
		wantReply(t, "loopback with a foreign X-Forwarded-For", get(t, url, near, "X-Forwarded-For", "198.51.100.1"), 200, "")
		// The scope check comes after the address check.
		wantReply(t, "bound elsewhere, no scope", get(t, g.URL+"/files/x", far), 403, "ip_not_allowed")
		wantReply(t, "bound here, no scope", get(t, g.URL+"/files/x", near), 403, "insufficient_scope")
	})
	t.Run("TrustedProxy", func(t *testing.T) {
		t.Parallel()
		g := startGateway(t, func(c *config.Config) { c.TrustedProxies = []string{"127.0.0.1"} })
		_, far := g.MustCreateKey(t, keys.CreateRequest{Name: "far", Scopes: []string{"assets:read"}, AllowedIPs: []string{"203.0.113.0/24", "2001:db8::/32"}})
		url := g.URL + "/api/v2/assets/1"
		for _, tc := range []struct {
			xff    []string
			status int
			code   string
		}{
			{[]string{"203.0.113.7"}, 200, ""},
			{[]string{"2001:db8::5"}, 200, ""},
			{[]string{"198.51.100.1, 203.0.113.7"}, 200, ""},
			{[]string{"198.51.100.1", "203.0.113.7, 127.0.0.1"}, 200, ""},
			// The client forged the left-most entry; the proxy appended
			// the address it really came from.
			{[]string{"203.0.113.7, 198.51.100.1"}, 403, "ip_not_allowed"},
			{[]string{"2001:db9::1"}, 403, "ip_not_allowed"},
			{[]string{"garbage"}, 403, "ip_not_allowed"},
			{nil, 403, "ip_not_allowed"}, // the proxy itself
		} {
			var h []string
			for _, v := range tc.xff {
				h = append(h, "X-Forwarded-For", v)
			}
			wantReply(t, "X-Forwarded-For "+strings.Join(tc.xff, " | "), get(t, url, far, h...), tc.status, tc.code)
		}
	})
}

// TestReadOnlyGraceAndExpiryHeader: inside expiry_warning every answer
// carries X-API-Key-Expires; after validUntil a key with a read-only grace
// passes reads (still with the header) and gets 401 key_expired on writes,
// until the grace ends.
func TestReadOnlyGraceAndExpiryHeader(t *testing.T) {
	t.Parallel()
	g := startGateway(t, nil)
	now := g.Clock.Now()
	soon, later := now.Add(72*time.Hour).Truncate(time.Second), now.Add(30*24*time.Hour)
	_, graceful := g.MustCreateKey(t, keys.CreateRequest{Name: "telemetry", Scopes: []string{"assets:write"}, ValidUntil: &soon, ReadOnlyGrace: 24 * time.Hour})
	_, far := g.MustCreateKey(t, keys.CreateRequest{Name: "far", Scopes: []string{"assets:write"}, ValidUntil: &later})
	_, never := g.key(t, "never", "assets:write")
	url := g.URL + "/api/v2/assets/1"
	want := soon.UTC().Format(time.RFC3339)

	r := get(t, url, graceful)
	wantReply(t, "key inside expiry_warning", r, 200, "")
	if got := r.Header.Get("X-API-Key-Expires"); got != want {
		t.Errorf("X-API-Key-Expires = %q, want %q", got, want)
	}
	for name, key := range map[string]string{"far": far, "never": never} {
		if r := get(t, url, key); r.Status != 200 || r.Header.Get("X-API-Key-Expires") != "" {
			t.Errorf("%s key: %v, X-API-Key-Expires %q; want 200 without it", name, r, r.Header.Get("X-API-Key-Expires"))
		}
	}

	g.Clock.Add(73 * time.Hour) // expired an hour ago, inside the 24h grace
	waitCode(t, url, graceful, 200, "", 5*time.Second)
	r = get(t, url, graceful)
	if got := r.Header.Get("X-API-Key-Expires"); got != want {
		t.Errorf("X-API-Key-Expires during the grace = %q, want %q", got, want)
	}
	w := send(t, "POST", url, graceful)
	wantReply(t, "a write during the grace", w, 401, "key_expired")
	if got := w.Header.Get("X-API-Key-Expires"); got != want {
		t.Errorf("X-API-Key-Expires on the refused write = %q, want %q", got, want)
	}
	wantReply(t, "HEAD during the grace", send(t, "HEAD", url, graceful), 200, "")

	g.Clock.Add(24 * time.Hour) // the grace is over
	waitCode(t, url, graceful, 401, "key_expired", 5*time.Second)
}
