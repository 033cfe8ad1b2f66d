package webhook_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"gatehouse"
	"gatehouse/gatehousetest"
	"gatehouse/postgres"
	"gatehouse/webhook"
)

// endpoint returns an endpoint on a new receiver that wants events (all
// when none are given).
func endpoint(t *testing.T, events ...string) (gatehouse.WebhookEndpoint, *gatehousetest.Receiver) {
	t.Helper()
	secret, _ := gatehousetest.MustWebhookSecret(t)
	sec, err := gatehouse.ParseWebhookSecret(secret)
	if err != nil {
		t.Fatal(err)
	}
	r := gatehousetest.NewReceiver(t, secret)
	return gatehouse.WebhookEndpoint{URL: r.URL + "/hooks/gatehouse?token=t0ps3cret", Secret: sec, Events: events}, r
}

// newSender returns a sender on store to the endpoints, on clock.
func newSender(t *testing.T, store webhook.Store, clock *gatehousetest.Clock, eps ...gatehouse.WebhookEndpoint) (*webhook.Sender, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	s := &webhook.Sender{Store: store, Endpoints: eps, Now: clock.Now, Registerer: reg, Timeout: 2 * time.Second}
	if err := s.Init(); err != nil {
		t.Fatal(err)
	}
	return s, reg
}

// plainKeys remembers the plain keys that tests made, to prove that no
// webhook carries one.
var plainKeys sync.Map

// newKey returns a key valid until until (none when nil). Its Sealed holds
// the plain key itself, the worst a store could keep, so that a leak of
// Sealed into an event shows.
func newKey(name string, until *time.Time) *gatehouse.APIKey {
	sec := gatehouse.NewSecret()
	plainKeys.Store(sec.Reveal(), true)
	return &gatehouse.APIKey{ID: gatehouse.NewKeyID(), Name: name, Digest: sec.Digest(), Sealed: []byte(sec.Reveal()),
		Hint: sec.Hint(), ValidUntil: until, Scopes: gatehouse.Scopes{{Name: "assets", Access: gatehouse.AccessRead}},
		CreatedBy: "admin:alice"}
}

// checkWebhook fails t unless w is signed, well-formed, of type typ and
// holds no plain key; it returns the body's key.
func checkWebhook(t *testing.T, w *gatehousetest.Webhook, typ string) map[string]any {
	t.Helper()
	if w.Verified != nil {
		t.Errorf("%s %s: the Standard Webhooks library refused its signature: %v", w.Type, w.ID, w.Verified)
	}
	if w.Type != typ {
		t.Errorf("webhook type = %q, want %q (body %s)", w.Type, typ, w.Body)
	}
	if !strings.HasPrefix(w.ID, "msg_") || !strings.HasPrefix(w.Header.Get("webhook-signature"), "v1,") {
		t.Errorf("%s: webhook-id %q, webhook-signature %q; want msg_..., v1,...", typ, w.ID, w.Header.Get("webhook-signature"))
	}
	if ct := w.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s: Content-Type = %q, want application/json", typ, ct)
	}
	if s, e := gatehouse.FindKeyShape(w.Body); s >= 0 {
		t.Errorf("%s: body holds a key-shaped string %q", typ, w.Body[s:e])
	}
	plainKeys.Range(func(k, _ any) bool {
		if strings.Contains(w.Body, k.(string)) {
			t.Errorf("%s: body holds a plain key", typ)
		}
		return true
	})
	var msg struct {
		Type      string          `json:"type"`
		Timestamp time.Time       `json:"timestamp"`
		Data      json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal([]byte(w.Body), &msg); err != nil || msg.Timestamp.IsZero() {
		t.Fatalf("%s: body %s: %v, want {type, timestamp, data}", typ, w.Body, err)
	}
	var data struct {
		Key map[string]any `json:"key"`
	}
	json.Unmarshal(msg.Data, &data)
	return data.Key
}

