package gatehouse_test

import (
	"testing"

	"gatehouse"
)

func TestScopesAllows(t *testing.T) {
	t.Parallel()
	parse := func(list ...string) gatehouse.Scopes {
		s, err := gatehouse.ParseScopes(list)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	R, W := gatehouse.AccessRead, gatehouse.AccessWrite
	tests := []struct {
		name   string
		scopes gatehouse.Scopes
		scope  string
		need   gatehouse.Access
		want   bool
	}{
		{"read allows read", parse("assets:read"), "assets", R, true},
		{"read refuses write", parse("assets:read"), "assets", W, false},
		{"write includes read", parse("assets:write"), "assets", R, true},
		{"other name", parse("assets:write"), "data", R, false},
		{"star read", parse("*:read"), "data", R, true},
		{"star read refuses write", parse("*:read"), "data", W, false},
		{"star never api-keys", parse("*:write"), "api-keys", R, false},
		{"api-keys read", parse("api-keys:read"), "api-keys", R, true},
		{"api-keys read refuses write", parse("api-keys:read"), "api-keys", W, false},
		{"none", nil, "assets", R, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.scopes.Allows(tt.scope, tt.need); got != tt.want {
				t.Errorf("%v.Allows(%q, %v) = %v, want %v", tt.scopes.Strings(), tt.scope, tt.need, got, tt.want)
			}
		})
	}
}

func TestParseScopeInvalid(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"", "assets", "assets:admin", ":read", "a b:read", "as*:read", "assets:READ"} {
		if _, err := gatehouse.ParseScope(s); gatehouse.ErrorCode(err) != gatehouse.EInvalidRequest {
			t.Errorf("ParseScope(%q) error = %v, want invalid_request", s, err)
		}
	}
}

func TestMethodAccess(t *testing.T) {
	t.Parallel()
	for m, want := range map[string]gatehouse.Access{"GET": gatehouse.AccessRead, "HEAD": gatehouse.AccessRead, "OPTIONS": gatehouse.AccessRead, "POST": gatehouse.AccessWrite, "PUT": gatehouse.AccessWrite, "PATCH": gatehouse.AccessWrite, "DELETE": gatehouse.AccessWrite, "PROPFIND": gatehouse.AccessWrite} {
		if got := gatehouse.MethodAccess(m); got != want {
			t.Errorf("MethodAccess(%q) = %v, want %v", m, got, want)
		}
	}
}

func TestParseRateLimit(t *testing.T) {
	t.Parallel()
	ok := map[string]gatehouse.RateLimit{"100/s": {Requests: 100, Per: 1e9}, "5/m": {Requests: 5, Per: 60e9}, "10/250ms": {Requests: 10, Per: 250e6}}
	for in, want := range ok {
		if got, err := gatehouse.ParseRateLimit(in); err != nil || got != want {
			t.Errorf("ParseRateLimit(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "100", "x/s", "0/s", "-1/s", "10/fortnight", "10/0s"} {
		if _, err := gatehouse.ParseRateLimit(in); err == nil {
			t.Errorf("ParseRateLimit(%q) = nil error, want one", in)
		}
	}
}

func TestNameKey(t *testing.T) {
	t.Parallel()
	for _, pair := range [][2]string{{"Ops", "oPS"}, {"Οδός", "ΟΔΌΣ"}, {"straße", "STRAßE"}, {"Kelvin", "\u212Aelvin"}} {
		if gatehouse.NameKey(pair[0]) != gatehouse.NameKey(pair[1]) {
			t.Errorf("NameKey(%q) != NameKey(%q), want one name", pair[0], pair[1])
		}
	}
	if gatehouse.NameKey("a") == gatehouse.NameKey("b") {
		t.Error("NameKey(a) == NameKey(b)")
	}
}
