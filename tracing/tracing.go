// Package tracing exports OpenTelemetry spans of the data plane over
// OTLP/HTTP: a span per request, continued from the client's W3C
// traceparent, with children for the key check and the upstream call,
// whose request carries a traceparent on. When tracing is off nothing here
// runs: the wiring leaves the handlers as they are.
package tracing

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
	"go.opentelemetry.io/otel/trace"

	"gatehouse"
	"gatehouse/keyauth"
)

// Span attributes of Gatehouse's own (the others are OpenTelemetry's
// semantic conventions). A key's ID, never the key.
const (
	AttrRoute   = attribute.Key("gatehouse.route")
	AttrOutcome = attribute.Key("gatehouse.outcome")
	AttrKeyID   = attribute.Key("gatehouse.key_id")
)

// Options configure a Tracer.
type Options struct {
	// Endpoint is the collector's OTLP/HTTP base URL, such as
	// http://127.0.0.1:4318; spans go to its /v1/traces unless it has a
	// path of its own. Required.
	Endpoint string
	// SampleRatio is the share of traces started here that are sampled,
	// from 0 to 1; a client's traceparent decides for the traces it
	// continues.
	SampleRatio float64
	// Version is the service.version of the spans.
	Version string
}

// batchTimeout is how long a span waits at most before it is exported.
const batchTimeout = time.Second

// Tracer makes the spans and exports them.
type Tracer struct {
	provider   *sdktrace.TracerProvider
	tracer     trace.Tracer
	propagator propagation.TextMapPropagator
}

// New returns a Tracer that exports to opts.Endpoint. Export runs in the
// background (batches, bounded queue, 10 s per attempt): a collector that
// is down loses spans, never a request.
func New(opts Options) (*Tracer, error) {
	u, err := url.Parse(opts.Endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("tracing: otlp_endpoint must be an http:// or https:// URL (got %q)", opts.Endpoint)
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = "/v1/traces"
	}
	exp, err := otlptracehttp.New(context.Background(), otlptracehttp.WithEndpointURL(u.String()), otlptracehttp.WithTimeout(10*time.Second))
	if err != nil {
		return nil, fmt.Errorf("tracing: %w", err)
	}
	res := resource.NewSchemaless(semconv.ServiceName("gatehouse"), semconv.ServiceVersion(opts.Version))
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp, sdktrace.WithBatchTimeout(batchTimeout)),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(opts.SampleRatio))),
		sdktrace.WithResource(res),
	)
	return &Tracer{provider: tp, tracer: tp.Tracer("gatehouse"), propagator: propagation.TraceContext{}}, nil
}

// Shutdown exports the spans still queued, within ctx.
func (t *Tracer) Shutdown(ctx context.Context) error { return t.provider.Shutdown(ctx) }

// Middleware returns next with a server span around each request,
// continued from the request's traceparent. The span is named by the
// method and, once known, the route; its attributes are the route, the
// status, the outcome and the key's ID (from gatehouse.RequestInfo, which
// the access log puts in the context before). Never the path, which may
// hold a key.
func (t *Tracer) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := t.propagator.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
		ctx, span := t.tracer.Start(ctx, r.Method, trace.WithSpanKind(trace.SpanKindServer),
			trace.WithAttributes(semconv.HTTPRequestMethodKey.String(methodName(r.Method))))
		defer span.End()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r.WithContext(ctx))
		// As the access log counts them: ok unless a check or the
		// upstream said otherwise, none when no route matched.
		info := gatehouse.RequestInfoFromContext(ctx)
		route, outcome := cmp.Or(info.Route, gatehouse.RouteLabelNone), cmp.Or(info.Outcome, "ok")
		span.SetName(methodName(r.Method) + " " + route)
		span.SetAttributes(AttrRoute.String(route), AttrOutcome.String(outcome),
			semconv.HTTPResponseStatusCode(sw.status))
		if info.KeyID != "" {
			span.SetAttributes(AttrKeyID.String(info.KeyID))
		}
		if sw.status >= 500 {
			span.SetStatus(codes.Error, outcome)
		}
	})
}

// methodName is the method for a span: one of HTTP's, else _OTHER (as
// OpenTelemetry's conventions ask; a made-up method could hold a key).
func methodName(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return m
	}
	return "_OTHER"
}

// statusWriter remembers the status of the answer.
type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote && code >= 200 || code == http.StatusSwitchingProtocols {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the connection (flushes,
// deadlines, the hijack of a websocket).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Authenticator returns next with a child span around each key check,
// whose attributes are the verdict's status and the key's ID.
func (t *Tracer) Authenticator(next keyauth.Authenticator) keyauth.Authenticator {
	return &authenticator{next: next, t: t}
}

type authenticator struct {
	next keyauth.Authenticator
	t    *Tracer
}

func (a *authenticator) Authenticate(w http.ResponseWriter, r *http.Request, need keyauth.Need) (keyauth.Verdict, bool) {
	ctx, span := a.t.tracer.Start(r.Context(), "key check", trace.WithAttributes(attribute.String("gatehouse.scope", need.Scope)))
	defer span.End()
	v, ok := a.next.Authenticate(w, r.WithContext(ctx), need)
	status := v.Status.Code()
	if ok {
		status = "ok"
	}
	span.SetAttributes(attribute.String("gatehouse.key_check", status))
	if v.Key != nil {
		span.SetAttributes(AttrKeyID.String(v.Key.ID))
	}
	return v, ok
}

// Transport returns next with a client span around each upstream call (to
// its response headers), whose traceparent the upstream receives.
func (t *Tracer) Transport(next http.RoundTripper) http.RoundTripper {
	return roundTripper(func(r *http.Request) (*http.Response, error) {
		ctx, span := t.tracer.Start(r.Context(), "upstream "+methodName(r.Method), trace.WithSpanKind(trace.SpanKindClient),
			trace.WithAttributes(semconv.HTTPRequestMethodKey.String(methodName(r.Method)),
				semconv.ServerAddress(r.URL.Hostname())))
		defer span.End()
		t.propagator.Inject(ctx, propagation.HeaderCarrier(r.Header))
		resp, err := next.RoundTrip(r.WithContext(ctx))
		if err != nil {
			span.SetStatus(codes.Error, "upstream call failed")
			return resp, err
		}
		span.SetAttributes(semconv.HTTPResponseStatusCode(resp.StatusCode))
		return resp, nil
	})
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
