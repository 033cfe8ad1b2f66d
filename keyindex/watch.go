package keyindex

import (
	"context"
	"errors"
	"sync"
	"time"
)

// Causes of a watch's end, as reported by context.Cause on the context
// that Watch returns.
var (
	// ErrKeyRemoved is the cause when the watched key left the index
	// (deleted, or never there).
	ErrKeyRemoved = errors.New("keyindex: key removed")
	// ErrKeyExpired is the cause when the watched key expired.
	ErrKeyExpired = errors.New("keyindex: key expired")
)

// watch is one long-lived connection waiting on a key.
type watch struct {
	keyID  string
	cancel context.CancelCauseFunc
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
// removed from the index or expires, or when ctx ends. Long-lived
// connections (websockets, streams) hang off it, so that they close when
// their key stops being valid. context.Cause on the returned context gives
// ErrKeyRemoved or ErrKeyExpired in those cases. Call the CancelFunc when
// the connection ends, to release the watch.
func (x *Index) Watch(ctx context.Context, keyID string) (context.Context, context.CancelFunc) {
	wctx, cancel := context.WithCancelCause(ctx)
	k, ok := x.Get(keyID)
	switch {
	case !ok:
		cancel(ErrKeyRemoved)
		return wctx, func() {}
	case k.Expired(x.now()):
		cancel(ErrKeyExpired)
		return wctx, func() {}
	}
	w := &watch{keyID: keyID, cancel: cancel}
	x.watches.add(w, x.checkWatches)
	stop := context.AfterFunc(wctx, func() { x.watches.remove(w) })
	// A removal applied between Get and add is caught here.
	if _, ok := x.Get(keyID); !ok {
		cancel(ErrKeyRemoved)
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

// cancelKey releases every watch of the key and cancels it with cause.
func (ws *watches) cancelKey(keyID string, cause error) {
	ws.mu.Lock()
	var cancels []context.CancelCauseFunc
	for w := range ws.byKey[keyID] {
		cancels = append(cancels, w.cancel)
	}
	ws.n -= len(ws.byKey[keyID])
	delete(ws.byKey, keyID)
	ws.mu.Unlock()
	// Cancelling runs AfterFunc callbacks that take ws.mu: not under it.
	for _, c := range cancels {
		c(cause)
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

// watchCheckInterval is how often watched keys are checked for expiry.
const watchCheckInterval = 200 * time.Millisecond

// checkWatches cancels the watches of keys that expired or left the index.
func (x *Index) checkWatches() {
	now := x.now()
	for _, id := range x.watches.keyIDs() {
		k, ok := x.Get(id)
		switch {
		case !ok:
			x.watches.cancelKey(id, ErrKeyRemoved)
		case k.Expired(now):
			x.watches.cancelKey(id, ErrKeyExpired)
		}
	}
}
