package keyauth_test

import (
	"net/http"
	"testing"
	"time"

	"gatehouse"
	"gatehouse/keyauth"
)

// TestSetRateHeaders is not parallel: it counts allocations.
func TestSetRateHeaders(t *testing.T) {
	h := http.Header{}
	v := keyauth.Verdict{Limited: true, Rate: gatehouse.RateDecision{Limit: 1000000, Remaining: -3, ResetAfter: 1500 * time.Millisecond}}
	keyauth.SetRateHeaders(h, v)
	for name, want := range map[string]string{"RateLimit-Limit": "1000000", "RateLimit-Remaining": "0", "RateLimit-Reset": "2"} {
		if got := h.Values(name); len(got) != 1 || got[0] != want {
			t.Errorf("%s = %q, want [%s]", name, got, want)
		}
	}
	// A later Add to one header must not leak into another.
	h.Add("RateLimit-Limit", "x")
	if got := h.Values("RateLimit-Remaining"); len(got) != 1 || got[0] != "0" {
		t.Errorf("after Add, RateLimit-Remaining = %q", got)
	}
	unlimited := http.Header{}
	keyauth.SetRateHeaders(unlimited, keyauth.Verdict{Rate: v.Rate})
	if len(unlimited) != 0 {
		t.Errorf("headers without a limit: %v", unlimited)
	}
	if n := testing.AllocsPerRun(100, func() { keyauth.SetRateHeaders(h, v) }); n > 2 {
		t.Errorf("SetRateHeaders allocates %v times, want at most 2", n)
	}
}

func TestHeaderKeyIsCanonical(t *testing.T) {
	t.Parallel()
	if got := http.CanonicalHeaderKey(keyauth.Header); got != keyauth.HeaderKey {
		t.Errorf("CanonicalHeaderKey(%q) = %q, want HeaderKey %q", keyauth.Header, got, keyauth.HeaderKey)
	}
}
