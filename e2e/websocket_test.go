package e2e_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"gatehouse/config"
	"gatehouse/gatehousetest"
	"gatehouse/keys"
)

// TestWebsocketClosedOnDelete opens a websocket through the gateway to a
// real upstream, deletes the key, and expects the socket closed within 1 s.
func TestWebsocketClosedOnDelete(t *testing.T) {
	t.Parallel()
	echo := gatehousetest.NewUpstream(t, gatehousetest.WebSocketEcho)
	g := startGateway(t, func(c *config.Config) {
		c.Routes = []config.Route{{Name: "data-listener", Path: "/api/v2/data-listener", Upstream: echo.URL + "/v2/data-listener", Scope: "data"}}
	})
	id, secret := g.key(t, "listener", "data:read")

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(g.URL, "http")+"/api/v2/data-listener", &websocket.DialOptions{HTTPHeader: http.Header{"X-API-Key": {secret}}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	if err := c.Write(ctx, websocket.MessageText, []byte("ping")); err != nil {
		t.Fatal(err)
	}
	if _, msg, err := c.Read(ctx); err != nil || string(msg) != "ping" {
		t.Fatalf("echo = %q, %v; want ping", msg, err)
	}
	if err := g.Keys().Delete(ctx, id, keys.Admin("test")); err != nil {
		t.Fatal(err)
	}
	deleted := time.Now()
	rctx, rcancel := context.WithTimeout(ctx, time.Second)
	defer rcancel()
	if _, _, err := c.Read(rctx); err == nil || rctx.Err() != nil {
		t.Fatalf("read after delete: %v (deadline %v), want the socket closed within 1s", err, rctx.Err())
	}
	t.Logf("socket closed %v after the delete", time.Since(deleted))
}
