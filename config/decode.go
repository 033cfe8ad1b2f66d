package config

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// A config is decoded from a yaml.Node, not straight into the structs:
// yaml.v3 stops at the first unknown key and names neither its line nor
// the key path of a bad value. The walk checks the keys of each mapping,
// decodes each value on its own, remembers where each key was set (for
// Validate's problems too) and goes on after a problem, so that one run
// reports them all.

// position says where a key was set: a line of the config file, or an
// environment variable. The zero position is a default, or a value set in
// code.
type position struct {
	file string // the config file; "" for the input of Parse
	line int    // the line in the file, from 1; 0 if unknown
	env  string // the environment variable that set the key, instead
}

// String returns "FILE:LINE" ("line LINE" without a file), the variable's
// name, or "" for no position.
func (p position) String() string {
	switch {
	case p.env != "":
		return p.env
	case p.line > 0 && p.file != "":
		return p.file + ":" + strconv.Itoa(p.line)
	case p.line > 0:
		return "line " + strconv.Itoa(p.line)
	}
	return p.file
}

// compare orders positions: the file's lines in order, then the
// environment variables in the order of Env, then no position.
func (p position) compare(q position) int {
	rank := func(p position) (int, int) {
		switch {
		case p.env != "":
			return 1, slices.IndexFunc(Env, func(e EnvVar) bool { return e.Var == p.env })
		case p.line > 0 || p.file != "":
			return 0, p.line
		}
		return 2, 0
	}
	pr, pn := rank(p)
	qr, qn := rank(q)
	return cmp.Or(cmp.Compare(pr, qr), cmp.Compare(pn, qn))
}

// problem is one thing wrong with a config.
type problem struct {
	at    position
	key   string // the key path, e.g. routes[1].timeout; "" if msg names it
	msg   string
	cause error // what msg says, if it came as an error (a *gatehouse.RouteError)
}

// Unwrap returns the error the problem reports, if any.
func (p problem) Unwrap() error { return p.cause }

// Error returns "config: POSITION: KEY: PROBLEM", without the parts the
// problem has not.
func (p problem) Error() string {
	var b strings.Builder
	b.WriteString("config: ")
	if at := p.at.String(); at != "" {
		b.WriteString(at)
		b.WriteString(": ")
	}
	if p.key != "" {
		b.WriteString(p.key)
		b.WriteString(": ")
	}
	b.WriteString(p.msg)
	return b.String()
}

// joinProblems returns the problems as one error, one per line in the
// order of their positions (stable: in the order found on one line), or
// nil if there are none.
func joinProblems(ps []problem) error {
	if len(ps) == 0 {
		return nil
	}
	slices.SortStableFunc(ps, func(a, b problem) int { return a.at.compare(b.at) })
	errs := make([]error, len(ps))
	for i, p := range ps {
		errs[i] = p
	}
	return errors.Join(errs...)
}

// parentKey returns the key path that holds key: routes[1] for
// routes[1].timeout, routes for routes[1], "" for a top-level key.
func parentKey(key string) string {
	if i := strings.LastIndexAny(key, ".["); i >= 0 {
		return key[:i]
	}
	return ""
}

// under reports whether key is k or lies below it.
func under(key, k string) bool {
	return key == k || strings.HasPrefix(key, k) && (key[len(k)] == '.' || key[len(k)] == '[')
}

// position returns where key was set, or else the nearest key that holds
// it (a route's line for a field it leaves out).
func (c *Config) position(key string) position {
	for k := key; k != ""; k = parentKey(k) {
		if p, ok := c.pos[k]; ok {
			return p
		}
	}
	return position{}
}

// field is a key of a mapping and the struct field it sets.
type field struct {
	name  string
	index int
}

// fieldsOf returns the keys of the struct type t, from its yaml tags, in
// the order of its fields.
func fieldsOf(t reflect.Type) []field {
	var out []field
	for i := range t.NumField() {
		sf := t.Field(i)
		name, _, _ := strings.Cut(sf.Tag.Get("yaml"), ",")
		if sf.IsExported() && name != "" && name != "-" {
			out = append(out, field{name: name, index: i})
		}
	}
	return out
}

