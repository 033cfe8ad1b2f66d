package sqlite

import (
	"context"
	"database/sql"

	"gatehouse"
)

// recordChange bumps the revision and logs a change of the key, inside the
// transaction that changes it, and prunes changes older than KeepChanges.
// SQLite has one writer at a time, so revisions commit in order.
func (s *Store) recordChange(ctx context.Context, tx *sql.Tx, keyID string) error {
	var rev int64
	if err := tx.QueryRowContext(ctx, `UPDATE key_revision SET revision = revision + 1
		WHERE id = 1 RETURNING revision`).Scan(&rev); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO key_changes (revision, key_id) VALUES (?, ?)`, rev, keyID); err != nil {
		return err
	}
	keep := s.KeepChanges
	if keep <= 0 {
		keep = DefaultKeepChanges
	}
	_, err := tx.ExecContext(ctx, `DELETE FROM key_changes WHERE revision <= ?`, rev-keep)
	return err
}

// Revision returns the revision of the latest change (0 when none).
func (s *Store) Revision(ctx context.Context) (int64, error) {
	var rev int64
	if err := s.db.QueryRowContext(ctx, `SELECT revision FROM key_revision WHERE id = 1`).Scan(&rev); err != nil {
		return 0, wrap("read revision", err)
	}
	return rev, nil
}

// FindChanges returns the changes after revision since, oldest first. ok
// is false when some of them were pruned, or since is ahead of the store
// (the database was replaced): the caller must reload every key.
func (s *Store) FindChanges(ctx context.Context, since int64) (changes []gatehouse.KeyChange, ok bool, err error) {
	err = s.read(ctx, func(tx *sql.Tx) error {
		var rev int64
		var oldest sql.NullInt64
		if err := tx.QueryRowContext(ctx, `SELECT revision, (SELECT min(revision) FROM key_changes)
			FROM key_revision WHERE id = 1`).Scan(&rev, &oldest); err != nil {
			return err
		}
		switch {
		case since == rev:
			ok = true
			return nil
		case since > rev, !oldest.Valid, since < oldest.Int64-1:
			return nil
		}
		rows, err := tx.QueryContext(ctx, `SELECT revision, key_id FROM key_changes
			WHERE revision > ? ORDER BY revision`, since)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var c gatehouse.KeyChange
			if err := rows.Scan(&c.Revision, &c.KeyID); err != nil {
				return err
			}
			changes = append(changes, c)
		}
		ok = true
		return rows.Err()
	})
	if err != nil {
		return nil, false, wrap("find changes", err)
	}
	return changes, ok, nil
}
