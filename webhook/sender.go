// Package webhook delivers key events to the config's webhook endpoints
// (contract §10): a Sender claims due events from the store's outbox,
// signs each per the Standard Webhooks specification (with that
// specification's Go library) and POSTs it, retrying failures on the
// specification's schedule; a Scheduler adds the time-driven events
// (key.expiring, key.expired) to the outbox.
package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"gatehouse"
	"gatehouse/keys"
)

// RetrySchedule is how long after each failed attempt the next one comes:
// the Standard Webhooks specification's schedule. After the last, the
// event is given up (Failed).
var RetrySchedule = []time.Duration{
	5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 5 * time.Hour, 10 * time.Hour, 10 * time.Hour,
}

// Defaults of the Sender's fields.
const (
	DefaultTimeout      = 10 * time.Second
	DefaultPollInterval = 250 * time.Millisecond
	// batch is the most events claimed at once; workers the most sent at
	// once.
	batch   = 32
	workers = 8
	// maxAnswer is how much of an answer's body is read (and dropped), so
	// that the connection can be reused.
	maxAnswer = 4 << 10
)

// Store is what a Sender needs of the store.
type Store interface {
	ClaimWebhookEvents(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]*gatehouse.WebhookEvent, error)
	UpdateWebhookEvent(ctx context.Context, e *gatehouse.WebhookEvent) (bool, error)
}

// Sender sends the outbox's due events to the endpoints. Every node runs
// one; the store's claims (a lease) make each event go out from one node
// at a time.
type Sender struct {
	// Store holds the outbox.
	Store Store
	// Endpoints receive the events. With none, events are marked
	// delivered as they come, so that the outbox does not grow.
	// SetEndpoints replaces them while the Sender runs.
	Endpoints []gatehouse.WebhookEndpoint
	// Client sends the requests. If nil, a client that follows no
	// redirects is used. Timeout bounds each request either way.
	Client *http.Client
	// Timeout is how long an endpoint has to answer. Default:
	// DefaultTimeout.
	Timeout time.Duration
	// PollInterval is how often the outbox is checked for due events
	// (Wake checks it at once). Default: DefaultPollInterval.
	PollInterval time.Duration
	// Now returns the current time, for what is due. The signature's
	// webhook-timestamp is always the wall clock's: the receiver checks
	// it against its own. If nil, time.Now is used.
	Now func() time.Time
	// Logger receives failed deliveries (never a secret, nor an
	// endpoint's path or query). If nil, logs are discarded.
	Logger *slog.Logger
	// Registerer, if not nil, gets gatehouse_webhook_deliveries_total.
	Registerer prometheus.Registerer

	initOnce   sync.Once
	wake       chan struct{}
	targets    atomic.Pointer[targets]
	deliveries *prometheus.CounterVec
}

// targets are the endpoints in use and their signers, in the same order,
// swapped together.
type targets struct {
	endpoints []gatehouse.WebhookEndpoint
	signers   []*standardwebhooks.Webhook
}

// newTargets returns eps with their signers.
func newTargets(eps []gatehouse.WebhookEndpoint) (*targets, error) {
	t := &targets{endpoints: eps}
	for i, ep := range eps {
		wh, err := standardwebhooks.NewWebhookRaw(ep.Secret.Reveal())
		if err != nil {
			return nil, fmt.Errorf("webhooks[%d]: %w", i, err)
		}
		t.signers = append(t.signers, wh)
	}
	return t, nil
}

// SetEndpoints replaces Endpoints while the Sender runs (a config
// reload). An attempt under way finishes with the endpoints it started
// with; the next one uses eps. What an event's endpoints already have
// (WebhookEvent.Done, by endpoint ID) is kept, so a new endpoint gets the
// events still pending and those to come, and a removed one gets no more
// attempts. eps must not be changed afterwards. On an error the
// endpoints stay as they were.
func (s *Sender) SetEndpoints(eps []gatehouse.WebhookEndpoint) error {
	if err := s.Init(); err != nil {
		return err
	}
	t, err := newTargets(eps)
	if err != nil {
		return err
	}
	s.targets.Store(t)
	s.Wake()
	return nil
}

// Delivery results, the values of gatehouse_webhook_deliveries_total's
// result label.
const (
	ResultSuccess   = "success"   // a 2xx answer
	ResultFailure   = "failure"   // another answer, no answer, or a timeout: retried
	ResultGone      = "gone"      // 410: the endpoint wants no retries of the event
	ResultExhausted = "exhausted" // the retry schedule is used up: the event is given up
)