// The keys of the top level and of a route.
var (
	configFields  = fieldsOf(reflect.TypeFor[Config]())
	routeFields   = fieldsOf(reflect.TypeFor[Route]())
	webhookFields = fieldsOf(reflect.TypeFor[Webhook]())
)

func findField(fields []field, name string) (field, bool) {
	i := slices.IndexFunc(fields, func(f field) bool { return f.name == name })
	if i < 0 {
		return field{}, false
	}
	return fields[i], true
}

// decoder walks YAML into a Config and collects the problems.
type decoder struct {
	c        *Config
	file     string // positions are lines of this file,
	env      string // or, when set, this environment variable
	problems []problem
	// failed holds the key paths whose value could not be decoded, so that
	// Load does not also report what Validate says of the value left there.
	failed map[string]bool
}

func newDecoder(c *Config) *decoder {
	if c.pos == nil {
		c.pos = map[string]position{}
	}
	return &decoder{c: c, failed: map[string]bool{}}
}

// at returns the position of node n.
func (d *decoder) at(n *yaml.Node) position {
	if d.env != "" {
		return position{env: d.env}
	}
	return position{file: d.file, line: n.Line}
}

func (d *decoder) bad(at position, key, format string, args ...any) {
	d.problems = append(d.problems, problem{at: at, key: key, msg: fmt.Sprintf(format, args...)})
}

// fail records a problem with the value of key.
func (d *decoder) fail(at position, key, format string, args ...any) {
	d.bad(at, key, format, args...)
	d.failed[key] = true
}

// failedAt reports whether key or a key that holds it could not be
// decoded.
func (d *decoder) failedAt(key string) bool {
	for k := key; k != ""; k = parentKey(k) {
		if d.failed[k] {
			return true
		}
	}
	return false
}

// set records that key was set at at, and forgets that a value it
// replaces could not be decoded.
func (d *decoder) set(key string, at position) {
	d.c.pos[key] = at
	delete(d.failed, key)
}

// forget forgets what was known of the keys below key, whose value is
// replaced (the routes of a file that GATEHOUSE_ROUTES replaces).
func (d *decoder) forget(key string) {
	for k := range d.c.pos {
		if k != key && under(k, key) {
			delete(d.c.pos, k)
		}
	}
	for k := range d.failed {
		if k != key && under(k, key) {
			delete(d.failed, k)
		}
	}
}

// yamlLine finds the line in yaml.v3's syntax errors.
var yamlLine = regexp.MustCompile(`^line ([0-9]+): `)

// syntax records a YAML syntax error, at its line when it gives one.
func (d *decoder) syntax(err error) {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	at := position{file: d.file, env: d.env}
	if m := yamlLine.FindStringSubmatch(msg); m != nil && d.env == "" {
		at.line, _ = strconv.Atoi(m[1])
		msg = msg[len(m[0]):]
	}
	d.bad(at, "", "%s", msg)
}

// document decodes a config file.
func (d *decoder) document(data []byte) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if !errors.Is(err, io.EOF) {
			d.syntax(err)
		}
		return
	}
	var next yaml.Node
	if err := dec.Decode(&next); err == nil {
		d.bad(d.at(&next), "", "a second YAML document: a config is one document, with every key in it")
	} else if !errors.Is(err, io.EOF) {
		d.syntax(err)
	}
	switch root := resolve(firstNode(&doc)); {
	case isNull(root):
	case root.Kind == yaml.MappingNode:
		d.mapping(root, "", configFields, d.configKey)
	default:
		d.bad(d.at(root), "", "a config is a mapping of keys such as \"listen: 127.0.0.1:8080\" (got %s)", kindName(root))
	}
}

