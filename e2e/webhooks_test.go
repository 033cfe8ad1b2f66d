package e2e_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"gatehouse"
	"gatehouse/config"
	"gatehouse/gatehousetest"
	"gatehouse/gatehousetest/gatewaytest"
	"gatehouse/keys"
	"gatehouse/server"
)

// withWebhook returns a config change that sends every event to a new
// receiver, and the receiver.
func withWebhook(t *testing.T) (func(*config.Config), *gatehousetest.Receiver) {
	t.Helper()
	secret, file := gatehousetest.MustWebhookSecret(t)
	r := gatehousetest.NewReceiver(t, secret)
	return func(c *config.Config) {
		c.Webhooks = []config.Webhook{{URL: r.URL + "/hooks", SecretFile: file}}
	}, r
}

// TestWebhooksDelay: a running gateway sends each change's event within
// 5 s, signed; the delay from change to receipt over 300 changes is
// logged (p50, p99) for the README.
func TestWebhooksDelay(t *testing.T) {
	t.Parallel()
	hook, r := withWebhook(t)
	g := startGateway(t, hook)
	const n = 300
	made := map[string]time.Time{} // key ID → when its change was made
	for i := range n {
		start := time.Now()
		k, _ := g.MustCreateKey(t, keys.CreateRequest{Name: fmt.Sprintf("k%03d", i)})
		made[k.ID] = start
	}
	checkDelays(t, made, r.Wait(t, n, 30*time.Second))
}

// checkDelays logs the delays from each change (made: key ID → when) to
// the receipt of its key.created, p50 and p99, and fails t unless every
// change has its webhook, verified, and p99 is within 5 s.
func checkDelays(t *testing.T, made map[string]time.Time, got []*gatehousetest.Webhook) {
	t.Helper()
	var delays []time.Duration
	for _, w := range got {
		if w.Verified != nil || w.Type != gatehouse.EventKeyCreated {
			t.Errorf("webhook %s %s: verified %v", w.ID, w.Type, w.Verified)
			continue
		}
		var key struct {
			Data struct {
				Key struct {
					ID string `json:"id"`
				} `json:"key"`
			} `json:"data"`
		}
		json.Unmarshal([]byte(w.Body), &key)
		if at, ok := made[key.Data.Key.ID]; ok {
			delays = append(delays, w.At.Sub(at))
			delete(made, key.Data.Key.ID)
		}
	}
	if len(made) != 0 {
		t.Fatalf("%d changes without their webhook", len(made))
	}
	slices.Sort(delays)
	p50, p99 := delays[len(delays)/2], delays[len(delays)*99/100]
	t.Logf("delay from change to receipt over %d events: p50 %s, p99 %s, max %s", len(delays), p50, p99, delays[len(delays)-1])
	if p99 > 5*time.Second {
		t.Errorf("p99 delay %s, want within 5s", p99)
	}
}

