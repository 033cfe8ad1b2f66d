package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"gatehouse"
)

const keyColumns = `id, name, digest, sealed, hint, valid_until, scopes,
	rate_requests, rate_per_ns, created_at, created_by, last_used_at`

// CreateKey stores a new key, its AuditCreate event by k.CreatedBy at
// k.CreatedAt, and a change. A zero k.CreatedAt is set to now. Returns
// ENameTaken if another key has the name case-insensitively.
func (s *Store) CreateKey(ctx context.Context, k *gatehouse.APIKey) error {
	if k.CreatedAt.IsZero() {
		k.CreatedAt = s.now()
	}
	return s.write(ctx, "create key", func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO api_keys (`+keyColumns+`, name_key)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
			k.ID, k.Name, k.Digest[:], k.Sealed, k.Hint, stamp(k.ValidUntil), k.Scopes.Strings(),
			k.RateLimit.Requests, int64(k.RateLimit.Per), ms(k.CreatedAt), k.CreatedBy,
			stamp(k.LastUsedAt), gatehouse.NameKey(k.Name))
		if isUniqueViolation(err, "api_keys_name_key_unique") {
			return gatehouse.Errorf(gatehouse.ENameTaken, "A key named %q already exists.", k.Name)
		} else if err != nil {
			return err
		}
		if err := insertAudit(ctx, tx, gatehouse.AuditEvent{
			KeyID: k.ID, Action: gatehouse.AuditCreate, Actor: k.CreatedBy, At: k.CreatedAt,
		}); err != nil {
			return err
		}
		return s.recordChange(ctx, tx, k.ID)
	})
}

