package postgres

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"gatehouse"
)

// FindLoginFailures returns the counts of those subjects whose last failure
// is at or after since.
func (s *Store) FindLoginFailures(ctx context.Context, subjects []string, since time.Time) ([]gatehouse.LoginFailures, error) {
	var out []gatehouse.LoginFailures
	err := s.withConn(ctx, "find login failures", func(c *pgx.Conn) error {
		rows, err := c.Query(ctx, `SELECT subject, count, last_at FROM login_failures
			WHERE last_at >= $1 AND subject = ANY($2) ORDER BY subject`, ms(since), subjects)
		if err != nil {
			return err
		}
		out, err = scanFailures(rows)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// RecordLoginFailure counts a failure at at for each subject, after
// forgetting the counts whose last failure is before since, and returns
// the subjects' counts as this statement left them (each row stays locked
// until the commit, so concurrent calls get different counts).
func (s *Store) RecordLoginFailure(ctx context.Context, subjects []string, at, since time.Time) ([]gatehouse.LoginFailures, error) {
	var out []gatehouse.LoginFailures
	err := s.write(ctx, "record login failure", func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM login_failures WHERE last_at < $1`, ms(since)); err != nil {
			return err
		}
		// In subject order, so that nodes counting the same subjects at
		// once lock the rows in the same order.
		rows, err := tx.Query(ctx, `INSERT INTO login_failures (subject, count, last_at)
			SELECT s, 1, $2 FROM unnest($1::text[]) AS s GROUP BY s ORDER BY s
			ON CONFLICT (subject) DO UPDATE SET
				count = login_failures.count + 1,
				last_at = greatest(login_failures.last_at, excluded.last_at)
			RETURNING subject, count, last_at`, subjects, ms(at))
		if err != nil {
			return err
		}
		out, err = scanFailures(rows)
		return err
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b gatehouse.LoginFailures) int { return strings.Compare(a.Subject, b.Subject) })
	return out, nil
}

// ClearLoginFailures forgets the subjects' failures.
func (s *Store) ClearLoginFailures(ctx context.Context, subjects []string) error {
	return s.withConn(ctx, "clear login failures", func(c *pgx.Conn) error {
		_, err := c.Exec(ctx, `DELETE FROM login_failures WHERE subject = ANY($1)`, subjects)
		return err
	})
}

// scanFailures reads rows of (subject, count, last_at) and closes them.
func scanFailures(rows pgx.Rows) ([]gatehouse.LoginFailures, error) {
	defer rows.Close()
	var out []gatehouse.LoginFailures
	for rows.Next() {
		var f gatehouse.LoginFailures
		if err := rows.Scan(&f.Subject, &f.Count, &f.Last); err != nil {
			return nil, err
		}
		f.Last = f.Last.UTC()
		out = append(out, f)
	}
	return out, rows.Err()
}
