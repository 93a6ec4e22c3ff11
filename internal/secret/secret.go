// Package secret makes and reads the SDK's bearer secrets: 32 bytes from
// crypto/rand, written as unpadded base64url (43 characters), of which
// only the hex SHA-256 is stored.
package secret

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
)

// Size is the number of random bytes in a secret; Len is the length of its
// text.
const (
	Size = 32
	Len  = 43
)

var enc = base64.RawURLEncoding.Strict()

// New returns a fresh secret and its hash.
func New() (token, hash string) {
	b := make([]byte, Size)
	rand.Read(b) // never fails (crypto/rand)
	token = enc.EncodeToString(b)
	return token, Hash(token)
}

// Hash returns the hex SHA-256 of token, the form that is stored.
func Hash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// Parse checks that token is a secret as New writes it (exactly 43
// base64url characters, no padding, canonical) and returns its hash.
func Parse(token string) (hash string, ok bool) {
	if len(token) != Len {
		return "", false
	}
	var b [Size + 2]byte
	n, err := enc.Decode(b[:], []byte(token))
	if err != nil || n != Size {
		return "", false
	}
	return Hash(token), true
}
