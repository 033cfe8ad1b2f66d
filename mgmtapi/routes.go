package mgmtapi

import (
	"net/http"
	"strings"
)

// Prefix is the path of the key collection; every other path of the API
// is below it.
const Prefix = "/api/v2/api-keys"

// maxIDLen is the longest key ID looked up; a longer one is not found
// without asking the store.
const maxIDLen = 100

// serveFunc answers one method of one route. An error it returns is
// answered by Handler.fail.
type serveFunc func(h *Handler, w http.ResponseWriter, r *http.Request, c *call) error

// endpoint is one method of a route.
type endpoint struct {
	method string
	serve  serveFunc
}

// route is one path of the API, written as in openapi.json. HEAD is served
// wherever GET is.
type route struct {
	pattern   string
	endpoints []endpoint
}

// routes is every path and method the handler serves; openapi_test.go
// checks that openapi.json describes exactly these.
var routes = []route{
	{Prefix, []endpoint{
		{http.MethodGet, (*Handler).list},
		{http.MethodPost, (*Handler).create},
	}},
	{Prefix + "/{id}", []endpoint{
		{http.MethodGet, (*Handler).get},
		{http.MethodPatch, (*Handler).update},
		{http.MethodDelete, (*Handler).delete},
	}},
	{Prefix + "/{id}/reveal", []endpoint{
		{http.MethodPost, (*Handler).reveal},
	}},
	{Prefix + "/{id}/renew", []endpoint{
		{http.MethodPost, (*Handler).renew},
	}},
	{Prefix + "/{id}/roll", []endpoint{
		{http.MethodPost, (*Handler).roll},
	}},
	{Prefix + "/{id}/disable", []endpoint{
		{http.MethodPost, (*Handler).disable},
	}},
	{Prefix + "/{id}/enable", []endpoint{
		{http.MethodPost, (*Handler).enable},
	}},
	{Prefix + "/{id}/details", []endpoint{
		{http.MethodGet, (*Handler).details},
	}},
	{Prefix + "/{id}/signing-keys", []endpoint{
		{http.MethodPost, (*Handler).addSigningKey},
	}},
	{Prefix + "/{id}/signing-keys/{keyid}", []endpoint{
		{http.MethodDelete, (*Handler).removeSigningKey},
	}},
}

// match finds the route of an escaped path and the {id} segment in it, if
// any. The collection is matched with or without a trailing slash; no
// other path is cleaned, so that "..", "//" or an encoded "/" in a path
// match nothing.
func match(path string) (rt *route, id string, ok bool) {
	if path == Prefix+"/" {
		path = Prefix
	}
	segs := strings.Split(path, "/")
	for i := range routes {
		rt := &routes[i]
		pat := strings.Split(rt.pattern, "/")
		if len(pat) != len(segs) {
			continue
		}
		id, ok := "", true
		for j, p := range pat {
			switch {
			case p == "{id}" && segs[j] != "":
				id = segs[j]
			case p == "{keyid}" && segs[j] != "":
				// Read by the handler from the path's last segment.
			case p != segs[j]:
				ok = false
			}
			if !ok {
				break
			}
		}
		if ok {
			return rt, id, true
		}
	}
	return nil, "", false
}

// routeName returns the pattern of the route a path matches, for logs, or
// "unknown".
func routeName(path string) string {
	if rt, _, ok := match(path); ok {
		return rt.pattern
	}
	return "unknown"
}

// lookup returns the function serving method, or nil.
func (rt *route) lookup(method string) serveFunc {
	if method == http.MethodHead {
		method = http.MethodGet
	}
	for _, e := range rt.endpoints {
		if e.method == method {
			return e.serve
		}
	}
	return nil
}

// allow returns the value of the Allow header of the route.
func (rt *route) allow() string {
	var ms []string
	for _, e := range rt.endpoints {
		ms = append(ms, e.method)
		if e.method == http.MethodGet {
			ms = append(ms, http.MethodHead)
		}
	}
	return strings.Join(ms, ", ")
}

// hasID reports whether the route's path holds a key ID.
func (rt *route) hasID() bool { return strings.Contains(rt.pattern, "{id}") }

// validID reports whether id could be a key ID: 1 to maxIDLen letters,
// digits, '_' or '-'. Anything else (and any percent-encoding) is not
// found without a store lookup.
func validID(id string) bool {
	if id == "" || len(id) > maxIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// keyPath returns the path of the key with the ID.
func keyPath(id string) string { return Prefix + "/" + id }
