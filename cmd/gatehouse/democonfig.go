package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"gatehouse/config"
	"gatehouse/demo"
)

// The demo's config: `gatehouse serve --demo` writes the config it runs
// (its file, the GATEHOUSE_* variables and the demo's routes, with absolute
// paths) beside its store, and its banner names that file. The CLI, in
// another terminal and another directory, then works on the same store and
// knows the demo's scopes, so the banner's commands work as written.

// demoConfigName is the file's name in the store's directory.
const demoConfigName = "demo.yaml"

// demoConfigPath is where serve --demo writes cfg: beside the SQLite
// database, or beside the master key on PostgreSQL.
func demoConfigPath(cfg *config.Config) (string, error) {
	dir := filepath.Dir(cfg.SecretKeyFile)
	if db, ok := cfg.SQLitePath(); ok {
		dir = filepath.Dir(db)
	}
	return filepath.Abs(filepath.Join(dir, demoConfigName))
}

// dropStaleDemoRoutes removes from cfg, when it was read from the demo's
// own file (a shell that exported GATEHOUSE_CONFIG from the banner, then
// ran serve --demo again), the routes of the previous demo, whose port is
// gone, so that the new demo's are added in their place.
func dropStaleDemoRoutes(cfg *config.Config, cfgPath string, d *demo.Server) error {
	own, err := demoConfigPath(cfg)
	if err != nil || cfgPath == "" {
		return err
	}
	fi, err := os.Stat(cfgPath)
	if err != nil {
		return err
	}
	if ofi, err := os.Stat(own); err != nil || !os.SameFile(fi, ofi) {
		return nil
	}
	demoRoute := map[[2]string]bool{}
	for _, r := range d.Routes() {
		demoRoute[[2]string{r[0], r[1]}] = true
	}
	kept := cfg.Routes[:0]
	for _, r := range cfg.Routes {
		if !demoRoute[[2]string{r.Name, r.Path}] {
			kept = append(kept, r)
		}
	}
	cfg.Routes = kept
	return nil
}

const demoConfigHeader = `# Written by "gatehouse serve --demo" at each start: the config that server
# runs (its config file, its GATEHOUSE_* variables and the demo's routes),
# so that the CLI works on its store and knows the demo's scopes:
#   gatehouse keys create --config %[1]s --name demo
# or, once: export GATEHOUSE_CONFIG=%[1]s
# The demo API's port changes at each start: serving this file without
# --demo routes to a demo that is gone.
`

// writeDemoConfig writes cfg, with its store, master key and webhook
// secret paths made absolute, to path (mode 0600, replaced at once).
func writeDemoConfig(path string, cfg *config.Config) error {
	eff := *cfg
	if db, ok := cfg.SQLitePath(); ok {
		eff.Storage = "sqlite:" + db
	}
	abs, err := filepath.Abs(cfg.SecretKeyFile)
	if err != nil {
		return err
	}
	eff.SecretKeyFile = abs
	eff.Webhooks = slices.Clone(cfg.Webhooks)
	for i := range eff.Webhooks {
		if eff.Webhooks[i].SecretFile, err = filepath.Abs(eff.Webhooks[i].SecretFile); err != nil {
			return err
		}
	}
	body, err := marshalConfig(&eff)
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+demoConfigName+"-*") // 0600
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	fmt.Fprintf(f, demoConfigHeader, shellQuote(path))
	if _, err := f.Write(body); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// marshalConfig gives cfg as YAML that config.Parse reads back to the same
// values: each field under its yaml key, durations as "10s", and values
// left out where they are zero and so is their default. The config package
// knows how to read a config, not how to write one; reading the result back
// makes sure no field is lost or misread.
func marshalConfig(cfg *config.Config) ([]byte, error) {
	out, err := encodeConfig(cfg)
	if err != nil {
		return nil, err
	}
	back := config.Default()
	if err := config.Parse(out, back); err != nil {
		return nil, fmt.Errorf("the config written does not read back: %w", err)
	}
	if err := back.Validate(); err != nil {
		return nil, fmt.Errorf("the config written does not read back: %w", err)
	}
	// The same values: written again, the config read back gives the same
	// text, and the same routes in effect. (The configs themselves differ
	// in where each key was read from.)
	again, err := encodeConfig(back)
	if err != nil || !bytes.Equal(again, out) || !reflect.DeepEqual(back.ParsedRoutes, cfg.ParsedRoutes) {
		return nil, errors.New("the config written does not read back to the same values")
	}
	return out, nil
}

// encodeConfig writes cfg's values as YAML (see marshalConfig).
func encodeConfig(cfg *config.Config) ([]byte, error) {
	node, err := yamlNode(reflect.ValueOf(*cfg), reflect.ValueOf(*config.Default()))
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(node); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

var durationType = reflect.TypeFor[config.Duration]()

// yamlNode encodes v; def is the default of a struct v (invalid: none),
// whose zero fields are left out where the default is zero too.
func yamlNode(v, def reflect.Value) (*yaml.Node, error) {
	switch {
	case v.Type() == durationType:
		return scalar(durationText(time.Duration(v.Int())))
	case v.Kind() == reflect.Pointer && !v.IsNil():
		return yamlNode(v.Elem(), reflect.Value{})
	case v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.Struct:
		n := &yaml.Node{Kind: yaml.SequenceNode}
		for i := range v.Len() {
			e, err := yamlNode(v.Index(i), reflect.Value{})
			if err != nil {
				return nil, err
			}
			n.Content = append(n.Content, e)
		}
		return n, nil
	case v.Kind() == reflect.Struct:
		n := &yaml.Node{Kind: yaml.MappingNode}
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			key, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if !f.IsExported() || key == "-" {
				continue
			}
			if key == "" {
				key = strings.ToLower(f.Name)
			}
			if v.Field(i).IsZero() && (!def.IsValid() || def.Field(i).IsZero()) {
				continue
			}
			val, err := yamlNode(v.Field(i), reflect.Value{})
			if err != nil {
				return nil, fmt.Errorf("%s: %w", key, err)
			}
			n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: key}, val)
		}
		return n, nil
	}
	n := &yaml.Node{}
	return n, n.Encode(v.Interface())
}

// durationText is d as time.Duration writes it, without its zero minutes
// and seconds: "168h", "1m", "1m30s".
func durationText(d time.Duration) string {
	s := d.String()
	if t, ok := strings.CutSuffix(s, "m0s"); ok {
		s = t + "m"
	}
	if t, ok := strings.CutSuffix(s, "h0m"); ok {
		s = t + "h"
	}
	return s
}

func scalar(s string) (*yaml.Node, error) {
	n := &yaml.Node{}
	return n, n.Encode(s)
}