// TestEveryEventType: each event type reaches the endpoints that want
// it, signed, with the key in the management API's shape, never a plain
// key; a test event reaches every endpoint.
func TestEveryEventType(t *testing.T) {
	t.Parallel()
	store := gatehousetest.MustOpenSQLite(t)
	clock := gatehousetest.NewWallClock()
	store.Now = clock.Now
	all, rAll := endpoint(t)
	onlyExpired, rExpired := endpoint(t, gatehouse.EventKeyExpired)
	sender, reg := newSender(t, store, clock, all, onlyExpired)
	sched := &webhook.Scheduler{Store: store, Window: time.Hour, Now: clock.Now}
	ctx := context.Background()

	// step makes a change, sends what is due, and returns the webhooks it
	// brought, which must be of the types want (in any order: events go
	// out in parallel), each checked and keyed by type.
	received := 0
	seen := map[string]bool{}
	step := func(change func() error, want ...string) map[string]map[string]any {
		t.Helper()
		if err := change(); err != nil {
			t.Fatal(err)
		}
		if _, err := sched.Schedule(ctx); err != nil {
			t.Fatal(err)
		}
		sender.SendDue(ctx)
		got := rAll.Wait(t, received+len(want), 5*time.Second)[received:]
		received += len(got)
		keys := map[string]map[string]any{}
		var types []string
		for _, w := range got {
			types = append(types, w.Type)
			if seen[w.ID] {
				t.Errorf("webhook-id %s sent twice", w.ID)
			}
			seen[w.ID] = true
			keys[w.Type] = checkWebhook(t, w, w.Type)
		}
		slices.Sort(types)
		slices.Sort(want)
		if !slices.Equal(types, want) {
			t.Fatalf("webhooks %q, want %q", types, want)
		}
		return keys
	}
	if _, err := sched.Schedule(ctx); err != nil {
		t.Fatal(err)
	}
	until := clock.Now().Add(30 * time.Minute).Truncate(time.Millisecond) // inside the window
	k := newKey("building-a", &until)
	got := step(func() error { return store.CreateKey(ctx, k) },
		gatehouse.EventKeyCreated, gatehouse.EventKeyExpiring) // created inside the window
	if key := got[gatehouse.EventKeyCreated]; key["id"] != k.ID || key["name"] != "building-a" || key["keyHint"] != k.Hint || key["expired"] != false {
		t.Errorf("key.created: data.key = %v, want the key's id, name and hint, not expired", key)
	}
	renewed := until.Add(10 * time.Minute)
	step(func() error {
		_, err := store.RenewKey(ctx, k.ID, gatehouse.KeyRenewal{ValidUntil: &renewed}, "admin:bob")
		return err
	}, gatehouse.EventKeyRenewed, gatehouse.EventKeyExpiring) // a new period
	sec := gatehouse.NewSecret()
	plainKeys.Store(sec.Reveal(), true)
	overlapEnd := clock.Now().Add(5 * time.Minute).Truncate(time.Millisecond)
	got = step(func() error {
		_, err := store.RollKey(ctx, k.ID, gatehouse.KeyRoll{Digest: sec.Digest(), Sealed: []byte(sec.Reveal()), Hint: sec.Hint(),
			PreviousValidUntil: overlapEnd}, "admin:bob")
		return err
	}, gatehouse.EventKeyRolled)
	if key := got[gatehouse.EventKeyRolled]; key["keyHint"] != sec.Hint() || key["previousValidUntil"] != overlapEnd.UTC().Format(time.RFC3339Nano) {
		t.Errorf("key.rolled: data.key = %v, want the new hint and the overlap's end", key)
	}
	name := "building-b"
	got = step(func() error {
		_, err := store.UpdateKey(ctx, k.ID, gatehouse.KeyUpdate{Name: &name}, "admin:bob")
		return err
	}, gatehouse.EventKeyUpdated)
	if got[gatehouse.EventKeyUpdated]["name"] != name {
		t.Errorf("key.updated: data.key = %v, want the new name", got[gatehouse.EventKeyUpdated])
	}
	got = step(func() error {
		_, err := store.SetKeyDisabled(ctx, k.ID, true, "admin:bob")
		return err
	}, gatehouse.EventKeyDisabled)
	if got[gatehouse.EventKeyDisabled]["enabled"] != false {
		t.Errorf("key.disabled: data.key = %v, want enabled false", got[gatehouse.EventKeyDisabled])
	}
	step(func() error {
		_, err := store.SetKeyDisabled(ctx, k.ID, false, "admin:bob")
		return err
	}, gatehouse.EventKeyEnabled)
	got = step(func() error { clock.Add(41 * time.Minute); return nil }, // past the overlap's end and validUntil
		gatehouse.EventKeyPreviousExpired, gatehouse.EventKeyExpired)
	if key := got[gatehouse.EventKeyExpired]; key["expired"] != true || key["validUntil"] != renewed.UTC().Format(time.RFC3339Nano) {
		t.Errorf("key.expired: data.key = %v, want expired at %s", key, renewed.UTC().Format(time.RFC3339Nano))
	}
	step(func() error { return store.DeleteKey(ctx, k.ID, "admin:bob") }, gatehouse.EventKeyDeleted)

	exp := rExpired.Wait(t, 1, 5*time.Second)
	if len(exp) != 1 {
		t.Fatalf("the key.expired endpoint got %d webhooks, want 1", len(exp))
	}
	checkWebhook(t, exp[0], gatehouse.EventKeyExpired)
	if !seen[exp[0].ID] {
		t.Errorf("one event, two webhook-ids: %s is not the other endpoint's", exp[0].ID)
	}

	// The test event reaches every endpoint, whatever they want.
	answers, err := sender.SendTest(ctx)
	if err != nil || len(answers) != 2 || answers[0].Status != 204 || answers[1].Status != 204 {
		t.Fatalf("SendTest() = %v, %v; want two 204s", answers, err)
	}
	checkWebhook(t, rAll.Wait(t, received+1, 5*time.Second)[received], gatehouse.EventTest)
	checkWebhook(t, rExpired.Wait(t, 2, 5*time.Second)[1], gatehouse.EventTest)

	// Every event to the first endpoint and key.expired to the second;
	// test events are not counted.
	if n := deliveries(t, reg, webhook.ResultSuccess); n != float64(received+1) {
		t.Errorf("deliveries{result=success} = %v, want %d", n, received+1)
	}
	if pending, err := store.FindWebhookEvents(ctx, gatehouse.WebhookFilter{}); err != nil || len(pending) != 0 {
		t.Errorf("FindWebhookEvents() = %d events, %v; want none pending", len(pending), err)
	}
}

