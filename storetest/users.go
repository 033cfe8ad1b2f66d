package storetest

import (
	"context"
	"testing"
	"time"

	"gatehouse"
)

func testUsers(t *testing.T, open opener) {
	s := open(t)
	ctx := context.Background()

	if n, err := s.CountUsers(ctx); err != nil || n != 0 {
		t.Fatalf("CountUsers() of an empty store = %d, %v; want 0", n, err)
	}
	_, err := s.FindUserByName(ctx, "alice")
	wantCode(t, "FindUserByName(unknown)", err, gatehouse.ENotFound)

	alice := &gatehouse.User{Username: "alice", PasswordHash: "$argon2id$v=19$first", CreatedAt: base}
	bob := &gatehouse.User{Username: "bob", PasswordHash: "$2a$10$bob", CreatedAt: base.Add(time.Second)}
	// Creating alice again replaces her.
	alice2 := &gatehouse.User{Username: "alice", PasswordHash: "$argon2id$v=19$second", CreatedAt: base.Add(time.Minute)}
	for _, u := range []*gatehouse.User{alice, bob, alice2} {
		if err := s.CreateUser(ctx, u); err != nil {
			t.Fatalf("CreateUser(%q) = %v", u.Username, err)
		}
	}
	if n, err := s.CountUsers(ctx); err != nil || n != 2 {
		t.Errorf("CountUsers() = %d, %v; want 2", n, err)
	}
	for _, want := range []*gatehouse.User{alice2, bob} {
		got, err := s.FindUserByName(ctx, want.Username)
		if err != nil {
			t.Fatalf("FindUserByName(%q) = %v", want.Username, err)
		}
		if got.Username != want.Username || got.PasswordHash != want.PasswordHash {
			t.Errorf("FindUserByName(%q) = %+v, want %+v", want.Username, got, want)
		}
		if d := diffTime(got.CreatedAt, want.CreatedAt); d != "" {
			t.Errorf("FindUserByName(%q).CreatedAt %s", want.Username, d)
		}
	}
	_, err = s.FindUserByName(ctx, "carol")
	wantCode(t, "FindUserByName(carol)", err, gatehouse.ENotFound)
}

func testPing(t *testing.T, open opener) {
	s := open(t)
	if err := s.Ping(context.Background()); err != nil {
		t.Errorf("Ping() = %v", err)
	}
}
