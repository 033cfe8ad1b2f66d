package keyauth_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"gatehouse"
	"gatehouse/keyauth"
	"gatehouse/ratelimit"
)

// index is a map-backed keyauth.Index: the index is not under test here
// (keyindex tests CatchUp on a real store). CatchUp moves the keys of
// pending, the ones "created elsewhere", into keys, and counts its calls.
type index struct {
	keys     map[gatehouse.Digest]*gatehouse.APIKey
	pending  map[gatehouse.Digest]*gatehouse.APIKey
	stale    bool
	catchUps int
}

func (x *index) Lookup(d gatehouse.Digest) (*gatehouse.APIKey, bool) {
	k, ok := x.keys[d]
	return k, ok
}
func (x *index) Usable(time.Time) bool { return !x.stale }
func (x *index) CatchUp(context.Context) error {
	x.catchUps++
	for d, k := range x.pending {
		x.keys[d] = k
	}
	clear(x.pending)
	return nil
}

// TestCheckCatchesUp: a well-formed key the index does not know makes it
// catch up with the store once, so a key created elsewhere a moment ago
// works on its first request; a malformed key or a bad checksum never
// costs a catch-up.
func TestCheckCatchesUp(t *testing.T) {
	t.Parallel()
	s := gatehouse.NewSecret()
	idx := &index{keys: map[gatehouse.Digest]*gatehouse.APIKey{}, pending: map[gatehouse.Digest]*gatehouse.APIKey{
		s.Digest(): {ID: "new", Digest: s.Digest(), Scopes: gatehouse.Scopes{{Name: "assets", Access: gatehouse.AccessRead}}},
	}}
	v := &keyauth.Verifier{Index: idx}
	req := func(key string) keyauth.Request {
		return keyauth.Request{Presented: []string{key}, Scope: "assets", Access: gatehouse.AccessRead}
	}
	bad := s.Reveal()[:len(s.Reveal())-1] + "x"
	if bad == s.Reveal() {
		bad = s.Reveal()[:len(s.Reveal())-1] + "y"
	}
	for _, key := range []string{"hello", bad} {
		if got := v.Check(t.Context(), req(key)); got.Status != keyauth.StatusInvalid {
			t.Errorf("Check(%.8s…) = %v, want invalid", key, got.Status)
		}
	}
	if idx.catchUps != 0 {
		t.Fatalf("%d catch-ups for a malformed key and a bad checksum, want 0", idx.catchUps)
	}
	if got := v.Check(t.Context(), req(s.Reveal())); got.Status != keyauth.StatusValid || got.Key == nil || got.Key.ID != "new" {
		t.Errorf("first check of a key created elsewhere = %v, want valid", got.Status)
	}
	if got := v.Check(t.Context(), req(gatehouse.NewSecret().Reveal())); got.Status != keyauth.StatusInvalid {
		t.Errorf("check of an unknown well-formed key = %v, want invalid", got.Status)
	}
	if idx.catchUps != 2 {
		t.Errorf("%d catch-ups for two unknown well-formed keys, want 2", idx.catchUps)
	}
}

type usage struct{ n, previous map[string]int }

func (u *usage) Record(id string, _ time.Time) { u.n[id]++ }
func (u *usage) RecordPrevious(id string, _ time.Time) {
	u.n[id]++
	if u.previous == nil {
		u.previous = map[string]int{}
	}
	u.previous[id]++
}

