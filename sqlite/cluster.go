package sqlite

import (
	"context"
	"database/sql"
	"errors"
)

// masterKeySetting names the master key's fingerprint in cluster_settings.
const masterKeySetting = "master_key_fingerprint"

// MasterKeyFingerprint returns the fingerprint that ClaimMasterKey
// recorded, or "" when none is.
func (s *Store) MasterKeyFingerprint(ctx context.Context) (string, error) {
	v, err := s.setting(ctx, masterKeySetting)
	if err != nil {
		return "", wrap("find master key fingerprint", err)
	}
	return v, nil
}

// ClaimMasterKey records fingerprint unless a fingerprint is recorded, and
// returns the recorded one. The write lock orders concurrent claims: the
// first records its fingerprint, and the others read it.
func (s *Store) ClaimMasterKey(ctx context.Context, fingerprint string) (string, error) {
	if fingerprint == "" {
		return "", errors.New("claim master key: empty fingerprint")
	}
	v, err := s.claimSetting(ctx, masterKeySetting, fingerprint)
	if err != nil {
		return "", wrap("claim master key", err)
	}
	return v, nil
}

// setting returns the value of a cluster setting, or "" when none is
// recorded.
func (s *Store) setting(ctx context.Context, name string) (string, error) {
	var v string
	err := s.db.QueryRowContext(ctx, `SELECT value FROM cluster_settings WHERE name = ?`, name).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return v, err
}

// claimSetting records value for name unless a value is recorded, and
// returns the recorded value, in one write transaction.
func (s *Store) claimSetting(ctx context.Context, name, value string) (string, error) {
	var v string
	err := s.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO cluster_settings (name, value, set_at) VALUES (?, ?, ?)
			ON CONFLICT (name) DO NOTHING`, name, value, millis(s.now())); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, `SELECT value FROM cluster_settings WHERE name = ?`, name).Scan(&v)
	})
	return v, err
}
