package config_test

import (
	"strings"
	"testing"

	"gatehouse/config"
)

// TestLoadReportsEveryProblem: one run reports every problem of the file
// and the environment, one per line in the file's order, each at the line
// of its key (a route's own line for a key it leaves out) or under its
// variable; a value that cannot be decoded is reported once, not again by
// the validation of what is left in its place.
func TestLoadReportsEveryProblem(t *testing.T) {
	t.Parallel()
	p := writeFile(t, `listen: 127.0.0.1:9000
shutdown_timout: 3s
shutdown_timeout: "15"
log_level: verbose
routes:
  - name: assets
    path: api/v2/assets
    upstream: http://127.0.0.1:3000/v2/assets
    tiemout: 5s
  - name: data
    path: /api/v2/data
    upstream: http://127.0.0.1:3000/v2/data
    scope: data
    timeout: 1h30
    websocket: [true]
  - name: [x]
    path: /x
    upstream: http://127.0.0.1:3000/x
    scope: x
  - {name: mgmt, path: /m, upstream: "http://127.0.0.1:3000/m", scope: m}
listen: 127.0.0.1:9001
frobnicate: true
`)
	env := map[string]string{"GATEHOUSE_BODY_TIMEOUT": "soon", "GATEHOUSE_ADMIN_LISTEN": "127.0.0.1:9000", "GATEHOUSE_SECURE_COOKIES": "maybe"}
	_, err := config.Load(p, func(k string) string { return env[k] })
	if err == nil {
		t.Fatal("Load = nil error, want every problem")
	}
	want := strings.Join([]string{
		p + `:2: unknown key shutdown_timout (did you mean shutdown_timeout?)`,
		p + `:3: shutdown_timeout: "15" is not a duration such as 10s`,
		p + `:4: log_level: must be debug, info, warn or error (got "verbose")`,
		p + `:6: routes[0].scope: is required unless the route is public`,
		p + `:7: routes[0].path: must start with / (got "api/v2/assets")`,
		p + `:9: unknown key routes[0].tiemout (did you mean timeout?)`,
		p + `:14: routes[1].timeout: "1h30" is not a duration such as 10s`,
		p + `:15: routes[1].websocket: must be true or false (got a list)`,
		p + `:16: routes[2].name: must be a string (got a list)`,
		p + `:20: routes[3].name: "mgmt" is reserved: the gateway's metrics count its own requests under it`,
		p + `:21: listen: written twice (first on line 1)`,
		p + `:22: unknown key frobnicate`,
		`GATEHOUSE_ADMIN_LISTEN: admin_listen: must differ from listen (both are "127.0.0.1:9000"): the Settings UI needs an origin of its own`,
		`GATEHOUSE_BODY_TIMEOUT: body_timeout: "soon" is not a duration such as 10s`,
		`GATEHOUSE_SECURE_COOKIES: secure_cookies: must be true or false (got "maybe")`,
	}, "\nconfig: ")
	if got := err.Error(); got != "config: "+want {
		t.Errorf("Load error =\n%s\nwant\nconfig: %s", got, want)
	}
}

// TestProblemsWithoutAFile: Parse gives lines without a file name, a key
// left at its default has no position, and its problem comes last.
func TestProblemsWithoutAFile(t *testing.T) {
	t.Parallel()
	c := config.Default()
	if err := config.Parse([]byte("storage: mysql://x\nlisten: 127.0.0.1:8081\n"), c); err != nil {
		t.Fatal(err)
	}
	want := `config: line 1: storage: must start with sqlite: or postgres:// (got "mysql://x")` + "\n" +
		`config: admin_listen: must differ from listen (both are "127.0.0.1:8081"): the Settings UI needs an origin of its own`
	if err := c.Validate(); err == nil || err.Error() != want {
		t.Errorf("Validate() = %v, want\n%s", err, want)
	}
	err := config.Parse([]byte("listen: [a]\nlisten: b\nroute: []\n"), config.Default())
	want = "config: line 1: listen: must be a string (got a list)\n" +
		"config: line 2: listen: written twice (first on line 1)\n" +
		"config: line 3: unknown key route (did you mean routes?)"
	if err == nil || err.Error() != want {
		t.Errorf("Parse error = %v, want\n%s", err, want)
	}
}

// TestUnknownKeySuggestion: an unknown key is shown with the closest known
// key of its level, top level or route, when it is close enough to be a
// slip.
func TestUnknownKeySuggestion(t *testing.T) {
	t.Parallel()
	route := "routes:\n  - {name: a, path: /a, upstream: 'http://h', scope: a, %s: 1}\n"
	for _, tt := range []struct{ yaml, want string }{
		{"shutdown_timout: 1s\n", "unknown key shutdown_timout (did you mean shutdown_timeout?)"},
		{"shutdown-timeout: 1s\n", "unknown key shutdown-timeout (did you mean shutdown_timeout?)"},
		{"Listen: x\n", "unknown key Listen (did you mean listen?)"},
		{"lsiten: x\n", "unknown key lsiten (did you mean listen?)"},
		{"rate: 1/s\n", "unknown key rate"},
		{"timeout: 1s\n", "unknown key timeout"},
		{"\"a b\\n\": 1\n", `unknown key "a b\n"`},
		{strings.Replace(route, "%s", "tiemout", 1), "unknown key routes[0].tiemout (did you mean timeout?)"},
		{strings.Replace(route, "%s", "websockets", 1), "unknown key routes[0].websockets (did you mean websocket?)"},
		{strings.Replace(route, "%s", "listen", 1), "unknown key routes[0].listen"},
	} {
		err := config.Parse([]byte(tt.yaml), config.Default())
		if want := "config: line 1: " + tt.want; err == nil || !strings.Contains(err.Error()+"\n", tt.want+"\n") {
			t.Errorf("Parse(%q) = %v, want %q", tt.yaml, err, want)
		}
	}
}

