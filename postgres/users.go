package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"gatehouse"
)

// CreateUser adds or replaces a Settings UI administrator, voiding the
// sessions issued before its CreatedAt. A zero u.CreatedAt is set to now.
func (s *Store) CreateUser(ctx context.Context, u *gatehouse.User) error {
	if u.CreatedAt.IsZero() {
		u.CreatedAt = s.now()
	}
	u.SessionsAfter = u.CreatedAt
	return s.withConn(ctx, "create user", func(c *pgx.Conn) error {
		_, err := c.Exec(ctx, `INSERT INTO users (username, password_hash, created_at, sessions_after) VALUES ($1, $2, $3, $3)
			ON CONFLICT (username) DO UPDATE SET
				password_hash = excluded.password_hash, created_at = excluded.created_at,
				sessions_after = greatest(users.sessions_after, excluded.sessions_after)`,
			u.Username, u.PasswordHash, ms(u.CreatedAt))
		return err
	})
}

// EndSessions voids the user's sessions issued before at. Returns
// ENotFound.
func (s *Store) EndSessions(ctx context.Context, username string, at time.Time) error {
	return s.changeUser(ctx, "end sessions", username,
		`UPDATE users SET sessions_after = greatest(sessions_after, $1) WHERE username = $2`, ms(at), username)
}

// userColumns are the columns scanUser reads, in its order.
const userColumns = `username, password_hash, created_at, sessions_after`

func scanUser(row pgx.Row) (*gatehouse.User, error) {
	var u gatehouse.User
	if err := row.Scan(&u.Username, &u.PasswordHash, &u.CreatedAt, &u.SessionsAfter); err != nil {
		return nil, err
	}
	u.CreatedAt, u.SessionsAfter = u.CreatedAt.UTC(), u.SessionsAfter.UTC()
	return &u, nil
}

// noUser is the error for a username that names no administrator.
func noUser(username string) error {
	return gatehouse.Errorf(gatehouse.ENotFound, "No user is named %q.", username)
}

// FindUserByName returns an administrator. Returns ENotFound.
func (s *Store) FindUserByName(ctx context.Context, username string) (*gatehouse.User, error) {
	var u *gatehouse.User
	err := s.withConn(ctx, "find user", func(c *pgx.Conn) error {
		var err error
		u, err = scanUser(c.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE username = $1`, username))
		if errors.Is(err, pgx.ErrNoRows) {
			return noUser(username)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}

// FindUsers returns every administrator, by username.
func (s *Store) FindUsers(ctx context.Context) ([]*gatehouse.User, error) {
	var out []*gatehouse.User
	err := s.withConn(ctx, "find users", func(c *pgx.Conn) error {
		rows, err := c.Query(ctx, `SELECT `+userColumns+` FROM users ORDER BY username`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			u, err := scanUser(rows)
			if err != nil {
				return err
			}
			out = append(out, u)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DeleteUser removes an administrator. Returns ENotFound.
func (s *Store) DeleteUser(ctx context.Context, username string) error {
	return s.changeUser(ctx, "delete user", username, `DELETE FROM users WHERE username = $1`, username)
}

// changeUser runs a statement that changes the row of one user, and
// returns ENotFound when there is no such row.
func (s *Store) changeUser(ctx context.Context, op, username, query string, args ...any) error {
	return s.withConn(ctx, op, func(c *pgx.Conn) error {
		tag, err := c.Exec(ctx, query, args...)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return noUser(username)
		}
		return nil
	})
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
