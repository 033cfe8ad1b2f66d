package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"gatehouse"
)

// CreateUser adds or replaces a Settings UI administrator. A zero
// u.CreatedAt is set to now.
func (s *Store) CreateUser(ctx context.Context, u *gatehouse.User) error {
	if u.CreatedAt.IsZero() {
		u.CreatedAt = s.now()
	}
	return s.withConn(ctx, "create user", func(c *pgx.Conn) error {
		_, err := c.Exec(ctx, `INSERT INTO users (username, password_hash, created_at) VALUES ($1, $2, $3)
			ON CONFLICT (username) DO UPDATE SET
				password_hash = excluded.password_hash, created_at = excluded.created_at`,
			u.Username, u.PasswordHash, ms(u.CreatedAt))
		return err
	})
}

// FindUserByName returns an administrator. Returns ENotFound.
func (s *Store) FindUserByName(ctx context.Context, username string) (*gatehouse.User, error) {
	u := gatehouse.User{Username: username}
	err := s.withConn(ctx, "find user", func(c *pgx.Conn) error {
		err := c.QueryRow(ctx, `SELECT password_hash, created_at FROM users WHERE username = $1`,
			username).Scan(&u.PasswordHash, &u.CreatedAt)
		if errors.Is(err, pgx.ErrNoRows) {
			return gatehouse.Errorf(gatehouse.ENotFound, "No user is named %q.", username)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	u.CreatedAt = u.CreatedAt.UTC()
	return &u, nil
}

// CountUsers returns the number of administrators.
func (s *Store) CountUsers(ctx context.Context) (int, error) {
	var n int
	err := s.withConn(ctx, "count users", func(c *pgx.Conn) error {
		return c.QueryRow(ctx, `SELECT count(*) FROM users`).Scan(&n)
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}
