package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"gatehouse"
)

// RecordAudit appends an event to the audit log (used for reveals).
func (s *Store) RecordAudit(ctx context.Context, e gatehouse.AuditEvent) error {
	return s.withConn(ctx, "record audit event", func(c *pgx.Conn) error {
		_, err := c.Exec(ctx, insertAuditSQL, e.KeyID, e.Action, e.Actor, ms(e.At))
		return err
	})
}

const insertAuditSQL = `INSERT INTO audit_events (key_id, action, actor, at) VALUES ($1, $2, $3, $4)`

func insertAudit(ctx context.Context, tx pgx.Tx, e gatehouse.AuditEvent) error {
	_, err := tx.Exec(ctx, insertAuditSQL, e.KeyID, e.Action, e.Actor, ms(e.At))
	return err
}

// FindAuditEvents returns a key's audit events, oldest first. They outlive
// the key.
func (s *Store) FindAuditEvents(ctx context.Context, keyID string) ([]gatehouse.AuditEvent, error) {
	var events []gatehouse.AuditEvent
	err := s.withConn(ctx, "find audit events", func(c *pgx.Conn) error {
		rows, err := c.Query(ctx, `SELECT action, actor, at FROM audit_events
			WHERE key_id = $1 ORDER BY id`, keyID)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			e := gatehouse.AuditEvent{KeyID: keyID}
			var at time.Time
			if err := rows.Scan(&e.Action, &e.Actor, &at); err != nil {
				return err
			}
			e.At = at.UTC()
			events = append(events, e)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	return events, nil
}
