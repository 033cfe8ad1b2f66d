package webui

import (
	"strconv"
	"testing"
	"time"
)

// TestThrottleKeepsUsersWhenFull: failures from many addresses fill the
// table, yet a real user's failures still count and slow the next try.
func TestThrottleKeepsUsersWhenFull(t *testing.T) {
	t.Parallel()
	th := newThrottle()
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	for i := range maxTracked {
		th.fail(now, addrSubject+"10.0."+strconv.Itoa(i))
	}
	for range freeFailures + 1 {
		th.fail(now, userSubject+"admin", addrSubject+"192.0.2.1")
	}
	if d := th.wait(now, userSubject+"admin", addrSubject+"198.51.100.7"); d <= 0 {
		t.Errorf("wait for admin from a new address with the table full = %v, want > 0", d)
	}
	if d := th.wait(now, userSubject+"bob", addrSubject+"192.0.2.1"); d != 0 {
		t.Errorf("wait for an address the full table did not take = %v, want 0", d)
	}
	th.succeed(userSubject + "admin")
	if d := th.wait(now, userSubject+"admin", addrSubject+"198.51.100.7"); d != 0 {
		t.Errorf("wait after a success = %v, want 0", d)
	}
}
