package webui

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gatehouse"
	"gatehouse/gatehousetest"
)

const testPassword = "correct horse battery staple"

// newTestUI returns a UI on a temp-dir SQLite store with the user "admin",
// whose clock stands still at the returned time.
func newTestUI(t *testing.T) (*UI, time.Time) {
	t.Helper()
	ctx := context.Background()
	store := gatehousetest.MustOpenSQLite(t)
	now := time.Now().UTC().Truncate(time.Millisecond)
	u := &UI{Store: store, MasterKey: []byte("0123456789abcdef0123456789abcdef"), Now: func() time.Time { return now }}
	if err := u.Init(); err != nil {
		t.Fatal(err)
	}
	if err := u.EnsureAdmin(ctx, testPassword); err != nil {
		t.Fatal(err)
	}
	return u, now
}

// postLogin sends a login form from addr through the UI's handler.
func postLogin(ctx context.Context, u *UI, addr, user, pw string) *httptest.ResponseRecorder {
	form := url.Values{"username": {user}, "password": {pw}}.Encode()
	r := httptest.NewRequestWithContext(ctx, "POST", "/login", strings.NewReader(form))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.RemoteAddr = addr + ":40000"
	w := httptest.NewRecorder()
	u.Handler().ServeHTTP(w, r)
	return w
}

// burst sends n (at most 250) logins at once for user with a wrong
// password, each from its own address in 10.net.0.0/24, and returns their
// answers.
func burst(u *UI, n, net int, user string) []*httptest.ResponseRecorder {
	out := make([]*httptest.ResponseRecorder, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			out[i] = postLogin(context.Background(), u, fmt.Sprintf("10.%d.0.%d", net, i+1), user, "guess")
		})
	}
	wg.Wait()
	return out
}

// TestLoginBurstMadeUpName: a parallel burst of wrong passwords for one
// name from many addresses gets its free failures and then waits, whether
// the name is a user's or made up, so the answers do not tell which names
// exist. The password checks are real.
func TestLoginBurstMadeUpName(t *testing.T) {
	t.Parallel()
	const n = 30
	u, _ := newTestUI(t)
	u.checkWait = time.Minute // real checks, on a machine that may be busy
	for net, name := range []string{"admin", "nobody-here"} {
		statuses := map[int]int{}
		for i, w := range burst(u, n, net, name) {
			statuses[w.Code]++
			if w.Code != http.StatusTooManyRequests {
				continue
			}
			// At least the 1 s after the fifth failure, at most maxWait.
			if ra, err := strconv.Atoi(w.Header().Get("Retry-After")); err != nil || ra < 2 || ra > int(maxWait/time.Second)+1 {
				t.Errorf("%s: 429 number %d has Retry-After %q, want 2 to %d seconds", name, i, w.Header().Get("Retry-After"), int(maxWait/time.Second)+1)
			}
			if !strings.Contains(w.Body.String(), "Too many failed logins") {
				t.Errorf("%s: 429 without its message: %.200s", name, w.Body.String())
			}
		}
		if statuses[http.StatusUnauthorized] != freeFailures || statuses[http.StatusTooManyRequests] != n-freeFailures {
			t.Errorf("%s: %d parallel wrong passwords from %d addresses got %v, want %d × 401 and %d × 429", name, n, n, statuses, freeFailures, n-freeFailures)
		}
		// And the next attempt, from yet another address, waits too.
		if w := postLogin(context.Background(), u, "192.0.2.200", name, "guess"); w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") == "" {
			t.Errorf("%s: after the burst = %d (Retry-After %q), want 429 with Retry-After", name, w.Code, w.Header().Get("Retry-After"))
		}
	}
}

// checkWatch replaces a UI's password check by one that counts the checks
// in flight and waits for the test to release each.
type checkWatch struct {
	inFlight, max, calls atomic.Int32
	release              chan struct{}
}

func watchChecks(u *UI) *checkWatch {
	c := &checkWatch{release: make(chan struct{})}
	u.verify = func(*gatehouse.User, string) bool {
		c.calls.Add(1)
		n := c.inFlight.Add(1)
		for m := c.max.Load(); n > m && !c.max.CompareAndSwap(m, n); m = c.max.Load() {
		}
		<-c.release
		c.inFlight.Add(-1)
		return false
	}
	return c
}

// releaseOne lets one waiting check finish.
func (c *checkWatch) releaseOne(t *testing.T) {
	t.Helper()
	select {
	case c.release <- struct{}{}:
	case <-time.After(10 * time.Second):
		t.Fatalf("no password check to release after 10s (%d in flight)", c.inFlight.Load())
	}
}

// waitFor polls cond until it holds, for at most 10s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	gatehousetest.Eventually(t, 10*time.Second, what, cond)
}

