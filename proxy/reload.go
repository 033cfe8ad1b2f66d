package proxy

import (
	"crypto/tls"
	"net/http"
)

// prepareTable gives the routes of t what a request needs: their
// transport and lean engine pool (unless Transport serves every route; no
// pool when WrapTransport must see every call) and their metrics'
// children. A route of old with the same settings and upstream keeps its
// transport and pool, and so its idle connections.
func (h *Handler) prepareTable(t, old *Table) {
	kept := map[string]*route{}
	if old != nil {
		for _, r := range old.routes {
			kept[r.Name] = r
		}
	}
	for _, r := range t.routes {
		if h.Transport == nil {
			if o, ok := kept[r.Name]; ok && *o.Route == *r.Route && o.rootCAs.Equal(r.rootCAs) {
				r.transport, r.up = o.transport, o.up
			} else {
				r.transport = newRouteTransport(r)
				if h.WrapTransport == nil {
					r.up = newUpstream(r.target)
				}
			}
		}
		r.duration = h.duration.WithLabelValues(r.Name)
		r.open = h.openVec.WithLabelValues(r.Name)
		for reason := revoked; reason < closeReasons; reason++ {
			r.closed[reason] = h.closedVec.WithLabelValues(r.Name, reason.String())
		}
	}
}

// newRouteTransport returns a transport of the route's own: its response
// header timeout, and the CAs of its TLSCAFile for an https:// upstream.
func newRouteTransport(r *route) *http.Transport {
	t := NewTransport()
	t.ResponseHeaderTimeout = r.Timeout
	if r.rootCAs != nil {
		t.TLSClientConfig = &tls.Config{RootCAs: r.rootCAs, MinVersion: tls.VersionTLS12}
	}
	return t
}

// SetTable serves t from now on, in place of the table served (a config
// reload). A request that has matched a route of the old table finishes on
// it, with its upstream connection: long-lived answers (websockets,
// streams) too. The idle connections of the old routes whose transport and
// pool are not kept are closed. Calls must not overlap.
func (h *Handler) SetTable(t *Table) {
	old := h.table.Load()
	h.prepareTable(t, old)
	h.table.Store(t)
	kept := map[http.RoundTripper]bool{}
	keptUp := map[*upstream]bool{}
	for _, r := range t.routes {
		kept[r.transport], keptUp[r.up] = true, true
	}
	for _, r := range old.routes {
		if tr, ok := r.transport.(*http.Transport); ok && !kept[r.transport] {
			tr.CloseIdleConnections()
		}
		if r.up != nil && !keptUp[r.up] {
			r.up.closeIdle()
		}
	}
}
