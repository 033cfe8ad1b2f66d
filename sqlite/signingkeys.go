package sqlite

import (
	"context"
	"database/sql"
	"errors"

	"gatehouse"
)

// AddSigningKey registers sk on the key, records an AuditAddSigningKey
// event by actor and a change, and returns the key. A signing key the key
// has already changes nothing. Returns ENotFound, or EInvalidRequest when
// the key has gatehouse.MaxSigningKeys.
func (s *Store) AddSigningKey(ctx context.Context, id string, sk gatehouse.SigningKey, actor string) (*gatehouse.APIKey, error) {
	if sk.CreatedAt.IsZero() {
		sk.CreatedAt = s.now()
	}
	sk.CreatedAt = fromMillis(millis(sk.CreatedAt))
	return s.changeSigningKeys(ctx, "add signing key", id, gatehouse.AuditAddSigningKey, actor,
		func(list []gatehouse.SigningKey) ([]gatehouse.SigningKey, bool, error) {
			return gatehouse.AddSigningKey(list, sk)
		})
}

// RemoveSigningKey removes the signing key keyID from the key, records an
// AuditRemoveSigningKey event by actor and a change, and returns the key.
// Returns ENotFound for either key.
func (s *Store) RemoveSigningKey(ctx context.Context, id, keyID, actor string) (*gatehouse.APIKey, error) {
	return s.changeSigningKeys(ctx, "remove signing key", id, gatehouse.AuditRemoveSigningKey, actor,
		func(list []gatehouse.SigningKey) ([]gatehouse.SigningKey, bool, error) {
			out, err := gatehouse.RemoveSigningKey(list, keyID)
			return out, err == nil, err
		})
}

// changeSigningKeys replaces the key's signing keys with what change
// makes of them, in one transaction with the audit event and the change,
// when change reports that it changed them.
func (s *Store) changeSigningKeys(ctx context.Context, op, id, action, actor string,
	change func([]gatehouse.SigningKey) ([]gatehouse.SigningKey, bool, error)) (*gatehouse.APIKey, error) {
	var k *gatehouse.APIKey
	err := s.write(ctx, func(tx *sql.Tx) error {
		var raw string
		err := tx.QueryRowContext(ctx, `SELECT signing_keys FROM api_keys WHERE id = ?`, id).Scan(&raw)
		if errors.Is(err, sql.ErrNoRows) {
			return noKey(id)
		} else if err != nil {
			return err
		}
		var list []gatehouse.SigningKey
		if err := gatehouse.DecodeSigningKeys(raw, &list); err != nil {
			return err
		}
		list, changed, err := change(list)
		if err != nil {
			return err
		}
		if changed {
			enc, err := gatehouse.EncodeSigningKeys(list)
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `UPDATE api_keys SET signing_keys = ? WHERE id = ?`, enc, id); err != nil {
				return err
			}
			if err := insertAudit(ctx, tx, gatehouse.AuditEvent{KeyID: id, Action: action, Actor: actor, At: s.now()}); err != nil {
				return err
			}
			if err := s.recordChange(ctx, tx, id); err != nil {
				return err
			}
		}
		k, err = scanKey(tx.QueryRowContext(ctx, `SELECT `+keyColumns+` FROM api_keys WHERE id = ?`, id))
		return err
	})
	if err != nil {
		return nil, wrap(op, err)
	}
	return k, nil
}
