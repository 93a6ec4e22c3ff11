package user

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Argon2id hashes are stored as PHC strings
// (https://github.com/P-H-C/phc-string-format), the form the reference
// implementation, libsodium and most libraries write:
//
//	$argon2id$v=19$m=19456,t=2,p=1$<salt>$<key>
//
// where salt and key are standard base64 without padding. The parser
// accepts exactly this form: version 19, the parameters m, t and p in that
// order as decimal numbers without sign or leading zeros, no optional
// parameters (keyid, data), canonical base64 without line breaks.

// b64 is the PHC base64 encoding: standard alphabet, no padding; Strict
// refuses non-zero trailing bits, so each value has one encoding.
var b64 = base64.RawStdEncoding.Strict()

// argon2idHash is a parsed argon2id PHC string.
type argon2idHash struct {
	memory  uint32
	time    uint32
	threads uint8
	salt    []byte
	key     []byte
}

// hashArgon2id derives a key from password with a fresh salt and returns
// the PHC string.
func hashArgon2id(password string, p Argon2idParams) string {
	salt := make([]byte, p.SaltLength)
	rand.Read(salt) // never returns an error; crashes the program if the OS fails
	h := argon2idHash{
		memory:  p.Memory,
		time:    p.Time,
		threads: p.Threads,
		salt:    salt,
		key:     argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, p.KeyLength),
	}
	return h.String()
}

// String returns the PHC string of h.
func (h argon2idHash) String() string {
	var b strings.Builder
	b.Grow(48 + b64.EncodedLen(len(h.salt)) + b64.EncodedLen(len(h.key)))
	b.WriteString("$argon2id$v=")
	b.WriteString(strconv.Itoa(argon2.Version))
	b.WriteString("$m=")
	b.WriteString(strconv.FormatUint(uint64(h.memory), 10))
	b.WriteString(",t=")
	b.WriteString(strconv.FormatUint(uint64(h.time), 10))
	b.WriteString(",p=")
	b.WriteString(strconv.FormatUint(uint64(h.threads), 10))
	b.WriteByte('$')
	b.WriteString(b64.EncodeToString(h.salt))
	b.WriteByte('$')
	b.WriteString(b64.EncodeToString(h.key))
	return b.String()
}

// verify reports whether password derives the stored key, comparing in
// constant time.
func (h argon2idHash) verify(password string) bool {
	key := argon2.IDKey([]byte(password), h.salt, h.time, h.memory, h.threads, uint32(len(h.key)))
	return subtle.ConstantTimeCompare(key, h.key) == 1
}

// parseArgon2id parses a PHC string strictly and checks that its parameters
// are within bounds. Errors wrap ErrMalformedHash.
func parseArgon2id(s string) (argon2idHash, error) {
	var h argon2idHash
	fields := strings.Split(s, "$")
	// "", "argon2id", "v=19", "m=..,t=..,p=..", salt, key
	if len(fields) != 6 || fields[0] != "" || fields[1] != "argon2id" {
		return h, malformed("argon2id: wrong number of fields")
	}
	v, ok := strings.CutPrefix(fields[2], "v=")
	if !ok {
		return h, malformed("argon2id: missing version")
	}
	if version, ok := parseDecimal(v); !ok || version != argon2.Version {
		return h, malformed("argon2id: unsupported version")
	}
	params := strings.Split(fields[3], ",")
	if len(params) != 3 {
		return h, malformed("argon2id: parameters are not m,t,p")
	}
	var values [3]uint64
	for i, name := range [3]string{"m=", "t=", "p="} {
		v, ok := strings.CutPrefix(params[i], name)
		if !ok {
			return h, malformed("argon2id: parameters are not m,t,p")
		}
		if values[i], ok = parseDecimal(v); !ok {
			return h, malformed("argon2id: bad parameter value")
		}
	}
	m, t, p := values[0], values[1], values[2]
	switch {
	case p < 1 || p > 255:
		return h, malformed("argon2id: parallelism out of bounds")
	case m < 8*p || m > maxArgon2idMemory:
		return h, malformed("argon2id: memory out of bounds")
	case t < 1 || t > maxArgon2idTime:
		return h, malformed("argon2id: time out of bounds")
	}
	h.memory, h.time, h.threads = uint32(m), uint32(t), uint8(p)
	var err error
	if h.salt, err = decodeB64(fields[4], minStoredSaltLength, maxArgon2idLength); err != nil {
		return h, malformed("argon2id: salt: " + err.Error())
	}
	if h.key, err = decodeB64(fields[5], minStoredKeyLength, maxArgon2idLength); err != nil {
		return h, malformed("argon2id: key: " + err.Error())
	}
	return h, nil
}

// parseDecimal parses 1 to 10 ASCII digits without a leading zero (except
// "0" itself).
func parseDecimal(s string) (uint64, bool) {
	if s == "" || len(s) > 10 || (len(s) > 1 && s[0] == '0') {
		return 0, false
	}
	var n uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	return n, true
}

type b64Error string

func (e b64Error) Error() string { return string(e) }

// decodeB64 decodes unpadded standard base64 whose decoded length is within
// lo..hi bytes. Unlike encoding/base64, it refuses '\r' and '\n'.
func decodeB64(s string, lo, hi int) ([]byte, error) {
	if b64.DecodedLen(len(s)) > hi {
		return nil, b64Error("too long")
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '+' || c == '/') {
			return nil, b64Error("bad base64")
		}
	}
	b, err := b64.DecodeString(s)
	if err != nil {
		return nil, b64Error("bad base64")
	}
	if len(b) < lo {
		return nil, b64Error("too short")
	}
	return b, nil
}
