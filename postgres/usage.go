package postgres

import (
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"gatehouse"
)

// recordUsageSQL moves the key's last_used_at (and, when $5 is not NULL,
// previous_last_used_at: greatest ignores NULLs) forward and adds to its
// bucket, in one statement; it does nothing when the key is gone.
const recordUsageSQL = `WITH k AS (
		UPDATE api_keys SET last_used_at = greatest(last_used_at, $3),
			previous_last_used_at = greatest(previous_last_used_at, $5::timestamptz)
		WHERE id = $1 RETURNING id
	)
	INSERT INTO key_usage (key_id, hour, count, last_used_at)
	SELECT id, $2::timestamptz, $4::bigint, $3 FROM k
	ON CONFLICT (key_id, hour) DO UPDATE SET
		count = key_usage.count + excluded.count,
		last_used_at = greatest(key_usage.last_used_at, excluded.last_used_at)`

// RecordUsage adds counts to the hourly buckets and moves each key's
// LastUsedAt (and PreviousLastUsedAt, when set) forward (never back). Usage of deleted or unknown keys is
// dropped. It records no change.
func (s *Store) RecordUsage(ctx context.Context, usage []gatehouse.Usage) error {
	if len(usage) == 0 {
		return nil
	}
	// One order for every node, so that concurrent batches lock rows in
	// the same order and cannot deadlock.
	us := slices.Clone(usage)
	slices.SortFunc(us, func(a, b gatehouse.Usage) int {
		return cmp.Or(cmp.Compare(a.KeyID, b.KeyID), a.Hour.Compare(b.Hour))
	})
	return s.write(ctx, "record usage", func(tx pgx.Tx) error {
		var b pgx.Batch
		for _, u := range us {
			var prev *time.Time
			if !u.PreviousLastUsedAt.IsZero() {
				prev = stamp(&u.PreviousLastUsedAt)
			}
			b.Queue(recordUsageSQL, u.KeyID, u.Hour.UTC().Truncate(time.Hour), ms(u.LastUsedAt), u.Count, prev)
		}
		return tx.SendBatch(ctx, &b).Close()
	})
}

// FindUsage returns a key's hourly buckets since the given hour, oldest
// first.
func (s *Store) FindUsage(ctx context.Context, keyID string, since time.Time) ([]gatehouse.Usage, error) {
	var usage []gatehouse.Usage
	err := s.withConn(ctx, "find usage", func(c *pgx.Conn) error {
		rows, err := c.Query(ctx, `SELECT hour, count, last_used_at FROM key_usage
			WHERE key_id = $1 AND hour >= $2 ORDER BY hour`, keyID, since)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			u := gatehouse.Usage{KeyID: keyID}
			if err := rows.Scan(&u.Hour, &u.Count, &u.LastUsedAt); err != nil {
				return err
			}
			u.Hour, u.LastUsedAt = u.Hour.UTC(), u.LastUsedAt.UTC()
			usage = append(usage, u)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	return usage, nil
}
