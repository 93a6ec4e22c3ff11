package oauth

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/cedrina/cedrina/internal/errs"
)

// Key is a 256-bit key that seals provider tokens at rest, and the id
// stored beside each sealed token so that the key can be rotated.
type Key struct {
	// ID names the key in every value it seals: 1 to 32 of A-Z, a-z, 0-9,
	// '_' and '-'.
	ID string
	// Secret is 32 random bytes. Keep it out of the database.
	Secret []byte
}

// ErrTokenUnreadable is returned by [Cipher.Open] for a sealed value it
// cannot open: sealed under a key it does not hold, for another user or
// provider, tampered with, or not a sealed value at all.
var ErrTokenUnreadable = errors.New("oauth: sealed token unreadable")

// Cipher seals provider tokens (access and refresh tokens) for storage
// with AES-256-GCM: a fresh random 96-bit nonce per value, and the user id
// and the provider as additional data, so that a sealed value copied to
// another user's row, or another provider's, does not open. A sealed
// value reads "v1:<key id>:<base64url(nonce || ciphertext || tag)>".
//
// A Cipher holds the current key, which seals, and earlier keys, which
// still open what they sealed: to rotate, make the new key current and
// keep the old ones until no stored value names them ([KeyID] tells;
// tokens are sealed afresh, under the current key, at every sign-in).
type Cipher struct {
	current string
	aeads   map[string]cipher.AEAD
}

// NewCipher returns a Cipher that seals with current and opens values
// sealed with current or any of previous.
func NewCipher(current Key, previous ...Key) (*Cipher, error) {
	c := &Cipher{current: current.ID, aeads: map[string]cipher.AEAD{}}
	for i, k := range append([]Key{current}, previous...) {
		field := "Key"
		if i > 0 {
			field = fmt.Sprintf("previous[%d]", i-1)
		}
		if !validKeyID(k.ID) {
			return nil, errs.Configf("oauth", field+".ID", "must be 1 to 32 of A-Z, a-z, 0-9, '_' and '-'")
		}
		if len(k.Secret) != 32 {
			return nil, errs.Configf("oauth", field+".Secret", "%d bytes; want 32", len(k.Secret))
		}
		if _, dup := c.aeads[k.ID]; dup {
			return nil, errs.Configf("oauth", field+".ID", "%q is used twice", k.ID)
		}
		block, err := aes.NewCipher(k.Secret)
		if err != nil {
			return nil, errs.ConfigErr("oauth", field+".Secret", err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, errs.ConfigErr("oauth", field+".Secret", err)
		}
		c.aeads[k.ID] = aead
	}
	return c, nil
}

// ParseKeys reads keys written as "id:base64" (standard or URL-safe
// base64 of 32 bytes, padded or not), separated by commas, the current
// key first, as an environment variable holds them, and returns their
// Cipher. The error never quotes a secret.
func ParseKeys(s string) (*Cipher, error) {
	var keys []Key
	for i, part := range strings.Split(strings.TrimSpace(s), ",") {
		id, b64, ok := strings.Cut(strings.TrimSpace(part), ":")
		if !ok {
			return nil, fmt.Errorf("oauth: key %d: want id:base64", i+1)
		}
		secret, err := DecodeKey(b64)
		if err != nil {
			return nil, fmt.Errorf("oauth: key %d (%q): secret is not base64 of 32 bytes", i+1, sanitizeID(id))
		}
		keys = append(keys, Key{ID: id, Secret: secret})
	}
	return NewCipher(keys[0], keys[1:]...)
}

// DecodeKey decodes a 32-byte key written in base64, standard or
// URL-safe, padded or not: a [Key.Secret], or a Config.StateKey kept in an
// environment variable. The error never quotes s.
func DecodeKey(s string) ([]byte, error) {
	s = strings.TrimRight(s, "=")
	b, err := base64.RawStdEncoding.DecodeString(s)
	if err != nil {
		b, err = base64.RawURLEncoding.DecodeString(s)
	}
	switch {
	case err != nil:
		return nil, errors.New("oauth: key is not base64")
	case len(b) != 32:
		return nil, fmt.Errorf("oauth: key is %d bytes; want 32", len(b))
	}
	return b, nil
}

// sanitizeID shows a key id in an error only when it is a valid one.
func sanitizeID(id string) string {
	if validKeyID(id) {
		return id
	}
	return "invalid id"
}

func validKeyID(id string) bool {
	if id == "" || len(id) > 32 {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

const sealPrefix = "v1:"

// additionalData binds a sealed value to its row: the user and the
// provider.
func additionalData(userID int64, provider string) []byte {
	return []byte("cedrina oauth token v1\x00" + strconv.FormatInt(userID, 10) + "\x00" + provider)
}

// Seal returns token sealed for the user and the provider (its stored,
// upper-case name), or "" for an empty token.
func (c *Cipher) Seal(token string, userID int64, provider string) string {
	if token == "" {
		return ""
	}
	aead := c.aeads[c.current]
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(token)+aead.Overhead())
	rand.Read(nonce) // never fails (crypto/rand)
	sealed := aead.Seal(nonce, nonce, []byte(token), additionalData(userID, provider))
	return sealPrefix + c.current + ":" + base64.RawURLEncoding.EncodeToString(sealed)
}

// Open returns the token sealed in s for the user and the provider, or ""
// for an empty s. Errors: ErrTokenUnreadable.
func (c *Cipher) Open(s string, userID int64, provider string) (string, error) {
	if s == "" {
		return "", nil
	}
	id, body, ok := splitSealed(s)
	if !ok {
		return "", fmt.Errorf("%w: not a sealed value", ErrTokenUnreadable)
	}
	aead, ok := c.aeads[id]
	if !ok {
		return "", fmt.Errorf("%w: sealed under key %q, which this cipher does not hold", ErrTokenUnreadable, id)
	}
	raw, err := base64.RawURLEncoding.DecodeString(body)
	if err != nil || len(raw) < aead.NonceSize()+aead.Overhead() {
		return "", fmt.Errorf("%w: malformed", ErrTokenUnreadable)
	}
	plain, err := aead.Open(nil, raw[:aead.NonceSize()], raw[aead.NonceSize():], additionalData(userID, provider))
	if err != nil {
		return "", fmt.Errorf("%w: wrong key, row or provider, or tampered with", ErrTokenUnreadable)
	}
	return string(plain), nil
}

// KeyID returns the id of the key that sealed s, and whether s is a
// sealed value at all.
func KeyID(s string) (string, bool) {
	id, _, ok := splitSealed(s)
	return id, ok
}

// Current returns the id of the key that seals.
func (c *Cipher) Current() string { return c.current }

func splitSealed(s string) (id, body string, ok bool) {
	rest, ok := strings.CutPrefix(s, sealPrefix)
	if !ok {
		return "", "", false
	}
	id, body, ok = strings.Cut(rest, ":")
	if !ok || !validKeyID(id) {
		return "", "", false
	}
	return id, body, true
}
