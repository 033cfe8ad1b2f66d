package keyindex

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"gatehouse"
)

type metrics struct {
	syncErrors prometheus.Counter
}

// register creates the metrics and, when reg is not nil, registers them.
func (m *metrics) register(x *Index, reg prometheus.Registerer) {
	m.syncErrors = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "gatehouse_keyindex_sync_errors_total",
		Help: "Failed loads and syncs of the key index.",
	})
	if reg == nil {
		return
	}
	reg.MustRegister(
		m.syncErrors,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "gatehouse_keyindex_keys",
			Help: "Keys in the key index.",
		}, func() float64 { return float64(x.Len()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "gatehouse_keyindex_last_sync_timestamp_seconds",
			Help: "When the key index last synced with the store, in Unix seconds.",
		}, func() float64 {
			if t := x.LastSync(); !t.IsZero() {
				return float64(t.UnixNano()) / 1e9
			}
			return 0
		}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "gatehouse_keys_expiring_soon",
			Help: "Keys that expire within the expiry warning window (expiry_warning, 7 days by default) and have not expired yet.",
		}, func() float64 { return float64(x.expiringSoon(x.now())) }),
	)
}

// expiringSoon counts the keys that expire within the warning window of
// now.
func (x *Index) expiringSoon(now time.Time) int {
	n := 0
	x.tab.Load().each(func(k *gatehouse.APIKey) bool {
		if k.ExpiresWithin(now, time.Duration(x.expiryWarning.Load())) {
			n++
		}
		return true
	})
	return n
}
