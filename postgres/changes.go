package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"gatehouse"
)

// notifyChannel is the channel of pg_notify. The payload is
// "<schema>:<revision>", so that stores in other schemas of the same
// database ignore it.
const notifyChannel = "gatehouse_key_changes"

// recordChange bumps the revision, logs a change of the key and notifies
// the listeners, inside the transaction that changes it, and prunes changes
// older than KeepChanges. The update locks the revision row until the
// transaction ends, so writers take turns and revisions commit in order;
// the notification is delivered at commit.
func (s *Store) recordChange(ctx context.Context, tx pgx.Tx, keyID string) error {
	keep := s.KeepChanges
	if keep <= 0 {
		keep = DefaultKeepChanges
	}
	var rev int64
	if err := tx.QueryRow(ctx, `WITH r AS (
			UPDATE key_revision SET revision = revision + 1 WHERE id = 1 RETURNING revision
		), logged AS (
			INSERT INTO key_changes (revision, key_id) SELECT revision, $1 FROM r
		), pruned AS (
			DELETE FROM key_changes WHERE revision <= (SELECT revision FROM r) - $2
		)
		SELECT revision FROM r`, keyID, keep).Scan(&rev); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, `SELECT pg_notify($1, current_schema() || ':' || $2::bigint)`, notifyChannel, rev)
	return err
}

// Revision returns the revision of the latest change (0 when none).
func (s *Store) Revision(ctx context.Context) (int64, error) {
	var rev int64
	err := s.withConn(ctx, "read revision", func(c *pgx.Conn) error {
		return c.QueryRow(ctx, `SELECT revision FROM key_revision WHERE id = 1`).Scan(&rev)
	})
	if err != nil {
		return 0, err
	}
	return rev, nil
}

// FindChanges returns the changes after revision since, oldest first. ok
// is false when some of them were pruned, or since is ahead of the store
// (the database was replaced): the caller must reload every key.
func (s *Store) FindChanges(ctx context.Context, since int64) (changes []gatehouse.KeyChange, ok bool, err error) {
	err = s.read(ctx, "find changes", func(tx pgx.Tx) error {
		var rev int64
		var oldest *int64
		if err := tx.QueryRow(ctx, `SELECT revision, (SELECT min(revision) FROM key_changes)
			FROM key_revision WHERE id = 1`).Scan(&rev, &oldest); err != nil {
			return err
		}
		switch {
		case since == rev:
			ok = true
			return nil
		case since > rev, oldest == nil, since < *oldest-1:
			return nil
		}
		rows, err := tx.Query(ctx, `SELECT revision, key_id FROM key_changes
			WHERE revision > $1 ORDER BY revision`, since)
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
		return nil, false, err
	}
	return changes, ok, nil
}
