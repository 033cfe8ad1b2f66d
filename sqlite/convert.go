package sqlite

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"gatehouse"
)

// Times are stored as Unix milliseconds.

func millis(t time.Time) int64 { return t.UnixMilli() }

func fromMillis(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

func nullMillis(t *time.Time) sql.NullInt64 {
	if t == nil {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixMilli(), Valid: true}
}

func fromNullMillis(n sql.NullInt64) *time.Time {
	if !n.Valid {
		return nil
	}
	t := fromMillis(n.Int64)
	return &t
}

// encodeScopes returns the scopes as a JSON array of strings.
func encodeScopes(ss gatehouse.Scopes) (string, error) {
	b, err := json.Marshal(ss.Strings())
	if err != nil {
		return "", fmt.Errorf("encode scopes: %w", err)
	}
	return string(b), nil
}

func decodeScopes(s string) (gatehouse.Scopes, error) {
	var list []string
	if err := json.Unmarshal([]byte(s), &list); err != nil {
		return nil, fmt.Errorf("decode scopes: %w", err)
	}
	ss := make(gatehouse.Scopes, 0, len(list))
	for _, v := range list {
		sc, err := gatehouse.ParseScope(v)
		if err != nil {
			return nil, fmt.Errorf("decode scopes: %w", err)
		}
		ss = append(ss, sc)
	}
	return ss, nil
}
