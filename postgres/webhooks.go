package postgres

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"gatehouse"
)

// keepWebhookEvents is how long finished events stay in the outbox (at
// least; see ScheduleKeyEvents).
const keepWebhookEvents = 30 * 24 * time.Hour

const webhookColumns = `id, type, at, key_json, attempts, next_attempt_at, last_attempt_at,
	last_result, done, delivered_at, failed, claimed_until`

// addKeyEvent adds an event of type typ about the key with the ID, as it
// is in tx at this point, to the outbox, inside tx: the transaction of the
// change it reports (before the key's row goes, for a deletion). It adds
// nothing when there is no such key: the change itself then fails with
// ENotFound.
func (s *Store) addKeyEvent(ctx context.Context, tx pgx.Tx, typ, id string) error {
	k, err := scanKey(tx.QueryRow(ctx, `SELECT `+keyColumns+` FROM api_keys WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	} else if err != nil {
		return err
	}
	return insertEvent(ctx, tx, typ, k, s.now(), nil)
}

// insertEvent adds an event at at to the outbox, due at once. A
// time-driven event has a period (the validUntil it is about), and is
// added at most once per key, type and period.
func insertEvent(ctx context.Context, tx pgx.Tx, typ string, k *gatehouse.APIKey, at time.Time, period *time.Time) error {
	snap, err := gatehouse.SnapshotKey(k)
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `INSERT INTO webhook_events (id, type, key_id, period, at, key_json, next_attempt_at)
		VALUES ($1, $2, $3, $4, $5, $6, $5) ON CONFLICT DO NOTHING`,
		gatehouse.NewWebhookEventID(), typ, k.ID, stamp(period), ms(at), string(snap))
	return err
}

// ScheduleKeyEvents adds the time-driven events up to now; see
// gatehouse.WebhookStore. Concurrent calls take turns on the schedule's
// row.
func (s *Store) ScheduleKeyEvents(ctx context.Context, now time.Time, window time.Duration) (int, error) {
	now = ms(now)
	added := 0
	err := s.write(ctx, "schedule key events", func(tx pgx.Tx) error {
		added = 0
		// The row exists from the first call on; the lock makes callers
		// take turns.
		if _, err := tx.Exec(ctx, `INSERT INTO webhook_schedule (id, through) VALUES (1, $1)
			ON CONFLICT (id) DO NOTHING`, now); err != nil {
			return err
		}
		var through time.Time
		if err := tx.QueryRow(ctx, `SELECT through FROM webhook_schedule WHERE id = 1 FOR UPDATE`).Scan(&through); err != nil {
			return err
		}
		// add adds an event of type typ for each key query selects, about
		// the moment period(k), at at(k).
		add := func(typ, query string, period func(k *gatehouse.APIKey) *time.Time, at func(k *gatehouse.APIKey) time.Time, args ...any) error {
			keys, err := queryKeys(ctx, tx, query, args...)
			if err != nil {
				return err
			}
			for _, k := range keys {
				if err := insertEvent(ctx, tx, typ, k, at(k), period(k)); err != nil {
					return err
				}
			}
			added += len(keys)
			return nil
		}
		if err := add(gatehouse.EventKeyExpired, `SELECT `+keyColumns+` FROM api_keys
			WHERE valid_until > $1 AND valid_until <= $2`,
			validUntil, func(k *gatehouse.APIKey) time.Time { return *k.ValidUntil },
			through, now); err != nil {
			return err
		}
		if err := add(gatehouse.EventKeyExpiring, `SELECT `+keyColumns+` FROM api_keys k
			WHERE valid_until > $1 AND valid_until <= $2 AND NOT EXISTS (
				SELECT 1 FROM webhook_events e
				WHERE e.key_id = k.id AND e.type = $3 AND e.period = k.valid_until)`,
			validUntil, func(k *gatehouse.APIKey) time.Time { return expiringAt(k, through, now, window) },
			now, now.Add(window), gatehouse.EventKeyExpiring); err != nil {
			return err
		}
		if err := add(gatehouse.EventKeyPreviousExpired, `SELECT `+keyColumns+` FROM api_keys
			WHERE previous_valid_until > $1 AND previous_valid_until <= $2`,
			previousValidUntil, func(k *gatehouse.APIKey) time.Time { return *k.PreviousValidUntil },
			through, now); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE webhook_schedule SET through = greatest(through, $1) WHERE id = 1`, now); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `DELETE FROM webhook_events
			WHERE at < $1 AND (delivered_at IS NOT NULL OR failed)`,
			now.Add(-max(keepWebhookEvents, 2*window)))
		return err
	})
	if err != nil {
		return 0, err
	}
	return added, nil
}

// validUntil and previousValidUntil are the moments of the time-driven
// events, their periods.
func validUntil(k *gatehouse.APIKey) *time.Time         { return k.ValidUntil }
func previousValidUntil(k *gatehouse.APIKey) *time.Time { return k.PreviousValidUntil }

