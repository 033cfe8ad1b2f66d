package server

import (
	"crypto/tls"
	"net"
	"net/http"
	"net/url"
	"strings"

	"gatehouse"
	"gatehouse/jsonerr"
)

// tlsConfig is the data plane's TLS: 1.2 and later, the certificate of
// the holder (read again when its files change), HTTP/2 and HTTP/1.1 by
// ALPN. HTTP/2 without TLS (h2c) stays refused: net/http serves it only
// when asked to.
func (s *Server) tlsConfig() *tls.Config {
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: s.certs.GetCertificate,
		NextProtos:     []string{"h2", "http/1.1"},
	}
}

// redirectToHTTPS answers every request with a permanent redirect (308,
// which keeps the method and body) to the same host, path and query in
// HTTPS on port (left out when it is 443).
func redirectToHTTPS(port string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
		if host == "" || strings.ContainsAny(host, "/\\@?#%") {
			jsonerr.Write(w, http.StatusBadRequest, gatehouse.EInvalidRequest, "The Host header names no host to redirect to.")
			return
		}
		if port != "443" {
			host = net.JoinHostPort(host, port)
		} else if strings.Contains(host, ":") {
			host = "[" + host + "]"
		}
		u := url.URL{Scheme: "https", Host: host, Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: r.URL.RawQuery}
		w.Header().Set("Location", u.String())
		w.Header().Set("Connection", "close")
		w.WriteHeader(http.StatusPermanentRedirect)
	})
}
