package httpsig

import (
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"fmt"
	"hash"
	"io"

	"github.com/dunglas/httpsfv"
)

// bodyDigest reads a request body once, bounded, and checks it against a
// Content-Digest field (RFC 9530).
type bodyDigest struct {
	r     io.Reader // nil: no body
	limit int64
	read  bool
	data  []byte
	err   error
	sums  map[string][]byte // by algorithm, computed when first asked
}

// digestAlgs are the RFC 9530 algorithms checked; others are ignored.
var digestAlgs = map[string]func() hash.Hash{
	"sha-256": sha256.New,
	"sha-512": sha512.New,
}

// check verifies the Content-Digest lines against the body: every
// supported digest given must match, and at least one must be given.
func (b *bodyDigest) check(lines []string) error {
	if len(lines) == 0 {
		return &Error{Part: "content-digest", Reason: "the request has no Content-Digest header"}
	}
	d, err := httpsfv.UnmarshalDictionary(lines)
	if err != nil {
		return &Error{Part: "content-digest", Reason: "not a structured dictionary (RFC 8941): " + err.Error()}
	}
	checked := 0
	for _, alg := range d.Names() {
		if _, ok := digestAlgs[alg]; !ok {
			continue
		}
		m, _ := d.Get(alg)
		item, ok := m.(httpsfv.Item)
		want, isBytes := item.Value.([]byte)
		if !ok || !isBytes {
			return &Error{Part: "content-digest", Reason: fmt.Sprintf("%s is not a byte sequence", alg)}
		}
		got, err := b.sum(alg)
		if err != nil {
			return err
		}
		if subtle.ConstantTimeCompare(got, want) != 1 {
			return &Error{Part: "content-digest", Reason: fmt.Sprintf("the %s digest does not match the body", alg)}
		}
		checked++
	}
	if checked == 0 {
		return &Error{Part: "content-digest", Reason: "it holds neither a sha-256 nor a sha-512 digest"}
	}
	return nil
}

// sum returns the body's digest by alg, reading the body first if no
// digest was asked for yet.
func (b *bodyDigest) sum(alg string) ([]byte, error) {
	if err := b.readAll(); err != nil {
		return nil, err
	}
	if s, ok := b.sums[alg]; ok {
		return s, nil
	}
	h := digestAlgs[alg]()
	h.Write(b.data)
	if b.sums == nil {
		b.sums = make(map[string][]byte, len(digestAlgs))
	}
	b.sums[alg] = h.Sum(nil)
	return b.sums[alg], nil
}

// readAll reads the body once, up to the limit, and keeps it to be
// hashed and forwarded. A body over the limit fails.
func (b *bodyDigest) readAll() error {
	if b.read {
		return b.err
	}
	b.read = true
	if b.r == nil {
		return nil
	}
	var buf bytes.Buffer
	n, err := buf.ReadFrom(io.LimitReader(b.r, b.limit+1))
	switch {
	case err != nil:
		b.err = &Error{Part: "content-digest", Reason: "the body could not be read: " + err.Error()}
	case n > b.limit:
		b.err = &Error{Part: "content-digest", Reason: fmt.Sprintf("the body is larger than the %d bytes whose digest the gateway checks", b.limit)}
	default:
		b.data = buf.Bytes()
	}
	return b.err
}
