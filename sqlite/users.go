package sqlite

import (
	"context"
	"database/sql"
	"errors"

	"gatehouse"
)

// CreateUser adds or replaces a Settings UI administrator. A zero
// u.CreatedAt is set to now.
func (s *Store) CreateUser(ctx context.Context, u *gatehouse.User) error {
	if u.CreatedAt.IsZero() {
		u.CreatedAt = s.now()
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO users (username, password_hash, created_at) VALUES (?, ?, ?)
			ON CONFLICT (username) DO UPDATE SET
				password_hash = excluded.password_hash, created_at = excluded.created_at`,
			u.Username, u.PasswordHash, millis(u.CreatedAt))
		return err
	})
	if err != nil {
		return wrap("create user", err)
	}
	return nil
}

// FindUserByName returns an administrator. Returns ENotFound.
func (s *Store) FindUserByName(ctx context.Context, username string) (*gatehouse.User, error) {
	u := gatehouse.User{Username: username}
	var createdAt int64
	err := s.db.QueryRowContext(ctx, `SELECT password_hash, created_at FROM users WHERE username = ?`,
		username).Scan(&u.PasswordHash, &createdAt)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, gatehouse.Errorf(gatehouse.ENotFound, "No user is named %q.", username)
	} else if err != nil {
		return nil, wrap("find user", err)
	}
	u.CreatedAt = fromMillis(createdAt)
	return &u, nil
}

// CountUsers returns the number of administrators.
func (s *Store) CountUsers(ctx context.Context) (int, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM users`).Scan(&n); err != nil {
		return 0, wrap("count users", err)
	}
	return n, nil
}