// deliveries returns gatehouse_webhook_deliveries_total{result}.
func deliveries(t *testing.T, reg *prometheus.Registry, result string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "gatehouse_webhook_deliveries_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			if m.GetLabel()[0].GetValue() == result {
				return m.GetCounter().GetValue()
			}
		}
	}
	t.Fatalf("gatehouse_webhook_deliveries_total{result=%q} is not registered", result)
	return 0
}

// TestFailThenRecover: a failed delivery is retried on the schedule with
// the same webhook-id, and not before it is due; once the retries are used
// up, the event is given up.
func TestFailThenRecover(t *testing.T) {
	t.Parallel()
	store := gatehousetest.MustOpenSQLite(t)
	clock := gatehousetest.NewWallClock()
	store.Now = clock.Now
	ep, r := endpoint(t)
	var mu sync.Mutex
	status := http.StatusInternalServerError
	r.Respond = func(int, *gatehousetest.Webhook, *http.Request) int {
		mu.Lock()
		defer mu.Unlock()
		return status
	}
	sender, reg := newSender(t, store, clock, ep)
	logs := &gatehousetest.LogBuffer{}
	sender.Logger = slog.New(slog.NewJSONHandler(logs, nil))
	t.Cleanup(func() {
		if strings.Contains(logs.String(), "t0ps3cret") || strings.Contains(logs.String(), "/hooks/") {
			t.Errorf("the log shows the endpoint's path or token:\n%s", logs)
		}
		if !strings.Contains(logs.String(), "delivery failed") {
			t.Errorf("the log does not say that a delivery failed:\n%s", logs)
		}
	})
	ctx := context.Background()
	if err := store.CreateKey(ctx, newKey("one", nil)); err != nil {
		t.Fatal(err)
	}
	sender.SendDue(ctx)
	r.Wait(t, 1, 5*time.Second)
	failed, err := store.FindWebhookEvents(ctx, gatehouse.WebhookFilter{Failed: true})
	if err != nil || len(failed) != 1 || failed[0].Attempts != 1 || !strings.Contains(failed[0].LastResult, "500") {
		t.Fatalf("after a 500: failed events = %+v, %v; want one with 1 attempt and its 500", failed, err)
	}
	if strings.Contains(failed[0].LastResult, "t0ps3cret") {
		t.Errorf("LastResult %q holds the endpoint's token", failed[0].LastResult)
	}
	clock.Add(4 * time.Second)
	sender.SendDue(ctx)
	if n := len(r.Webhooks()); n != 1 {
		t.Fatalf("retried before 5 s: %d webhooks", n)
	}
	mu.Lock()
	status = http.StatusOK
	mu.Unlock()
	clock.Add(time.Second)
	sender.SendDue(ctx)
	got := r.Wait(t, 2, 5*time.Second)
	if got[0].ID != got[1].ID {
		t.Errorf("retry webhook-id = %s, want the first attempt's %s", got[1].ID, got[0].ID)
	}
	checkWebhook(t, got[1], gatehouse.EventKeyCreated)
	if got[0].Body != got[1].Body {
		t.Errorf("retry body %s differs from the first %s", got[1].Body, got[0].Body)
	}
	if pending, _ := store.FindWebhookEvents(ctx, gatehouse.WebhookFilter{}); len(pending) != 0 {
		t.Errorf("after the retry succeeded: %d events pending, want 0", len(pending))
	}

	// An endpoint that never recovers: 8 attempts in all, then given up.
	mu.Lock()
	status = http.StatusServiceUnavailable
	mu.Unlock()
	if err := store.CreateKey(ctx, newKey("two", nil)); err != nil {
		t.Fatal(err)
	}
	sender.SendDue(ctx)
	for _, d := range webhook.RetrySchedule {
		clock.Add(d)
		sender.SendDue(ctx)
	}
	clock.Add(48 * time.Hour)
	sender.SendDue(ctx)
	if n := len(r.Webhooks()); n != 2+1+len(webhook.RetrySchedule) {
		t.Errorf("webhooks to an endpoint that never recovers: %d, want %d", n-2, 1+len(webhook.RetrySchedule))
	}
	failed, err = store.FindWebhookEvents(ctx, gatehouse.WebhookFilter{Failed: true})
	if err != nil || len(failed) != 1 || !failed[0].Failed || failed[0].Attempts != 8 {
		t.Fatalf("failed events = %+v, %v; want one given up after 8 attempts", failed, err)
	}
	if n := (deliveries(t, reg, webhook.ResultExhausted)); n != 1 {
		t.Errorf("deliveries{result=exhausted} = %v, want 1", n)
	}
	if n := (deliveries(t, reg, webhook.ResultFailure)); n != 9 {
		t.Errorf("deliveries{result=failure} = %v, want 9", n)
	}
}

