// Package legacy reads the values the original system stored encrypted:
// password hashes wrapped as "enc_v1:" and provider access tokens, both
// Fernet tokens under the key of its PGCRYPTO_KEY setting.
//
// The Fernet format (version byte 0x80, timestamp, AES-128-CBC with an IV,
// HMAC-SHA256 over it all, URL-safe base64) is decoded and verified by
// github.com/fernet/fernet-go; this package only peels the original's
// wrapping and names what went wrong. Nothing here encrypts: the SDK
// stores neither format. Passwords move to the SDK's hashes at their
// users' next sign-in (user.LegacyConfig.Keys), and provider tokens to
// oauth's sealed format when the database is adopted (oauth.LegacyTokens).
//
//	keys, err := legacy.ParseKeys(os.Getenv("CEDRINA_LEGACY_KEY")) // as the original configured it
//	hash, err := keys.OpenHash(stored)                             // "enc_v1:..." -> "$2b$12$..."
//
// A Fernet token carries its creation time; the original never expired
// its values, so neither does this package.
//
// Keys never reach an error, a log line or fmt's output: [Keys] prints as
// the number of keys it holds, and errors name only what failed.
package legacy

import (
	"crypto/aes"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/fernet/fernet-go"
)

// HashPrefix starts a password hash the original system encrypted: the
// rest is the standard base64 of a Fernet token whose plaintext is the
// bcrypt hash.
const HashPrefix = "enc_v1:"

var (
	// ErrMalformed: the value is not in the format it claims (bad base64,
	// not a Fernet token, a plaintext that is no bcrypt hash).
	ErrMalformed = errors.New("legacy: malformed value")
	// ErrWrongKey: the value is a well-formed Fernet token that no
	// configured key opens. Either the key is not the one the original
	// system used, or the value was altered; Fernet cannot tell which.
	ErrWrongKey = errors.New("legacy: no configured key opens the value (wrong key, or the value was altered)")
)

// Keys holds the original system's Fernet keys: one, or several while
// that system was rotating them (the first is tried first). The zero
// value holds none and opens nothing; a nil *Keys is valid and opens
// nothing either.
type Keys struct {
	keys []*fernet.Key
}

// ParseKeys reads keys as the original configured them: URL-safe base64
// of 32 bytes (what Python's Fernet.generate_key gives), standard base64
// or 64 hex digits, several separated by commas or white space. Errors
// give the position of a bad key, never its text.
func ParseKeys(s string) (*Keys, error) {
	fields := strings.FieldsFunc(s, func(r rune) bool {
		return r == ',' || r == ' ' || r == '\t' || r == '\n' || r == '\r'
	})
	if len(fields) == 0 {
		return nil, errors.New("legacy: no key given")
	}
	k := &Keys{keys: make([]*fernet.Key, 0, len(fields))}
	for i, f := range fields {
		key, err := fernet.DecodeKey(f)
		if err != nil {
			// fernet's errors hold no key material, but are not worth
			// quoting either: say what a key must look like.
			return nil, fmt.Errorf("legacy: key %d of %d: not base64 or hex of 32 bytes", i+1, len(fields))
		}
		k.keys = append(k.keys, key)
	}
	return k, nil
}

// Len returns how many keys k holds.
func (k *Keys) Len() int {
	if k == nil {
		return 0
	}
	return len(k.keys)
}

// String describes k without its keys: "legacy.Keys(1 key)".
func (k *Keys) String() string {
	if k.Len() == 1 {
		return "legacy.Keys(1 key)"
	}
	return fmt.Sprintf("legacy.Keys(%d keys)", k.Len())
}

// GoString is String, so that %#v shows no key either.
func (k *Keys) GoString() string { return k.String() }

// Format prints String for every verb.
func (k *Keys) Format(f fmt.State, _ rune) { fmt.Fprint(f, k.String()) }

// LogValue makes log/slog print String.
func (k *Keys) LogValue() slog.Value { return slog.StringValue(k.String()) }

// IsEncryptedHash reports whether stored is a password hash the original
// system encrypted (it starts with [HashPrefix]).
func IsEncryptedHash(stored string) bool { return strings.HasPrefix(stored, HashPrefix) }

// maxValue bounds what is decoded: the longest column that holds these
// values is TEXT, but no bcrypt hash or provider token comes near this.
const maxValue = 64 << 10

