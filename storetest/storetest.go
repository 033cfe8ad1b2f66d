// Package storetest is the contract suite that every gatehouse.Store
// implementation must pass. A store's own tests call Run with a function
// that opens a fresh, empty store:
//
//	func TestStore(t *testing.T) {
//		storetest.Run(t, func(tb testing.TB) gatehouse.Store {
//			return MustOpenStore(tb)
//		})
//	}
package storetest

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"

	"gatehouse"
)

// opener returns a new, empty store. It closes the store when tb ends
// (tb.Cleanup) and fails tb if the store does not open.
type opener func(tb testing.TB) gatehouse.Store

// test is one test of the contract, or a group of them.
type test struct {
	name string
	fn   func(t *testing.T, open opener)
}

// Run runs the Store contract, grouped as the interface is: "keys/..."
// (gatehouse.KeyStore, see runKeys), "users/..." (gatehouse.UserStore,
// runUsers), "usage/..." (gatehouse.UsageStore, runUsage), "cluster/..."
// (gatehouse.ClusterStore, runCluster), "webhooks/..."
// (gatehouse.WebhookStore, runWebhooks), and Ping. open must return a new,
// empty store, close it when tb ends (tb.Cleanup) and fail tb if the store
// does not open. Every subtest opens its own store and runs in parallel
// with the others.
func Run(t *testing.T, open func(tb testing.TB) gatehouse.Store) {
	run(t, open, []test{
		{"keys", runKeys},
		{"users", runUsers},
		{"usage", runUsage},
		{"cluster", runCluster},
		{"webhooks", runWebhooks},
		{"Ping", testPing},
	})
}

// run runs each test in a parallel subtest of t.
func run(t *testing.T, open opener, tests []test) {
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, open)
		})
	}
}

func testPing(t *testing.T, open opener) {
	s := open(t)
	if err := s.Ping(context.Background()); err != nil {
		t.Errorf("Ping() = %v", err)
	}
}

// base is a fixed time with millisecond precision, the precision that
// stores keep.
var base = time.Date(2026, 3, 14, 15, 9, 26, 535_000_000, time.UTC)

// newKey returns a key that is ready to be stored, with every field set.
func newKey(name string, createdAt time.Time) *gatehouse.APIKey {
	secret := gatehouse.NewSecret()
	id := gatehouse.NewKeyID()
	until := createdAt.Add(30 * 24 * time.Hour).Truncate(time.Second)
	return &gatehouse.APIKey{
		ID:         id,
		Name:       name,
		Digest:     secret.Digest(),
		Sealed:     append([]byte("sealed:"+id), 0x00, 0xff, 0x7f),
		Hint:       secret.Hint(),
		ValidUntil: &until,
		Scopes: gatehouse.Scopes{
			{Name: "assets", Access: gatehouse.AccessWrite},
			{Name: "data", Access: gatehouse.AccessRead},
		},
		RateLimit: gatehouse.RateLimit{Requests: 100, Per: time.Second},
		CreatedAt: createdAt,
		CreatedBy: "admin:alice",
		AllowedIPs: []netip.Prefix{
			netip.MustParsePrefix("203.0.113.7/32"),
			netip.MustParsePrefix("2001:db8::/32"),
		},
		ReadOnlyGrace: 36 * time.Hour,
	}
}

func mustCreate(tb testing.TB, s gatehouse.KeyStore, k *gatehouse.APIKey) {
	tb.Helper()
	if err := s.CreateKey(context.Background(), k); err != nil {
		tb.Fatalf("CreateKey(%q) = %v", k.Name, err)
	}
}

func mustFind(tb testing.TB, s gatehouse.KeyStore, id string) *gatehouse.APIKey {
	tb.Helper()
	k, err := s.FindKeyByID(context.Background(), id)
	if err != nil {
		tb.Fatalf("FindKeyByID(%q) = %v", id, err)
	}
	return k
}

func mustRevision(tb testing.TB, s gatehouse.KeyStore) int64 {
	tb.Helper()
	rev, err := s.Revision(context.Background())
	if err != nil {
		tb.Fatalf("Revision() = %v", err)
	}
	return rev
}

// wantCode fails tb unless err carries the application error code.
func wantCode(tb testing.TB, what string, err error, code string) {
	tb.Helper()
	if got := gatehouse.ErrorCode(err); got != code {
		tb.Fatalf("%s: error code %q (%v), want %q", what, got, err, code)
	}
}