// TestGone: a 410 stops the event's retries to that endpoint, and only to
// that one.
func TestGone(t *testing.T) {
	t.Parallel()
	store := gatehousetest.MustOpenSQLite(t)
	clock := gatehousetest.NewWallClock()
	gone, rGone := endpoint(t)
	rGone.Respond = func(int, *gatehousetest.Webhook, *http.Request) int { return http.StatusGone }
	failing, rFailing := endpoint(t)
	rFailing.Respond = func(int, *gatehousetest.Webhook, *http.Request) int { return http.StatusBadGateway }
	sender, reg := newSender(t, store, clock, gone, failing)
	ctx := context.Background()
	if err := store.CreateKey(ctx, newKey("one", nil)); err != nil {
		t.Fatal(err)
	}
	sender.SendDue(ctx)
	clock.Add(5 * time.Second)
	sender.SendDue(ctx)
	if n := len(rGone.Webhooks()); n != 1 {
		t.Errorf("the endpoint that answered 410 got %d webhooks, want 1", n)
	}
	if n := len(rFailing.Webhooks()); n != 2 {
		t.Errorf("the failing endpoint got %d webhooks, want 2 (a retry)", n)
	}
	if n := (deliveries(t, reg, webhook.ResultGone)); n != 1 {
		t.Errorf("deliveries{result=gone} = %v, want 1", n)
	}
}

// TestHangingReceiver: a receiver that does not answer is cut off after
// the timeout, and the event is retried.
func TestHangingReceiver(t *testing.T) {
	t.Parallel()
	store := gatehousetest.MustOpenSQLite(t)
	clock := gatehousetest.NewWallClock()
	ep, r := endpoint(t)
	r.Respond = func(n int, _ *gatehousetest.Webhook, req *http.Request) int {
		if n == 1 {
			<-req.Context().Done()
		}
		return http.StatusOK
	}
	sender, _ := newSender(t, store, clock, ep)
	sender.Timeout = 300 * time.Millisecond
	ctx := context.Background()
	if err := store.CreateKey(ctx, newKey("one", nil)); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	sender.SendDue(ctx)
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("SendDue took %s with a hanging receiver and a 300ms timeout", d)
	}
	failed, err := store.FindWebhookEvents(ctx, gatehouse.WebhookFilter{Failed: true})
	if err != nil || len(failed) != 1 || !strings.Contains(failed[0].LastResult, "no answer within 300ms") {
		t.Fatalf("failed events = %+v, %v; want one that got no answer within 300ms", failed, err)
	}
	clock.Add(5 * time.Second)
	sender.SendDue(ctx)
	got := r.Wait(t, 2, 5*time.Second)
	if got[0].ID != got[1].ID {
		t.Errorf("retry webhook-id %s, want %s", got[1].ID, got[0].ID)
	}
}

