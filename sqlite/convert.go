package sqlite

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"net/netip"
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

// encodeIPs returns the prefixes as a JSON array of strings, or NULL when
// there are none (any address).
func encodeIPs(ps []netip.Prefix) sql.NullString {
	if len(ps) == 0 {
		return sql.NullString{}
	}
	b, _ := json.Marshal(ps) // netip.Prefix marshals as text; it cannot fail
	return sql.NullString{String: string(b), Valid: true}
}

func decodeIPs(s string) ([]netip.Prefix, error) {
	var ps []netip.Prefix
	if err := json.Unmarshal([]byte(s), &ps); err != nil {
		return nil, fmt.Errorf("decode allowed addresses: %w", err)
	}
	return ps, nil
}
