package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

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
func (s *Store) addKeyEvent(ctx context.Context, tx *sql.Tx, typ, id string) error {
	k, err := scanKey(tx.QueryRowContext(ctx, `SELECT `+keyColumns+` FROM api_keys WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	} else if err != nil {
		return err
	}
	return insertEvent(ctx, tx, typ, k, s.now(), nil)
}

// insertEvent adds an event at at to the outbox, due at once. A
// time-driven event has a period (the validUntil it is about), and is
// added at most once per key, type and period.
func insertEvent(ctx context.Context, tx *sql.Tx, typ string, k *gatehouse.APIKey, at time.Time, period *time.Time) error {
	snap, err := gatehouse.SnapshotKey(k)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO webhook_events (id, type, key_id, period, at, key_json, next_attempt_at)
		VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		gatehouse.NewWebhookEventID(), typ, k.ID, nullMillis(period), millis(at), string(snap), millis(at))
	return err
}

// ScheduleKeyEvents adds the time-driven events up to now; see
// gatehouse.WebhookStore. A call that finds nothing to add, by a read,
// writes nothing, unless the mark is a minute old.
func (s *Store) ScheduleKeyEvents(ctx context.Context, now time.Time, window time.Duration) (int, error) {
	now = now.UTC().Truncate(time.Millisecond)
	if idle, err := s.scheduleIdle(ctx, now, window); err != nil {
		return 0, wrap("schedule key events", err)
	} else if idle {
		return 0, nil
	}
	added := 0
	err := s.write(ctx, func(tx *sql.Tx) error {
		added = 0
		var through int64
		err := tx.QueryRowContext(ctx, `SELECT through FROM webhook_schedule WHERE id = 1`).Scan(&through)
		if errors.Is(err, sql.ErrNoRows) {
			through = millis(now)
		} else if err != nil {
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
			WHERE valid_until > ? AND valid_until <= ?`,
			validUntil, func(k *gatehouse.APIKey) time.Time { return *k.ValidUntil },
			through, millis(now)); err != nil {
			return err
		}
		if err := add(gatehouse.EventKeyExpiring, `SELECT `+keyColumns+` FROM api_keys k
			WHERE valid_until > ? AND valid_until <= ? AND NOT EXISTS (
				SELECT 1 FROM webhook_events e
				WHERE e.key_id = k.id AND e.type = ? AND e.period = k.valid_until)`,
			validUntil, func(k *gatehouse.APIKey) time.Time { return expiringAt(k, fromMillis(through), now, window) },
			millis(now), millis(now.Add(window)), gatehouse.EventKeyExpiring); err != nil {
			return err
		}
		if err := add(gatehouse.EventKeyPreviousExpired, `SELECT `+keyColumns+` FROM api_keys
			WHERE previous_valid_until > ? AND previous_valid_until <= ?`,
			previousValidUntil, func(k *gatehouse.APIKey) time.Time { return *k.PreviousValidUntil },
			through, millis(now)); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO webhook_schedule (id, through) VALUES (1, ?)
			ON CONFLICT (id) DO UPDATE SET through = max(through, excluded.through)`, millis(now)); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM webhook_events
			WHERE at < ? AND (delivered_at IS NOT NULL OR failed = 1)`,
			millis(now.Add(-max(keepWebhookEvents, 2*window))))
		return err
	})
	if err != nil {
		return 0, wrap("schedule key events", err)
	}
	return added, nil
}

// markEvery is how often ScheduleKeyEvents moves the schedule's mark when
// it finds nothing to add: an idle call takes no write lock (each write
// is an fsync), and the next one looks from the older mark again.
const markEvery = time.Minute

