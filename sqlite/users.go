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

// userColumns are the columns scanUser reads, in its order.
const userColumns = `username, password_hash, created_at, sessions_after`

func scanUser(row scanner) (*gatehouse.User, error) {
	var u gatehouse.User
	var createdAt, sessionsAfter int64
	if err := row.Scan(&u.Username, &u.PasswordHash, &createdAt, &sessionsAfter); err != nil {
		return nil, err
	}
	u.CreatedAt, u.SessionsAfter = fromMillis(createdAt), fromMillis(sessionsAfter)
	return &u, nil
}

// noUser is the error for a username that names no administrator.
func noUser(username string) error {
	return gatehouse.Errorf(gatehouse.ENotFound, "No user is named %q.", username)
}

// FindUserByName returns an administrator. Returns ENotFound.
func (s *Store) FindUserByName(ctx context.Context, username string) (*gatehouse.User, error) {
	u, err := scanUser(s.db.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE username = ?`, username))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, noUser(username)
	} else if err != nil {
		return nil, wrap("find user", err)
	}
	return u, nil
}

// EndSessions voids the user's sessions issued before at. Returns
// ENotFound.
func (s *Store) EndSessions(ctx context.Context, username string, at time.Time) error {
	return s.changeUser(ctx, "end sessions", username,
		`UPDATE users SET sessions_after = max(sessions_after, ?) WHERE username = ?`, millis(at), username)
}

// FindUsers returns every administrator, by username.
func (s *Store) FindUsers(ctx context.Context) ([]*gatehouse.User, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+userColumns+` FROM users ORDER BY username`)
	if err != nil {
		return nil, wrap("find users", err)
	}
	defer rows.Close()
	var out []*gatehouse.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, wrap("find users", err)
		}
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap("find users", err)
	}
	return out, nil
}

// DeleteUser removes an administrator. Returns ENotFound.
func (s *Store) DeleteUser(ctx context.Context, username string) error {
	return s.changeUser(ctx, "delete user", username, `DELETE FROM users WHERE username = ?`, username)
}

// changeUser runs a statement that changes the row of one user, and
// returns ENotFound when there is no such row.
func (s *Store) changeUser(ctx context.Context, op, username, query string, args ...any) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, query, args...)
		if err != nil {
			return err
		}
		return mustAffect(res, noUser(username))
	})
	if err != nil {
		return wrap(op, err)
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
