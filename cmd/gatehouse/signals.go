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
// SIGHUP reloads the config of a running server (before serve runs, it is
// ignored with a log line: by default it would end the process).
type signals struct {
	// stop cancels the command's context.
	stop func()

	mu       sync.Mutex
	stopping bool
	endDrain func()       // set by serve: ends a drain in progress
	reload   func()       // set by serve: reloads the config
	log      *slog.Logger // set by serve; nil before
}

// serving tells the handler how a running server ends its drain and
// reloads its config, and where to log.
func (s *signals) serving(endDrain, reload func(), log *slog.Logger) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.endDrain, s.reload, s.log = endDrain, reload, log
}

func (s *signals) handle(ch <-chan os.Signal) {
	for sig := range ch {
		s.on(sig)
	}
}

func (s *signals) on(sig os.Signal) {
	s.mu.Lock()
	log, endDrain, reload, stopping := s.log, s.endDrain, s.reload, s.stopping
	if sig != syscall.SIGHUP {
		s.stopping = true
	}
	s.mu.Unlock()
	switch {
	case sig == syscall.SIGHUP && reload != nil && !stopping:
		log.Info("SIGHUP: reloading the config")
		reload()
	case sig == syscall.SIGHUP:
		if log != nil {
			log.Warn("SIGHUP ignored: the server is not running (starting or stopping); no config to reload")
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