// Init sets up the signers and registers the metric. Run and SendTest
// call it; call it first to learn of a bad setup before them.
func (s *Sender) Init() error {
	var err error
	s.initOnce.Do(func() {
		s.wake = make(chan struct{}, 1)
		if s.Client == nil {
			s.Client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		}
		t, e := newTargets(s.Endpoints)
		if e != nil {
			err = e
			return
		}
		s.targets.Store(t)
		s.deliveries = prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_webhook_deliveries_total",
			Help: "Webhook delivery attempts by result: success (2xx), failure (retried), gone (410: not retried), exhausted (an event given up).",
		}, []string{"result"})
		for _, r := range []string{ResultSuccess, ResultFailure, ResultGone, ResultExhausted} {
			s.deliveries.WithLabelValues(r)
		}
		if s.Registerer != nil {
			err = s.Registerer.Register(s.deliveries)
		}
	})
	return err
}

func (s *Sender) now() time.Time {
	if s.Now == nil {
		return time.Now()
	}
	return s.Now()
}

func (s *Sender) timeout() time.Duration {
	if s.Timeout <= 0 {
		return DefaultTimeout
	}
	return s.Timeout
}

func (s *Sender) log() *slog.Logger {
	if s.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Logger
}

// Wake makes Run look for due events at once (after a change on this
// node). It never blocks.
func (s *Sender) Wake() {
	s.Init()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Run sends due events until ctx is done.
func (s *Sender) Run(ctx context.Context) {
	if err := s.Init(); err != nil {
		s.log().Error("webhooks: not sending", "err", err)
		return
	}
	interval := s.PollInterval
	if interval <= 0 {
		interval = DefaultPollInterval
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		s.SendDue(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.wake:
		}
	}
}

// SendDue claims the events due now and sends them, until none is due.
func (s *Sender) SendDue(ctx context.Context) {
	if err := s.Init(); err != nil {
		return
	}
	// The lease covers one attempt at every endpoint, one after another,
	// with room to record it.
	lease := time.Duration(len(s.targets.Load().endpoints)+1)*s.timeout() + 30*time.Second
	for ctx.Err() == nil {
		events, err := s.Store.ClaimWebhookEvents(ctx, s.now(), lease, batch)
		if err != nil {
			if ctx.Err() == nil {
				s.log().Warn("webhooks: claim due events", "err", err)
			}
			return
		}
		var wg sync.WaitGroup
		sem := make(chan struct{}, workers)
		for _, e := range events {
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				s.attempt(ctx, e)
			})
		}
		wg.Wait()
		if len(events) < batch {
			return
		}
	}
}

// attempt sends a claimed event to each endpoint that wants it and does
// not have it yet, and records how it went. An attempt under way when ctx
// ends (a shutdown) is finished, within the timeout, and recorded: cut
// off, it would be sent again although the receiver may have had it.
func (s *Sender) attempt(ctx context.Context, e *gatehouse.WebhookEvent) {
	ctx = context.WithoutCancel(ctx)
	body, err := Body(e)
	if err != nil {
		s.log().Error("webhooks: encode event", "id", e.ID, "type", e.Type, "err", err)
		return
	}
	var results []string
	pending, sent := 0, false
	t := s.targets.Load()
	for i := range t.endpoints {
		ep := &t.endpoints[i]
		if !ep.Wants(e.Type) || slices.Contains(e.Done, ep.ID()) {
			continue
		}
		sent = true
		a := s.post(ctx, t, i, e.ID, body)
		results = append(results, fmt.Sprintf("webhooks[%d]: %s", i, a))
		switch {
		case a.ok():
			s.deliveries.WithLabelValues(ResultSuccess).Inc()
			e.Done = append(e.Done, ep.ID())
		case a.Status == http.StatusGone:
			s.deliveries.WithLabelValues(ResultGone).Inc()
			e.Done = append(e.Done, ep.ID())
			s.log().Warn("webhooks: the endpoint answered 410 Gone: no more retries of this event to it",
				"id", e.ID, "type", e.Type, "endpoint", fmt.Sprintf("webhooks[%d]", i), "host", ep.Redacted())
		default:
			pending++
			s.deliveries.WithLabelValues(ResultFailure).Inc()
			s.log().Warn("webhooks: delivery failed; will retry", "id", e.ID, "type", e.Type,
				"endpoint", fmt.Sprintf("webhooks[%d]", i), "host", ep.Redacted(), "attempt", e.Attempts+1, "result", a.String())
		}
	}
	now := s.now()
	if sent {
		e.Attempts++
		e.LastAttemptAt = &now
		e.LastResult = strings.Join(results, "; ")
	}
	switch {
	case pending == 0:
		e.DeliveredAt = &now
	case e.Attempts > len(RetrySchedule):
		e.Failed = true
		s.deliveries.WithLabelValues(ResultExhausted).Inc()
		s.log().Error("webhooks: event given up after the last retry", "id", e.ID, "type", e.Type,
			"attempts", e.Attempts, "result", e.LastResult)
	default:
		e.NextAttemptAt = now.Add(RetrySchedule[e.Attempts-1])
	}
	uctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if ok, err := s.Store.UpdateWebhookEvent(uctx, e); err != nil {
		s.log().Warn("webhooks: record an attempt", "id", e.ID, "err", err)
	} else if !ok {
		s.log().Warn("webhooks: an attempt outlasted its claim; another node may send the event again", "id", e.ID)
	}
}

