package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"gatehouse"
)

// runUsers runs the contract of gatehouse.UserStore: the administrators
// and their failed logins.
func runUsers(t *testing.T, open opener) {
	run(t, open, []test{
		{"Users", testUsers},
		{"EndSessions", testEndSessions},
		{"LoginFailures", testLoginFailures},
	})
}

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

	all, err := s.FindUsers(ctx)
	if err != nil {
		t.Fatalf("FindUsers() = %v", err)
	}
	if len(all) != 2 || all[0].Username != "alice" || all[1].Username != "bob" || all[0].PasswordHash != alice2.PasswordHash {
		t.Errorf("FindUsers() = %+v, want alice (second password) and bob", all)
	}
	if err := s.DeleteUser(ctx, "alice"); err != nil {
		t.Fatalf("DeleteUser(alice) = %v", err)
	}
	wantCode(t, "DeleteUser(alice) again", s.DeleteUser(ctx, "alice"), gatehouse.ENotFound)
	_, err = s.FindUserByName(ctx, "alice")
	wantCode(t, "FindUserByName(deleted alice)", err, gatehouse.ENotFound)
	if n, err := s.CountUsers(ctx); err != nil || n != 1 {
		t.Errorf("CountUsers() after a delete = %d, %v; want 1", n, err)
	}
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

// testLoginFailures: failures count per subject, recording one returns the
// counts with it, a quiet spell starts a count again, and a success clears
// it.
func testLoginFailures(t *testing.T, open opener) {
	s := open(t)
	ctx := context.Background()
	const window = 15 * time.Minute
	t0 := base
	same := func(step string, got []gatehouse.LoginFailures, want ...gatehouse.LoginFailures) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("%s: %+v, want %+v", step, got, want)
		}
		for i := range want {
			if got[i].Subject != want[i].Subject || got[i].Count != want[i].Count || diffTime(got[i].Last, want[i].Last) != "" {
				t.Errorf("%s: [%d] = %+v, want %+v", step, i, got[i], want[i])
			}
		}
	}
	fail := func(at time.Time, subjects []string, want ...gatehouse.LoginFailures) {
		t.Helper()
		got, err := s.RecordLoginFailure(ctx, subjects, at, at.Add(-window))
		if err != nil {
			t.Fatalf("RecordLoginFailure(%v) = %v", subjects, err)
		}
		same(fmt.Sprintf("RecordLoginFailure(%v)", subjects), got, want...)
	}
	check := func(step string, at time.Time, subjects []string, want ...gatehouse.LoginFailures) {
		t.Helper()
		got, err := s.FindLoginFailures(ctx, subjects, at.Add(-window))
		if err != nil {
			t.Fatalf("%s: FindLoginFailures = %v", step, err)
		}
		same(step+": FindLoginFailures", got, want...)
	}
	both := []string{"ip:192.0.2.1", "user:admin"}
	check("none yet", t0, both)
	// A subject named twice counts once.
	fail(t0, []string{"user:admin", "ip:192.0.2.1", "user:admin"},
		gatehouse.LoginFailures{Subject: "ip:192.0.2.1", Count: 1, Last: t0},
		gatehouse.LoginFailures{Subject: "user:admin", Count: 1, Last: t0})
	fail(t0.Add(time.Second), []string{"ip:192.0.2.1"},
		gatehouse.LoginFailures{Subject: "ip:192.0.2.1", Count: 2, Last: t0.Add(time.Second)})
	// A failure stamped earlier (another node's clock) keeps the later last.
	fail(t0.Add(2*time.Second), []string{"ip:198.51.100.7"},
		gatehouse.LoginFailures{Subject: "ip:198.51.100.7", Count: 1, Last: t0.Add(2 * time.Second)})
	fail(t0.Add(time.Second), []string{"ip:198.51.100.7"},
		gatehouse.LoginFailures{Subject: "ip:198.51.100.7", Count: 2, Last: t0.Add(2 * time.Second)})
	at := t0.Add(2 * time.Second)
	check("counted", at, both,
		gatehouse.LoginFailures{Subject: "ip:192.0.2.1", Count: 2, Last: t0.Add(time.Second)},
		gatehouse.LoginFailures{Subject: "user:admin", Count: 1, Last: t0})
	check("no subjects", at, nil)

	// After a quiet spell the old counts no longer show and start again.
	later := t0.Add(window + time.Minute)
	check("after a quiet spell", later, both)
	fail(later, []string{"user:admin"}, gatehouse.LoginFailures{Subject: "user:admin", Count: 1, Last: later})
	check("counting again", later, both, gatehouse.LoginFailures{Subject: "user:admin", Count: 1, Last: later})

	fail(later, []string{"ip:203.0.113.9"}, gatehouse.LoginFailures{Subject: "ip:203.0.113.9", Count: 1, Last: later})
	if err := s.ClearLoginFailures(ctx, []string{"user:admin", "ip:unknown"}); err != nil {
		t.Fatalf("ClearLoginFailures = %v", err)
	}
	check("cleared", later, []string{"user:admin", "ip:203.0.113.9"},
		gatehouse.LoginFailures{Subject: "ip:203.0.113.9", Count: 1, Last: later})
	if err := s.ClearLoginFailures(ctx, nil); err != nil {
		t.Errorf("ClearLoginFailures(nil) = %v", err)
	}

	// Concurrent failures of one subject each get their own count, so
	// that each attempt of a parallel burst sees those before it.
	const n = 30
	counts := make(chan int, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			got, err := s.RecordLoginFailure(ctx, []string{"user:burst", "ip:192.0.2.99"}, later, later.Add(-window))
			if err != nil || len(got) != 2 || got[1].Subject != "user:burst" {
				t.Errorf("concurrent RecordLoginFailure = %+v, %v; want the counts of both subjects", got, err)
				return
			}
			counts <- got[1].Count
		})
	}
	wg.Wait()
	close(counts)
	seen := map[int]bool{}
	for c := range counts {
		seen[c] = true
	}
	for c := 1; c <= n; c++ {
		if !seen[c] {
			t.Errorf("%d concurrent failures got counts %v, want each of 1..%d once", n, seen, n)
			break
		}
	}
}
