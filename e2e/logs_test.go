package e2e_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// accessLine returns the fields of the access-log line of the request
// with request ID id. The access log writes its line before the handler
// returns, and the gateway sends these small, unflushed answers only
// after that, so the line is there once the answer has been read.
func (g *gateway) accessLine(t *testing.T, id string) map[string]any {
	t.Helper()
	for _, line := range strings.Split(g.Log.String(), "\n") {
		var f map[string]any
		if json.Unmarshal([]byte(line), &f) == nil && f["msg"] == "request" && f["request_id"] == id {
			return f
		}
	}
	t.Errorf("no access-log line with request_id %q", id)
	return map[string]any{}
}

// pctEncode percent-encodes every byte of s, with hex digits from digits.
func pctEncode(s, digits string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		b.WriteByte('%')
		b.WriteByte(digits[s[i]>>4])
		b.WriteByte(digits[s[i]&15])
	}
	return b.String()
}

// TestLogRedactsPathKeys: a key in the path, plain or percent-encoded
// however the client likes, is never in the access log, neither as it was
// sent nor decoded; the line is there, with the key redacted.
func TestLogRedactsPathKeys(t *testing.T) {
	t.Parallel()
	g := startGateway(t, nil)
	_, reader := g.key(t, "reader", "assets:read")
	_, leaked := g.key(t, "leaked", "assets:read")
	const upper, lower = "0123456789ABCDEF", "0123456789abcdef"
	// A character (not one of the last two) whose hex form holds a
	// letter, so that the case of the hex digits matters.
	mid := strings.IndexAny(leaked[4:len(leaked)-2], "JKLMNOZjklmnoz") + 4
	if mid < 4 {
		mid = len(leaked) / 2
	}
	cases := []struct{ name, enc string }{
		{"plain", leaked},
		{"whole prefix encoded", pctEncode("gth_", upper) + leaked[4:]},
		{"one letter of the prefix encoded", "g%74h_" + leaked[4:]},
		{"one character in the middle encoded", leaked[:mid] + pctEncode(leaked[mid:mid+1], upper) + leaked[mid+1:]},
		{"lower-case hex in the middle", leaked[:mid] + pctEncode(leaked[mid:mid+1], lower) + leaked[mid+1:]},
		{"mixed-case hex", "%67%74%68%5f" + leaked[4:mid] + pctEncode(leaked[mid:mid+1], lower) + pctEncode(leaked[mid+1:mid+2], upper) + leaked[mid+2:]},
		{"every character encoded", pctEncode(leaked, lower)},
		{"upper-case prefix", "GTH_" + leaked[4:]},
		{"double-encoded prefix", "%2567th_" + leaked[4:]},
		{"inside a segment", "x-" + leaked + ".json"},
		{"glued to a shape", "gth_abc" + leaked},
		{"twice", leaked + "/" + pctEncode("gth_", lower) + leaked[4:]},
	}
	for i, tc := range cases {
		id := fmt.Sprintf("path-%d", i)
		before := len(g.Log.String())
		got := g.one(t, req("GET", "/api/v2/assets/"+tc.enc, apiKey(reader), "X-Request-Id: "+id))
		g.up.Take()
		logs := g.Log.String()[before:]
		for _, s := range []string{tc.enc, leaked[4:]} {
			if strings.Contains(logs, s) {
				t.Errorf("%s (answered %d): the log holds %.20s…", tc.name, got.Status, s)
			}
		}
		path, _ := g.accessLine(t, id)["path"].(string)
		if !strings.HasPrefix(path, "/api/v2/assets/") || !strings.Contains(path, "[REDACTED]") {
			t.Errorf("%s: logged path %q, want it with the key redacted", tc.name, path)
		}
	}
}

