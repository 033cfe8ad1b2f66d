package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"gatehouse"
)

const keyColumns = `id, name, digest, sealed, hint, valid_until, scopes,
	rate_requests, rate_per_ns, created_at, created_by, last_used_at,
	previous_digest, previous_valid_until, previous_last_used_at, enabled,
	allowed_ips, read_only_grace_ns, signing_keys`

// CreateKey stores a new key, its AuditCreate event by k.CreatedBy at
// k.CreatedAt, and a change. A zero k.CreatedAt is set to now. Returns
// ENameTaken if another key has the name case-insensitively.
func (s *Store) CreateKey(ctx context.Context, k *gatehouse.APIKey) error {
	if k.CreatedAt.IsZero() {
		k.CreatedAt = s.now()
	}
	scopes, err := encodeScopes(k.Scopes)
	if err != nil {
		return fmt.Errorf("create key: %w", err)
	}
	var prev []byte
	if k.PreviousDigest != nil {
		prev = k.PreviousDigest[:]
	}
	signing, err := gatehouse.EncodeSigningKeys(k.SigningKeys)
	if err != nil {
		return fmt.Errorf("create key: %w", err)
	}
	err = s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO api_keys (`+keyColumns+`, name_key)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			k.ID, k.Name, k.Digest[:], k.Sealed, k.Hint, nullMillis(k.ValidUntil), scopes,
			k.RateLimit.Requests, int64(k.RateLimit.Per), millis(k.CreatedAt), k.CreatedBy,
			nullMillis(k.LastUsedAt), prev, nullMillis(k.PreviousValidUntil),
			nullMillis(k.PreviousLastUsedAt), !k.Disabled, encodeIPs(k.AllowedIPs),
			int64(k.ReadOnlyGrace), signing, gatehouse.NameKey(k.Name))
		if isNameTaken(err) {
			return gatehouse.Errorf(gatehouse.ENameTaken, "A key named %q already exists.", k.Name)
		} else if err != nil {
			return err
		}
		if err := insertAudit(ctx, tx, gatehouse.AuditEvent{
			KeyID: k.ID, Action: gatehouse.AuditCreate, Actor: k.CreatedBy, At: k.CreatedAt,
		}); err != nil {
			return err
		}
		if err := s.addKeyEvent(ctx, tx, gatehouse.EventKeyCreated, k.ID); err != nil {
			return err
		}
		return s.recordChange(ctx, tx, k.ID)
	})
	if err != nil {
		return wrap("create key", err)
	}
	return nil
}

// FindKeyByID returns the key with the ID. Returns ENotFound.
func (s *Store) FindKeyByID(ctx context.Context, id string) (*gatehouse.APIKey, error) {
	k, err := scanKey(s.db.QueryRowContext(ctx, `SELECT `+keyColumns+` FROM api_keys WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, noKey(id)
	} else if err != nil {
		return nil, wrap("find key by id", err)
	}
	return k, nil
}

// FindKeyByName returns the key with the name, case-insensitively.
// Returns ENotFound.
func (s *Store) FindKeyByName(ctx context.Context, name string) (*gatehouse.APIKey, error) {
	nameKey := gatehouse.NameKey(strings.TrimSpace(name))
	k, err := scanKey(s.db.QueryRowContext(ctx, `SELECT `+keyColumns+` FROM api_keys WHERE name_key = ?`, nameKey))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, gatehouse.Errorf(gatehouse.ENotFound, "No key is named %q.", name)
	} else if err != nil {
		return nil, wrap("find key by name", err)
	}
	return k, nil
}

// FindKeys returns a page of keys ordered by creation time and ID, and the
// total number of keys.
func (s *Store) FindKeys(ctx context.Context, f gatehouse.KeyFilter) ([]*gatehouse.APIKey, int, error) {
	limit := int64(f.Limit)
	if limit <= 0 {
		limit = -1 // no limit
	}
	offset := max(f.Offset, 0)
	var (
		keys  []*gatehouse.APIKey
		total int
	)
	err := s.read(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM api_keys`).Scan(&total); err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, `SELECT `+keyColumns+` FROM api_keys
			ORDER BY created_at, id LIMIT ? OFFSET ?`, limit, offset)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			k, err := scanKey(rows)
			if err != nil {
				return err
			}
			keys = append(keys, k)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, 0, wrap("find keys", err)
	}
	return keys, total, nil
}

