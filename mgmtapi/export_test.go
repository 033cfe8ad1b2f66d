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
