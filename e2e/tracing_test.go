package e2e_test

import (
	"bytes"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"gatehouse/config"
)

// collector is an in-process OTLP/HTTP receiver: it keeps the spans it is
// sent, and the raw bodies, to look for what must never be in a span.
type collector struct {
	*httptest.Server
	mu    sync.Mutex
	spans []*tracepb.Span
	raw   bytes.Buffer
}

func newCollector(t *testing.T) *collector {
	c := &collector{}
	c.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 4<<20))
		var req coltrace.ExportTraceServiceRequest
		if r.URL.Path != "/v1/traces" || proto.Unmarshal(body, &req) != nil {
			http.Error(w, "not an OTLP trace export", http.StatusBadRequest)
			return
		}
		c.mu.Lock()
		c.raw.Write(body)
		for _, rs := range req.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				c.spans = append(c.spans, ss.Spans...)
			}
		}
		c.mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
		b, _ := proto.Marshal(&coltrace.ExportTraceServiceResponse{})
		w.Write(b)
	}))
	t.Cleanup(c.Close)
	return c
}

// wait polls until the collector holds n spans and returns them.
func (c *collector) wait(t *testing.T, n int) []*tracepb.Span {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; {
		c.mu.Lock()
		spans := append([]*tracepb.Span(nil), c.spans...)
		c.mu.Unlock()
		if len(spans) >= n {
			return spans
		}
		if time.Now().After(deadline) {
			t.Fatalf("the collector got %d spans in 10s, want %d", len(spans), n)
		}
		time.Sleep(20 * time.Millisecond) // poll interval
	}
}

// attr returns the value of a span's attribute, an integer in decimal.
func attr(s *tracepb.Span, key string) string {
	for _, a := range s.Attributes {
		if a.Key == key {
			if v := a.Value.GetStringValue(); v != "" {
				return v
			}
			return strconv.FormatInt(a.Value.GetIntValue(), 10)
		}
	}
	return ""
}

// TestTracing: with tracing on, a keyed request gives a server span that
// continues the client's traceparent, with the key check and the upstream
// call as its children; the upstream receives a traceparent of the
// upstream span; the spans carry the route, the status, the outcome and
// the key's ID, never the key.
func TestTracing(t *testing.T) {
	t.Parallel()
	col := newCollector(t)
	g := startGateway(t, func(c *config.Config) {
		c.Tracing = config.Tracing{OTLPEndpoint: col.URL, SampleRatio: 0}
	})
	id, key := g.key(t, "traced", "assets:read")

	const traceID, parentID = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	req, _ := http.NewRequest("GET", g.URL+"/api/v2/assets/158?x=1", nil)
	req.Header.Set("X-API-Key", key)
	req.Header.Set("traceparent", "00-"+traceID+"-"+parentID+"-01")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET = %d, want 200", resp.StatusCode)
	}

	spans := col.wait(t, 3)
	byName := map[string]*tracepb.Span{}
	for _, s := range spans {
		if hex.EncodeToString(s.TraceId) != traceID {
			t.Errorf("span %q in trace %x, want the client's %s", s.Name, s.TraceId, traceID)
		}
		byName[s.Name] = s
	}
	server, check, upstream := byName["GET assets"], byName["key check"], byName["upstream GET"]
	if server == nil || check == nil || upstream == nil {
		t.Fatalf("spans %v, want GET assets, key check and upstream GET", byName)
	}
	if got := hex.EncodeToString(server.ParentSpanId); got != parentID || server.Kind != tracepb.Span_SPAN_KIND_SERVER {
		t.Errorf("server span's parent %s (kind %v), want the client's %s", got, server.Kind, parentID)
	}
	for _, s := range []*tracepb.Span{check, upstream} {
		if !bytes.Equal(s.ParentSpanId, server.SpanId) {
			t.Errorf("span %q's parent %x, want the server span %x", s.Name, s.ParentSpanId, server.SpanId)
		}
	}
	for k, want := range map[string]string{"gatehouse.route": "assets", "gatehouse.outcome": "ok", "gatehouse.key_id": id, "http.response.status_code": "200"} {
		if got := attr(server, k); got != want {
			t.Errorf("server span %s = %q, want %q", k, got, want)
		}
	}
	if got := attr(check, "gatehouse.key_check"); got != "ok" {
		t.Errorf("key check span's gatehouse.key_check = %q, want ok", got)
	}
	seen := g.up.Requests()
	if len(seen) != 1 {
		t.Fatalf("the upstream got %d requests, want 1", len(seen))
	}
	if tp, want := seen[0].Header.Get("Traceparent"), "00-"+traceID+"-"+hex.EncodeToString(upstream.SpanId)+"-01"; tp != want {
		t.Errorf("the upstream got traceparent %q, want %q (the upstream span)", tp, want)
	}
	col.mu.Lock()
	raw := col.raw.String()
	col.mu.Unlock()
	if strings.Contains(raw, key) || strings.Contains(raw, key[4:24]) || strings.Contains(raw, "158") {
		t.Error("an exported span holds the key or the request's path")
	}
}

// TestTracingOff: without tracing, a client's traceparent reaches the
// upstream as it was sent, and no span is made.
func TestTracingOff(t *testing.T) {
	t.Parallel()
	g := startGateway(t, nil)
	_, key := g.key(t, "untraced", "assets:read")
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	req, _ := http.NewRequest("GET", g.URL+"/api/v2/assets/1", nil)
	req.Header.Set("X-API-Key", key)
	req.Header.Set("traceparent", tp)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if seen := g.up.Requests(); resp.StatusCode != 200 || len(seen) != 1 || seen[0].Header.Get("Traceparent") != tp {
		t.Errorf("GET = %d; the upstream got %v, want the client's traceparent %s", resp.StatusCode, seen, tp)
	}
}
