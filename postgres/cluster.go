package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
)

// masterKeySetting names the master key's fingerprint in cluster_settings.
const masterKeySetting = "master_key_fingerprint"

// MasterKeyFingerprint returns the fingerprint that ClaimMasterKey
// recorded, or "" when none is.
func (s *Store) MasterKeyFingerprint(ctx context.Context) (string, error) {
	var v string
	err := s.withConn(ctx, "find master key fingerprint", func(c *pgx.Conn) error {
		var err error
		v, err = setting(ctx, c, masterKeySetting)
		return err
	})
	return v, err
}

// ClaimMasterKey records fingerprint unless a fingerprint is recorded, and
// returns the recorded one. Of nodes that claim at once, the first to
// insert records its fingerprint; the others' inserts wait for its commit,
// then do nothing, and read what it recorded.
func (s *Store) ClaimMasterKey(ctx context.Context, fingerprint string) (string, error) {
	if fingerprint == "" {
		return "", errors.New("claim master key: empty fingerprint")
	}
	var v string
	err := s.withConn(ctx, "claim master key", func(c *pgx.Conn) error {
		return pgx.BeginTxFunc(ctx, c, pgx.TxOptions{IsoLevel: pgx.ReadCommitted}, func(tx pgx.Tx) error {
			var err error
			v, err = claimSetting(ctx, tx, masterKeySetting, fingerprint, s.now())
			return err
		})
	})
	return v, err
}

// querier is a connection or a transaction.
type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// setting returns the value of a cluster setting, or "" when none is
// recorded.
func setting(ctx context.Context, q querier, name string) (string, error) {
	var v string
	err := q.QueryRow(ctx, `SELECT value FROM cluster_settings WHERE name = $1`, name).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	return v, err
}

// claimSetting records value for name unless a value is recorded, and
// returns the recorded value. tx must be read committed, whatever the
// database's default_transaction_isolation: the SELECT, a statement of its
// own, takes its snapshot after the INSERT, so it sees the row of a claim
// that the INSERT waited for. (In one statement, a SELECT beside an
// INSERT … ON CONFLICT DO NOTHING in a CTE, it would not: the whole
// statement reads the snapshot taken before the wait. Under repeatable
// read the INSERT would fail instead.)
func claimSetting(ctx context.Context, tx pgx.Tx, name, value string, now time.Time) (string, error) {
	if _, err := tx.Exec(ctx, `INSERT INTO cluster_settings (name, value, set_at) VALUES ($1, $2, $3)
		ON CONFLICT (name) DO NOTHING`, name, value, now); err != nil {
		return "", err
	}
	return setting(ctx, tx, name)
}