// ForEachKey calls fn for every key, read in one snapshot.
func (s *Store) ForEachKey(ctx context.Context, fn func(*gatehouse.APIKey) error) error {
	err := s.read(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT `+keyColumns+` FROM api_keys`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			k, err := scanKey(rows)
			if err != nil {
				return err
			}
			if err := fn(k); err != nil {
				return &callbackError{err}
			}
		}
		return rows.Err()
	})
	var cb *callbackError
	if errors.As(err, &cb) {
		return cb.err
	}
	if err != nil {
		return wrap("read all keys", err)
	}
	return nil
}

// callbackError carries the error of a caller's function out of a
// transaction unwrapped.
type callbackError struct{ err error }

func (e *callbackError) Error() string { return e.err.Error() }

// RenewKey sets a new expiry (and, when r.RateLimit is not nil, rate
// limit), records an AuditRenew event by actor and a change, and returns
// the key. Returns ENotFound.
func (s *Store) RenewKey(ctx context.Context, id string, r gatehouse.KeyRenewal, actor string) (*gatehouse.APIKey, error) {
	var k *gatehouse.APIKey
	err := s.write(ctx, func(tx *sql.Tx) error {
		var res sql.Result
		var err error
		if r.RateLimit == nil {
			res, err = tx.ExecContext(ctx, `UPDATE api_keys SET valid_until = ? WHERE id = ?`,
				nullMillis(r.ValidUntil), id)
		} else {
			res, err = tx.ExecContext(ctx, `UPDATE api_keys
				SET valid_until = ?, rate_requests = ?, rate_per_ns = ? WHERE id = ?`,
				nullMillis(r.ValidUntil), r.RateLimit.Requests, int64(r.RateLimit.Per), id)
		}
		if err != nil {
			return err
		}
		if err := mustAffect(res, noKey(id)); err != nil {
			return err
		}
		if err := insertAudit(ctx, tx, gatehouse.AuditEvent{
			KeyID: id, Action: gatehouse.AuditRenew, Actor: actor, At: s.now(),
		}); err != nil {
			return err
		}
		if err := s.recordChange(ctx, tx, id); err != nil {
			return err
		}
		if err := s.addKeyEvent(ctx, tx, gatehouse.EventKeyRenewed, id); err != nil {
			return err
		}
		k, err = scanKey(tx.QueryRowContext(ctx, `SELECT `+keyColumns+` FROM api_keys WHERE id = ?`, id))
		return err
	})
	if err != nil {
		return nil, wrap("renew key", err)
	}
	return k, nil
}

// DeleteKey removes the key and its usage, and records an AuditDelete
// event by actor and a change. Returns ENotFound.
func (s *Store) DeleteKey(ctx context.Context, id, actor string) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		if err := s.addKeyEvent(ctx, tx, gatehouse.EventKeyDeleted, id); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM api_keys WHERE id = ?`, id)
		if err != nil {
			return err
		}
		if err := mustAffect(res, noKey(id)); err != nil {
			return err
		}
		if err := insertAudit(ctx, tx, gatehouse.AuditEvent{
			KeyID: id, Action: gatehouse.AuditDelete, Actor: actor, At: s.now(),
		}); err != nil {
			return err
		}
		return s.recordChange(ctx, tx, id)
	})
	if err != nil {
		return wrap("delete key", err)
	}
	return nil
}

// RollKey gives the key a new secret: the current one becomes its
// previous secret until r.PreviousValidUntil (replacing the previous one
// of an earlier roll, whose overlap ends at once), with no use recorded
// yet. It records an AuditRoll event by actor and a change, and returns
// the key. Returns ENotFound.
func (s *Store) RollKey(ctx context.Context, id string, r gatehouse.KeyRoll, actor string) (*gatehouse.APIKey, error) {
	var k *gatehouse.APIKey
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE api_keys
			SET previous_digest = digest, previous_valid_until = ?, previous_last_used_at = NULL,
				digest = ?, sealed = ?, hint = ?
			WHERE id = ?`, millis(r.PreviousValidUntil), r.Digest[:], r.Sealed, r.Hint, id)
		if err != nil {
			return err
		}
		if err := mustAffect(res, noKey(id)); err != nil {
			return err
		}
		k, err = s.keyChanged(ctx, tx, id, gatehouse.AuditRoll, actor)
		return err
	})
	if err != nil {
		return nil, wrap("roll key", err)
	}
	return k, nil
}

// SetKeyDisabled disables or enables the key, records an AuditDisable or
// AuditEnable event by actor and a change, and returns the key. Returns
// ENotFound.
func (s *Store) SetKeyDisabled(ctx context.Context, id string, disabled bool, actor string) (*gatehouse.APIKey, error) {
	action := gatehouse.AuditEnable
	if disabled {
		action = gatehouse.AuditDisable
	}
	var k *gatehouse.APIKey
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE api_keys SET enabled = ? WHERE id = ?`, !disabled, id)
		if err != nil {
			return err
		}
		if err := mustAffect(res, noKey(id)); err != nil {
			return err
		}
		k, err = s.keyChanged(ctx, tx, id, action, actor)
		return err
	})
	if err != nil {
		return nil, wrap(action+" key", err)
	}
	return k, nil
}

