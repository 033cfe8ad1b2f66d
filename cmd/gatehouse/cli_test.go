package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"gatehouse/config"
)

// cli runs commands in process, with its own streams and environment.
type cli struct {
	dir, config string
	env         map[string]string
	terminal    bool
}

// newCLI returns a cli with a config whose store is in a temporary
// directory, with one route of scope assets.
func newCLI(t *testing.T) *cli {
	t.Helper()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "gatehouse.yaml")
	body := fmt.Sprintf(`storage: "sqlite:%[1]s/data/gatehouse.db"
secret_key_file: "%[1]s/data/secret.key"
routes:
  - name: assets
    path: /api/v2/assets
    upstream: http://127.0.0.1:9/v2/assets
    scope: assets
`, dir)
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return &cli{dir: dir, config: cfg, env: map[string]string{}}
}

// run runs one command line and returns stdout, stderr and the exit status.
func (c *cli) run(t *testing.T, stdin string, args ...string) (string, string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	a := &app{
		stdin: strings.NewReader(stdin), stdout: &out, stderr: &errOut,
		getenv:     func(k string) string { return c.env[k] },
		isTerminal: func() bool { return c.terminal },
	}
	code := a.run(context.Background(), args)
	return out.String(), errOut.String(), code
}

func (c *cli) ok(t *testing.T, args ...string) string {
	t.Helper()
	out, errOut, code := c.run(t, "", args...)
	if code != 0 {
		t.Fatalf("gatehouse %s: exit %d, stderr %q", strings.Join(args, " "), code, errOut)
	}
	return out
}

