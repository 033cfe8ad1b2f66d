package gatehousetest

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// MustWebhookSecret writes a new webhook secret ("whsec_" and the base64
// of 32 random bytes) to a 0600 file in a temporary directory, and returns
// the secret and the file's path.
func MustWebhookSecret(tb testing.TB) (secret, path string) {
	tb.Helper()
	var b [32]byte
	rand.Read(b[:])
	secret = "whsec_" + base64.StdEncoding.EncodeToString(b[:])
	path = filepath.Join(tb.TempDir(), "webhook.secret")
	if err := os.WriteFile(path, []byte(secret+"\n"), 0o600); err != nil {
		tb.Fatal(err)
	}
	return secret, path
}

// Webhook is a webhook as it reached a Receiver.
type Webhook struct {
	// ID is the webhook-id header.
	ID string
	// Type is the body's "type".
	Type string
	// Body is the body as sent.
	Body string
	// Header is the request's header.
	Header http.Header
	// Verified is nil when the Standard Webhooks library verified the
	// signature with the receiver's secret, else why not.
	Verified error
	// At is when it arrived (the wall clock).
	At time.Time
}

// Receiver is a real HTTP server that receives webhooks, as an operator's
// endpoint would: it verifies each one's signature with the Standard
// Webhooks specification's own Go library, records it, and answers with
// the status Respond gives (204 when Respond is nil).
type Receiver struct {
	*httptest.Server
	// Respond, if not nil, gives the answer's status of the nth webhook
	// (from 1). It may block until the request's context ends, to play a
	// receiver that hangs. Set it before the first webhook comes.
	Respond func(n int, w *Webhook, r *http.Request) int

	wh  *standardwebhooks.Webhook
	mu  sync.Mutex
	got []*Webhook
	// arrived is signalled on each webhook, for Wait.
	arrived chan struct{}
}

// NewReceiver starts a receiver that verifies with secret ("whsec_...")
// and closes it when tb ends.
func NewReceiver(tb testing.TB, secret string) *Receiver {
	tb.Helper()
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		tb.Fatal(err)
	}
	r := &Receiver{wh: wh, arrived: make(chan struct{}, 1)}
	r.Server = httptest.NewServer(http.HandlerFunc(r.serve))
	tb.Cleanup(r.Close)
	return r
}

func (rc *Receiver) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	var msg struct {
		Type string `json:"type"`
	}
	json.Unmarshal(body, &msg)
	hook := &Webhook{ID: r.Header.Get("webhook-id"), Type: msg.Type, Body: string(body), Header: r.Header.Clone(),
		Verified: rc.wh.Verify(body, r.Header), At: time.Now()}
	rc.mu.Lock()
	rc.got = append(rc.got, hook)
	n := len(rc.got)
	respond := rc.Respond
	rc.mu.Unlock()
	select {
	case rc.arrived <- struct{}{}:
	default:
	}
	status := http.StatusNoContent
	if respond != nil {
		status = respond(n, hook, r)
	}
	w.WriteHeader(status)
}

// Webhooks returns every webhook received so far, in order.
func (rc *Receiver) Webhooks() []*Webhook {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]*Webhook(nil), rc.got...)
}

// Wait returns the webhooks received once there are at least n, or fails
// tb after timeout.
func (rc *Receiver) Wait(tb testing.TB, n int, timeout time.Duration) []*Webhook {
	tb.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		if got := rc.Webhooks(); len(got) >= n {
			return got
		}
		select {
		case <-rc.arrived:
		case <-deadline.C:
			got := rc.Webhooks()
			types := make([]string, len(got))
			for i, w := range got {
				types[i] = w.Type
			}
			tb.Fatalf("receiver got %d webhooks %q within %s, want %d", len(got), types, timeout, n)
			return nil
		}
	}
}
