package server

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"gatehouse"
)

// durationBuckets are those of gatehouse_proxy_upstream_duration_seconds,
// so that the two histograms compare bucket by bucket.
var durationBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}

// requestDuration is the end-to-end histogram beside the upstream's: the
// gateway's own work included.
type requestDuration struct {
	vec *prometheus.HistogramVec
	// byRoute holds the child of each route and of each label of the
	// gateway's own requests, made at start: so every one is on /metrics
	// from the start, and a request costs a read of a map that never
	// changes, without a lock, instead of WithLabelValues's hash of the
	// label and read lock on the vector's children.
	byRoute map[string]prometheus.Observer
}

func newRequestDuration(routes []gatehouse.Route) *requestDuration {
	d := &requestDuration{
		vec: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "gatehouse_proxy_request_duration_seconds",
			Help:    "Time from a request's headers to the end of its answer, the gateway's work included, by route (or gatehouse endpoint, as gatehouse_proxy_requests_total). A websocket session or a stream counts with its whole length.",
			Buckets: durationBuckets,
		}, []string{"route"}),
		byRoute: map[string]prometheus.Observer{},
	}
	for _, name := range gatehouse.ReservedRouteNames {
		d.byRoute[name] = d.vec.WithLabelValues(name)
	}
	for _, r := range routes {
		d.byRoute[r.Name] = d.vec.WithLabelValues(r.Name)
	}
	return d
}

// observe counts a request of route that took elapsed.
func (d *requestDuration) observe(route string, elapsed time.Duration) {
	o, ok := d.byRoute[route]
	if !ok {
		o = d.vec.WithLabelValues(route)
	}
	o.Observe(elapsed.Seconds())
}
