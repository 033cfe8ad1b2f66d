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
// Config, GATEHOUSE_ and the key in capitals.
func TestEveryKeyHasAVariable(t *testing.T) {
	t.Parallel()
	var keys []string
	for f := range reflect.TypeFor[config.Config]().Fields() {
		if name, _, _ := strings.Cut(f.Tag.Get("yaml"), ","); f.IsExported() && name != "-" {
			keys = append(keys, name)
		}
	}
	var listed []string
	for _, e := range config.Env {
		listed = append(listed, e.Key)
		if want := "GATEHOUSE_" + strings.ToUpper(e.Key); e.Var != want {
			t.Errorf("%s sets %s, want it named %s", e.Var, e.Key, want)
		}
	}
	if !slices.Equal(keys, listed) {
		t.Errorf("the keys of Config are %v, Env sets %v", keys, listed)
	}
}
