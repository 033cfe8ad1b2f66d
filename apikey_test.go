package gatehouse_test

import (
	"testing"
	"time"

	"gatehouse"
)

func TestExpiresWithin(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	at := func(d time.Duration) *time.Time { v := now.Add(d); return &v }
	week := 7 * 24 * time.Hour
	tests := []struct {
		name       string
		validUntil *time.Time
		want       bool
	}{
		{"no expiry", nil, false},
		{"expired", at(-time.Second), false},
		{"expires now", at(0), false},
		{"in a second", at(time.Second), true},
		{"at the window's edge", at(week), true},
		{"just past the window", at(week + time.Second), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			k := &gatehouse.APIKey{ValidUntil: tt.validUntil}
			if got := k.ExpiresWithin(now, week); got != tt.want {
				t.Errorf("ExpiresWithin(now, 7 days) with validUntil %v = %v, want %v", tt.validUntil, got, tt.want)
			}
		})
	}
}