// TestHelp asks every command and group for --help: the help, with its
// flags and an example, on stdout and status 0.
func TestHelp(t *testing.T) {
	t.Parallel()
	a := &app{stdin: strings.NewReader(""), stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}, getenv: func(string) string { return "" }}
	var paths [][]string
	walk(a.newRootCmd(nil), func(c *cobra.Command) {
		if c.Hidden || c.Name() == "help" || (c.HasParent() && c.Parent().Name() == "completion") {
			return // cobra's own, with its own help
		}
		paths = append(paths, strings.Fields(c.CommandPath())[1:])
	})
	if len(paths) < 15 {
		t.Fatalf("walked %d commands: %v", len(paths), paths)
	}
	c := newCLI(t)
	for _, p := range paths {
		for _, h := range []string{"--help", "-h"} {
			args := append(append([]string{}, p...), h)
			out, errOut, code := c.run(t, "", args...)
			if code != 0 || errOut != "" {
				t.Errorf("gatehouse %s: exit %d, stderr %q; want 0 and nothing", strings.Join(args, " "), code, errOut)
			}
			for _, want := range []string{"Usage:\n  gatehouse", "Examples:\n  ", "Flags:\n", "-h, --help"} {
				if !strings.Contains(out, want) {
					t.Errorf("gatehouse %s printed\n%s\nwant it to hold %q", strings.Join(args, " "), out, want)
				}
			}
		}
	}
	// A command's help shows its flags; a group's, its commands.
	out := c.ok(t, "keys", "create", "--help")
	for _, want := range []string{"gatehouse keys create --name NAME [flags]", "--scope SCOPE", "--valid-until TIME", "--config FILE", "GATEHOUSE_CONFIG"} {
		if !strings.Contains(out, want) {
			t.Errorf("keys create --help lacks %q:\n%s", want, out)
		}
	}
	out = c.ok(t, "keys", "--help")
	for _, want := range []string{"gatehouse keys [command]", "  create ", "  delete ", "  list "} {
		if !strings.Contains(out, want) {
			t.Errorf("keys --help lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "gatehouse keys [flags]") {
		t.Errorf("keys --help shows a use line with flags for a group:\n%s", out)
	}
	if got := c.ok(t, "help", "keys", "create"); got != c.ok(t, "keys", "create", "--help") {
		t.Errorf("help keys create = %q, want what keys create --help prints", got)
	}
}

// TestUsageErrors: a usage error exits 2 with one line that says what is
// wrong and one that points to --help; nothing on stdout.
func TestUsageErrors(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	tests := []struct {
		name string
		args []string
		want string // in the first line
		help string // the --help hint's command
	}{
		{"unknown flag", []string{"keys", "create", "--name", "x", "--frobnicate"}, "keys create: unknown flag: --frobnicate", "gatehouse keys create"},
		{"flag without value", []string{"keys", "create", "--name"}, "flag needs an argument: --name", "gatehouse keys create"},
		{"bad bool", []string{"keys", "list", "--json=maybe"}, `invalid argument "maybe" for "--json"`, "gatehouse keys list"},
		{"missing argument", []string{"keys", "show", "--config", c.config}, "keys show: needs one NAME or ID (got 0 arguments)", "gatehouse keys show"},
		{"two arguments", []string{"keys", "reveal", "a", "b"}, "needs one NAME or ID (got 2 arguments)", "gatehouse keys reveal"},
		{"argument to list", []string{"keys", "list", "extra"}, `keys list: takes no argument (got "extra")`, "gatehouse keys list"},
		{"missing name", []string{"keys", "create", "--config", c.config}, "keys create needs --name NAME", "gatehouse keys create"},
		{"renew without expiry", []string{"keys", "renew", "x", "--config", c.config}, "--valid-until TIME or --no-expiry", "gatehouse keys renew"},
		{"unknown top-level command", []string{"frobnicate"}, `unknown command "frobnicate" for "gatehouse"`, "gatehouse"},
		{"unknown keys command", []string{"keys", "frobnicate", "--config", c.config}, `unknown command "frobnicate" for "gatehouse keys"`, "gatehouse keys"},
		{"keys alone", []string{"keys"}, "keys needs a command: create, delete, disable, enable, list, renew, reveal, roll, show, signing-key or update", "gatehouse keys"},
		{"signing-key alone", []string{"keys", "signing-key"}, "keys signing-key needs a command: add or remove", "gatehouse keys signing-key"},
		{"signing-key add without --jwk", []string{"keys", "signing-key", "add", "x", "--config", c.config}, "keys signing-key add needs --jwk FILE", "gatehouse keys signing-key add"},
		{"signing-key remove without KEYID", []string{"keys", "signing-key", "remove", "x", "--config", c.config}, "needs a NAME or ID and a KEYID (got 1 arguments)", "gatehouse keys signing-key remove"},
		{"admin alone", []string{"admin"}, "admin needs a command: create-user, delete-user or list-users", "gatehouse admin"},
		{"config alone", []string{"config"}, "config needs a command: check", "gatehouse config"},
		{"completion alone", []string{"completion"}, "completion needs a command: bash, fish, powershell or zsh", "gatehouse completion"},
		{"flag to the root", []string{"--frobnicate"}, "gatehouse needs a command", "gatehouse"},
		{"bad log format", []string{"serve", "--config", c.config, "--log-format", "xml"}, "--log-format must be text or json", "gatehouse serve"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, code := c.run(t, "", tt.args...)
			lines := strings.Split(strings.TrimSuffix(errOut, "\n"), "\n")
			wantHint := "Run '" + tt.help + " --help' for usage."
			if code != 2 || out != "" || len(lines) != 2 || !strings.HasPrefix(lines[0], "gatehouse: ") || !strings.Contains(lines[0], tt.want) || lines[1] != wantHint {
				t.Errorf("gatehouse %s: exit %d, stdout %q, stderr %q; want 2, nothing, and\ngatehouse: ...%s...\n%s", strings.Join(tt.args, " "), code, out, errOut, tt.want, wantHint)
			}
		})
	}
}

