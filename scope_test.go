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

func TestScopesCovers(t *testing.T) {
	t.Parallel()
	parse := func(list ...string) gatehouse.Scopes {
		s, err := gatehouse.ParseScopes(list)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	tests := []struct {
		held, other []string
		want        bool
	}{
		{[]string{"assets:write"}, []string{"assets:read"}, true},
		{[]string{"assets:write"}, []string{"assets:write"}, true},
		{[]string{"assets:write"}, []string{"assets:read", "assets:write"}, true},
		{[]string{"assets:read"}, []string{"assets:read"}, true},
		{[]string{"assets:read"}, []string{"assets:write"}, false},
		{[]string{"assets:write"}, []string{"data:read"}, false},
		{[]string{"assets:write"}, []string{"assets:read", "data:read"}, false},
		{[]string{"*:write"}, []string{"assets:read", "assets:write", "data:write"}, true},
		{[]string{"*:write"}, []string{"*:read"}, true},
		{[]string{"*:write"}, []string{"*:write"}, true},
		{[]string{"*:write"}, []string{"api-keys:read"}, false},
		{[]string{"*:write"}, []string{"api-keys:write"}, false},
		{[]string{"*:write"}, []string{"*:write", "api-keys:write"}, false},
		{[]string{"*:read"}, []string{"assets:read", "data:read"}, true},
		{[]string{"*:read"}, []string{"*:read"}, true},
		{[]string{"*:read"}, []string{"assets:write"}, false},
		{[]string{"*:read"}, []string{"*:write"}, false},
		{[]string{"*:read"}, []string{"api-keys:read"}, false},
		{[]string{"api-keys:write"}, []string{"api-keys:read"}, true},
		{[]string{"api-keys:write"}, []string{"api-keys:write"}, true},
		{[]string{"api-keys:read"}, []string{"api-keys:write"}, false},
		{[]string{"api-keys:write"}, []string{"assets:read"}, false},
		{[]string{"api-keys:write"}, []string{"*:read"}, false},
		{[]string{"assets:write"}, []string{"*:read"}, false},
		{[]string{"assets:write", "data:write"}, []string{"*:read"}, false},
		{[]string{"api-keys:write", "assets:read"}, []string{"*:write"}, false},
		{[]string{"api-keys:write", "assets:read"}, []string{"api-keys:write", "*:write"}, false},
		{[]string{"api-keys:write", "assets:read"}, []string{"assets:read"}, true},
		{[]string{"api-keys:write", "assets:read"}, []string{"api-keys:write", "assets:read"}, true},
		{[]string{"api-keys:write", "*:write"}, []string{"api-keys:write", "*:write"}, true},
		{[]string{"assets:read"}, nil, true},
		{nil, nil, true},
		{nil, []string{"assets:read"}, false},
	}
	for _, tt := range tests {
		held, other := parse(tt.held...), parse(tt.other...)
		if got := held.Covers(other); got != tt.want {
			t.Errorf("%v.Covers(%v) = %v, want %v", tt.held, tt.other, got, tt.want)
		}
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
