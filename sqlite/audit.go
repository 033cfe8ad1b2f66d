package sqlite

import (
	"context"
	"database/sql"

	"gatehouse"
)

// RecordAudit appends an event to the audit log (used for reveals).
func (s *Store) RecordAudit(ctx context.Context, e gatehouse.AuditEvent) error {
	if err := s.write(ctx, func(tx *sql.Tx) error { return insertAudit(ctx, tx, e) }); err != nil {
		return wrap("record audit event", err)
	}
	return nil
}

func insertAudit(ctx context.Context, tx *sql.Tx, e gatehouse.AuditEvent) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO audit_events (key_id, action, actor, at) VALUES (?, ?, ?, ?)`,
		e.KeyID, e.Action, e.Actor, millis(e.At))
	return err
}

// FindAuditEvents returns a key's audit events, oldest first. They outlive
// the key.
func (s *Store) FindAuditEvents(ctx context.Context, keyID string) ([]gatehouse.AuditEvent, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT action, actor, at FROM audit_events
		WHERE key_id = ? ORDER BY seq`, keyID)
	if err != nil {
		return nil, wrap("find audit events", err)
	}
	defer rows.Close()
	var events []gatehouse.AuditEvent
	for rows.Next() {
		e := gatehouse.AuditEvent{KeyID: keyID}
		var at int64
		if err := rows.Scan(&e.Action, &e.Actor, &at); err != nil {
			return nil, wrap("find audit events", err)
		}
		e.At = fromMillis(at)
		events = append(events, e)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap("find audit events", err)
	}
	return events, nil
}