// TestSuggestions: a mistyped command gets "did you mean", at the top
// level and in each group.
func TestSuggestions(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"kyes"}, `unknown command "kyes" for "gatehouse"; did you mean "keys"?`},
		{[]string{"sevre", "--config", c.config}, `did you mean "serve"?`},
		{[]string{"keys", "lsit"}, `unknown command "lsit" for "gatehouse keys"; did you mean "list"?`},
		{[]string{"keys", "lsit", "--json", "--config", c.config}, `did you mean "list"?`},
		{[]string{"keys", "reveel", "x"}, `did you mean "reveal"?`},
		{[]string{"admin", "list-user"}, `unknown command "list-user" for "gatehouse admin"; did you mean "list-users"?`},
		{[]string{"config", "chek"}, `unknown command "chek" for "gatehouse config"; did you mean "check"?`},
		{[]string{"completion", "bsah"}, `did you mean "bash"`},
	}
	for _, tt := range tests {
		_, errOut, code := c.run(t, "", tt.args...)
		if code != 2 || !strings.Contains(errOut, tt.want) {
			t.Errorf("gatehouse %s: exit %d, stderr %q; want 2 and %q", strings.Join(tt.args, " "), code, errOut, tt.want)
		}
	}
}

// TestRootAlone: gatehouse with no command shows its help on stderr and
// exits 2, as before cobra.
func TestRootAlone(t *testing.T) {
	t.Parallel()
	out, errOut, code := newCLI(t).run(t, "")
	if code != 2 || out != "" || !strings.Contains(errOut, "Available Commands:") || !strings.Contains(errOut, "keys ") {
		t.Errorf("gatehouse: exit %d, stdout %q, stderr %q; want 2 and the help on stderr", code, out, errOut)
	}
}

