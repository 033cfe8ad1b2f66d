// Package password hashes administrators' passwords with argon2id and
// checks them in constant time.
package password

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"

	"golang.org/x/crypto/argon2"
)

// Parameters of new hashes: RFC 9106's second recommended option (64 MiB,
// 3 passes), with 4 lanes.
const (
	memoryKiB = 64 * 1024
	passes    = 3
	lanes     = 4
	saltLen   = 16
	keyLen    = 32
)

// MaxLen is the longest password accepted, so that hashing is bounded.
const MaxLen = 1024

// ErrTooLong is returned for a password over MaxLen bytes.
var ErrTooLong = errors.New("password: longer than 1024 bytes")

// Hash returns the PHC string of an argon2id hash of pw:
// $argon2id$v=19$m=65536,t=3,p=4$<salt>$<hash>.
func Hash(pw string) (string, error) {
	if len(pw) > MaxLen {
		return "", ErrTooLong
	}
	salt := make([]byte, saltLen)
	rand.Read(salt)
	sum := argon2.IDKey([]byte(pw), salt, passes, memoryKiB, lanes, keyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, memoryKiB, passes, lanes, b64.EncodeToString(salt), b64.EncodeToString(sum)), nil
}

// Check reports whether pw matches the PHC string hash. A malformed hash
// never matches.
func Check(hash, pw string) bool {
	if len(pw) > MaxLen {
		return false
	}
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" || parts[2] != fmt.Sprintf("v=%d", argon2.Version) {
		return false
	}
	var m uint32
	var t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil || m == 0 || m > 1<<20 || t == 0 || t > 10 || p == 0 {
		return false
	}
	b64 := base64.RawStdEncoding
	salt, err1 := b64.DecodeString(parts[4])
	want, err2 := b64.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(want) == 0 || len(want) > 64 {
		return false
	}
	got := argon2.IDKey([]byte(pw), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}

// dummy is a valid hash of a random password, checked against when a user
// does not exist so that the answer takes as long as for a real user.
var dummy = sync.OnceValue(func() string {
	var b [16]byte
	rand.Read(b[:])
	h, _ := Hash(base64.RawStdEncoding.EncodeToString(b[:]))
	return h
})

// CheckMissing spends the time of one Check and returns false: call it
// when the user is unknown, so that timing does not tell which users exist.
func CheckMissing(pw string) bool {
	Check(dummy(), pw)
	return false
}