func TestCheck(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	past, future := now.Add(-time.Second), now.Add(time.Hour)
	idx := &index{keys: map[gatehouse.Digest]*gatehouse.APIKey{}}
	add := func(id string, until *time.Time, rl gatehouse.RateLimit, scopes ...string) string {
		s := gatehouse.NewSecret()
		sc, err := gatehouse.ParseScopes(scopes)
		if err != nil {
			t.Fatal(err)
		}
		idx.keys[s.Digest()] = &gatehouse.APIKey{ID: id, Digest: s.Digest(), ValidUntil: until, Scopes: sc, RateLimit: rl}
		return s.Reveal()
	}
	reader := add("reader", &future, gatehouse.RateLimit{}, "assets:read")
	writer := add("writer", nil, gatehouse.RateLimit{}, "assets:write")
	expired := add("expired", &past, gatehouse.RateLimit{}, "assets:read")
	limited := add("limited", nil, gatehouse.RateLimit{Requests: 1, Per: time.Minute}, "*:read")
	unknown := gatehouse.NewSecret().Reveal()
	bad := reader[:len(reader)-1] + "x"
	if bad == reader {
		bad = reader[:len(reader)-1] + "y"
	}
	u := &usage{n: map[string]int{}}
	v := &keyauth.Verifier{Index: idx, Limiter: ratelimit.NewLocal(), Usage: u, Now: func() time.Time { return now }}
	R, W := gatehouse.AccessRead, gatehouse.AccessWrite
	tests := []struct {
		name      string
		presented []string
		scope     string
		need      gatehouse.Access
		want      keyauth.Status
	}{
		{"missing", nil, "assets", R, keyauth.StatusMissing},
		{"empty value", []string{""}, "assets", R, keyauth.StatusInvalid},
		{"two headers", []string{reader, reader}, "assets", R, keyauth.StatusInvalid},
		{"malformed", []string{"hello"}, "assets", R, keyauth.StatusInvalid},
		{"bad checksum", []string{bad}, "assets", R, keyauth.StatusInvalid},
		{"unknown", []string{unknown}, "assets", R, keyauth.StatusInvalid},
		{"expired", []string{expired}, "assets", R, keyauth.StatusExpired},
		{"read on write", []string{reader}, "assets", W, keyauth.StatusInsufficientScope},
		{"other scope", []string{reader}, "data", R, keyauth.StatusInsufficientScope},
		{"api-keys with star", []string{limited}, "api-keys", R, keyauth.StatusInsufficientScope},
		{"read", []string{reader}, "assets", R, keyauth.StatusValid},
		{"write includes read", []string{writer}, "assets", R, keyauth.StatusValid},
		{"write", []string{writer}, "assets", W, keyauth.StatusValid},
		{"first within limit", []string{limited}, "data", R, keyauth.StatusValid},
		{"second over limit", []string{limited}, "data", R, keyauth.StatusRateLimited},
	}
	for _, tt := range tests {
		if got := v.Check(context.Background(), keyauth.Request{Presented: tt.presented, Scope: tt.scope, Access: tt.need}); got.Status != tt.want {
			t.Errorf("%s: Check = %v, want %v", tt.name, got.Status, tt.want)
		}
	}
	if u.n["reader"] != 1 || u.n["writer"] != 2 || u.n["expired"] != 0 || u.n["limited"] != 1 {
		t.Errorf("usage = %v, want only valid requests counted", u.n)
	}
	idx.stale = true
	if got := v.Check(context.Background(), keyauth.Request{Presented: []string{reader}, Scope: "assets", Access: R}); got.Status != keyauth.StatusUnavailable {
		t.Errorf("stale index: Check = %v, want unavailable", got.Status)
	}
}

func TestWriteRejection(t *testing.T) {
	t.Parallel()
	tests := []struct {
		v          keyauth.Verdict
		status     int
		code, auth string
	}{
		{keyauth.Verdict{Status: keyauth.StatusMissing}, 401, "missing_key", `ApiKey header="X-API-Key"`},
		{keyauth.Verdict{Status: keyauth.StatusExpired}, 401, "key_expired", `ApiKey header="X-API-Key"`},
		{keyauth.Verdict{Status: keyauth.StatusInsufficientScope}, 403, "insufficient_scope", ""},
		{keyauth.Verdict{Status: keyauth.StatusRateLimited, Limited: true, Rate: gatehouse.RateDecision{Limit: 5, RetryAfter: 1500 * time.Millisecond, ResetAfter: 3 * time.Second}}, 429, "rate_limited", ""},
	}
	for _, tt := range tests {
		w := httptest.NewRecorder()
		keyauth.WriteRejection(w, tt.v)
		if w.Code != tt.status || !contains(w.Body.String(), `"code":"`+tt.code+`"`) || w.Header().Get("WWW-Authenticate") != tt.auth {
			t.Errorf("WriteRejection(%v) = %d %s (WWW-Authenticate %q), want %d %s %q", tt.v.Status, w.Code, w.Body, w.Header().Get("WWW-Authenticate"), tt.status, tt.code, tt.auth)
		}
		if tt.status == 429 && (w.Header().Get("Retry-After") != "2" || w.Header().Get("RateLimit-Limit") != "5" || w.Header().Get("RateLimit-Reset") != "3") {
			t.Errorf("429 headers = %v, want Retry-After 2, RateLimit-Limit 5, RateLimit-Reset 3", w.Header())
		}
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

func BenchmarkCheck(b *testing.B) {
	idx := &index{keys: map[gatehouse.Digest]*gatehouse.APIKey{}}
	s := gatehouse.NewSecret()
	sc, _ := gatehouse.ParseScopes([]string{"assets:read"})
	idx.keys[s.Digest()] = &gatehouse.APIKey{ID: "k", Digest: s.Digest(), Scopes: sc}
	v := &keyauth.Verifier{Index: idx}
	hit := keyauth.Request{Presented: []string{s.Reveal()}, Scope: "assets", Access: gatehouse.AccessRead}
	miss := keyauth.Request{Presented: []string{gatehouse.NewSecret().Reveal()}, Scope: "assets", Access: gatehouse.AccessRead}
	b.Run("hit", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			v.Check(context.Background(), hit)
		}
	})
	b.Run("miss", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			v.Check(context.Background(), miss)
		}
	})
}