// TestWebhooksChangeWhileNoGatewayRuns: a change made by the CLI while no
// gateway runs is sent when one starts.
func TestWebhooksChangeWhileNoGatewayRuns(t *testing.T) {
	t.Parallel()
	hook, r := withWebhook(t)
	up := gatehousetest.NewUpstream(t, nil)
	cfg := gatewaytest.Config(t, up.URL, hook)
	// What "gatehouse keys create" does: the key service on the config's
	// store.
	ctx := context.Background()
	store, err := server.OpenStore(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	svc, _, err := server.NewKeyService(ctx, cfg, store, nil)
	if err != nil {
		t.Fatal(err)
	}
	k, _, err := svc.Create(ctx, keys.CreateRequest{Name: "made-offline"}, keys.Admin("cli:alice"))
	if err != nil {
		t.Fatal(err)
	}
	store.Close()
	if n := len(r.Webhooks()); n != 0 {
		t.Fatalf("the receiver got %d webhooks with no gateway running", n)
	}

	gatewaytest.MustStart(t, cfg, gatewaytest.Options{})
	got := r.Wait(t, 1, 5*time.Second)
	if got[0].Verified != nil || got[0].Type != gatehouse.EventKeyCreated || !strings.Contains(got[0].Body, k.ID) {
		t.Errorf("webhook %s %s (verified: %v), want key.created of %s", got[0].Type, got[0].Body, got[0].Verified, k.ID)
	}
}

// TestWebhooksTwoNodes: two gateways on one PostgreSQL outbox send each of
// 200 changes, made on either node, once.
func TestWebhooksTwoNodes(t *testing.T) {
	t.Parallel()
	hook, r := withWebhook(t)
	storage := gatehousetest.MustPostgresSchema(t)
	a := startGateway(t, func(c *config.Config) { c.Storage = storage; hook(c) })
	b := a.nextNode(t)
	const n = 200
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		made = map[string]time.Time{}
	)
	for i := range n {
		node := a
		if i%2 == 1 {
			node = b
		}
		wg.Go(func() {
			start := time.Now()
			k, _, err := node.Keys().Create(context.Background(), keys.CreateRequest{Name: fmt.Sprintf("k%03d", i)}, keys.Admin("test"))
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			made[k.ID] = start
			mu.Unlock()
		})
	}
	wg.Wait()
	got := r.Wait(t, n, 30*time.Second)
	checkDelays(t, made, got)
	ids := map[string]int{}
	for _, w := range got {
		if w.Verified != nil {
			t.Errorf("%s: %v", w.ID, w.Verified)
		}
		ids[w.ID]++
	}
	if len(ids) != n {
		t.Errorf("%d events delivered, want %d", len(ids), n)
	}
	for id, c := range ids {
		if c > 1 {
			t.Errorf("event %s delivered %d times by two healthy nodes, want once", id, c)
		}
	}
}

// TestWebhooksKeyLifecycle: through a running gateway, a key created
// inside the expiry warning window, rolled with an overlap and disabled
// gets key.created and key.expiring, key.rolled, key.disabled, then, as
// its moments pass on the gateway's clock, key.previous_expired and
// key.expired, each once and signed; no body holds a plain key.
func TestWebhooksKeyLifecycle(t *testing.T) {
	t.Parallel()
	hook, r := withWebhook(t)
	g := startGateway(t, hook)
	ctx := context.Background()
	until := g.Clock.Now().Add(24 * time.Hour) // inside the default 168h window
	k, plain := g.MustCreateKey(t, keys.CreateRequest{Name: "lifecycle", ValidUntil: &until, Scopes: []string{"assets:read"}})
	wantTypes := func(n int, want ...string) {
		t.Helper()
		got := r.Wait(t, n, 10*time.Second)
		var types []string
		for _, w := range got {
			if w.Verified != nil || strings.Contains(w.Body, plain) || !strings.Contains(w.Body, k.ID) {
				t.Errorf("%s %s: verified %v, or a plain key, or not about %s: %s", w.Type, w.ID, w.Verified, k.ID, w.Body)
			}
			types = append(types, w.Type)
		}
		slices.Sort(types)
		slices.Sort(want)
		if !slices.Equal(types, want) {
			t.Fatalf("webhooks %q, want %q", types, want)
		}
	}
	wantTypes(2, gatehouse.EventKeyCreated, gatehouse.EventKeyExpiring)
	_, rolled, err := g.Keys().Roll(ctx, k.ID, time.Hour, keys.Admin("test"))
	if err != nil {
		t.Fatal(err)
	}
	g.RememberSecret(rolled.Reveal())
	if _, err := g.Keys().SetDisabled(ctx, k.ID, true, keys.Admin("test")); err != nil {
		t.Fatal(err)
	}
	wantTypes(4, gatehouse.EventKeyCreated, gatehouse.EventKeyExpiring, gatehouse.EventKeyRolled, gatehouse.EventKeyDisabled)
	g.Clock.Add(25 * time.Hour) // past the overlap's end and validUntil
	wantTypes(6, gatehouse.EventKeyCreated, gatehouse.EventKeyExpiring, gatehouse.EventKeyRolled, gatehouse.EventKeyDisabled,
		gatehouse.EventKeyPreviousExpired, gatehouse.EventKeyExpired)
	for _, w := range r.Webhooks() {
		if strings.Contains(w.Body, rolled.Reveal()) {
			t.Errorf("%s holds the rolled key", w.Type)
		}
	}
}
