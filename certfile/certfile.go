// Package certfile reads TLS material from files: a certificate and key
// pair that a Holder serves and re-reads when the files change, so that a
// renewed certificate written over them is used without a restart, and the
// CA bundle that an upstream's certificate is checked against.
package certfile

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// MaxFileBytes is the largest certificate, key or CA file read.
const MaxFileBytes = 1 << 20

// CheckInterval is how often, at most, a Holder looks at its files: a
// handshake that comes sooner after the last look serves the certificate
// it holds without a system call.
const CheckInterval = time.Second

// ReadPair reads a PEM certificate chain and its private key.
func ReadPair(certFile, keyFile string) (tls.Certificate, error) {
	certPEM, err := readFile(certFile)
	if err != nil {
		return tls.Certificate{}, err
	}
	keyPEM, err := readFile(keyFile)
	if err != nil {
		return tls.Certificate{}, err
	}
	c, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("%s and %s are no certificate and key pair: %w", certFile, keyFile, err)
	}
	return c, nil
}

// ReadPool reads a PEM bundle of CA certificates into a pool.
func ReadPool(caFile string) (*x509.CertPool, error) {
	pem, err := readFile(caFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s holds no PEM certificate", caFile)
	}
	return pool, nil
}

// readFile reads a file of at most MaxFileBytes.
func readFile(name string) ([]byte, error) {
	// Looked at before it is opened: opening a FIFO would wait for a
	// writer, and a device could be read for ever.
	if fi, err := os.Stat(name); err != nil {
		return nil, err
	} else if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", name)
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if len(b) > MaxFileBytes {
		return nil, fmt.Errorf("%s is larger than %d bytes", name, MaxFileBytes)
	}
	return b, nil
}

// Holder serves a certificate pair read from files (tls.Config's
// GetCertificate) and re-reads it when the files change: at most every
// CheckInterval, a handshake looks at the files' size and modification
// time (through symbolic links, so that a directory swapped by a link, as
// Kubernetes does with secrets, counts), and reads them again if either
// changed. A pair that cannot be read, or whose key does not match its
// certificate (one file written, not yet the other), leaves the
// certificate served as it was, and the Holder logs why; it tries again
// when the files change again.
type Holder struct {
	certFile, keyFile string
	log               *slog.Logger

	cert atomic.Pointer[tls.Certificate]
	// next is when the files are looked at next, in Unix nanoseconds.
	next atomic.Int64

	mu    sync.Mutex // held while the files are looked at and read
	stamp stamp      // of the files when they were last read, or tried
}

// stamp is what tells that a file changed.
type stamp struct {
	certSize, keySize int64
	certTime, keyTime int64 // modification times in Unix nanoseconds
}

// Load reads the pair and returns a Holder that serves it. log receives
// the reloads and why one failed; nil discards them.
func Load(certFile, keyFile string, log *slog.Logger) (*Holder, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h := &Holder{certFile: certFile, keyFile: keyFile, log: log}
	st, err := h.stat()
	if err != nil {
		return nil, err
	}
	c, err := ReadPair(certFile, keyFile)
	if err != nil {
		return nil, err
	}
	h.stamp = st
	h.cert.Store(&c)
	h.next.Store(time.Now().Add(CheckInterval).UnixNano())
	return h, nil
}

// GetCertificate returns the certificate to serve, after reading the
// files again if they changed.
func (h *Holder) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	if now := time.Now(); now.UnixNano() >= h.next.Load() {
		h.check(now)
	}
	return h.cert.Load(), nil
}

// check reads the files again if they changed since they were last read.
func (h *Holder) check(now time.Time) {
	if !h.mu.TryLock() {
		return // another handshake is looking; this one serves what is held
	}
	defer h.mu.Unlock()
	h.next.Store(now.Add(CheckInterval).UnixNano())
	st, err := h.stat()
	if err != nil {
		if st != h.stamp {
			h.log.Warn("TLS certificate files cannot be read; still serving the certificate read before", "err", err)
			h.stamp = st
		}
		return
	}
	if st == h.stamp {
		return
	}
	h.stamp = st
	c, err := ReadPair(h.certFile, h.keyFile)
	if err != nil {
		h.log.Warn("TLS certificate files changed but cannot be used; still serving the certificate read before (written halfway? they are read again when they change)", "err", err)
		return
	}
	h.cert.Store(&c)
	h.log.Info("TLS certificate reloaded", certAttrs(&c)...)
}

// stat returns the stamp of the files; on error, the zero stamp.
func (h *Holder) stat() (stamp, error) {
	cf, err1 := os.Stat(h.certFile)
	kf, err2 := os.Stat(h.keyFile)
	if err := errors.Join(err1, err2); err != nil {
		return stamp{}, err
	}
	return stamp{certSize: cf.Size(), keySize: kf.Size(), certTime: cf.ModTime().UnixNano(), keyTime: kf.ModTime().UnixNano()}, nil
}

// certAttrs describes a certificate for the log: its names and validity.
func certAttrs(c *tls.Certificate) []any {
	if c.Leaf == nil {
		return nil
	}
	names := c.Leaf.DNSNames
	if len(names) == 0 {
		names = []string{c.Leaf.Subject.CommonName}
	}
	return []any{"names", strings.Join(names, ","), "not_after", c.Leaf.NotAfter.UTC().Format(time.RFC3339), "serial", c.Leaf.SerialNumber.String()}
}

// Attrs describes the certificate served, for a log line.
func (h *Holder) Attrs() []any { return certAttrs(h.cert.Load()) }