// expiringAt is the moment of a key.expiring event found between through
// and now: when k entered the window, if that was after through; else now
// (the key was created or renewed inside it).
func expiringAt(k *gatehouse.APIKey, through, now time.Time, window time.Duration) time.Time {
	if entered := k.ValidUntil.Add(-window); entered.After(through) && !entered.After(now) {
		return entered
	}
	return now
}

// queryKeys returns the keys a query of keyColumns selects.
func queryKeys(ctx context.Context, tx pgx.Tx, query string, args ...any) ([]*gatehouse.APIKey, error) {
	rows, err := tx.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var keys []*gatehouse.APIKey
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	return keys, rows.Err()
}

// ClaimWebhookEvents claims due events; see gatehouse.WebhookStore. FOR
// UPDATE SKIP LOCKED lets concurrent claims pass each other's rows by, and
// the lease keeps a claimed event from every other sender until it ends.
func (s *Store) ClaimWebhookEvents(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]*gatehouse.WebhookEvent, error) {
	var events []*gatehouse.WebhookEvent
	err := s.write(ctx, "claim webhook events", func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `UPDATE webhook_events SET claimed_until = $1
			WHERE seq IN (SELECT seq FROM webhook_events
				WHERE delivered_at IS NULL AND NOT failed AND next_attempt_at <= $2 AND claimed_until <= $2
				ORDER BY next_attempt_at, seq LIMIT $3 FOR UPDATE SKIP LOCKED)
			RETURNING `+webhookColumns, ms(now.Add(lease)), ms(now), limit)
		if err != nil {
			return err
		}
		events, err = scanEvents(rows)
		return err
	})
	if err != nil {
		return nil, err
	}
	slices.SortStableFunc(events, func(a, b *gatehouse.WebhookEvent) int {
		return cmp.Or(a.NextAttemptAt.Compare(b.NextAttemptAt), a.At.Compare(b.At))
	})
	return events, nil
}

// UpdateWebhookEvent records an attempt; see gatehouse.WebhookStore.
func (s *Store) UpdateWebhookEvent(ctx context.Context, e *gatehouse.WebhookEvent) (bool, error) {
	done := e.Done
	if done == nil {
		done = []string{}
	}
	var n int64
	err := s.write(ctx, "update webhook event", func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE webhook_events SET attempts = $1, next_attempt_at = $2,
			last_attempt_at = $3, last_result = $4, done = $5, delivered_at = $6, failed = $7, claimed_until = 'epoch'
			WHERE id = $8 AND claimed_until = $9`,
			e.Attempts, ms(e.NextAttemptAt), stamp(e.LastAttemptAt), e.LastResult, done,
			stamp(e.DeliveredAt), e.Failed, e.ID, ms(e.ClaimedUntil))
		n = tag.RowsAffected()
		return err
	})
	if err != nil {
		return false, err
	}
	return n == 1, nil
}

// FindWebhookEvents returns the events not yet delivered; see
// gatehouse.WebhookStore.
func (s *Store) FindWebhookEvents(ctx context.Context, f gatehouse.WebhookFilter) ([]*gatehouse.WebhookEvent, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	where := `delivered_at IS NULL`
	if f.Failed {
		where += ` AND (failed OR attempts > 0)`
	}
	var events []*gatehouse.WebhookEvent
	err := s.withConn(ctx, "find webhook events", func(c *pgx.Conn) error {
		rows, err := c.Query(ctx, `SELECT `+webhookColumns+` FROM webhook_events
			WHERE `+where+` ORDER BY seq DESC LIMIT $1`, limit)
		if err != nil {
			return err
		}
		events, err = scanEvents(rows)
		return err
	})
	if err != nil {
		return nil, err
	}
	return events, nil
}

// scanEvents reads rows of webhookColumns and closes them.
func scanEvents(rows pgx.Rows) ([]*gatehouse.WebhookEvent, error) {
	defer rows.Close()
	var events []*gatehouse.WebhookEvent
	for rows.Next() {
		var (
			e                      gatehouse.WebhookEvent
			keyJSON                []byte
			lastAttempt, delivered *time.Time
		)
		if err := rows.Scan(&e.ID, &e.Type, &e.At, &keyJSON, &e.Attempts, &e.NextAttemptAt, &lastAttempt,
			&e.LastResult, &e.Done, &delivered, &e.Failed, &e.ClaimedUntil); err != nil {
			return nil, err
		}
		k, err := gatehouse.ParseKeySnapshot(keyJSON)
		if err != nil {
			return nil, fmt.Errorf("event %s: %w", e.ID, err)
		}
		e.Key = k
		e.At, e.NextAttemptAt, e.ClaimedUntil = e.At.UTC(), e.NextAttemptAt.UTC(), e.ClaimedUntil.UTC()
		e.LastAttemptAt, e.DeliveredAt = utc(lastAttempt), utc(delivered)
		events = append(events, &e)
	}
	return events, rows.Err()
}