// UpdateKey sets the fields of u that are not nil, records an AuditUpdate
// event by actor and a change, and returns the key. Returns ENotFound, or
// ENameTaken if another key has the new name case-insensitively.
func (s *Store) UpdateKey(ctx context.Context, id string, u gatehouse.KeyUpdate, actor string) (*gatehouse.APIKey, error) {
	var k *gatehouse.APIKey
	err := s.write(ctx, func(tx *sql.Tx) error {
		old, err := scanKey(tx.QueryRowContext(ctx, `SELECT `+keyColumns+` FROM api_keys WHERE id = ?`, id))
		if errors.Is(err, sql.ErrNoRows) {
			return noKey(id)
		} else if err != nil {
			return err
		}
		u.Apply(old)
		scopes, err := encodeScopes(old.Scopes)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE api_keys
			SET name = ?, name_key = ?, scopes = ?, rate_requests = ?, rate_per_ns = ?,
				allowed_ips = ?, read_only_grace_ns = ?
			WHERE id = ?`, old.Name, gatehouse.NameKey(old.Name), scopes, old.RateLimit.Requests,
			int64(old.RateLimit.Per), encodeIPs(old.AllowedIPs), int64(old.ReadOnlyGrace), id)
		if isNameTaken(err) {
			return gatehouse.Errorf(gatehouse.ENameTaken, "A key named %q already exists.", old.Name)
		} else if err != nil {
			return err
		}
		k, err = s.keyChanged(ctx, tx, id, gatehouse.AuditUpdate, actor)
		return err
	})
	if err != nil {
		return nil, wrap("update key", err)
	}
	return k, nil
}

// keyChanged records an audit event and a change of the key id, inside
// the transaction that changed it, and returns the key as changed.
func (s *Store) keyChanged(ctx context.Context, tx *sql.Tx, id, action, actor string) (*gatehouse.APIKey, error) {
	if err := insertAudit(ctx, tx, gatehouse.AuditEvent{
		KeyID: id, Action: action, Actor: actor, At: s.now(),
	}); err != nil {
		return nil, err
	}
	if err := s.recordChange(ctx, tx, id); err != nil {
		return nil, err
	}
	if err := s.addKeyEvent(ctx, tx, gatehouse.KeyEventType(action), id); err != nil {
		return nil, err
	}
	return scanKey(tx.QueryRowContext(ctx, `SELECT `+keyColumns+` FROM api_keys WHERE id = ?`, id))
}

// mustAffect returns notFound when res changed no row.
func mustAffect(res sql.Result, notFound error) error {
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return notFound
	}
	return nil
}

// noKey is the error for an ID that names no key.
func noKey(id string) error {
	return gatehouse.Errorf(gatehouse.ENotFound, "No key has the ID %q.", id)
}

type scanner interface {
	Scan(dest ...any) error
}

// scanKey reads a row of keyColumns.
func scanKey(row scanner) (*gatehouse.APIKey, error) {
	var (
		k                       gatehouse.APIKey
		digest, prevDigest      []byte
		validUntil, lastUsed    sql.NullInt64
		prevUntil, prevLastUsed sql.NullInt64
		scopes                  string
		allowedIPs              sql.NullString
		ratePer, createdAtRaw   int64
		graceNS                 int64
		enabled                 bool
		signing                 string
	)
	if err := row.Scan(&k.ID, &k.Name, &digest, &k.Sealed, &k.Hint, &validUntil, &scopes,
		&k.RateLimit.Requests, &ratePer, &createdAtRaw, &k.CreatedBy, &lastUsed,
		&prevDigest, &prevUntil, &prevLastUsed, &enabled, &allowedIPs, &graceNS, &signing); err != nil {
		return nil, err
	}
	if err := gatehouse.DecodeSigningKeys(signing, &k.SigningKeys); err != nil {
		return nil, fmt.Errorf("key %s: %w", k.ID, err)
	}
	if prevDigest != nil {
		if len(prevDigest) != len(k.Digest) {
			return nil, fmt.Errorf("key %s: previous digest is %d bytes, want %d", k.ID, len(prevDigest), len(k.Digest))
		}
		k.PreviousDigest = new(gatehouse.Digest)
		copy(k.PreviousDigest[:], prevDigest)
	}
	k.PreviousValidUntil = fromNullMillis(prevUntil)
	k.PreviousLastUsedAt = fromNullMillis(prevLastUsed)
	k.Disabled = !enabled
	k.ReadOnlyGrace = time.Duration(graceNS)
	if allowedIPs.Valid {
		ips, err := decodeIPs(allowedIPs.String)
		if err != nil {
			return nil, fmt.Errorf("key %s: %w", k.ID, err)
		}
		k.AllowedIPs = ips
	}
	if len(digest) != len(k.Digest) {
		return nil, fmt.Errorf("key %s: digest is %d bytes, want %d", k.ID, len(digest), len(k.Digest))
	}
	copy(k.Digest[:], digest)
	var err error
	if k.Scopes, err = decodeScopes(scopes); err != nil {
		return nil, fmt.Errorf("key %s: %w", k.ID, err)
	}
	k.RateLimit.Per = time.Duration(ratePer)
	k.ValidUntil = fromNullMillis(validUntil)
	k.CreatedAt = fromMillis(createdAtRaw)
	k.LastUsedAt = fromNullMillis(lastUsed)
	return &k, nil
}