// Answer is how an endpoint answered one request.
type Answer struct {
	// Status is the answer's HTTP status; 0 when none came.
	Status int
	// Err says why none came (a timeout, a refused connection).
	Err error
}

func (a Answer) ok() bool { return a.Status >= 200 && a.Status < 300 }

// String returns "200 OK", or what went wrong.
func (a Answer) String() string {
	if a.Err != nil {
		return a.Err.Error()
	}
	return strconv.Itoa(a.Status) + " " + http.StatusText(a.Status)
}

// post POSTs body, signed, to endpoint i of t.
func (s *Sender) post(ctx context.Context, t *targets, i int, id string, body []byte) Answer {
	ep := &t.endpoints[i]
	ctx, cancel := context.WithTimeout(ctx, s.timeout())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ep.URL, bytes.NewReader(body))
	if err != nil {
		return Answer{Err: errors.New("bad URL")}
	}
	ts := time.Now()
	sig, err := t.signers[i].Sign(id, ts, body)
	if err != nil {
		return Answer{Err: fmt.Errorf("sign: %w", err)}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "gatehouse-webhooks")
	req.Header.Set(standardwebhooks.HeaderWebhookID, id)
	req.Header.Set(standardwebhooks.HeaderWebhookTimestamp, strconv.FormatInt(ts.Unix(), 10))
	req.Header.Set(standardwebhooks.HeaderWebhookSignature, sig)
	resp, err := s.Client.Do(req)
	if err != nil {
		switch {
		case errors.Is(err, context.DeadlineExceeded):
			return Answer{Err: fmt.Errorf("no answer within %s", s.timeout())}
		case ctx.Err() != nil:
			return Answer{Err: errors.New("stopped")}
		}
		// The error names the URL, which may carry a token: keep its
		// cause alone.
		if ue, ok := errors.AsType[*url.Error](err); ok {
			err = ue.Err
		}
		return Answer{Err: err}
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, maxAnswer))
	resp.Body.Close()
	return Answer{Status: resp.StatusCode}
}

// Body returns the JSON an event is sent as: {"type", "timestamp",
// "data": {"key": ApiKey}}, the key in the management API's shape as it
// was at the event's time. It is the same on every attempt.
func Body(e *gatehouse.WebhookEvent) ([]byte, error) {
	type data struct {
		Key *keys.View `json:"key,omitempty"`
	}
	msg := struct {
		Type      string    `json:"type"`
		Timestamp time.Time `json:"timestamp"`
		Data      data      `json:"data"`
	}{Type: e.Type, Timestamp: e.At.UTC()}
	if e.Key != nil {
		v := keys.NewView(e.Key, e.At)
		msg.Data.Key = &v
	}
	return json.Marshal(msg)
}

// SendTest sends a test event (a new webhook-id, no key) to every
// endpoint at once, whatever events it subscribes to, and returns each
// answer, in the endpoints' order. Nothing is written to the outbox.
func (s *Sender) SendTest(ctx context.Context) ([]Answer, error) {
	if err := s.Init(); err != nil {
		return nil, err
	}
	body, err := Body(&gatehouse.WebhookEvent{Type: gatehouse.EventTest, At: s.now()})
	if err != nil {
		return nil, err
	}
	t := s.targets.Load()
	answers := make([]Answer, len(t.endpoints))
	var wg sync.WaitGroup
	for i := range t.endpoints {
		wg.Go(func() { answers[i] = s.post(ctx, t, i, gatehouse.NewWebhookEventID(), body) })
	}
	wg.Wait()
	return answers, nil
}
