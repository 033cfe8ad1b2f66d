package main

import (
	"log/slog"
	"os"
	"sync"
	"syscall"
)

// signals is what SIGINT, SIGTERM and SIGHUP do to the process. The first
// SIGINT or SIGTERM stops it (serve drains the requests in flight within
// shutdown_timeout); a second one during the drain ends the wait at once.
// SIGHUP, which would end the process by default and lose the usage not
// yet flushed, is ignored with a log line until the config can be
// reloaded.
type signals struct {
	// stop cancels the command's context.
	stop func()

	mu       sync.Mutex
	stopping bool
	endDrain func()       // set by serve: ends a drain in progress
	log      *slog.Logger // set by serve; nil before
}

// serving tells the handler how a running server ends its drain, and
// where to log.
func (s *signals) serving(endDrain func(), log *slog.Logger) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.endDrain, s.log = endDrain, log
}

func (s *signals) handle(ch <-chan os.Signal) {
	for sig := range ch {
		s.on(sig)
	}
}

func (s *signals) on(sig os.Signal) {
	s.mu.Lock()
	log, endDrain, stopping := s.log, s.endDrain, s.stopping
	if sig != syscall.SIGHUP {
		s.stopping = true
	}
	s.mu.Unlock()
	switch {
	case sig == syscall.SIGHUP:
		if log != nil {
			log.Warn("SIGHUP ignored: this version cannot reload its config; restart it to apply a new one")
		}
	case !stopping:
		s.stop()
	case endDrain != nil:
		if log != nil {
			log.Warn("second " + sig.String() + ": ending the drain now, closing the requests still in flight")
		}
		endDrain()
	}
}