// checkKey fails tb when got differs from want in any field.
func checkKey(tb testing.TB, what string, got, want *gatehouse.APIKey) {
	tb.Helper()
	for _, d := range diffKey(got, want) {
		tb.Errorf("%s: %s", what, d)
	}
}

func diffKey(got, want *gatehouse.APIKey) []string {
	var d []string
	if got == nil {
		return []string{"key is nil"}
	}
	if got.ID != want.ID {
		d = append(d, fmt.Sprintf("ID = %q, want %q", got.ID, want.ID))
	}
	if got.Name != want.Name {
		d = append(d, fmt.Sprintf("Name = %q, want %q", got.Name, want.Name))
	}
	if got.Digest != want.Digest {
		d = append(d, "Digest differs")
	}
	if !bytes.Equal(got.Sealed, want.Sealed) {
		d = append(d, fmt.Sprintf("Sealed = %q, want %q", got.Sealed, want.Sealed))
	}
	if got.Hint != want.Hint {
		d = append(d, fmt.Sprintf("Hint = %q, want %q", got.Hint, want.Hint))
	}
	if s := diffTimePtr(got.ValidUntil, want.ValidUntil); s != "" {
		d = append(d, "ValidUntil "+s)
	}
	if !slices.Equal(got.Scopes, want.Scopes) {
		d = append(d, fmt.Sprintf("Scopes = %v, want %v", got.Scopes.Strings(), want.Scopes.Strings()))
	}
	if got.RateLimit != want.RateLimit {
		d = append(d, fmt.Sprintf("RateLimit = %+v, want %+v", got.RateLimit, want.RateLimit))
	}
	if s := diffTime(got.CreatedAt, want.CreatedAt); s != "" {
		d = append(d, "CreatedAt "+s)
	}
	if got.CreatedBy != want.CreatedBy {
		d = append(d, fmt.Sprintf("CreatedBy = %q, want %q", got.CreatedBy, want.CreatedBy))
	}
	if s := diffTimePtr(got.LastUsedAt, want.LastUsedAt); s != "" {
		d = append(d, "LastUsedAt "+s)
	}
	switch {
	case (got.PreviousDigest == nil) != (want.PreviousDigest == nil):
		d = append(d, fmt.Sprintf("PreviousDigest set = %v, want %v", got.PreviousDigest != nil, want.PreviousDigest != nil))
	case got.PreviousDigest != nil && *got.PreviousDigest != *want.PreviousDigest:
		d = append(d, "PreviousDigest differs")
	}
	if s := diffTimePtr(got.PreviousValidUntil, want.PreviousValidUntil); s != "" {
		d = append(d, "PreviousValidUntil "+s)
	}
	if s := diffTimePtr(got.PreviousLastUsedAt, want.PreviousLastUsedAt); s != "" {
		d = append(d, "PreviousLastUsedAt "+s)
	}
	if got.Disabled != want.Disabled {
		d = append(d, fmt.Sprintf("Disabled = %v, want %v", got.Disabled, want.Disabled))
	}
	if !slices.Equal(got.AllowedIPs, want.AllowedIPs) {
		d = append(d, fmt.Sprintf("AllowedIPs = %v, want %v", got.AllowedIPs, want.AllowedIPs))
	}
	if got.ReadOnlyGrace != want.ReadOnlyGrace {
		d = append(d, fmt.Sprintf("ReadOnlyGrace = %v, want %v", got.ReadOnlyGrace, want.ReadOnlyGrace))
	}
	return d
}

// diffTime describes how got differs from want: another instant, or not in
// UTC. It returns "" when they match.
func diffTime(got, want time.Time) string {
	if !got.Equal(want) {
		return fmt.Sprintf("= %s, want %s", got.Format(time.RFC3339Nano), want.Format(time.RFC3339Nano))
	}
	if got.Location() != time.UTC {
		return fmt.Sprintf("= %s is not in UTC", got)
	}
	return ""
}

func diffTimePtr(got, want *time.Time) string {
	switch {
	case got == nil && want == nil:
		return ""
	case got == nil:
		return fmt.Sprintf("= nil, want %s", want.Format(time.RFC3339Nano))
	case want == nil:
		return fmt.Sprintf("= %s, want nil", got.Format(time.RFC3339Nano))
	}
	return diffTime(*got, *want)
}
