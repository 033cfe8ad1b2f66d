package e2e_test

import (
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestLoginBruteForce: after a few failed logins, further attempts are
// refused with 429 and Retry-After, even with the right password and
// under another user name from the same address; the wait passes.
func TestLoginBruteForce(t *testing.T) {
	t.Parallel()
	g := startGateway(t, nil)
	login := func(user, pw string) reply {
		form := url.Values{"username": {user}, "password": {pw}}.Encode()
		return g.oneAdmin(t, withBody("POST", "/login", "application/x-www-form-urlencoded", form))
	}
	if r := login("admin", adminPassword); r.Status != 303 || !strings.Contains(r.Header.Get("Set-Cookie"), "HttpOnly") {
		t.Fatalf("first login: %v, cookie %q; want 303 with an HttpOnly session cookie", r, r.Header.Get("Set-Cookie"))
	}
	failures := 0
	var throttled reply
	for range 50 {
		r := login("admin", "guess-"+strconv.Itoa(failures))
		if r.Status == 429 {
			throttled = r
			break
		}
		if r.Status != 401 {
			t.Fatalf("failed login %d: %v, want 401", failures+1, r)
		}
		failures++
	}
	if throttled.Status != 429 {
		t.Fatalf("50 failed logins and no 429")
	}
	t.Logf("throttled after %d failures, Retry-After %s", failures, throttled.Header.Get("Retry-After"))
	if failures > 10 {
		t.Errorf("throttled only after %d failures, want at most 10", failures)
	}
	wait, err := strconv.Atoi(throttled.Header.Get("Retry-After"))
	if err != nil || wait < 1 {
		t.Errorf("Retry-After %q, want whole seconds", throttled.Header.Get("Retry-After"))
	}
	if r := login("admin", adminPassword); r.Status != 429 {
		t.Errorf("right password while throttled: %v, want 429", r)
	}
	if r := login("someone-else", "x"); r.Status != 429 {
		t.Errorf("another user name from the same address while throttled: %v, want 429", r)
	}
	g.Clock.Add(time.Duration(wait+1) * time.Second)
	if r := login("admin", adminPassword); r.Status != 303 {
		t.Errorf("right password after Retry-After: %v, want 303", r)
	}
	if strings.Contains(g.Log.String(), adminPassword) || strings.Contains(g.Log.String(), "guess-") {
		t.Error("the log holds a password")
	}
}

// TestLoginParallelBurst: 30 wrong passwords for admin sent at once from
// one address get no more than the free failures (401); every other is
// refused with 429 and Retry-After, before its password is checked.
func TestLoginParallelBurst(t *testing.T) {
	t.Parallel()
	g := startGateway(t, nil)
	const n = 30
	replies := make([]reply, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			form := url.Values{"username": {"admin"}, "password": {"guess-" + strconv.Itoa(i)}}.Encode()
			replies[i] = g.oneAdmin(t, withBody("POST", "/login", "application/x-www-form-urlencoded", form))
		})
	}
	wg.Wait()
	statuses := map[int]int{}
	for i, r := range replies {
		statuses[r.Status]++
		if r.Status == 429 {
			if wait, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || wait < 1 {
				t.Errorf("429 number %d has Retry-After %q, want whole seconds", i, r.Header.Get("Retry-After"))
			}
		}
	}
	t.Logf("%d parallel wrong passwords: %v", n, statuses)
	// A 503 is an attempt past the throttle that got no turn to check its
	// password in time, on a machine too busy: one of the free failures
	// all the same.
	free := statuses[401] + statuses[503]
	if free < 1 || free > 5 || free+statuses[429] != n {
		t.Errorf("%d parallel wrong passwords got %v, want 1 to 5 × 401 (the free failures) and the rest 429", n, statuses)
	}
}
