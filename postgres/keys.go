package postgres

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

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
	var prev []byte
	if k.PreviousDigest != nil {
		prev = k.PreviousDigest[:]
	}
	signing, err := gatehouse.EncodeSigningKeys(k.SigningKeys)
	if err != nil {
		return fmt.Errorf("create key: %w", err)
	}
	return s.write(ctx, "create key", func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO api_keys (`+keyColumns+`, name_key)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)`,
			k.ID, k.Name, k.Digest[:], k.Sealed, k.Hint, stamp(k.ValidUntil), k.Scopes.Strings(),
			k.RateLimit.Requests, int64(k.RateLimit.Per), ms(k.CreatedAt), k.CreatedBy,
			stamp(k.LastUsedAt), prev, stamp(k.PreviousValidUntil), stamp(k.PreviousLastUsedAt),
			!k.Disabled, encodeIPs(k.AllowedIPs), int64(k.ReadOnlyGrace), signing, gatehouse.NameKey(k.Name))
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
		if err := s.addKeyEvent(ctx, tx, gatehouse.EventKeyCreated, k.ID); err != nil {
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
		if err := s.addKeyEvent(ctx, tx, gatehouse.EventKeyRenewed, id); err != nil {
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
		if err := s.addKeyEvent(ctx, tx, gatehouse.EventKeyDeleted, id); err != nil {
			return err
		}
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

// RollKey gives the key a new secret: the current one becomes its
// previous secret until r.PreviousValidUntil (replacing the previous one
// of an earlier roll, whose overlap ends at once), with no use recorded
// yet. It records an AuditRoll event by actor and a change, and returns
// the key. Returns ENotFound.
func (s *Store) RollKey(ctx context.Context, id string, r gatehouse.KeyRoll, actor string) (*gatehouse.APIKey, error) {
	var k *gatehouse.APIKey
	err := s.write(ctx, "roll key", func(tx pgx.Tx) error {
		var err error
		k, err = s.changeKey(ctx, tx, id, gatehouse.AuditRoll, actor, `UPDATE api_keys
			SET previous_digest = digest, previous_valid_until = $2, previous_last_used_at = NULL,
				digest = $3, sealed = $4, hint = $5
			WHERE id = $1 RETURNING `+keyColumns, ms(r.PreviousValidUntil), r.Digest[:], r.Sealed, r.Hint)
		return err
	})
	if err != nil {
		return nil, err
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
	err := s.write(ctx, action+" key", func(tx pgx.Tx) error {
		var err error
		k, err = s.changeKey(ctx, tx, id, action, actor,
			`UPDATE api_keys SET enabled = $2 WHERE id = $1 RETURNING `+keyColumns, !disabled)
		return err
	})
	if err != nil {
		return nil, err
	}
	return k, nil
}

// UpdateKey sets the fields of u that are not nil, records an AuditUpdate
// event by actor and a change, and returns the key. Returns ENotFound, or
// ENameTaken if another key has the new name case-insensitively.
func (s *Store) UpdateKey(ctx context.Context, id string, u gatehouse.KeyUpdate, actor string) (*gatehouse.APIKey, error) {
	var k *gatehouse.APIKey
	err := s.write(ctx, "update key", func(tx pgx.Tx) error {
		old, err := scanKey(tx.QueryRow(ctx, `SELECT `+keyColumns+` FROM api_keys WHERE id = $1 FOR UPDATE`, id))
		if errors.Is(err, pgx.ErrNoRows) {
			return gatehouse.Errorf(gatehouse.ENotFound, "No key has the ID %q.", id)
		} else if err != nil {
			return err
		}
		u.Apply(old)
		k, err = s.changeKey(ctx, tx, id, gatehouse.AuditUpdate, actor, `UPDATE api_keys
			SET name = $2, name_key = $3, scopes = $4, rate_requests = $5, rate_per_ns = $6,
				allowed_ips = $7, read_only_grace_ns = $8
			WHERE id = $1 RETURNING `+keyColumns, old.Name, gatehouse.NameKey(old.Name),
			old.Scopes.Strings(), old.RateLimit.Requests, int64(old.RateLimit.Per),
			encodeIPs(old.AllowedIPs), int64(old.ReadOnlyGrace))
		if isUniqueViolation(err, "api_keys_name_key_unique") {
			return gatehouse.Errorf(gatehouse.ENameTaken, "A key named %q already exists.", old.Name)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return k, nil
}

// changeKey runs update (whose first argument is the key's ID and which
// returns keyColumns), then records an audit event and a change of the
// key, inside tx, and returns the key as changed. Returns ENotFound when
// update changed no row.
func (s *Store) changeKey(ctx context.Context, tx pgx.Tx, id, action, actor, update string, args ...any) (*gatehouse.APIKey, error) {
	k, err := scanKey(tx.QueryRow(ctx, update, append([]any{id}, args...)...))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, gatehouse.Errorf(gatehouse.ENotFound, "No key has the ID %q.", id)
	} else if err != nil {
		return nil, err
	}
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
	return k, nil
}

// encodeIPs returns the prefixes as text, or nil (NULL) when there are
// none (any address).
func encodeIPs(ps []netip.Prefix) []string {
	if len(ps) == 0 {
		return nil
	}
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.String()
	}
	return out
}

// scanKey reads a row of keyColumns.
func scanKey(row pgx.Row) (*gatehouse.APIKey, error) {
	var (
		k                       gatehouse.APIKey
		digest, prevDigest      []byte
		validUntil, lastUsed    *time.Time
		prevUntil, prevLastUsed *time.Time
		scopes, allowedIPs      []string
		ratePer, graceNS        int64
		enabled                 bool
		signing                 string
	)
	if err := row.Scan(&k.ID, &k.Name, &digest, &k.Sealed, &k.Hint, &validUntil, &scopes,
		&k.RateLimit.Requests, &ratePer, &k.CreatedAt, &k.CreatedBy, &lastUsed,
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
	k.PreviousValidUntil = utc(prevUntil)
	k.PreviousLastUsedAt = utc(prevLastUsed)
	k.Disabled = !enabled
	k.ReadOnlyGrace = time.Duration(graceNS)
	for _, v := range allowedIPs {
		p, err := netip.ParsePrefix(v)
		if err != nil {
			return nil, fmt.Errorf("key %s: allowed address: %w", k.ID, err)
		}
		k.AllowedIPs = append(k.AllowedIPs, p)
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