// TestMergeKeys: YAML merge keys still work in routes: the route's own
// keys win over merged ones, an earlier mapping over a later one.
func TestMergeKeys(t *testing.T) {
	t.Parallel()
	c := config.Default()
	yaml := `routes:
  - &base {name: a, path: /a, upstream: "http://h", scope: a, timeout: 5s, websocket: false}
  - <<: [*base, {websocket: true, scope: b}]
    name: b
    path: /b
    timeout: 7s
`
	if err := config.Parse([]byte(yaml), c); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	b := c.ParsedRoutes[1]
	if b.Name != "b" || b.Path != "/b" || b.Upstream != "http://h" || b.Scope != "a" || b.Timeout.Seconds() != 7 || b.WebSocket {
		t.Errorf("merged route = %+v, want b, /b, http://h, scope a, 7s, no websocket", b)
	}
	err := config.Parse([]byte("routes:\n  - <<: 5\n    name: a\n"), config.Default())
	if want := "config: line 2: routes[0]: a merge key (<<) takes a mapping or a list of mappings (got \"5\")"; err == nil || err.Error() != want {
		t.Errorf("Parse of a merge of a number = %v, want %q", err, want)
	}
}

// TestParseDocumentProblems: what is not one mapping of keys is refused,
// at its line when YAML gives one.
func TestParseDocumentProblems(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ yaml, want string }{
		{"- listen\n", `config: line 1: a config is a mapping of keys such as "listen: 127.0.0.1:8080" (got a list)`},
		{"listen: a\nroutes:\n  - [\n", "config: line 3: did not find expected node content"},
		{"listen: 127.0.0.1:1\n---\nlisten: 127.0.0.1:2\n", "config: line 2: a second YAML document: a config is one document, with every key in it"},
		{"routes: {a: 1}\n", "config: line 1: routes: must be a list of routes (got a mapping)"},
		{"routes: [a]\n", `config: line 1: routes[0]: a route is a mapping of keys such as name: and path: (got "a")`},
		{"? [a]\n: 1\n", "config: line 1: a key must be a name (got a list)"},
	} {
		if err := config.Parse([]byte(tt.yaml), config.Default()); err == nil || err.Error() != tt.want {
			t.Errorf("Parse(%q) = %v, want %q", tt.yaml, err, tt.want)
		}
	}
	for _, yaml := range []string{"", "# nothing\n", "---\n", "routes:\n"} {
		if err := config.Parse([]byte(yaml), config.Default()); err != nil {
			t.Errorf("Parse(%q) = %v, want nil", yaml, err)
		}
	}
}

// TestEnvironmentProblems: a variable's problems are under its name, and
// GATEHOUSE_ROUTES replaces the file's routes with their positions and
// problems.
func TestEnvironmentProblems(t *testing.T) {
	t.Parallel()
	p := writeFile(t, "routes:\n  - {name: a, path: a, upstream: 'http://h', scope: a, timeout: 1h30}\n")
	load := func(env map[string]string) error {
		_, err := config.Load(p, func(k string) string { return env[k] })
		return err
	}
	if err := load(map[string]string{"GATEHOUSE_ROUTES": `[{"name":"a","path":"/a","upstream":"http://h","scope":"a"}]`}); err == nil || err.Error() != "config: "+p+`:2: routes[0].timeout: "1h30" is not a duration such as 10s` {
		t.Errorf("Load with valid GATEHOUSE_ROUTES = %v, want only the file's decoding problem", err)
	}
	want := "config: " + p + `:2: routes[0].timeout: "1h30" is not a duration such as 10s` + "\n" +
		"config: GATEHOUSE_ROUTES: unknown key routes[0].nmae (did you mean name?)\n" +
		"config: GATEHOUSE_ROUTES: routes[0].name: is required\n" +
		`config: GATEHOUSE_ROUTES: routes[0].path: must start with / (got "b")`
	if err := load(map[string]string{"GATEHOUSE_ROUTES": `[{"nmae":"a","path":"b","upstream":"http://h","scope":"a"}]`}); err == nil || err.Error() != want {
		t.Errorf("Load with bad GATEHOUSE_ROUTES = %v, want\n%s", err, want)
	}
	want = "config: " + p + `:2: routes[0].timeout: "1h30" is not a duration such as 10s` + "\n" +
		"config: GATEHOUSE_ROUTES: line 1: did not find expected node content"
	if err := load(map[string]string{"GATEHOUSE_ROUTES": "["}); err == nil || err.Error() != want {
		t.Errorf("Load with GATEHOUSE_ROUTES not YAML = %v, want\n%s", err, want)
	}
	want = `config: GATEHOUSE_SHUTDOWN_TIMEOUT: shutdown_timeout: "15" is not a duration such as 10s` + "\n" +
		`config: GATEHOUSE_LOG_LEVEL: log_level: must be debug, info, warn or error (got "loud")`
	if _, err := config.Load("", func(k string) string {
		return map[string]string{"GATEHOUSE_SHUTDOWN_TIMEOUT": "15", "GATEHOUSE_LOG_LEVEL": "loud"}[k]
	}); err == nil || err.Error() != want {
		t.Errorf("Load with bad variables = %v, want\n%s", err, want)
	}
}
