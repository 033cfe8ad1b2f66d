package gatehouse

import "context"

// RequestInfo is what the layers of a request learn about it, for the
// access log and metrics: the access-log middleware puts an empty one in
// the context, and the router and the key check fill it in. It never holds
// a key.
type RequestInfo struct {
	RequestID string
	Route     string // route name, or the label of a gateway endpoint (RouteLabelMgmt, ...)
	KeyID     string
	// Outcome is what happened: "ok", the error code that answered, or,
	// for an answer the gateway ended, why: "revoked" (its key was deleted
	// or expired) or "shutdown".
	Outcome string
	// Closed is, for a long-lived answer (a websocket, a stream), why it
	// ended: "revoked", "shutdown", "client_closed" or "upstream_closed";
	// empty for other answers.
	Closed string
}

type contextKey int

const requestInfoKey contextKey = iota

// NewContextWithRequestInfo returns a copy of ctx holding info.
func NewContextWithRequestInfo(ctx context.Context, info *RequestInfo) context.Context {
	return context.WithValue(ctx, requestInfoKey, info)
}

// RequestInfoFromContext returns the request's info, or a throwaway one
// when the context holds none, so callers may always write to it.
func RequestInfoFromContext(ctx context.Context) *RequestInfo {
	if info, ok := ctx.Value(requestInfoKey).(*RequestInfo); ok {
		return info
	}
	return &RequestInfo{}
}
