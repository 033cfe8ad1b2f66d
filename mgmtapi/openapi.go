package mgmtapi

import (
	_ "embed"
	"net/http"
	"strconv"

	"gatehouse"
	"gatehouse/jsonerr"
)

// openAPI is the OpenAPI 3.1 description of the management API, written
// by hand. openapi_test.go keeps it true to the routes and the answers;
// the tests of mgmtapi/apiclient, a client generated from it, drive a
// real gateway and validate every exchange against it. After a change,
// regenerate that client: go generate ./mgmtapi/apiclient.
//
//go:embed openapi.json
var openAPI []byte

// OpenAPIHandler returns the handler of /openapi.json: the OpenAPI 3.1
// description of the management API. It asks for no credentials, answers
// GET and HEAD, and 405 to other methods. It may be called on a nil
// *Handler.
func (h *Handler) OpenAPIHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hdr := w.Header()
		hdr.Set("Cache-Control", "no-store")
		hdr.Set("X-Content-Type-Options", "nosniff")
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			hdr.Set("Allow", "GET, HEAD")
			gatehouse.RequestInfoFromContext(r.Context()).Outcome = gatehouse.EMethodNotAllowed
			jsonerr.Write(w, statusOf(gatehouse.EMethodNotAllowed), gatehouse.EMethodNotAllowed, r.Method+" is not allowed here; allowed: GET, HEAD.")
			return
		}
		hdr.Set("Content-Type", "application/json; charset=utf-8")
		hdr.Set("Content-Length", strconv.Itoa(len(openAPI)))
		w.WriteHeader(http.StatusOK)
		if r.Method == http.MethodGet {
			w.Write(openAPI)
		}
	})
}
