package keyindex_test

import (
	"sync"
	"testing"

	"gatehouse"
	"gatehouse/keyindex"
)

const benchKeys = 100_000

var bench struct {
	once    sync.Once
	index   *keyindex.Index
	secrets []string // plain keys, for the verify path
}

// benchIndex returns an index of 100,000 keys, built once.
func benchIndex(b *testing.B) (*keyindex.Index, []string) {
	b.Helper()
	bench.once.Do(func() {
		keys := make([]*gatehouse.APIKey, benchKeys)
		bench.secrets = make([]string, benchKeys)
		for i := range keys {
			k, secret := newKey("bench", nil)
			keys[i] = k
			bench.secrets[i] = secret.Reveal()
		}
		bench.index = keyindex.New(nil, keyindex.Options{})
		bench.index.Replace(keys)
	})
	if bench.index.Len() != benchKeys {
		b.Fatalf("Len() = %d, want %d", bench.index.Len(), benchKeys)
	}
	return bench.index, bench.secrets
}

func BenchmarkLookupHit(b *testing.B) {
	x, secrets := benchIndex(b)
	digests := make([]gatehouse.Digest, 1024)
	for i := range digests {
		digests[i] = gatehouse.DigestOf(secrets[i*97%len(secrets)])
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if _, ok := x.Lookup(digests[i%len(digests)]); !ok {
			b.Fatal("Lookup: not found")
		}
	}
}

func BenchmarkLookupMiss(b *testing.B) {
	x, _ := benchIndex(b)
	digests := make([]gatehouse.Digest, 1024)
	for i := range digests {
		digests[i] = gatehouse.NewSecret().Digest()
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if _, ok := x.Lookup(digests[i%len(digests)]); ok {
			b.Fatal("Lookup: found an unknown key")
		}
	}
}

// BenchmarkLookupHitParallel measures lookups from every core at once.
func BenchmarkLookupHitParallel(b *testing.B) {
	x, secrets := benchIndex(b)
	digests := make([]gatehouse.Digest, 1024)
	for i := range digests {
		digests[i] = gatehouse.DigestOf(secrets[i*97%len(secrets)])
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for i := 0; pb.Next(); i++ {
			if _, ok := x.Lookup(digests[i%len(digests)]); !ok {
				b.Fatal("Lookup: not found")
			}
		}
	})
}

// BenchmarkVerify is the whole verification of a presented key: shape and
// checksum, digest, lookup.
func BenchmarkVerify(b *testing.B) {
	x, secrets := benchIndex(b)
	b.Run("Hit", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			s, ok := gatehouse.ParseSecret(secrets[i%len(secrets)])
			if !ok {
				b.Fatal("ParseSecret: not well-formed")
			}
			if _, ok := x.Lookup(s.Digest()); !ok {
				b.Fatal("Lookup: not found")
			}
		}
	})
	b.Run("Miss", func(b *testing.B) {
		unknown := make([]string, 1024)
		for i := range unknown {
			unknown[i] = gatehouse.NewSecret().Reveal()
		}
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			s, ok := gatehouse.ParseSecret(unknown[i%len(unknown)])
			if !ok {
				b.Fatal("ParseSecret: not well-formed")
			}
			if _, ok := x.Lookup(s.Digest()); ok {
				b.Fatal("Lookup: found an unknown key")
			}
		}
	})
	b.Run("BadChecksum", func(b *testing.B) {
		bad := []byte(secrets[0])
		bad[len(bad)-1] ^= 1
		presented := string(bad)
		b.ReportAllocs()
		for b.Loop() {
			if _, ok := gatehouse.ParseSecret(presented); ok {
				b.Fatal("ParseSecret accepted a bad checksum")
			}
		}
	})
}
