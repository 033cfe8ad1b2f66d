package mgmtapi

// RoutePatterns returns the path of every route the handler serves, as
// written in openapi.json, for openapi_test.go.
func RoutePatterns() []string {
	out := make([]string, len(routes))
	for i, rt := range routes {
		out[i] = rt.pattern
	}
	return out
}

// ErrorCodes returns every error code the handler maps to a status, for
// openapi_test.go.
func ErrorCodes() []string {
	out := make([]string, 0, len(statuses))
	for code := range statuses {
		out = append(out, code)
	}
	return out
}
