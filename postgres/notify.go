package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Listener timings.
const (
	// listenCheck is how long the listener waits for a notification before
	// it pings the server, to find a connection that died silently.
	listenCheck = 30 * time.Second
	// listenPingTimeout bounds that ping.
	listenPingTimeout = 5 * time.Second
	// Reconnection backoff, doubling from min to max.
	minBackoff = 100 * time.Millisecond
	maxBackoff = 5 * time.Second
)

// Notify returns a channel that receives a value after changes are
// committed by any store on the same schema, and after the listener
// reconnects (changes may have been missed meanwhile). It is closed when
// the store closes.
//
// The first call starts the listener: a goroutine holding a dedicated
// connection that LISTENs on gatehouse_key_changes and reconnects with
// backoff when the connection drops.
func (s *Store) Notify() <-chan struct{} {
	s.listenOnce.Do(func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.closed || s.cfg == nil {
			return
		}
		s.wg.Add(1)
		go s.listen(s.stopCtx)
	})
	return s.notify
}

// signal wakes the reader without blocking; one pending value is enough.
func (s *Store) signal() {
	select {
	case s.notify <- struct{}{}:
	default:
	}
}

func (s *Store) listen(ctx context.Context) {
	defer s.wg.Done()
	backoff := minBackoff
	for failed := false; ; failed = true {
		err := s.listenConn(ctx, func() {
			if failed {
				s.signal()
			}
			backoff = minBackoff
		})
		if ctx.Err() != nil {
			return
		}
		s.Logger.Warn("listen for key changes: connection lost; reconnecting",
			"err", err, "backoff", backoff)
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// listenConn connects, LISTENs, calls listening, and forwards the
// notifications meant for this store's schema until the connection fails
// or ctx ends.
func (s *Store) listenConn(ctx context.Context, listening func()) error {
	conn, err := pgx.ConnectConfig(ctx, s.cfg)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer closeConn(conn)
	var schema *string
	if err := conn.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		return fmt.Errorf("read schema: %w", err)
	} else if schema == nil {
		return errors.New("no schema of the search_path exists")
	}
	if _, err := conn.Exec(ctx, "LISTEN "+notifyChannel); err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	listening()
	prefix := *schema + ":"
	for {
		waitCtx, cancel := context.WithTimeout(ctx, listenCheck)
		n, err := conn.WaitForNotification(waitCtx)
		cancel()
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case err == nil:
			if strings.HasPrefix(n.Payload, prefix) {
				s.signal()
			}
		case pgconn.Timeout(err) && !conn.IsClosed():
			// Quiet for a while: make sure the server is still there.
			pingCtx, cancel := context.WithTimeout(ctx, listenPingTimeout)
			err := conn.Ping(pingCtx)
			cancel()
			if err != nil {
				return fmt.Errorf("ping: %w", err)
			}
		default:
			return fmt.Errorf("wait for notification: %w", err)
		}
	}
}

// closeConn closes a dedicated connection without waiting long on a dead
// server.
func closeConn(c *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	c.Close(ctx)
}
