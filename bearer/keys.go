package bearer

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/MicahParks/jwkset"
)

// The JWKS's refresh policy (contract §9).
const (
	// RefreshInterval is how old the keys may get before they are fetched
	// again, in the background.
	RefreshInterval = time.Hour
	// UnknownKIDInterval is how often a token with an unknown kid may
	// cause a fetch.
	UnknownKIDInterval = time.Minute
	// DefaultFetchTimeout bounds a fetch when Config.FetchTimeout is zero.
	DefaultFetchTimeout = 5 * time.Second
	// DefaultMaxJWKSBytes bounds the JWKS when Config.MaxJWKSBytes is zero.
	DefaultMaxJWKSBytes = 1 << 20
)

// key is one usable key of the JWKS.
type key struct {
	public crypto.PublicKey // *rsa.PublicKey, *ecdsa.PublicKey or ed25519.PublicKey
	alg    string           // the JWK's alg; "" when it has none
}

// keySet is one loaded JWKS; it is never changed once loaded.
type keySet struct {
	keys   []key
	byKID  map[string]key
	loaded time.Time // zero: never loaded
}

// keySource holds the current key set and loads it again: every
// RefreshInterval in the background while tokens come, and at most every
// UnknownKIDInterval for a token whose kid it does not know. A failed
// load keeps the keys it had.
type keySource struct {
	cfg        Config
	set        atomic.Pointer[keySet]
	mu         sync.Mutex // held by a load; guards lastTry
	lastTry    time.Time
	refreshing atomic.Bool
}

func newKeySource(cfg Config) *keySource {
	s := &keySource{cfg: cfg}
	s.set.Store(&keySet{})
	return s
}

// current returns the keys, and starts a background load when they are
// older than RefreshInterval (and no load was tried within
// UnknownKIDInterval: an identity provider that is down is asked once a
// minute).
func (s *keySource) current(ctx context.Context, now time.Time) *keySet {
	set := s.set.Load()
	if now.Sub(set.loaded) >= RefreshInterval && s.refreshing.CompareAndSwap(false, true) {
		go func() {
			defer s.refreshing.Store(false)
			s.mu.Lock()
			defer s.mu.Unlock()
			if s.set.Load() != set || now.Sub(s.lastTry) < UnknownKIDInterval {
				return // another load came first, or failed a moment ago
			}
			s.lastTry = now
			if err := s.loadLocked(context.WithoutCancel(ctx), now); err != nil {
				s.cfg.Logger.Warn("bearer: the JWKS could not be refreshed; the cached keys stay", "error", err)
			}
		}()
	}
	return set
}

// unknownKID loads the keys again, unless a load was tried within
// UnknownKIDInterval, and returns the keys then current. Concurrent
// callers share one load.
func (s *keySource) unknownKID(ctx context.Context, now time.Time) *keySet {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.lastTry.IsZero() && now.Sub(s.lastTry) < UnknownKIDInterval {
		return s.set.Load()
	}
	s.lastTry = now
	if err := s.loadLocked(context.WithoutCancel(ctx), now); err != nil {
		s.cfg.Logger.Warn("bearer: the JWKS could not be fetched for an unknown kid; the cached keys stay", "error", err)
	}
	return s.set.Load()
}

// load loads the keys now.
func (s *keySource) load(ctx context.Context, now time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lastTry = now
	return s.loadLocked(ctx, now)
}

func (s *keySource) loadLocked(ctx context.Context, now time.Time) error {
	raw, err := s.read(ctx)
	if err != nil {
		return err
	}
	set, err := parseJWKS(raw)
	if err != nil {
		return err
	}
	set.loaded = now
	s.set.Store(set)
	return nil
}

// read returns the JWKS document, bounded in size and time.
func (s *keySource) read(ctx context.Context) ([]byte, error) {
	limit := s.cfg.MaxJWKSBytes
	if limit == 0 {
		limit = DefaultMaxJWKSBytes
	}
	var r io.Reader
	if s.cfg.JWKSFile != "" {
		f, err := os.Open(s.cfg.JWKSFile)
		if err != nil {
			return nil, fmt.Errorf("read bearer jwks_file: %w", err)
		}
		defer f.Close()
		r = f
	} else {
		timeout := s.cfg.FetchTimeout
		if timeout == 0 {
			timeout = DefaultFetchTimeout
		}
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.cfg.JWKSURL, nil)
		if err != nil {
			return nil, fmt.Errorf("fetch bearer jwks_url: %w", err)
		}
		req.Header.Set("Accept", "application/jwk-set+json, application/json")
		client := s.cfg.Client
		if client == nil {
			client = http.DefaultClient
		}
		resp, err := client.Do(req)
		if err != nil {
			return nil, fmt.Errorf("fetch bearer jwks_url: %w", err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("fetch bearer jwks_url %s: status %d, want 200", s.cfg.JWKSURL, resp.StatusCode)
		}
		r = resp.Body
	}
	raw, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read the bearer JWKS: %w", err)
	}
	if int64(len(raw)) > limit {
		return nil, fmt.Errorf("the bearer JWKS is larger than %d bytes", limit)
	}
	return raw, nil
}

// parseJWKS reads the signing keys of a JWKS: RSA, EC and Ed25519 public
// keys (of a private JWK, its public part). Other keys, and keys whose
// use is not "sig", are skipped; a JWKS without a usable key fails.
func parseJWKS(raw []byte) (*keySet, error) {
	var doc jwkset.JWKSMarshal
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("the bearer JWKS is not a JSON JWK Set: %w", err)
	}
	set := &keySet{byKID: make(map[string]key, len(doc.Keys))}
	var skipped []error
	for _, m := range doc.Keys {
		if m.USE != "" && m.USE != jwkset.UseSig {
			continue
		}
		j, err := jwkset.NewJWKFromMarshal(m, jwkset.JWKMarshalOptions{}, jwkset.JWKValidateOptions{})
		if err != nil {
			skipped = append(skipped, fmt.Errorf("key %q: %w", m.KID, err))
			continue
		}
		k := key{alg: string(m.ALG)}
		switch pub := j.Key().(type) {
		case *rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey:
			k.public = pub
		case *rsa.PrivateKey:
			k.public = pub.Public()
		case *ecdsa.PrivateKey:
			k.public = pub.Public()
		case ed25519.PrivateKey:
			k.public = pub.Public()
		default:
			continue // symmetric keys are never used
		}
		set.keys = append(set.keys, k)
		if m.KID != "" {
			set.byKID[m.KID] = k
		}
	}
	if len(set.keys) == 0 {
		return nil, fmt.Errorf("the bearer JWKS has no RSA, EC or Ed25519 signing key: %w", errors.Join(skipped...))
	}
	return set, nil
}