func TestVersionFrom(t *testing.T) {
	t.Parallel()
	stamped := &debug.BuildInfo{
		Main: debug.Module{Path: "gatehouse", Version: "v0.0.0-20261203101500-1234abcdef12+dirty"},
		Settings: []debug.BuildSetting{
			{Key: "vcs", Value: "git"},
			{Key: "vcs.revision", Value: "1234abcdef1234567890abcdef1234567890abcd"},
			{Key: "vcs.modified", Value: "true"},
		},
	}
	clean := &debug.BuildInfo{Main: debug.Module{Path: "gatehouse", Version: "v1.4.0"}, Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "abcdef1"}, {Key: "vcs.modified", Value: "false"}}}
	tests := []struct {
		name              string
		info              *debug.BuildInfo
		ldVersion, ldHash string
		want              string
	}{
		{"stamped by go build in a checkout", stamped, "", "", "v0.0.0-20261203101500-1234abcdef12+dirty (commit 1234abcdef12, modified)"},
		{"a clean tag", clean, "", "", "v1.4.0 (commit abcdef1)"},
		{"no vcs stamp", &debug.BuildInfo{Main: debug.Module{Path: "gatehouse", Version: "(devel)"}}, "", "", "(devel)"},
		{"no build info", nil, "", "", "(devel)"},
		{"-X main.version", stamped, "v2.0.0", "", "v2.0.0 (commit 1234abcdef12, modified)"},
		{"-X main.version and main.commit", stamped, "v2.0.0", "feedbee", "v2.0.0 (commit feedbee)"},
	}
	for _, tt := range tests {
		if got := versionFrom(tt.info, tt.ldVersion, tt.ldHash).String(); got != tt.want {
			t.Errorf("%s: versionFrom(...) = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestVersion(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	want := "gatehouse " + readBuildVersion().String() + "\n"
	for _, args := range [][]string{{"version"}, {"--version"}, {"-v"}} {
		if out := c.ok(t, args...); out != want {
			t.Errorf("gatehouse %s = %q, want %q", strings.Join(args, " "), out, want)
		}
	}
}

func TestCompletion(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	for shell, want := range map[string]string{"bash": "__start_gatehouse", "zsh": "#compdef gatehouse", "fish": "complete -c gatehouse"} {
		if out := c.ok(t, "completion", shell); !strings.Contains(out, want) {
			t.Errorf("completion %s: the script lacks %q", shell, want)
		}
	}
	// What a shell asks when TAB is pressed after "gatehouse keys ".
	out := c.ok(t, cobra.ShellCompRequestCmd, "keys", "")
	for _, want := range []string{"create\t", "delete\t", "list\t", ":4"} { // 4: no file completion
		if !strings.Contains(out, want) {
			t.Errorf("__complete keys '' = %q, want it to hold %q", out, want)
		}
	}
}

// TestConfigEnv: GATEHOUSE_CONFIG names the config when --config is not
// given; --config wins.
func TestConfigEnv(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	c.env[configEnv] = c.config
	c.ok(t, "keys", "create", "--name", "from-env", "--scope", "assets:read") // assets: the config's route
	if out := c.ok(t, "keys", "list", "--config", c.config); !strings.Contains(out, "from-env") {
		t.Errorf("keys list --config: %q, want the key created with GATEHOUSE_CONFIG", out)
	}
	if out := c.ok(t, "config", "check"); !strings.Contains(out, c.config) {
		t.Errorf("config check with GATEHOUSE_CONFIG = %q, want it to name %s", out, c.config)
	}
	// --config wins over a GATEHOUSE_CONFIG that names no file.
	c.env[configEnv] = filepath.Join(c.dir, "missing.yaml")
	if out := c.ok(t, "keys", "list", "--config", c.config); !strings.Contains(out, "from-env") {
		t.Errorf("keys list --config with a bad GATEHOUSE_CONFIG = %q", out)
	}
	if _, errOut, code := c.run(t, "", "keys", "list"); code != 1 || !strings.Contains(errOut, "missing.yaml") {
		t.Errorf("keys list with a GATEHOUSE_CONFIG that names no file: exit %d, stderr %q; want 1 naming it", code, errOut)
	}
}

// TestKeysDeleteAsks: on a terminal, keys delete asks first; elsewhere
// (a script) it deletes as it always did.
func TestKeysDeleteAsks(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	c.ok(t, "keys", "create", "--config", c.config, "--name", "doomed", "--json")
	exists := func() bool {
		_, _, code := c.run(t, "", "keys", "show", "doomed", "--config", c.config)
		return code == 0
	}

	c.terminal = true
	prompt := `Delete key "doomed" (`
	for _, answer := range []string{"n\n", "\n", "", "whatever\n"} {
		out, errOut, code := c.run(t, answer, "keys", "delete", "doomed", "--config", c.config)
		if code != 1 || !strings.Contains(errOut, prompt) || !strings.Contains(errOut, "? Requests with it are refused at once. [y/N] ") || !strings.Contains(errOut, "not deleted") || out != "" || !exists() {
			t.Fatalf("answer %q: exit %d, stdout %q, stderr %q, kept %v; want 1, the question, 'not deleted', kept", answer, code, out, errOut, exists())
		}
	}
	out, errOut, code := c.run(t, "Y\n", "keys", "delete", "doomed", "--config", c.config)
	if code != 0 || !strings.Contains(errOut, prompt) || !strings.Contains(out, "Deleted key") || exists() {
		t.Fatalf("answer Y: exit %d, stdout %q, stderr %q, kept %v; want 0, deleted", code, out, errOut, exists())
	}

	// --yes and -y skip the question; without a terminal there is none.
	for _, tc := range []struct {
		terminal bool
		flag     string
	}{{true, "--yes"}, {true, "-y"}, {false, "--yes"}, {false, ""}} {
		c.terminal = false
		c.ok(t, "keys", "create", "--config", c.config, "--name", "doomed")
		c.terminal = tc.terminal
		args := []string{"keys", "delete", "doomed", "--config", c.config}
		if tc.flag != "" {
			args = append(args, tc.flag)
		}
		out, errOut, code := c.run(t, "", args...)
		if code != 0 || strings.Contains(errOut, prompt) || !strings.Contains(out, "Deleted key") || exists() {
			t.Fatalf("delete %s (terminal %v): exit %d, stdout %q, stderr %q; want deleted without a question", tc.flag, tc.terminal, code, out, errOut)
		}
	}
}

// TestMarshalConfig: the demo's config reads back to the config written.
func TestMarshalConfig(t *testing.T) {
	t.Parallel()
	cfg, err := config.Load("", func(k string) string {
		return map[string]string{
			"GATEHOUSE_RATE_LIMIT":      "100/s",
			"GATEHOUSE_SECURE_COOKIES":  "true",
			"GATEHOUSE_EXPIRY_WARNING":  "36h30m",
			"GATEHOUSE_SECRET_KEY_FILE": "/var/lib/gatehouse/secret.key",
			"GATEHOUSE_ROUTES": `[{name: a, path: /a, upstream: "http://127.0.0.1:1/a", scope: a, timeout: 90s, websocket: false},
				{name: hooks, path: /apps-public, upstream: "https://example.com/x", public: true}]`,
		}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	out, err := marshalConfig(cfg)
	if err != nil {
		t.Fatalf("marshalConfig: %v\n%s", err, out)
	}
	for _, want := range []string{"rate_limit: 100/s\n", "expiry_warning: 36h30m\n", "secure_cookies: true\n", "    timeout: 1m30s\n", "    websocket: false\n", "    public: true\n", "read_header_timeout: 10s\n"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("marshalConfig wrote\n%s\nwant it to hold %q", out, want)
		}
	}
	if strings.Contains(string(out), "redis:") || strings.Contains(string(out), "UpstreamURL") {
		t.Errorf("marshalConfig wrote an unset or parsed field:\n%s", out)
	}
	for d, want := range map[time.Duration]string{168 * time.Hour: "168h", time.Minute: "1m", 90 * time.Second: "1m30s", 10 * time.Second: "10s", time.Hour + 30*time.Second: "1h0m30s", 100 * time.Millisecond: "100ms"} {
		if got := durationText(d); got != want {
			t.Errorf("durationText(%v) = %q, want %q", d, got, want)
		}
	}
}

// TestSigningKeyCommands: keys signing-key add prints the keyid, show and
// show --json list it, remove takes it away; a private JWK is refused.
func TestSigningKeyCommands(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	c.ok(t, "keys", "create", "--config", c.config, "--name", "Integration A", "--scope", "assets:write")
	jwk := filepath.Join(c.dir, "a.jwk")
	os.WriteFile(jwk, []byte(`{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}`), 0o600)
	const thumb = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
	if out := c.ok(t, "keys", "signing-key", "add", "Integration A", "--jwk", jwk, "--config", c.config); out != thumb+"\n" {
		t.Fatalf("signing-key add printed %q, want the keyid", out)
	}
	if out := c.ok(t, "keys", "show", "integration a", "--config", c.config); !strings.Contains(out, "Signing keys:") || !strings.Contains(out, thumb) || !strings.Contains(out, "add_signing_key") {
		t.Fatalf("keys show printed %s, want the signing key and its audit entry", out)
	}
	var v struct{ SigningKeys []string }
	json.Unmarshal([]byte(c.ok(t, "keys", "show", "Integration A", "--json", "--config", c.config)), &v)
	if len(v.SigningKeys) != 1 || v.SigningKeys[0] != thumb {
		t.Fatalf("keys show --json signingKeys = %v", v.SigningKeys)
	}
	private := filepath.Join(c.dir, "private.jwk")
	os.WriteFile(private, []byte(`{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"}`), 0o600)
	if _, errOut, code := c.run(t, "", "keys", "signing-key", "add", "Integration A", "--jwk", private, "--config", c.config); code == 0 || !strings.Contains(errOut, "private key") {
		t.Fatalf("signing-key add of a private JWK: exit %d, stderr %q; want refused", code, errOut)
	}
	c.ok(t, "keys", "signing-key", "remove", "Integration A", thumb, "--config", c.config)
	if _, errOut, code := c.run(t, "", "keys", "signing-key", "remove", "Integration A", thumb, "--config", c.config); code == 0 || !strings.Contains(errOut, "no signing key") {
		t.Fatalf("second remove: exit %d, stderr %q; want not found", code, errOut)
	}
}
