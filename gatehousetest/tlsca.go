package gatehousetest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// CA is a certificate authority for tests: it issues server certificates
// for 127.0.0.1 and localhost, and clients that trust it.
type CA struct {
	// Pool holds the CA's certificate.
	Pool *x509.CertPool
	// File is the CA's certificate in PEM, in a temporary directory.
	File string

	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

// NewCA returns a new test CA.
func NewCA(tb testing.TB) *CA {
	tb.Helper()
	key := mustKey(tb)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "Gatehouse test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatal(err)
	}
	ca := &CA{Pool: x509.NewCertPool(), cert: cert, key: key}
	ca.Pool.AddCert(cert)
	ca.File = filepath.Join(tb.TempDir(), "ca.pem")
	mustWritePEM(tb, ca.File, "CERTIFICATE", der)
	return ca
}

// Issue returns a server certificate for 127.0.0.1, ::1 and localhost,
// with the serial number serial.
func (ca *CA) Issue(tb testing.TB, serial int64) tls.Certificate {
	tb.Helper()
	certPEM, keyPEM := ca.issuePEM(tb, serial)
	c, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// MustWritePair writes a server certificate with the serial number serial
// and its key (Issue) to certFile and keyFile, replacing what they held.
func (ca *CA) MustWritePair(tb testing.TB, certFile, keyFile string, serial int64) {
	tb.Helper()
	certPEM, keyPEM := ca.issuePEM(tb, serial)
	mustWrite(tb, keyFile, keyPEM)
	mustWrite(tb, certFile, certPEM)
}

func (ca *CA) issuePEM(tb testing.TB, serial int64) (certPEM, keyPEM []byte) {
	tb.Helper()
	key := mustKey(tb)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: "localhost"},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		tb.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		tb.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})
}

// TLSConfig returns a client config that trusts the CA and offers the
// protocols nextProtos by ALPN (none when empty).
func (ca *CA) TLSConfig(nextProtos ...string) *tls.Config {
	return &tls.Config{RootCAs: ca.Pool, NextProtos: nextProtos, MinVersion: tls.VersionTLS12}
}

// Client returns an HTTP client that trusts the CA and speaks HTTP/2 where
// the server offers it. It closes its idle connections when tb ends.
func (ca *CA) Client(tb testing.TB) *http.Client {
	t := &http.Transport{TLSClientConfig: ca.TLSConfig(), ForceAttemptHTTP2: true}
	tb.Cleanup(t.CloseIdleConnections)
	return &http.Client{Transport: t, Timeout: 30 * time.Second}
}

func mustKey(tb testing.TB) *ecdsa.PrivateKey {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	return key
}

func mustWritePEM(tb testing.TB, name, typ string, der []byte) {
	tb.Helper()
	mustWrite(tb, name, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
}

// mustWrite replaces the file name with data at once (a rename), so that
// no reader sees it half written.
func mustWrite(tb testing.TB, name string, data []byte) {
	tb.Helper()
	tmp := name + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		tb.Fatal(err)
	}
	if err := os.Rename(tmp, name); err != nil {
		tb.Fatal(err)
	}
}
