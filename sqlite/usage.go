package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"slices"
	"time"

	"gatehouse"
)

// RecordUsage adds counts to the hourly buckets and moves each key's
// LastUsedAt (and PreviousLastUsedAt, when set) forward (never back). Usage of deleted or unknown keys is
// dropped. It records no change.
func (s *Store) RecordUsage(ctx context.Context, usage []gatehouse.Usage) error {
	if len(usage) == 0 {
		return nil
	}
	// One order for every writer, so that concurrent batches lock rows in
	// the same order.
	us := slices.Clone(usage)
	slices.SortFunc(us, func(a, b gatehouse.Usage) int {
		return cmp.Or(cmp.Compare(a.KeyID, b.KeyID), a.Hour.Compare(b.Hour))
	})
	err := s.write(ctx, func(tx *sql.Tx) error {
		touch, err := tx.PrepareContext(ctx, `UPDATE api_keys
			SET last_used_at = max(coalesce(last_used_at, ?1), ?1),
				previous_last_used_at = CASE WHEN ?3 IS NULL THEN previous_last_used_at
					ELSE max(coalesce(previous_last_used_at, ?3), ?3) END
			WHERE id = ?2`)
		if err != nil {
			return err
		}
		defer touch.Close()
		add, err := tx.PrepareContext(ctx, `INSERT INTO key_usage (key_id, hour, count, last_used_at)
			VALUES (?, ?, ?, ?)
			ON CONFLICT (key_id, hour) DO UPDATE SET
				count = count + excluded.count,
				last_used_at = max(last_used_at, excluded.last_used_at)`)
		if err != nil {
			return err
		}
		defer add.Close()
		for _, u := range us {
			at := millis(u.LastUsedAt)
			var prevAt sql.NullInt64
			if !u.PreviousLastUsedAt.IsZero() {
				prevAt = sql.NullInt64{Int64: millis(u.PreviousLastUsedAt), Valid: true}
			}
			res, err := touch.ExecContext(ctx, at, u.KeyID, prevAt)
			if err != nil {
				return err
			}
			if n, err := res.RowsAffected(); err != nil {
				return err
			} else if n == 0 {
				continue // the key is gone
			}
			hour := millis(u.Hour.UTC().Truncate(time.Hour))
			if _, err := add.ExecContext(ctx, u.KeyID, hour, u.Count, at); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return wrap("record usage", err)
	}
	return nil
}

// FindUsage returns a key's hourly buckets since the given hour, oldest
// first.
func (s *Store) FindUsage(ctx context.Context, keyID string, since time.Time) ([]gatehouse.Usage, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT hour, count, last_used_at FROM key_usage
		WHERE key_id = ? AND hour >= ? ORDER BY hour`, keyID, millis(since))
	if err != nil {
		return nil, wrap("find usage", err)
	}
	defer rows.Close()
	var usage []gatehouse.Usage
	for rows.Next() {
		u := gatehouse.Usage{KeyID: keyID}
		var hour, last int64
		if err := rows.Scan(&hour, &u.Count, &last); err != nil {
			return nil, wrap("find usage", err)
		}
		u.Hour, u.LastUsedAt = fromMillis(hour), fromMillis(last)
		usage = append(usage, u)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap("find usage", err)
	}
	return usage, nil
}
