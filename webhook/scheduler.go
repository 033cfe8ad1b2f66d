package webhook

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"gatehouse"
)

// DefaultScheduleInterval is how often a Scheduler looks for keys that
// expire or enter the expiry warning window, unless it says otherwise.
const DefaultScheduleInterval = time.Second

// ScheduleStore is what a Scheduler needs of the store.
type ScheduleStore interface {
	ScheduleKeyEvents(ctx context.Context, now time.Time, window time.Duration) (int, error)
}

// Scheduler adds the time-driven events to the outbox: key.expiring when
// a key enters the expiry warning window (or is created or renewed inside
// it), key.expired when its validUntil passes, used or not. Every node
// runs one; the store adds each event once per key and validUntil, and
// remembers how far it got, so that the moments that passed while no node
// ran are caught up at the next start.
type Scheduler struct {
	// Store holds the keys and the outbox.
	Store ScheduleStore
	// Window is the config's expiry_warning. Default:
	// gatehouse.DefaultExpiryWarning.
	Window time.Duration
	// Interval is how often the keys are looked at. Default:
	// DefaultScheduleInterval.
	Interval time.Duration
	// Now returns the current time. If nil, time.Now is used.
	Now func() time.Time
	// Added, if not nil, is called after events were added (to wake the
	// Sender).
	Added func()
	// Logger receives the store's failures. If nil, logs are discarded.
	Logger *slog.Logger

	// window is what SetWindow set last; 0 until then.
	window atomic.Int64
}

// SetWindow replaces Window while the Scheduler runs (a config reload):
// the schedules from now on use d. Zero or less means
// gatehouse.DefaultExpiryWarning.
func (s *Scheduler) SetWindow(d time.Duration) {
	if d <= 0 {
		d = gatehouse.DefaultExpiryWarning
	}
	s.window.Store(int64(d))
}

// Run schedules until ctx is done.
func (s *Scheduler) Run(ctx context.Context) {
	interval := s.Interval
	if interval <= 0 {
		interval = DefaultScheduleInterval
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if _, err := s.Schedule(ctx); err != nil && ctx.Err() == nil {
			log := s.Logger
			if log == nil {
				log = slog.New(slog.DiscardHandler)
			}
			log.Warn("webhooks: schedule key.expiring and key.expired events", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Schedule adds the events due now, and returns how many it added.
func (s *Scheduler) Schedule(ctx context.Context) (int, error) {
	now := time.Now()
	if s.Now != nil {
		now = s.Now()
	}
	window := time.Duration(s.window.Load())
	if window <= 0 {
		window = s.Window
	}
	if window <= 0 {
		window = gatehouse.DefaultExpiryWarning
	}
	n, err := s.Store.ScheduleKeyEvents(ctx, now, window)
	if n > 0 && s.Added != nil {
		s.Added()
	}
	return n, err
}
