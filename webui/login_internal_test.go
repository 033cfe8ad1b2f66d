package webui

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"gatehouse/sqlite"
)

const testPassword = "correct horse battery staple"

// newTestUI returns a UI on a temp-dir SQLite store with the user "admin",
// whose clock stands still at the returned time.
func newTestUI(t *testing.T) (*UI, time.Time) {
	t.Helper()
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "g.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
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