// TestRestartWithPendingEvents: events written while no sender ran (a CLI
// change, a gateway stopped before it sent) go out when one starts.
func TestRestartWithPendingEvents(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "gatehouse.db")
	first := gatehousetest.MustOpenSQLiteAt(t, path)
	ctx := context.Background()
	for _, name := range []string{"one", "two", "three"} {
		if err := first.CreateKey(ctx, newKey(name, nil)); err != nil {
			t.Fatal(err)
		}
	}
	first.Close()

	store := gatehousetest.MustOpenSQLiteAt(t, path)
	ep, r := endpoint(t)
	sender, _ := newSender(t, store, gatehousetest.NewWallClock(), ep)
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { sender.Run(runCtx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	for _, w := range r.Wait(t, 3, 5*time.Second) {
		checkWebhook(t, w, gatehouse.EventKeyCreated)
	}
}

// TestSchedulerSecondsAhead: a key whose validUntil is seconds ahead gets
// key.expiring at once (it is inside the window) and key.expired within
// seconds of the moment, from a running scheduler and sender, used or
// not; after a downtime over the moment, key.expired comes at the start.
func TestSchedulerSecondsAhead(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "gatehouse.db")
	store := gatehousetest.MustOpenSQLiteAt(t, path)
	ep, r := endpoint(t, gatehouse.EventKeyExpiring, gatehouse.EventKeyExpired)
	clock := gatehousetest.NewWallClock()
	sender, _ := newSender(t, store, clock, ep)
	sched := &webhook.Scheduler{Store: store, Window: time.Hour, Interval: 100 * time.Millisecond, Now: clock.Now, Added: sender.Wake}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { sender.Run(ctx) })
	wg.Go(func() { sched.Run(ctx) })
	t.Cleanup(func() { cancel(); wg.Wait() })

	until := time.Now().Add(2 * time.Second).Truncate(time.Millisecond)
	k := newKey("soon", &until)
	if err := store.CreateKey(context.Background(), k); err != nil {
		t.Fatal(err)
	}
	got := r.Wait(t, 2, 10*time.Second)
	checkWebhook(t, got[0], gatehouse.EventKeyExpiring)
	checkWebhook(t, got[1], gatehouse.EventKeyExpired)
	if d := got[1].At.Sub(until); d < 0 || d > 5*time.Second {
		t.Errorf("key.expired arrived %s after validUntil, want within 5s", d)
	}
	cancel()
	wg.Wait()

	// Down over a key's moment: its key.expired comes at the next start.
	until2 := clock.Now().Add(time.Minute).Truncate(time.Millisecond)
	if err := store.CreateKey(context.Background(), newKey("while-down", &until2)); err != nil {
		t.Fatal(err)
	}
	clock.Add(2 * time.Hour) // down past the moment and past key.expiring's
	ctx2, cancel2 := context.WithCancel(context.Background())
	t.Cleanup(cancel2)
	go sender.Run(ctx2)
	go sched.Run(ctx2)
	got = r.Wait(t, 3, 10*time.Second)
	if key := checkWebhook(t, got[2], gatehouse.EventKeyExpired); key["name"] != "while-down" {
		t.Errorf("after the downtime: key.expired of %v, want while-down", key["name"])
	}
}