// environment decodes the GATEHOUSE_* variables that are set, over what
// the file set.
func (d *decoder) environment(getenv func(string) string) {
	defer func() { d.env = "" }()
	for _, e := range Env {
		v := getenv(e.Var)
		if v == "" {
			continue
		}
		ptr := fieldPtr(d.c, e.Key)
		if ptr == nil {
			panic("config: " + e.Var + " sets the unknown key " + e.Key)
		}
		d.env = e.Var
		at := position{env: e.Var}
		d.set(e.Key, at)
		switch ptr := ptr.(type) {
		case *[]Route:
			var doc yaml.Node
			if err := yaml.Unmarshal([]byte(v), &doc); err != nil {
				d.forget(e.Key)
				d.c.Routes = nil
				d.syntax(err)
				d.failed[e.Key] = true
				continue
			}
			d.routes(firstNode(&doc), e.Key, at)
		case *[]Webhook:
			var doc yaml.Node
			if err := yaml.Unmarshal([]byte(v), &doc); err != nil {
				d.forget(e.Key)
				d.c.Webhooks = nil
				d.syntax(err)
				d.failed[e.Key] = true
				continue
			}
			d.webhooks(firstNode(&doc), e.Key, at)
		case *[]string:
			// A comma-separated list.
			*ptr = nil
			for item := range strings.SplitSeq(v, ",") {
				if item = strings.TrimSpace(item); item != "" {
					*ptr = append(*ptr, item)
				}
			}
		case *bool:
			b, err := strconv.ParseBool(strings.TrimSpace(v))
			if err != nil {
				d.fail(at, e.Key, "must be true or false (got %q)", v)
				continue
			}
			*ptr = b
		case *float64:
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				d.fail(at, e.Key, "must be a number (got %q)", v)
				continue
			}
			*ptr = f
		default:
			d.scalar(&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: v}, e.Key, at, ptr)
		}
	}
}

// fieldPtr returns a pointer to the field of c that the key path key
// (listen, tls.cert_file) names, or nil if there is none.
func fieldPtr(c *Config, key string) any {
	v := reflect.ValueOf(c).Elem()
	fields := configFields
	for {
		name, rest, nested := strings.Cut(key, ".")
		f, ok := findField(fields, name)
		if !ok {
			return nil
		}
		v = v.Field(f.index)
		if !nested {
			return v.Addr().Interface()
		}
		if v.Kind() != reflect.Struct {
			return nil
		}
		fields, key = fieldsOf(v.Type()), rest
	}
}

// firstNode returns the content of a document node (nil for an empty one).
func firstNode(doc *yaml.Node) *yaml.Node {
	if doc.Kind == yaml.DocumentNode {
		if len(doc.Content) == 0 {
			return nil
		}
		return doc.Content[0]
	}
	return doc
}

// resolve returns the node an alias names, or n.
func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 100; i++ {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n == nil || n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// kindName names the kind of node n for a message.
func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "a list"
	case yaml.MappingNode:
		return "a mapping"
	case yaml.ScalarNode:
		return strconv.Quote(n.Value)
	}
	return "an alias"
}

// entry is a key and its value in a mapping.
type entry struct {
	key, value *yaml.Node
	merged     bool // brought in by a merge key (<<)
}

// entries returns the keys of mapping n, then those its merge keys (<<)
// bring in, in the order in which YAML lets them win: a key of n over a
// merged one, and the mappings merged first (with what they merge) over
// those after. A mapping merged twice adds nothing the second time.
func (d *decoder) entries(n *yaml.Node, path string) []entry {
	var out []entry
	seen := map[*yaml.Node]bool{}
	var walk func(m *yaml.Node, merged bool)
	walk = func(m *yaml.Node, merged bool) {
		if seen[m] {
			return
		}
		seen[m] = true
		var merges []*yaml.Node
		for i := 0; i+1 < len(m.Content); i += 2 {
			k, v := m.Content[i], m.Content[i+1]
			if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
				merges = append(merges, k, v)
				continue
			}
			out = append(out, entry{key: k, value: v, merged: merged})
		}
		for i := 0; i < len(merges); i += 2 {
			k, v := merges[i], resolve(merges[i+1])
			var maps []*yaml.Node
			switch v.Kind {
			case yaml.MappingNode:
				maps = []*yaml.Node{v}
			case yaml.SequenceNode:
				for _, item := range v.Content {
					maps = append(maps, resolve(item))
				}
			}
			if len(maps) == 0 || slices.ContainsFunc(maps, func(m *yaml.Node) bool { return m.Kind != yaml.MappingNode }) {
				d.bad(d.at(k), path, "a merge key (<<) takes a mapping or a list of mappings (got %s)", kindName(v))
				continue
			}
			for _, m := range maps {
				walk(m, true)
			}
		}
	}
	walk(n, false)
	return out
}

