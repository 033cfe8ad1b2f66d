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

// testEndSessions: a logout moves SessionsAfter forward, never back, and
// replacing a user (a new password) moves it to the new CreatedAt.
func testEndSessions(t *testing.T, open opener) {
	s := open(t)
	ctx := context.Background()
	wantCode(t, "EndSessions(unknown)", s.EndSessions(ctx, "nobody", base), gatehouse.ENotFound)

	if err := s.CreateUser(ctx, &gatehouse.User{Username: "alice", PasswordHash: "h1", CreatedAt: base}); err != nil {
		t.Fatal(err)
	}
	after := func(step string, want time.Time) {
		t.Helper()
		u, err := s.FindUserByName(ctx, "alice")
		if err != nil {
			t.Fatalf("%s: FindUserByName = %v", step, err)
		}
		if d := diffTime(u.SessionsAfter, want); d != "" {
			t.Errorf("%s: SessionsAfter %s", step, d)
		}
	}
	after("created", base)
	logout := base.Add(3*time.Hour + 250*time.Millisecond)
	if err := s.EndSessions(ctx, "alice", logout); err != nil {
		t.Fatalf("EndSessions = %v", err)
	}
	after("logged out", logout)
	// A node with a slow clock cannot bring voided sessions back.
	if err := s.EndSessions(ctx, "alice", base.Add(time.Hour)); err != nil {
		t.Fatalf("EndSessions(earlier) = %v", err)
	}
	after("an earlier logout", logout)
	reset := logout.Add(time.Hour)
	if err := s.CreateUser(ctx, &gatehouse.User{Username: "alice", PasswordHash: "h2", CreatedAt: reset}); err != nil {
		t.Fatal(err)
	}
	after("password replaced", reset)
}

func testPing(t *testing.T, open opener) {
	s := open(t)
	if err := s.Ping(context.Background()); err != nil {
		t.Errorf("Ping() = %v", err)
	}
}