// OpenHash returns the bcrypt hash inside stored, an "enc_v1:" value.
// Both base64 layers must be exactly as the original wrote them (no line
// breaks, no stray padding bits), so that no altered value opens.
// Errors: ErrMalformed (not an "enc_v1:" value, bad base64, no Fernet
// token, a plaintext that is no bcrypt hash), ErrWrongKey.
func (k *Keys) OpenHash(stored string) (string, error) {
	rest, ok := strings.CutPrefix(stored, HashPrefix)
	if !ok {
		return "", fmt.Errorf("%w: no %q prefix", ErrMalformed, HashPrefix)
	}
	if len(rest) > maxValue {
		return "", fmt.Errorf("%w: %d bytes", ErrMalformed, len(rest))
	}
	tok, err := decodeStrict(base64.StdEncoding, rest)
	if err != nil {
		return "", fmt.Errorf("%w: the text after %q is not standard base64", ErrMalformed, HashPrefix)
	}
	plain, err := k.open(string(tok))
	if err != nil {
		return "", err
	}
	if !isBcrypt(plain) {
		return "", fmt.Errorf("%w: the decrypted value is not a bcrypt hash", ErrMalformed)
	}
	return plain, nil
}

// OpenToken returns the plaintext of stored, a Fernet token as the
// original stored provider access tokens (the token's text itself).
// Errors: ErrMalformed, ErrWrongKey.
func (k *Keys) OpenToken(stored string) (string, error) {
	if len(stored) > maxValue {
		return "", fmt.Errorf("%w: %d bytes", ErrMalformed, len(stored))
	}
	return k.open(stored)
}

// IsToken reports whether s has the shape of a Fernet token: URL-safe
// base64 (canonical, as Fernet writes it) of a version 0x80 token with a
// whole number of AES blocks. It checks no key.
func IsToken(s string) bool {
	_, ok := decodeToken(s)
	return ok
}

// Fernet token layout: version (1), timestamp (8), IV (16), ciphertext
// (n*16, n >= 1), HMAC-SHA256 (32).
const overhead = 1 + 8 + aes.BlockSize + sha256.Size

func decodeToken(s string) ([]byte, bool) {
	if len(s) > maxValue {
		return nil, false
	}
	b, err := decodeStrict(base64.URLEncoding, s)
	if err != nil {
		return nil, false
	}
	if len(b) < overhead+aes.BlockSize || b[0] != 0x80 || (len(b)-overhead)%aes.BlockSize != 0 {
		return nil, false
	}
	return b, true
}

// decodeStrict decodes s only if it is the one encoding of its bytes, as
// Python's base64 module writes it: no line breaks (Go's decoders skip
// them) and zero padding bits (Strict). So any change to a stored value
// changes the bytes decoded, and no altered value opens.
func decodeStrict(enc *base64.Encoding, s string) ([]byte, error) {
	if strings.ContainsAny(s, "\r\n") {
		return nil, errors.New("line break")
	}
	return enc.Strict().DecodeString(s)
}

// open checks the token's shape (so that a malformed value is not
// reported as a wrong key) and lets fernet verify and decrypt it.
func (k *Keys) open(tok string) (string, error) {
	if _, ok := decodeToken(tok); !ok {
		return "", fmt.Errorf("%w: not a Fernet token", ErrMalformed)
	}
	if k.Len() == 0 {
		return "", ErrWrongKey
	}
	// ttl 0: the original never expired these values.
	msg := fernet.VerifyAndDecrypt([]byte(tok), 0, k.keys)
	if msg == nil {
		return "", ErrWrongKey
	}
	return string(msg), nil
}

// isBcrypt reports whether s has the shape of a modular-crypt bcrypt
// hash: $2a$, $2b$ or $2y$, two cost digits, 53 characters of bcrypt's
// base64 (60 bytes in all).
func isBcrypt(s string) bool {
	if len(s) != 60 || s[0] != '$' || s[1] != '2' || s[3] != '$' || s[6] != '$' {
		return false
	}
	switch s[2] {
	case 'a', 'b', 'y':
	default:
		return false
	}
	if s[4] < '0' || s[4] > '9' || s[5] < '0' || s[5] > '9' {
		return false
	}
	for i := 7; i < len(s); i++ {
		c := s[i]
		if !(c == '.' || c == '/' || c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z') {
			return false
		}
	}
	return true
}
