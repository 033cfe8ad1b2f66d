package main

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

// TestKeysDayTwo: roll, disable, enable and update from the CLI, and what
// keys show and keys show --json then say.
func TestKeysDayTwo(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	first := strings.TrimSpace(c.ok(t, "keys", "create", "--config", c.config, "--name", "ops",
		"--allow-ip", "203.0.113.0/24", "--allow-ip", "2001:db8::1", "--read-only-grace", "36h"))
	show := func() map[string]any {
		t.Helper()
		var v map[string]any
		if err := json.Unmarshal([]byte(c.ok(t, "keys", "show", "ops", "--json", "--config", c.config)), &v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	v := show()
	if ips, _ := v["allowedIps"].([]any); len(ips) != 2 || ips[0] != "203.0.113.0/24" || ips[1] != "2001:db8::1" || v["readOnlyGrace"] != "36h0m0s" || v["enabled"] != true {
		t.Fatalf("keys show --json after create = %v", v)
	}

	// Roll: the new key alone on stdout, reveal gives it, the old one is
	// shown as working until the overlap's end.
	out, errOut, code := c.run(t, "", "keys", "roll", "ops", "--overlap", "24h", "--config", c.config)
	second := strings.TrimSpace(out)
	if code != 0 || !strings.HasPrefix(second, "gth_") || second == first || strings.Contains(out, "\n\n") || !strings.Contains(errOut, "old secret works until") {
		t.Fatalf("keys roll = %d, stdout %q, stderr %q", code, out, errOut)
	}
	if got := strings.TrimSpace(c.ok(t, "keys", "reveal", "ops", "--config", c.config)); got != second {
		t.Errorf("keys reveal after roll = %q, want the new key", got)
	}
	if v := show(); v["previousValidUntil"] == nil {
		t.Errorf("keys show --json after roll: previousValidUntil = nil")
	}
	text := c.ok(t, "keys", "show", "ops", "--config", c.config)
	for _, want := range []string{"Allowed addresses:", "203.0.113.0/24 2001:db8::1", "Read-only grace:", "36h0m0s", "Old secret until:", "Old secret last used:"} {
		if !strings.Contains(text, want) {
			t.Errorf("keys show lacks %q:\n%s", want, text)
		}
	}
	if _, errOut, code := c.run(t, "", "keys", "roll", "ops", "--overlap", "721h", "--config", c.config); code == 0 || !strings.Contains(errOut, "720h") {
		t.Errorf("keys roll --overlap 721h = %d, %q; want a refusal naming 720h", code, errOut)
	}

	// Disable and enable, seen in list and show.
	c.ok(t, "keys", "disable", "ops", "--config", c.config)
	if v := show(); v["enabled"] != false {
		t.Errorf("enabled after disable = %v", v["enabled"])
	}
	if list := c.ok(t, "keys", "list", "--config", c.config); !strings.Contains(list, "DISABLED") {
		t.Errorf("keys list after disable lacks DISABLED:\n%s", list)
	}
	c.ok(t, "keys", "enable", "ops", "--config", c.config)
	if v := show(); v["enabled"] != true {
		t.Errorf("enabled after enable = %v", v["enabled"])
	}

	// Update: named flags change, others stay; --any-ip and --no-grace clear.
	c.ok(t, "keys", "update", "ops", "--name", "ops-2", "--scope", "assets:write", "--allow-ip", "10.0.0.0/8", "--config", c.config)
	var after map[string]any
	json.Unmarshal([]byte(c.ok(t, "keys", "show", "ops-2", "--json", "--config", c.config)), &after)
	if ips, _ := after["allowedIps"].([]any); len(ips) != 1 || ips[0] != "10.0.0.0/8" || after["readOnlyGrace"] != "36h0m0s" {
		t.Errorf("after update = %v", after)
	}
	if sc, _ := after["scopes"].([]any); !slices.Equal(sc, []any{"assets:write"}) {
		t.Errorf("scopes after update = %v", after["scopes"])
	}
	c.ok(t, "keys", "update", "ops-2", "--any-ip", "--no-grace", "--config", c.config)
	json.Unmarshal([]byte(c.ok(t, "keys", "show", "ops-2", "--json", "--config", c.config)), &after)
	if ips, _ := after["allowedIps"].([]any); len(ips) != 0 || after["readOnlyGrace"] != nil {
		t.Errorf("after --any-ip --no-grace = %v", after)
	}
	for _, args := range [][]string{
		{"keys", "update", "ops-2"},
		{"keys", "update", "ops-2", "--allow-ip", "10.0.0.1", "--any-ip"},
		{"keys", "update", "ops-2", "--allow-ip", "nonsense"},
		{"keys", "update", "ops-2", "--read-only-grace", "1000h"},
		{"keys", "create", "--name", "bad", "--allow-ip", "nonsense"},
		{"keys", "disable", "nobody"},
	} {
		if _, errOut, code := c.run(t, "", append(args, "--config", c.config)...); code == 0 || strings.Count(strings.TrimSpace(errOut), "\n") > 2 {
			t.Errorf("gatehouse %s = %d, %q; want a refusal in a line or two", strings.Join(args, " "), code, errOut)
		}
	}

	// Every change is audited.
	text = c.ok(t, "keys", "show", "ops-2", "--config", c.config)
	for _, action := range []string{"roll", "disable", "enable", "update"} {
		if !strings.Contains(text, "  "+action+" ") {
			t.Errorf("audit log lacks %s:\n%s", action, text)
		}
	}
}
