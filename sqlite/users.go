package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"gatehouse"
)

// CreateUser adds or replaces a Settings UI administrator, voiding the
// sessions issued before its CreatedAt. A zero u.CreatedAt is set to now.
func (s *Store) CreateUser(ctx context.Context, u *gatehouse.User) error {
	if u.CreatedAt.IsZero() {
		u.CreatedAt = s.now()
	}
	u.SessionsAfter = u.CreatedAt
	err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO users (username, password_hash, created_at, sessions_after) VALUES (?1, ?2, ?3, ?3)
			ON CONFLICT (username) DO UPDATE SET
				password_hash = excluded.password_hash, created_at = excluded.created_at,
				sessions_after = max(users.sessions_after, excluded.sessions_after)`,
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
	var createdAt, sessionsAfter int64
	err := s.db.QueryRowContext(ctx, `SELECT password_hash, created_at, sessions_after FROM users WHERE username = ?`,
		username).Scan(&u.PasswordHash, &createdAt, &sessionsAfter)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, gatehouse.Errorf(gatehouse.ENotFound, "No user is named %q.", username)
	} else if err != nil {
		return nil, wrap("find user", err)
	}
	u.CreatedAt, u.SessionsAfter = fromMillis(createdAt), fromMillis(sessionsAfter)
	return &u, nil
}

// EndSessions voids the user's sessions issued before at. Returns
// ENotFound.
func (s *Store) EndSessions(ctx context.Context, username string, at time.Time) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE users SET sessions_after = max(sessions_after, ?) WHERE username = ?`,
			millis(at), username)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return gatehouse.Errorf(gatehouse.ENotFound, "No user is named %q.", username)
		}
		return nil
	})
	if err != nil {
		return wrap("end sessions", err)
	}
	return nil
}

// FindUsers returns every administrator, by username.
func (s *Store) FindUsers(ctx context.Context) ([]*gatehouse.User, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT username, password_hash, created_at, sessions_after FROM users ORDER BY username`)
	if err != nil {
		return nil, wrap("find users", err)
	}
	defer rows.Close()
	var out []*gatehouse.User
	for rows.Next() {
		var u gatehouse.User
		var createdAt, sessionsAfter int64
		if err := rows.Scan(&u.Username, &u.PasswordHash, &createdAt, &sessionsAfter); err != nil {
			return nil, wrap("find users", err)
		}
		u.CreatedAt, u.SessionsAfter = fromMillis(createdAt), fromMillis(sessionsAfter)
		out = append(out, &u)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap("find users", err)
	}
	return out, nil
}

// DeleteUser removes an administrator. Returns ENotFound.
func (s *Store) DeleteUser(ctx context.Context, username string) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM users WHERE username = ?`, username)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return gatehouse.Errorf(gatehouse.ENotFound, "No user is named %q.", username)
		}
		return nil
	})
	if err != nil {
		return wrap("delete user", err)
	}
	return nil
}

// CountUsers returns the number of administrators.
func (s *Store) CountUsers(ctx context.Context) (int, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM users`).Scan(&n); err != nil {
		return 0, wrap("count users", err)
	}
	return n, nil
}