// scheduleIdle reports, from a read, whether ScheduleKeyEvents at now
// would add nothing and need not move the mark yet.
func (s *Store) scheduleIdle(ctx context.Context, now time.Time, window time.Duration) (bool, error) {
	var through sql.NullInt64
	var due int
	err := s.db.QueryRowContext(ctx, `SELECT (SELECT through FROM webhook_schedule WHERE id = 1),
		(SELECT count(*) FROM api_keys WHERE valid_until > coalesce((SELECT through FROM webhook_schedule WHERE id = 1), ?) AND valid_until <= ?)
		+ (SELECT count(*) FROM api_keys WHERE previous_valid_until > coalesce((SELECT through FROM webhook_schedule WHERE id = 1), ?) AND previous_valid_until <= ?)
		+ (SELECT count(*) FROM api_keys k WHERE valid_until > ? AND valid_until <= ? AND NOT EXISTS (
			SELECT 1 FROM webhook_events e WHERE e.key_id = k.id AND e.type = ? AND e.period = k.valid_until))`,
		millis(now), millis(now), millis(now), millis(now), millis(now), millis(now.Add(window)), gatehouse.EventKeyExpiring).Scan(&through, &due)
	if err != nil {
		return false, err
	}
	return through.Valid && due == 0 && now.Sub(fromMillis(through.Int64)) < markEvery, nil
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
func queryKeys(ctx context.Context, tx *sql.Tx, query string, args ...any) ([]*gatehouse.APIKey, error) {
	rows, err := tx.QueryContext(ctx, query, args...)
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

// ClaimWebhookEvents claims due events; see gatehouse.WebhookStore. The
// write transaction makes claims take turns.
func (s *Store) ClaimWebhookEvents(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]*gatehouse.WebhookEvent, error) {
	until := now.Add(lease).UTC().Truncate(time.Millisecond)
	// Most polls find nothing due: they need not take the write lock.
	var due int
	err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM (SELECT 1 FROM webhook_events
		WHERE delivered_at IS NULL AND failed = 0 AND next_attempt_at <= ? AND claimed_until <= ? LIMIT 1)`,
		millis(now), millis(now)).Scan(&due)
	if err != nil {
		return nil, wrap("claim webhook events", err)
	} else if due == 0 {
		return nil, nil
	}
	var events []*gatehouse.WebhookEvent
	err = s.write(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `UPDATE webhook_events SET claimed_until = ?
			WHERE seq IN (SELECT seq FROM webhook_events
				WHERE delivered_at IS NULL AND failed = 0 AND next_attempt_at <= ? AND claimed_until <= ?
				ORDER BY next_attempt_at, seq LIMIT ?)
			RETURNING `+webhookColumns, millis(until), millis(now), millis(now), limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		events, err = scanEvents(rows)
		return err
	})
	if err != nil {
		return nil, wrap("claim webhook events", err)
	}
	sortEvents(events)
	return events, nil
}

// UpdateWebhookEvent records an attempt; see gatehouse.WebhookStore.
func (s *Store) UpdateWebhookEvent(ctx context.Context, e *gatehouse.WebhookEvent) (bool, error) {
	done, err := json.Marshal(e.Done)
	if err != nil {
		return false, wrap("update webhook event", err)
	}
	var n int64
	err = s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE webhook_events SET attempts = ?, next_attempt_at = ?,
			last_attempt_at = ?, last_result = ?, done = ?, delivered_at = ?, failed = ?, claimed_until = 0
			WHERE id = ? AND claimed_until = ?`,
			e.Attempts, millis(e.NextAttemptAt), nullMillis(e.LastAttemptAt), e.LastResult, string(done),
			nullMillis(e.DeliveredAt), e.Failed, e.ID, millis(e.ClaimedUntil))
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return false, wrap("update webhook event", err)
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
		where += ` AND (failed = 1 OR attempts > 0)`
	}
	rows, err := s.db.QueryContext(ctx, `SELECT `+webhookColumns+` FROM webhook_events
		WHERE `+where+` ORDER BY seq DESC LIMIT ?`, limit)
	if err != nil {
		return nil, wrap("find webhook events", err)
	}
	defer rows.Close()
	events, err := scanEvents(rows)
	if err != nil {
		return nil, wrap("find webhook events", err)
	}
	return events, nil
}

// scanEvents reads rows of webhookColumns.
func scanEvents(rows *sql.Rows) ([]*gatehouse.WebhookEvent, error) {
	var events []*gatehouse.WebhookEvent
	for rows.Next() {
		var (
			e                      gatehouse.WebhookEvent
			at, next, claimed      int64
			lastAttempt, delivered sql.NullInt64
			keyJSON, done          string
		)
		if err := rows.Scan(&e.ID, &e.Type, &at, &keyJSON, &e.Attempts, &next, &lastAttempt,
			&e.LastResult, &done, &delivered, &e.Failed, &claimed); err != nil {
			return nil, err
		}
		k, err := gatehouse.ParseKeySnapshot([]byte(keyJSON))
		if err != nil {
			return nil, fmt.Errorf("event %s: %w", e.ID, err)
		}
		if err := json.Unmarshal([]byte(done), &e.Done); err != nil {
			return nil, fmt.Errorf("event %s: done: %w", e.ID, err)
		}
		e.Key = k
		e.At, e.NextAttemptAt, e.ClaimedUntil = fromMillis(at), fromMillis(next), fromMillis(claimed)
		e.LastAttemptAt, e.DeliveredAt = fromNullMillis(lastAttempt), fromNullMillis(delivered)
		events = append(events, &e)
	}
	return events, rows.Err()
}

// sortEvents puts claimed events oldest first: RETURNING keeps no order.
func sortEvents(events []*gatehouse.WebhookEvent) {
	slices.SortStableFunc(events, func(a, b *gatehouse.WebhookEvent) int {
		return cmp.Or(a.NextAttemptAt.Compare(b.NextAttemptAt), a.At.Compare(b.At))
	})
}
