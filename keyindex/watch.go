package keyindex

import (
	"context"
	"errors"
	"sync"
	"time"

	"gatehouse"
)

// Causes of a watch's end, as reported by context.Cause on the context
// that Watch returns.
var (
	// ErrKeyRemoved is the cause when the watched key left the index
	// (deleted, or never there).
	ErrKeyRemoved = errors.New("keyindex: key removed")
	// ErrKeyExpired is the cause when the watched key expired (and its
	// read-only grace, if any, ended).
	ErrKeyExpired = errors.New("keyindex: key expired")
	// ErrKeyDisabled is the cause when the watched key was disabled.
	ErrKeyDisabled = errors.New("keyindex: key disabled")
	// ErrKeyRolled is the cause when the watched secret is no longer the
	// key's: the overlap of the roll that replaced it ended, or another
	// roll replaced it again.
	ErrKeyRolled = errors.New("keyindex: key rolled")
)

// watch is one long-lived connection waiting on a key.
type watch struct {
	keyID string
	// secret is the digest of the secret the connection presented.
	secret gatehouse.Digest
	cancel context.CancelCauseFunc
}

// watchCause returns why a connection opened with the secret of digest
// secret must end at now, with k the key of its ID (ok false when it left
// the index), or nil when it may go on.
func watchCause(k *gatehouse.APIKey, ok bool, secret *gatehouse.Digest, now time.Time) error {
	switch {
	case !ok:
		return ErrKeyRemoved
	case k.Disabled:
		return ErrKeyDisabled
	case k.Expired(now) && !k.InGrace(now):
		return ErrKeyExpired
	case k.Digest == *secret:
		return nil
	case k.PreviousDigest != nil && *k.PreviousDigest == *secret && k.InOverlap(now):
		return nil
	}
	return ErrKeyRolled
}

// watches holds the open watches by key ID. One goroutine checks their
// expiry while there is any; removals cancel them at once.
type watches struct {
	mu      sync.Mutex
	byKey   map[string]map[*watch]struct{}
	n       int
	running bool // the expiry checker is running
}

// Watch returns a context that is cancelled when the key with the ID is
// removed from the index, disabled or expires (after its read-only
// grace), when the secret of digest secret stops being one of the key's
// live secrets (a roll's overlap ended), or when ctx ends. Long-lived
// connections (websockets, streams) hang off it, so that they close when
// their key stops being valid. context.Cause on the returned context gives
// ErrKeyRemoved, ErrKeyDisabled, ErrKeyExpired or ErrKeyRolled in those
// cases. Call the CancelFunc when the connection ends, to release the
// watch.
func (x *Index) Watch(ctx context.Context, keyID string, secret gatehouse.Digest) (context.Context, context.CancelFunc) {
	wctx, cancel := context.WithCancelCause(ctx)
	k, ok := x.Get(keyID)
	if err := watchCause(k, ok, &secret, x.now()); err != nil {
		cancel(err)
		return wctx, func() {}
	}
	w := &watch{keyID: keyID, secret: secret, cancel: cancel}
	x.watches.add(w, x.checkWatches)
	stop := context.AfterFunc(wctx, func() { x.watches.remove(w) })
	// A change applied between Get and add is caught here.
	k, ok = x.Get(keyID)
	if err := watchCause(k, ok, &secret, x.now()); err != nil {
		cancel(err)
	}
	return wctx, func() {
		stop()
		x.watches.remove(w)
		cancel(context.Canceled)
	}
}

// add registers w and starts the expiry checker if it is not running.
func (ws *watches) add(w *watch, check func()) {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	if ws.byKey == nil {
		ws.byKey = make(map[string]map[*watch]struct{})
	}
	set := ws.byKey[w.keyID]
	if set == nil {
		set = make(map[*watch]struct{}, 1)
		ws.byKey[w.keyID] = set
	}
	set[w] = struct{}{}
	ws.n++
	if !ws.running {
		ws.running = true
		go ws.checkLoop(check)
	}
}

func (ws *watches) remove(w *watch) {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	set := ws.byKey[w.keyID]
	if _, ok := set[w]; !ok {
		return
	}
	delete(set, w)
	ws.n--
	if len(set) == 0 {
		delete(ws.byKey, w.keyID)
	}
}

// cancelIf releases the watches of the key for which causeOf returns an
// error, and cancels each with its error.
func (ws *watches) cancelIf(keyID string, causeOf func(*watch) error) {
	type ending struct {
		cancel context.CancelCauseFunc
		cause  error
	}
	var ends []ending
	ws.mu.Lock()
	set := ws.byKey[keyID]
	for w := range set {
		if err := causeOf(w); err != nil {
			ends = append(ends, ending{w.cancel, err})
			delete(set, w)
			ws.n--
		}
	}
	if len(set) == 0 {
		delete(ws.byKey, keyID)
	}
	ws.mu.Unlock()
	// Cancelling runs AfterFunc callbacks that take ws.mu: not under it.
	for _, e := range ends {
		e.cancel(e.cause)
	}
}

// keyIDs returns the IDs of the watched keys.
func (ws *watches) keyIDs() []string {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	ids := make([]string, 0, len(ws.byKey))
	for id := range ws.byKey {
		ids = append(ids, id)
	}
	return ids
}

// checkLoop calls check every watchCheckInterval while any watch is open.
func (ws *watches) checkLoop(check func()) {
	t := time.NewTicker(watchCheckInterval)
	defer t.Stop()
	for range t.C {
		check()
		ws.mu.Lock()
		if ws.n == 0 {
			ws.running = false
			ws.mu.Unlock()
			return
		}
		ws.mu.Unlock()
	}
}

// watchCheckInterval is how often watched keys are checked for expiry
// and the end of a roll's overlap.
const watchCheckInterval = 200 * time.Millisecond

// checkWatches cancels the watches whose connections must end (see
// watchCause). It runs every watchCheckInterval while a watch is open, and
// after every sync that changed keys.
func (x *Index) checkWatches() {
	now := x.now()
	for _, id := range x.watches.keyIDs() {
		k, ok := x.Get(id)
		x.watches.cancelIf(id, func(w *watch) error { return watchCause(k, ok, &w.secret, now) })
	}
}
