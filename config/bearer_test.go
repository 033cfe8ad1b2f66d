package config_test

import (
	"strings"
	"testing"

	"gatehouse/config"
)

const bearerRoutes = `routes:
  - name: frontend
    path: /api/v2/assets
    upstream: http://127.0.0.1:3000/v2/assets
    scope: assets
    bearer: true
  - name: controls
    path: /api/v2/controls
    upstream: http://127.0.0.1:3000/v2/controls
    scope: controls
    signed: true
`

func TestBearerAndSigned(t *testing.T) {
	t.Parallel()
	c, err := config.Load(writeFile(t, bearerRoutes+`bearer:
  jwks_url: https://idp.example/.well-known/jwks.json
  issuer: https://idp.example/
  audience: building-api
  scopes_claim: permissions
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := config.Bearer{JWKSURL: "https://idp.example/.well-known/jwks.json", Issuer: "https://idp.example/", Audience: "building-api", ScopesClaim: "permissions"}
	if c.Bearer != want {
		t.Errorf("Bearer = %+v, want %+v", c.Bearer, want)
	}
	if r := c.ParsedRoutes; !r[0].Bearer || r[0].Signed || r[1].Bearer || !r[1].Signed {
		t.Errorf("ParsedRoutes = %+v, want the first bearer and the second signed", r)
	}
}

func TestBearerFromEnv(t *testing.T) {
	t.Parallel()
	env := map[string]string{
		"GATEHOUSE_BEARER_JWKS_FILE": "./jwks.json",
		"GATEHOUSE_BEARER_ISSUER":    "https://idp.example/",
		"GATEHOUSE_BEARER_AUDIENCE":  "building-api",
	}
	c, err := config.Load(writeFile(t, bearerRoutes), func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if c.Bearer.JWKSFile != "./jwks.json" || c.Bearer.Audience != "building-api" {
		t.Errorf("Bearer = %+v, want the environment's", c.Bearer)
	}
}

func TestBearerProblems(t *testing.T) {
	t.Parallel()
	route := func(extra string) string {
		return "routes:\n  - name: a\n    path: /a\n    upstream: http://127.0.0.1:1/a\n" + extra
	}
	const section = "bearer:\n  jwks_url: https://idp.example/jwks\n  issuer: i\n  audience: a\n"
	tests := []struct{ name, yaml, want string }{
		{"bearer route without the section", route("    scope: a\n    bearer: true\n"), "routes[0].bearer: needs the bearer section"},
		{"public and bearer", route("    public: true\n    bearer: true\n") + section, "routes[0].bearer: a public route asks for no credentials"},
		{"public and signed", route("    public: true\n    signed: true\n"), "routes[0].signed: a public route"},
		{"bearer and signed", route("    scope: a\n    bearer: true\n    signed: true\n") + section, "routes[0].signed: a route is bearer or signed, not both"},
		{"no source", "bearer:\n  issuer: i\n  audience: a\n", "bearer: needs jwks_url or jwks_file"},
		{"two sources", "bearer:\n  jwks_url: https://x/j\n  jwks_file: j\n  issuer: i\n  audience: a\n", "bearer.jwks_file: bearer takes jwks_url or jwks_file, not both"},
		{"not a URL", "bearer:\n  jwks_url: file:///etc/jwks\n  issuer: i\n  audience: a\n", "bearer.jwks_url: must be an https://"},
		{"no issuer", "bearer:\n  jwks_url: https://x/j\n  audience: a\n", "bearer.issuer: is required"},
		{"no audience", "bearer:\n  jwks_url: https://x/j\n  issuer: i\n", "bearer.audience: is required"},
		{"unknown key", "bearer:\n  jwks_ur: https://x/j\n  issuer: i\n  audience: a\n", "unknown key bearer.jwks_ur (did you mean jwks_url?)"},
		{"not a mapping", "bearer: yes\n", "bearer: must be a mapping"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := config.Load(writeFile(t, tt.yaml), nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Load = %v, want a problem with %q", err, tt.want)
			}
		})
	}
}
