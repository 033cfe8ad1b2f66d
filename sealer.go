package gatehouse

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
)

// MasterKeyLen is the length of the master key that seals API keys.
const MasterKeyLen = 32

// Sealer seals plain API keys with AES-256-GCM under the master key, so
// that "Copy key" can show a key again while the database alone reveals
// nothing. The key's ID is bound as additional data: a ciphertext moved to
// another row does not open.
type Sealer struct {
	aead cipher.AEAD
}

// NewSealer returns a Sealer for a 32-byte master key.
func NewSealer(masterKey []byte) (*Sealer, error) {
	if len(masterKey) != MasterKeyLen {
		return nil, fmt.Errorf("master key is %d bytes, want %d", len(masterKey), MasterKeyLen)
	}
	block, err := aes.NewCipher(masterKey)
	if err != nil {
		return nil, fmt.Errorf("new cipher: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("new gcm: %w", err)
	}
	return &Sealer{aead: aead}, nil
}

// Seal returns nonce||ciphertext of the key, bound to keyID.
func (s *Sealer) Seal(keyID string, k Secret) []byte {
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(k.s)+s.aead.Overhead())
	rand.Read(nonce)
	return s.aead.Seal(nonce, nonce, []byte(k.s), []byte(keyID))
}

// ErrUnseal is returned when a sealed key does not open: the master key is
// not the one it was sealed with, or the data was altered.
var ErrUnseal = errors.New("gatehouse: sealed key does not open with this master key")

// Open returns the plain key sealed for keyID.
func (s *Sealer) Open(keyID string, sealed []byte) (Secret, error) {
	n := s.aead.NonceSize()
	if len(sealed) < n+s.aead.Overhead() {
		return Secret{}, ErrUnseal
	}
	plain, err := s.aead.Open(nil, sealed[:n], sealed[n:], []byte(keyID))
	if err != nil {
		return Secret{}, ErrUnseal
	}
	k, ok := ParseSecret(string(plain))
	if !ok {
		return Secret{}, ErrUnseal
	}
	return k, nil
}