// counted returns how many of the addresses have a failure counted.
func counted(t *testing.T, u *UI, now time.Time, addrs []string) int {
	t.Helper()
	subjects := make([]string, len(addrs))
	for i, a := range addrs {
		subjects[i] = addrSubject + a
	}
	counts, err := u.Store.FindLoginFailures(context.Background(), subjects, now.Add(-maxWait))
	if err != nil {
		t.Fatal(err)
	}
	return len(counts)
}

// TestLoginChecksBounded: however many logins arrive at once (here 30, from
// as many addresses under as many names, so that none is throttled), at
// most maxChecks password checks run at once, and every login is answered
// once its turn comes.
func TestLoginChecksBounded(t *testing.T) {
	t.Parallel()
	u, now := newTestUI(t)
	u.checkWait = time.Minute // the test releases the checks one by one
	watch := watchChecks(u)
	const n = 30
	addrs := make([]string, n)
	codes := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		addrs[i] = fmt.Sprintf("10.1.0.%d", i+1)
		wg.Go(func() {
			codes[i] = postLogin(context.Background(), u, addrs[i], fmt.Sprintf("user-%d", i), "guess").Code
		})
	}
	// Every login is counted, and so past the throttle, before the first
	// check ends: all 30 are now at their check or waiting for a turn.
	waitFor(t, "every login counted and the checks busy", func() bool {
		return counted(t, u, now, addrs) == n && watch.inFlight.Load() >= maxChecks
	})
	for range n {
		watch.releaseOne(t)
	}
	wg.Wait()
	for i, c := range codes {
		if c != http.StatusUnauthorized {
			t.Errorf("login %d = %d, want 401", i, c)
		}
	}
	if got := watch.calls.Load(); got != n {
		t.Errorf("%d password checks, want %d", got, n)
	}
	if got := watch.max.Load(); got != maxChecks {
		t.Errorf("at most %d password checks ran at once, want %d (maxChecks)", got, maxChecks)
	}
}

// TestLoginCheckBusy: a login that gets no turn to check its password
// within checkWait, or whose client goes away while it waits, is answered
// 503 without a check, and stays counted.
func TestLoginCheckBusy(t *testing.T) {
	t.Parallel()
	u, now := newTestUI(t)
	u.checkWait = time.Minute
	watch := watchChecks(u)
	var wg sync.WaitGroup
	for i := range maxChecks {
		wg.Go(func() { postLogin(context.Background(), u, fmt.Sprintf("10.2.0.%d", i+1), "admin", "guess") })
	}
	waitFor(t, "every check slot busy", func() bool { return watch.inFlight.Load() == maxChecks })

	// The client goes away while it waits for a turn.
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan *httptest.ResponseRecorder)
	go func() { done <- postLogin(ctx, u, "10.2.1.1", "nobody-here", "guess") }()
	waitFor(t, "the login counted", func() bool { return counted(t, u, now, []string{"10.2.1.1"}) == 1 })
	cancel()
	select {
	case w := <-done:
		if w.Code != http.StatusServiceUnavailable || !strings.Contains(w.Body.String(), "Too many logins are being checked") {
			t.Errorf("login whose client went away = %d %.300s, want 503 (no turn)", w.Code, w.Body.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a login whose client went away still waits for a turn after 10s")
	}

	// No turn comes in time.
	u.checkWait = 20 * time.Millisecond
	w := postLogin(context.Background(), u, "10.2.1.2", "admin", testPassword)
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") != strconv.Itoa(int(checkWait/time.Second)) || !strings.Contains(w.Body.String(), "Too many logins are being checked") {
		t.Errorf("login with every slot busy = %d (Retry-After %q) %.300s, want 503 with Retry-After and a message", w.Code, w.Header().Get("Retry-After"), w.Body.String())
	}
	if got := counted(t, u, now, []string{"10.2.1.2"}); got != 1 {
		t.Errorf("the login that got no turn is counted for %d addresses, want 1", got)
	}
	if got := watch.calls.Load(); got != maxChecks {
		t.Errorf("%d password checks, want %d (those holding the slots)", got, maxChecks)
	}
	for range maxChecks {
		watch.releaseOne(t)
	}
	wg.Wait()
}

// TestUserSubjectOf: a username's subject ignores case, and a name too long
// for any user is kept as its digest, so that it makes no big row.
func TestUserSubjectOf(t *testing.T) {
	t.Parallel()
	if got := userSubjectOf("Admin"); got != "user:admin" {
		t.Errorf("userSubjectOf(Admin) = %q, want user:admin", got)
	}
	long := strings.Repeat("x", 8000)
	got := userSubjectOf(long)
	if len(got) > len(userSubject)+80 || got != userSubjectOf(strings.ToUpper(long)) || got == userSubjectOf(long+"y") {
		t.Errorf("userSubjectOf(8000 bytes) = %q, want a short digest, the same for the name in capitals, another for another name", got)
	}
}