// mapping checks each key of mapping n, at path ("" for the top level),
// against fields and has set decode its value. An unknown key, a key
// written twice or one that is no name is a problem.
func (d *decoder) mapping(n *yaml.Node, path string, fields []field, set func(f field, key string, at position, v *yaml.Node)) {
	first := map[string]*yaml.Node{}
	for _, e := range d.entries(n, path) {
		k := resolve(e.key)
		if k.Kind != yaml.ScalarNode {
			d.bad(d.at(e.key), path, "a key must be a name (got %s)", kindName(k))
			continue
		}
		key := k.Value
		if path != "" {
			key = path + "." + k.Value
		}
		if f, dup := first[k.Value]; dup {
			if !e.merged {
				d.bad(d.at(e.key), key, "written twice (first on line %d)", f.Line)
			}
			continue
		}
		first[k.Value] = e.key
		f, ok := findField(fields, k.Value)
		if !ok {
			d.unknown(d.at(e.key), path, k.Value, fields)
			continue
		}
		set(f, key, d.at(e.key), e.value)
	}
}

// unknown records an unknown key, with the closest known one if one is
// close.
func (d *decoder) unknown(at position, path, name string, fields []field) {
	key := name
	if !plainKey(name) {
		key = strconv.Quote(name)
	}
	if path != "" {
		key = path + "." + key
	}
	names := make([]string, len(fields))
	for i, f := range fields {
		names[i] = f.name
	}
	if s := closest(name, names); s != "" {
		d.bad(at, "", "unknown key %s (did you mean %s?)", key, s)
		return
	}
	d.bad(at, "", "unknown key %s", key)
}

