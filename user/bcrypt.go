package user

import (
	"fmt"

	"golang.org/x/crypto/bcrypt"
)

// bcryptMaxPassword is the number of password bytes bcrypt uses; the rest
// would be ignored.
const bcryptMaxPassword = 72

// bcryptHashLength is the length of a bcrypt hash in modular crypt format:
// "$2b$" + two cost digits + "$" + 22 characters of salt + 31 of hash.
const bcryptHashLength = 60

// isBcryptPrefix reports whether s starts like a bcrypt hash of a version
// we verify: $2a$, $2b$ or $2y$.
func isBcryptPrefix(s string) bool {
	return len(s) >= 4 && s[0] == '$' && s[1] == '2' && (s[2] == 'a' || s[2] == 'b' || s[2] == 'y') && s[3] == '$'
}

// parseBcrypt checks that s is exactly a bcrypt hash, "$2x$NN$" followed by
// 53 characters of bcrypt's base64 alphabet, with a cost from
// bcrypt.MinCost to maxCost, and returns the cost (read with bcrypt.Cost).
// Errors wrap ErrMalformedHash.
func parseBcrypt(s string, maxCost int) (int, error) {
	if len(s) != bcryptHashLength || !isBcryptPrefix(s) || s[6] != '$' {
		return 0, malformed("bcrypt: bad length or prefix")
	}
	if !isDigit(s[4]) || !isDigit(s[5]) {
		return 0, malformed("bcrypt: bad cost")
	}
	for i := 7; i < len(s); i++ {
		c := s[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '.' || c == '/') {
			return 0, malformed("bcrypt: bad base64")
		}
	}
	cost, err := bcrypt.Cost([]byte(s))
	if err != nil {
		return 0, malformed("bcrypt: bad cost")
	}
	if cost > maxCost {
		return 0, malformed(fmt.Sprintf("bcrypt: cost %d above %d", cost, maxCost))
	}
	return cost, nil
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// hashBcrypt returns a bcrypt hash of password, which must be at most 72
// bytes.
func hashBcrypt(password string, cost int) (string, error) {
	if len(password) > bcryptMaxPassword {
		return "", ErrPasswordTooLong
	}
	b, err := bcrypt.GenerateFromPassword([]byte(password), cost)
	if err != nil {
		return "", fmt.Errorf("user: hash password: %w", err)
	}
	return string(b), nil
}

// verifyBcrypt reports whether password matches the bcrypt hash encoded,
// which parseBcrypt has accepted.
//
// bcrypt.CompareHashAndPassword silently uses only the first 72 bytes of
// the password, so that a longer password would match the hash of its
// prefix. A password over 72 bytes never matches here; the comparison still
// runs on its first 72 bytes, and its result is discarded, so that the
// time taken does not tell long passwords apart.
func verifyBcrypt(encoded, password string) bool {
	if len(password) > bcryptMaxPassword {
		_ = bcrypt.CompareHashAndPassword([]byte(encoded), []byte(password[:bcryptMaxPassword]))
		return false
	}
	return bcrypt.CompareHashAndPassword([]byte(encoded), []byte(password)) == nil
}