// TestLogRedactsKeyAsRequestID: a key sent as X-Request-Id is replaced by
// a generated ID before it is logged, echoed or forwarded, also when it is
// part of the ID, upper-cased, or in a second X-Request-Id header.
func TestLogRedactsKeyAsRequestID(t *testing.T) {
	t.Parallel()
	g := startGateway(t, nil)
	_, reader := g.key(t, "reader", "assets:read")
	_, leaked := g.key(t, "leaked", "assets:read")
	for _, tc := range []struct{ name, id string }{
		{"the key", leaked},
		{"the key within", "trace:" + leaked + ".1"},
		{"upper-case prefix", "GTH_" + leaked[4:]},
		{"129 characters", strings.Repeat("a", 129)},
		{"a space", "abc def"},
	} {
		before := len(g.Log.String())
		got := g.one(t, req("GET", "/api/v2/assets/1", apiKey(reader), "X-Request-Id: "+tc.id))
		reached := g.up.Take()
		logs := g.Log.String()[before:]
		echoed := got.Header.Get("X-Request-Id")
		if got.Status != 200 || len(reached) != 1 {
			t.Errorf("%s: %v, %d requests upstream; want 200 and 1", tc.name, got, len(reached))
			continue
		}
		forwarded := reached[0].Header.Values("X-Request-Id")
		if echoed == "" || echoed == tc.id || len(echoed) != 32 {
			t.Errorf("%s: answered with X-Request-Id %q, want a generated one", tc.name, echoed)
		}
		if len(forwarded) != 1 || forwarded[0] != echoed {
			t.Errorf("%s: the upstream received X-Request-Id %q, want [%s]", tc.name, forwarded, echoed)
		}
		g.accessLine(t, echoed)
		if strings.Contains(logs, tc.id) || strings.Contains(logs, leaked[4:]) {
			t.Errorf("%s: the log holds the client's X-Request-Id", tc.name)
		}
	}

	// The longest ID the contract allows is kept.
	long := strings.Repeat("b", 128)
	if got := g.one(t, req("GET", "/api/v2/assets/1", apiKey(reader), "X-Request-Id: "+long)); got.Header.Get("X-Request-Id") != long {
		t.Errorf("a 128-character ID came back as %q", got.Header.Get("X-Request-Id"))
	}
	if r := g.up.Take(); len(r) != 1 || r[0].Header.Get("X-Request-Id") != long {
		t.Errorf("a 128-character ID was not forwarded as it was")
	}

	// A good ID first cannot carry a key through in a second header.
	got := g.one(t, req("GET", "/api/v2/assets/1", apiKey(reader), "X-Request-Id: good-1", "X-Request-Id: "+leaked))
	reached := g.up.Take()
	if got.Status != 200 || len(reached) != 1 {
		t.Errorf("two X-Request-Id headers: %v, %d requests upstream; want 200 and 1", got, len(reached))
	}
	if strings.Contains(fmt.Sprint(got.Header), leaked) {
		t.Errorf("two X-Request-Id headers: the answer holds the key")
	}
	for _, r := range reached {
		if strings.Contains(fmt.Sprint(r.Header), leaked) {
			t.Errorf("two X-Request-Id headers: the upstream received the key in %q", r.Header.Values("X-Request-Id"))
		}
	}
}

// TestLogRedactsKeyAsMethod: Go's server takes any token as a method, a
// key too; the access log never writes it, nor any other long or odd
// method, while ordinary methods are logged as they are.
func TestLogRedactsKeyAsMethod(t *testing.T) {
	t.Parallel()
	g := startGateway(t, nil)
	_, reader := g.key(t, "reader", "assets:read")
	_, leaked := g.key(t, "leaked", "assets:read")
	for i, tc := range []struct{ name, method, want string }{
		{"the key", leaked, ""},
		{"the key, encoded", "g%74h_" + leaked[4:], ""},
		{"the key without its prefix", leaked[4:], ""},
		{"upper-case prefix", "GTH_" + leaked[4:], ""},
		{"GET", "GET", "GET"},
		{"WebDAV", "PROPFIND", "PROPFIND"},
		{"lower-case", "get", "get"},
	} {
		id := fmt.Sprintf("method-%d", i)
		before := len(g.Log.String())
		got := g.one(t, req(tc.method, "/api/v2/assets/1", apiKey(reader), "X-Request-Id: "+id))
		g.up.Take()
		logs := g.Log.String()[before:]
		if got.Status == 0 {
			t.Errorf("%s: %v", tc.name, got)
			continue
		}
		method, _ := g.accessLine(t, id)["method"].(string)
		switch {
		case tc.want != "" && method != tc.want:
			t.Errorf("%s: logged method %q, want %q", tc.name, method, tc.want)
		case tc.want == "" && (method == tc.method || strings.Contains(logs, leaked[4:])):
			t.Errorf("%s: the log holds the method %.10s…", tc.name, tc.method)
		}
	}
}
