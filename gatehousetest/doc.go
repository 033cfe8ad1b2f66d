// Package gatehousetest holds the helpers that Gatehouse's tests share,
// as net/http/httptest does for HTTP: a clock that tests move by hand,
// temp-dir SQLite stores, throwaway PostgreSQL schemas, a recording
// upstream, a log buffer and a certificate authority (CA). Only tests import it.
//
// Helpers take a testing.TB, fail it on error (Must...) and undo what they
// make with tb.Cleanup. Of the module, the package imports only the root
// package and sqlite, so that the internal tests of every other package
// may use it.
package gatehousetest