// FindKeyByID returns the key with the ID. Returns ENotFound.
func (s *Store) FindKeyByID(ctx context.Context, id string) (*gatehouse.APIKey, error) {
	var k *gatehouse.APIKey
	err := s.withConn(ctx, "find key by id", func(c *pgx.Conn) error {
		var err error
		k, err = scanKey(c.QueryRow(ctx, `SELECT `+keyColumns+` FROM api_keys WHERE id = $1`, id))
		if errors.Is(err, pgx.ErrNoRows) {
			return gatehouse.Errorf(gatehouse.ENotFound, "No key has the ID %q.", id)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return k, nil
}

// FindKeyByName returns the key with the name, case-insensitively.
// Returns ENotFound.
func (s *Store) FindKeyByName(ctx context.Context, name string) (*gatehouse.APIKey, error) {
	var k *gatehouse.APIKey
	err := s.withConn(ctx, "find key by name", func(c *pgx.Conn) error {
		var err error
		k, err = scanKey(c.QueryRow(ctx, `SELECT `+keyColumns+` FROM api_keys WHERE name_key = $1`,
			gatehouse.NameKey(strings.TrimSpace(name))))
		if errors.Is(err, pgx.ErrNoRows) {
			return gatehouse.Errorf(gatehouse.ENotFound, "No key is named %q.", name)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return k, nil
}

// FindKeys returns a page of keys ordered by creation time and ID, and the
// total number of keys.
func (s *Store) FindKeys(ctx context.Context, f gatehouse.KeyFilter) ([]*gatehouse.APIKey, int, error) {
	var limit *int // NULL: no limit
	if f.Limit > 0 {
		limit = &f.Limit
	}
	var (
		keys  []*gatehouse.APIKey
		total int
	)
	err := s.read(ctx, "find keys", func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM api_keys`).Scan(&total); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT `+keyColumns+` FROM api_keys
			ORDER BY created_at, id LIMIT $1 OFFSET $2`, limit, max(f.Offset, 0))
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
		return nil, 0, err
	}
	return keys, total, nil
}

// ForEachKey calls fn for every key, read in one snapshot.
func (s *Store) ForEachKey(ctx context.Context, fn func(*gatehouse.APIKey) error) error {
	var fnErr error
	err := s.read(ctx, "read all keys", func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT `+keyColumns+` FROM api_keys`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			k, err := scanKey(rows)
			if err != nil {
				return err
			}
			if fnErr = fn(k); fnErr != nil {
				return fnErr
			}
		}
		return rows.Err()
	})
	if fnErr != nil {
		return fnErr
	}
	return err
}

// RenewKey sets a new expiry (and, when r.RateLimit is not nil, rate
// limit), records an AuditRenew event by actor and a change, and returns
// the key. Returns ENotFound.
func (s *Store) RenewKey(ctx context.Context, id string, r gatehouse.KeyRenewal, actor string) (*gatehouse.APIKey, error) {
	var k *gatehouse.APIKey
	err := s.write(ctx, "renew key", func(tx pgx.Tx) error {
		var row pgx.Row
		if r.RateLimit == nil {
			row = tx.QueryRow(ctx, `UPDATE api_keys SET valid_until = $1 WHERE id = $2
				RETURNING `+keyColumns, stamp(r.ValidUntil), id)
		} else {
			row = tx.QueryRow(ctx, `UPDATE api_keys SET valid_until = $1, rate_requests = $2, rate_per_ns = $3
				WHERE id = $4 RETURNING `+keyColumns,
				stamp(r.ValidUntil), r.RateLimit.Requests, int64(r.RateLimit.Per), id)
		}
		var err error
		if k, err = scanKey(row); errors.Is(err, pgx.ErrNoRows) {
			return gatehouse.Errorf(gatehouse.ENotFound, "No key has the ID %q.", id)
		} else if err != nil {
			return err
		}
		if err := insertAudit(ctx, tx, gatehouse.AuditEvent{
			KeyID: id, Action: gatehouse.AuditRenew, Actor: actor, At: s.now(),
		}); err != nil {
			return err
		}
		return s.recordChange(ctx, tx, id)
	})
	if err != nil {
		return nil, err
	}
	return k, nil
}

// DeleteKey removes the key and its usage, and records an AuditDelete
// event by actor and a change. Returns ENotFound.
func (s *Store) DeleteKey(ctx context.Context, id, actor string) error {
	return s.write(ctx, "delete key", func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM api_keys WHERE id = $1`, id)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return gatehouse.Errorf(gatehouse.ENotFound, "No key has the ID %q.", id)
		}
		if err := insertAudit(ctx, tx, gatehouse.AuditEvent{
			KeyID: id, Action: gatehouse.AuditDelete, Actor: actor, At: s.now(),
		}); err != nil {
			return err
		}
		return s.recordChange(ctx, tx, id)
	})
}

// scanKey reads a row of keyColumns.
func scanKey(row pgx.Row) (*gatehouse.APIKey, error) {
	var (
		k                    gatehouse.APIKey
		digest               []byte
		validUntil, lastUsed *time.Time
		scopes               []string
		ratePer              int64
	)
	if err := row.Scan(&k.ID, &k.Name, &digest, &k.Sealed, &k.Hint, &validUntil, &scopes,
		&k.RateLimit.Requests, &ratePer, &k.CreatedAt, &k.CreatedBy, &lastUsed); err != nil {
		return nil, err
	}
	if len(digest) != len(k.Digest) {
		return nil, fmt.Errorf("key %s: digest is %d bytes, want %d", k.ID, len(digest), len(k.Digest))
	}
	copy(k.Digest[:], digest)
	k.Scopes = make(gatehouse.Scopes, 0, len(scopes))
	for _, v := range scopes {
		sc, err := gatehouse.ParseScope(v)
		if err != nil {
			return nil, fmt.Errorf("key %s: %w", k.ID, err)
		}
		k.Scopes = append(k.Scopes, sc)
	}
	k.RateLimit.Per = time.Duration(ratePer)
	k.ValidUntil = utc(validUntil)
	k.CreatedAt = k.CreatedAt.UTC()
	k.LastUsedAt = utc(lastUsed)
	return &k, nil
}

// ms returns t as it is stored: to the millisecond, in UTC.
func ms(t time.Time) time.Time { return t.UTC().Truncate(time.Millisecond) }

// stamp returns *t as it is stored, or nil.
func stamp(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	v := ms(*t)
	return &v
}

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	v := t.UTC()
	return &v
}
