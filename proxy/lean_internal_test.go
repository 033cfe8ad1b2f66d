package proxy

import (
	"net/url"
	"testing"
)

// FuzzEscapedPath: the lean engine's request line carries the path exactly
// as url.URL escapes it for the stdlib path.
func FuzzEscapedPath(f *testing.F) {
	for _, p := range []string{"/", "/v2/assets/158", "/a b/ü/%", "/a;b=c,d@e:f", "/?#[]", "/\x00\x7f", "/a+b$c&d'e(f)*"} {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, p string) {
		if got, want := escapedPath(p), (&url.URL{Path: p}).EscapedPath(); got != want {
			t.Errorf("escapedPath(%q) = %q, url.URL gives %q", p, got, want)
		}
	})
}