// plainKey reports whether a key can be shown as it is: 1 to 64 letters,
// digits, _ and -.
func plainKey(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range []byte(s) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// configKey decodes the value of a top-level key.
func (d *decoder) configKey(f field, key string, at position, v *yaml.Node) {
	d.set(key, at)
	ptr := reflect.ValueOf(d.c).Elem().Field(f.index).Addr().Interface()
	switch ptr := ptr.(type) {
	case *[]Route:
		d.routes(v, key, at)
	case *TLS, *Tracing, *Bearer:
		d.section(v, key, at, reflect.ValueOf(ptr).Elem())
	case *[]Webhook:
		d.webhooks(v, key, at)
	case *[]string:
		d.strings(v, key, at, ptr)
	default:
		d.scalar(v, key, at, ptr)
	}
}

// section decodes the mapping n, set at at under key, into the struct s
// of scalar fields (tls:).
func (d *decoder) section(n *yaml.Node, key string, at position, s reflect.Value) {
	m := resolve(n)
	if isNull(m) {
		return
	}
	if m.Kind != yaml.MappingNode {
		d.fail(at, key, "must be a mapping of keys such as %s: (got %s)", fieldsOf(s.Type())[0].name, kindName(m))
		return
	}
	d.mapping(m, key, fieldsOf(s.Type()), func(f field, key string, at position, v *yaml.Node) {
		d.set(key, at)
		d.scalar(v, key, at, s.Field(f.index).Addr().Interface())
	})
}

// strings decodes the list of strings n into ptr, or records why it
// cannot under key. A null empties the list.
func (d *decoder) strings(n *yaml.Node, key string, at position, ptr *[]string) {
	list := resolve(n)
	*ptr = nil
	if isNull(list) {
		return
	}
	if list.Kind != yaml.SequenceNode {
		d.fail(at, key, "must be a list of strings (got %s)", kindName(list))
		return
	}
	for i, item := range list.Content {
		v := resolve(item)
		if v.Kind != yaml.ScalarNode {
			d.fail(d.at(item), key+"["+strconv.Itoa(i)+"]", "must be a string (got %s)", kindName(v))
			continue
		}
		*ptr = append(*ptr, v.Value)
	}
}

// item is an entry of a list of mappings (listOfMappings): its key
// (key[i]), its position, and the mapping, nil when the entry is none.
type item struct {
	key string
	at  position
	m   *yaml.Node
}

// listOfMappings decodes n, set at at under key, as a list of what (e.g.
// "routes"): it returns the list's items, nil for a null, and false when n
// is not a list. An item that is not a mapping is reported with hint (what
// one looks like) and has no mapping.
func (d *decoder) listOfMappings(n *yaml.Node, key string, at position, what, hint string) ([]item, bool) {
	d.forget(key)
	list := resolve(n)
	if isNull(list) {
		return nil, true
	}
	if list.Kind != yaml.SequenceNode {
		d.fail(at, key, "must be a list of %s (got %s)", what, kindName(list))
		return nil, false
	}
	items := make([]item, len(list.Content))
	for i, n := range list.Content {
		it := item{key: key + "[" + strconv.Itoa(i) + "]", at: d.at(n)}
		d.set(it.key, it.at)
		if m := resolve(n); m.Kind == yaml.MappingNode {
			it.m = m
		} else {
			d.fail(it.at, it.key, "%s (got %s)", hint, kindName(m))
		}
		items[i] = it
	}
	return items, true
}

// routes decodes the list of routes n, set at at under key.
func (d *decoder) routes(n *yaml.Node, key string, at position) {
	items, ok := d.listOfMappings(n, key, at, "routes", "a route is a mapping of keys such as name: and path:")
	if !ok {
		return
	}
	var routes []Route
	if items != nil {
		routes = make([]Route, len(items))
	}
	for i, it := range items {
		if it.m == nil {
			continue
		}
		r := reflect.ValueOf(&routes[i]).Elem()
		d.mapping(it.m, it.key, routeFields, func(f field, key string, at position, v *yaml.Node) {
			d.set(key, at)
			d.scalar(v, key, at, r.Field(f.index).Addr().Interface())
		})
	}
	d.c.Routes = routes
}

// webhooks decodes the list of webhook endpoints n, set at at under key.
func (d *decoder) webhooks(n *yaml.Node, key string, at position) {
	items, ok := d.listOfMappings(n, key, at, "endpoints", "an endpoint is a mapping of keys such as url: and secret_file:")
	if !ok {
		return
	}
	var hooks []Webhook
	if items != nil {
		hooks = make([]Webhook, len(items))
	}
	for i, it := range items {
		if it.m == nil {
			continue
		}
		w := reflect.ValueOf(&hooks[i]).Elem()
		d.mapping(it.m, it.key, webhookFields, func(f field, key string, at position, v *yaml.Node) {
			d.set(key, at)
			if events, ok := w.Field(f.index).Addr().Interface().(*[]string); ok {
				d.strings(v, key, at, events)
				return
			}
			d.scalar(v, key, at, w.Field(f.index).Addr().Interface())
		})
	}
	d.c.Webhooks = hooks
}

// scalar decodes the scalar n into the field ptr points to, or records why
// it cannot under key. A null leaves the field as it is.
func (d *decoder) scalar(n *yaml.Node, key string, at position, ptr any) {
	var want string
	switch ptr.(type) {
	case *bool, **bool:
		want = "true or false"
	case *Duration:
		want = "a duration such as 10s"
	case *float64:
		want = "a number"
	default:
		want = "a string"
	}
	v := resolve(n)
	if v.Kind != yaml.ScalarNode {
		d.fail(at, key, "must be %s (got %s)", want, kindName(v))
		return
	}
	if err := v.Decode(ptr); err != nil {
		if _, ok := err.(*yaml.TypeError); ok {
			d.fail(at, key, "must be %s (got %q)", want, v.Value)
			return
		}
		d.fail(at, key, "%s", err.Error())
	}
}

// closest returns the name in names nearest to s by edit distance
// (ignoring case, a swap of two neighbours counting as one edit) if it is
// near enough to be a slip: at most one edit in three characters, and at
// least one. The first of equally near names wins.
func closest(s string, names []string) string {
	s = strings.ToLower(s)
	limit := max(1, len(s)/3)
	best, bestD := "", limit+1
	for _, n := range names {
		if d := editDistance(s, strings.ToLower(n)); d < bestD {
			best, bestD = n, d
		}
	}
	return best
}

// editDistance is the optimal string alignment distance between a and b:
// insertions, deletions, substitutions and swaps of neighbouring bytes.
func editDistance(a, b string) int {
	// d[i][j] is the distance between a[:i] and b[:j]; three rows do.
	prev2, prev, cur := make([]int, len(b)+1), make([]int, len(b)+1), make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}
