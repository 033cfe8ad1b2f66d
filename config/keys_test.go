package config_test

import (
	"log/slog"
	"reflect"
	"slices"
	"strings"
	"testing"

	"gatehouse/config"
)

// TestLogLevel: log_level is info by default, takes the four levels in
// any case from the file or GATEHOUSE_LOG_LEVEL, and sets ParsedLogLevel.
func TestLogLevel(t *testing.T) {
	t.Parallel()
	c, err := config.Load("", nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.LogLevel != "info" || c.ParsedLogLevel != slog.LevelInfo {
		t.Errorf("default LogLevel %q, ParsedLogLevel %v; want info", c.LogLevel, c.ParsedLogLevel)
	}
	for s, want := range map[string]slog.Level{"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "ERROR": slog.LevelError, "Warn": slog.LevelWarn} {
		c, err := config.Load(writeFile(t, "log_level: "+s+"\n"), nil)
		if err != nil || c.ParsedLogLevel != want {
			t.Errorf("log_level %s: ParsedLogLevel %v, %v; want %v", s, c.ParsedLogLevel, err, want)
		}
		c, err = config.Load("", func(k string) string { return map[string]string{"GATEHOUSE_LOG_LEVEL": s}[k] })
		if err != nil || c.ParsedLogLevel != want {
			t.Errorf("GATEHOUSE_LOG_LEVEL=%s: ParsedLogLevel %v, %v; want %v", s, c.ParsedLogLevel, err, want)
		}
	}
	for _, s := range []string{"warning", "trace", "info+2", "0", `""`} {
		if _, err := config.Load(writeFile(t, "log_level: "+s+"\n"), nil); err == nil || !strings.Contains(err.Error(), "log_level: must be debug, info, warn or error") {
			t.Errorf("log_level %s: %v, want refused", s, err)
		}
	}
}

// TestEveryKeyHasAVariable: Env lists one variable for every key of
// Config (each key of a section such as tls: on its own), GATEHOUSE_ and
// the key in capitals, with _ for the dot of a section.
func TestEveryKeyHasAVariable(t *testing.T) {
	t.Parallel()
	var keys []string
	var walk func(t reflect.Type, prefix string)
	walk = func(t reflect.Type, prefix string) {
		for f := range t.Fields() {
			name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			switch {
			case !f.IsExported() || name == "-":
			case f.Type.Kind() == reflect.Struct:
				walk(f.Type, prefix+name+".")
			default:
				keys = append(keys, prefix+name)
			}
		}
	}
	walk(reflect.TypeFor[config.Config](), "")
	var listed []string
	for _, e := range config.Env {
		listed = append(listed, e.Key)
		if want := "GATEHOUSE_" + strings.ToUpper(strings.ReplaceAll(e.Key, ".", "_")); e.Var != want {
			t.Errorf("%s sets %s, want it named %s", e.Var, e.Key, want)
		}
	}
	if !slices.Equal(keys, listed) {
		t.Errorf("the keys of Config are %v, Env sets %v", keys, listed)
	}
}