// TestTwoNodesPostgres: two nodes on one PostgreSQL outbox deliver 200
// changes, each event once; a node that dies holding claims leaves them
// to the other once their lease ends.
func TestTwoNodesPostgres(t *testing.T) {
	t.Parallel()
	dsn := gatehousetest.MustPostgresSchema(t)
	open := func() *postgres.Store {
		s, err := postgres.Open(context.Background(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	a, b := open(), open()
	ep, r := endpoint(t)
	clock := gatehousetest.NewWallClock()
	senderA, _ := newSender(t, a, clock, ep)
	senderB, _ := newSender(t, b, clock, ep)
	senderA.PollInterval, senderB.PollInterval = 20*time.Millisecond, 20*time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { senderA.Run(ctx) })
	wg.Go(func() { senderB.Run(ctx) })
	t.Cleanup(func() { cancel(); wg.Wait() })

	const n = 200
	var cwg sync.WaitGroup
	for i := range n {
		store := a
		if i%2 == 1 {
			store = b
		}
		cwg.Go(func() {
			if err := store.CreateKey(context.Background(), newKey(fmt.Sprintf("k%03d", i), nil)); err != nil {
				t.Error(err)
			}
		})
	}
	cwg.Wait()
	got := r.Wait(t, n, 30*time.Second)
	ids := map[string]int{}
	for _, w := range got {
		if w.Verified != nil {
			t.Errorf("%s: signature refused: %v", w.ID, w.Verified)
		}
		ids[w.ID]++
	}
	if len(ids) != n {
		t.Errorf("%d distinct events delivered, want %d", len(ids), n)
	}
	for id, c := range ids {
		if c != 1 {
			t.Errorf("event %s delivered %d times while both nodes were healthy, want once", id, c)
		}
	}
	cancel()
	wg.Wait()

	// Node A claims ten events and dies before sending them.
	for i := range 10 {
		if err := a.CreateKey(context.Background(), newKey(fmt.Sprintf("late-%d", i), nil)); err != nil {
			t.Fatal(err)
		}
	}
	claimed, err := a.ClaimWebhookEvents(context.Background(), clock.Now(), time.Minute, 100)
	if err != nil || len(claimed) != 10 {
		t.Fatalf("node A claimed %d events, %v; want 10", len(claimed), err)
	}
	ctxB, cancelB := context.WithCancel(context.Background())
	t.Cleanup(cancelB)
	go senderB.Run(ctxB)
	senderB.SendDue(ctxB)
	if len(r.Webhooks()) != n {
		t.Fatalf("node B sent events node A holds before their lease ended")
	}
	clock.Add(2 * time.Minute) // the lease ends
	senderB.Wake()
	got = r.Wait(t, n+10, 10*time.Second)
	for _, w := range got[n:] {
		checkWebhook(t, w, gatehouse.EventKeyCreated)
	}
}

// TestSetEndpoints: endpoints swapped while an event is pending: the
// removed endpoint gets no more attempts, the added one gets the pending
// event with its id and the events after it, and the one kept gets no
// event twice.
func TestSetEndpoints(t *testing.T) {
	t.Parallel()
	store := gatehousetest.MustOpenSQLite(t)
	clock := gatehousetest.NewWallClock()
	store.Now = clock.Now
	gone, rGone := endpoint(t)
	rGone.Respond = func(int, *gatehousetest.Webhook, *http.Request) int { return http.StatusInternalServerError }
	kept, rKept := endpoint(t)
	added, rAdded := endpoint(t)
	sender, _ := newSender(t, store, clock, gone, kept)
	ctx := context.Background()
	if err := store.CreateKey(ctx, newKey("one", nil)); err != nil {
		t.Fatal(err)
	}
	sender.SendDue(ctx)
	first := rKept.Wait(t, 1, 5*time.Second)[0]
	rGone.Wait(t, 1, 5*time.Second)

	if err := sender.SetEndpoints([]gatehouse.WebhookEndpoint{kept, added}); err != nil {
		t.Fatal(err)
	}
	clock.Add(webhook.RetrySchedule[0])
	sender.SendDue(ctx)
	if got := rAdded.Wait(t, 1, 5*time.Second)[0]; got.ID != first.ID {
		t.Errorf("the added endpoint got the pending event as %s, want its id %s", got.ID, first.ID)
	}
	if pending, _ := store.FindWebhookEvents(ctx, gatehouse.WebhookFilter{}); len(pending) != 0 {
		t.Errorf("after the swap: %d events pending, want 0 (the removed endpoint's delivery dropped)", len(pending))
	}

	if err := store.CreateKey(ctx, newKey("two", nil)); err != nil {
		t.Fatal(err)
	}
	sender.SendDue(ctx)
	checkWebhook(t, rKept.Wait(t, 2, 5*time.Second)[1], gatehouse.EventKeyCreated)
	checkWebhook(t, rAdded.Wait(t, 2, 5*time.Second)[1], gatehouse.EventKeyCreated)
	if n := len(rGone.Webhooks()); n != 1 {
		t.Errorf("the removed endpoint got %d webhooks, want only the one before the swap", n)
	}
	if n := len(rKept.Webhooks()); n != 2 {
		t.Errorf("the kept endpoint got %d webhooks, want 2", n)
	}
}
