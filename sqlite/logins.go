package sqlite

import (
	"context"
	"database/sql"
	"slices"
	"strings"
	"time"

	"gatehouse"
)

// FindLoginFailures returns the counts of those subjects whose last failure
// is at or after since.
func (s *Store) FindLoginFailures(ctx context.Context, subjects []string, since time.Time) ([]gatehouse.LoginFailures, error) {
	if len(subjects) == 0 {
		return nil, nil
	}
	out, err := findLoginFailures(ctx, s.db, subjects, since)
	if err != nil {
		return nil, wrap("find login failures", err)
	}
	return out, nil
}

// RecordLoginFailure counts a failure at at for each subject, after
// forgetting the counts whose last failure is before since, and returns
// the subjects' counts, read in the same write transaction.
func (s *Store) RecordLoginFailure(ctx context.Context, subjects []string, at, since time.Time) ([]gatehouse.LoginFailures, error) {
	subjects = slices.Compact(slices.Sorted(slices.Values(subjects)))
	var out []gatehouse.LoginFailures
	err := s.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM login_failures WHERE last_at < ?`, millis(since)); err != nil {
			return err
		}
		for _, sub := range subjects {
			if _, err := tx.ExecContext(ctx, `INSERT INTO login_failures (subject, count, last_at) VALUES (?, 1, ?)
				ON CONFLICT (subject) DO UPDATE SET count = count + 1, last_at = max(last_at, excluded.last_at)`,
				sub, millis(at)); err != nil {
				return err
			}
		}
		if len(subjects) == 0 {
			return nil
		}
		var err error
		out, err = findLoginFailures(ctx, tx, subjects, since)
		return err
	})
	if err != nil {
		return nil, wrap("record login failure", err)
	}
	return out, nil
}

// queryer is a *sql.DB or a *sql.Tx.
type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// findLoginFailures reads the counts of those subjects (at least one)
// whose last failure is at or after since, by subject.
func findLoginFailures(ctx context.Context, q queryer, subjects []string, since time.Time) ([]gatehouse.LoginFailures, error) {
	in, args := inList(subjects)
	rows, err := q.QueryContext(ctx, `SELECT subject, count, last_at FROM login_failures
		WHERE subject IN (`+in+`) AND last_at >= ? ORDER BY subject`, append(args, millis(since))...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []gatehouse.LoginFailures
	for rows.Next() {
		var f gatehouse.LoginFailures
		var last int64
		if err := rows.Scan(&f.Subject, &f.Count, &last); err != nil {
			return nil, err
		}
		f.Last = fromMillis(last)
		out = append(out, f)
	}
	return out, rows.Err()
}

// ClearLoginFailures forgets the subjects' failures.
func (s *Store) ClearLoginFailures(ctx context.Context, subjects []string) error {
	if len(subjects) == 0 {
		return nil
	}
	in, args := inList(subjects)
	err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM login_failures WHERE subject IN (`+in+`)`, args...)
		return err
	})
	if err != nil {
		return wrap("clear login failures", err)
	}
	return nil
}

// inList returns the placeholders of an IN list of values ("?,?,?") and
// the values as its arguments.
func inList(values []string) (string, []any) {
	args := make([]any, len(values))
	for i, v := range values {
		args[i] = v
	}
	return strings.TrimSuffix(strings.Repeat("?,", len(values)), ","), args
}
