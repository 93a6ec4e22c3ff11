package session

import (
	"bytes"
	"encoding/json"
	"strings"
)

// The strict JSON check of access tokens: encoding/json (and so
// golang-jwt) accepts duplicate member names (the last wins, matched
// case-insensitively) and NumericDates given as JSON strings, so one
// token could be read differently here and by another verifier. Neither
// encoding/json nor golang-jwt offers a strict mode (encoding/json/v2,
// which has one, is still an experiment), hence this scanner; it is
// fuzzed against encoding/json (FuzzStrictJSON), allocates nothing for an
// accepted token, and runs once per token (the cache spares it later).

// Reasons strictJSON refuses a token.
const (
	reasonDuplicate = "duplicate member"
	reasonNotObject = "header or payload is not a JSON object"
	reasonBadJSON   = "malformed JSON"
)

// timeClaims are the payload members that must be JSON numbers, with the
// reason each is refused for.
var timeClaims = [...]struct{ name, reason string }{
	{"exp", "exp is not a number"},
	{"iat", "iat is not a number"},
	{"nbf", "nbf is not a number"},
}

// strictJSON checks the JSON of a token's header and payload beyond what
// encoding/json (and so golang-jwt) requires, and returns the reason for
// refusing it, or "" when all is well:
//
//   - both are JSON objects;
//   - no object, at any depth, has two members whose names are equal
//     (after unescaping) or differ only in case: encoding/json matches
//     struct fields case-insensitively and keeps the last value, so
//     {"sub":"1","SUB":"2"} would be read as sub 2 here and sub 1
//     elsewhere;
//   - the payload's exp, iat and nbf (any case) are JSON numbers, not
//     strings (golang-jwt's NumericDate accepts "1234567890"), null (which
//     makes nbf vanish) or anything else.
//
// It decodes the two segments into a stack buffer and scans them once, so
// an accepted token costs no allocation. token must be a compact JWS
// (compactJWS) that golang-jwt has decoded; anything else is refused too.
func strictJSON(token string) string {
	header, rest, _ := strings.Cut(token, ".")
	payload, _, _ := strings.Cut(rest, ".")
	var buf [MaxTokenSize * 3 / 4]byte
	for i, seg := range [2]string{header, payload} {
		b, ok := appendBase64URL(buf[:0], seg)
		if !ok {
			return reasonBadJSON
		}
		if reason := checkJSON(b, i == 1); reason != "" {
			return reason
		}
	}
	return ""
}

// base64URL maps base64url characters to their 6-bit values, others to
// 0xff.
var base64URL = func() (t [256]byte) {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	for i := range t {
		t[i] = 0xff
	}
	for i := 0; i < len(alphabet); i++ {
		t[alphabet[i]] = byte(i)
	}
	return t
}()

// appendBase64URL appends the bytes of s, unpadded base64url, to dst. It
// reports false for other characters, a length that no byte string has or
// non-zero trailing bits.
func appendBase64URL(dst []byte, s string) ([]byte, bool) {
	var acc uint32
	for len(s) >= 4 {
		a, b, c, d := base64URL[s[0]], base64URL[s[1]], base64URL[s[2]], base64URL[s[3]]
		if a|b|c|d == 0xff {
			return dst, false
		}
		acc = uint32(a)<<18 | uint32(b)<<12 | uint32(c)<<6 | uint32(d)
		dst = append(dst, byte(acc>>16), byte(acc>>8), byte(acc))
		s = s[4:]
	}
	switch len(s) {
	case 0:
		return dst, true
	case 1:
		return dst, false
	}
	acc = 0
	for i := 0; i < len(s); i++ {
		v := base64URL[s[i]]
		if v == 0xff {
			return dst, false
		}
		acc |= uint32(v) << (18 - 6*i)
	}
	if len(s) == 2 {
		if acc&0xffff != 0 {
			return dst, false
		}
		return append(dst, byte(acc>>16)), true
	}
	if acc&0xff != 0 {
		return dst, false
	}
	return append(dst, byte(acc>>16), byte(acc>>8)), true
}

// checkJSON reports why t, one JSON text, breaks the rules of strictJSON
// ("" if it does not). claims applies the payload's rules for exp, iat and
// nbf. Text that is not valid JSON (as encoding/json.Valid decides) is
// refused with reasonBadJSON, and any other refusal is of valid JSON.
func checkJSON(t []byte, claims bool) string {
	s := jsonScanner{strict: true, claims: claims}
	s.space(t)
	if s.i < len(t) && t[s.i] != '{' {
		if s.strict = false; s.value(t, 0) && s.end(t) {
			return reasonNotObject
		}
		return reasonBadJSON
	}
	if !s.value(t, 0) || !s.end(t) {
		return s.failure(t)
	}
	return ""
}

// jsonName is a member name: the bytes between its quotes in the text.
// plain names have no escape and no byte above 0x7f, so they compare as
// they are; their sig (length, first and last byte, ASCII lower case)
// tells most unequal names apart without comparing them.
type jsonName struct {
	start, end int
	plain      bool
	sig        uint32
}

// nameSig is the sig of a plain name of t.
func nameSig(t []byte, n jsonName) uint32 {
	if n.end == n.start {
		return 0
	}
	return uint32(n.end-n.start)<<16 | uint32(lowerASCII(t[n.start]))<<8 | uint32(lowerASCII(t[n.end-1]))
}

// timeClaimSigs are the sigs of the names in timeClaims.
var timeClaimSigs = func() (sigs [len(timeClaims)]uint32) {
	for i, tc := range timeClaims {
		t := []byte(tc.name)
		sigs[i] = nameSig(t, jsonName{end: len(t), plain: true})
	}
	return sigs
}()

// jsonScanner is a recursive-descent JSON validator that also applies
// strictJSON's rules. It stops at the first problem: reason is set for a
// rule broken in valid JSON so far; a false return without reason is
// invalid JSON.
//
// The text is passed to every method rather than kept in the struct, and
// the first member names are kept in an array: so the text, often in a
// stack buffer, does not escape to the heap, and a token's check
// allocates nothing.
type jsonScanner struct {
	i int
	// The member names of the open objects, innermost last: the first
	// len(fixed) in fixed, the others in more.
	fixed [32]jsonName
	more  []jsonName
	n     int
	// strict applies the rules; without it the scanner only validates.
	strict bool
	// claims applies the payload's rules to the top-level object.
	claims bool
	reason string
}

// maxJSONDepth is encoding/json's nesting limit, so that both agree on
// what is valid.
const maxJSONDepth = 10000

// failure is the reason for a scan that stopped early. When a rule was
// broken, the rest of the text was not read: it is validated now, so that
// invalid JSON is always reported as such.
func (s *jsonScanner) failure(t []byte) string {
	if s.reason == "" {
		return reasonBadJSON
	}
	v := jsonScanner{}
	v.space(t)
	if !v.value(t, 0) || !v.end(t) {
		return reasonBadJSON
	}
	return s.reason
}

func (s *jsonScanner) name(k int) jsonName {
	if k < len(s.fixed) {
		return s.fixed[k]
	}
	return s.more[k-len(s.fixed)]
}

func (s *jsonScanner) push(n jsonName) {
	if s.n < len(s.fixed) {
		s.fixed[s.n] = n
	} else {
		s.more = append(s.more[:s.n-len(s.fixed)], n)
	}
	s.n++
}

// end reports whether only white space is left.
func (s *jsonScanner) end(t []byte) bool {
	s.space(t)
	return s.i == len(t)
}

func (s *jsonScanner) space(t []byte) {
	for s.i < len(t) {
		switch t[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// value scans one value at nesting depth (0 for the whole text).
func (s *jsonScanner) value(t []byte, depth int) bool {
	if s.i >= len(t) {
		return false
	}
	switch c := t[s.i]; {
	case c == '{':
		return s.object(t, depth)
	case c == '[':
		return s.array(t, depth)
	case c == '"':
		_, ok := s.str(t)
		return ok
	case c == '-' || '0' <= c && c <= '9':
		return s.number(t)
	case c == 't':
		return s.literal(t, "true")
	case c == 'f':
		return s.literal(t, "false")
	case c == 'n':
		return s.literal(t, "null")
	}
	return false
}

func (s *jsonScanner) literal(t []byte, lit string) bool {
	if len(t)-s.i < len(lit) || string(t[s.i:s.i+len(lit)]) != lit {
		return false
	}
	s.i += len(lit)
	return true
}

func (s *jsonScanner) array(t []byte, depth int) bool {
	if depth+1 > maxJSONDepth {
		return false
	}
	s.i++ // [
	s.space(t)
	if s.i < len(t) && t[s.i] == ']' {
		s.i++
		return true
	}
	for {
		s.space(t)
		if !s.value(t, depth+1) || s.reason != "" {
			return false
		}
		s.space(t)
		if s.i >= len(t) {
			return false
		}
		switch t[s.i] {
		case ',':
			s.i++
		case ']':
			s.i++
			return true
		default:
			return false
		}
	}
}

func (s *jsonScanner) object(t []byte, depth int) bool {
	if depth+1 > maxJSONDepth {
		return false
	}
	first := s.n
	s.i++ // {
	s.space(t)
	if s.i < len(t) && t[s.i] == '}' {
		s.i++
		return true
	}
	for {
		s.space(t)
		if s.i >= len(t) || t[s.i] != '"' {
			return false
		}
		name, ok := s.str(t)
		if !ok {
			return false
		}
		if name.plain {
			name.sig = nameSig(t, name)
		}
		s.space(t)
		if s.i >= len(t) || t[s.i] != ':' {
			return false
		}
		s.i++
		s.space(t)
		if s.strict {
			for k := first; k < s.n; k++ {
				if m := s.name(k); (!m.plain || !name.plain || m.sig == name.sig) && sameName(t, m, name) {
					s.reason = reasonDuplicate
					return false
				}
			}
			s.push(name)
			if s.claims && depth == 0 && s.i < len(t) {
				if c := t[s.i]; c != '-' && (c < '0' || c > '9') {
					for i, tc := range timeClaims {
						if (!name.plain || name.sig == timeClaimSigs[i]) && nameIs(t, name, tc.name) {
							s.reason = tc.reason
							return false
						}
					}
				}
			}
		}
		if !s.value(t, depth+1) || s.reason != "" {
			return false
		}
		s.space(t)
		if s.i >= len(t) {
			return false
		}
		switch t[s.i] {
		case ',':
			s.i++
		case '}':
			s.i++
			s.n = first
			return true
		default:
			return false
		}
	}
}

// str scans a string at s.i (an opening quote) and returns its contents'
// position.
func (s *jsonScanner) str(t []byte) (jsonName, bool) {
	s.i++ // "
	n := jsonName{start: s.i, plain: true}
	for s.i < len(t) {
		// Skip the bytes that need no attention, the bulk of a string.
		for s.i < len(t) && !jsonStringSpecial[t[s.i]] {
			s.i++
		}
		if s.i >= len(t) {
			break
		}
		c := t[s.i]
		switch {
		case c == '"':
			n.end = s.i
			s.i++
			return n, true
		case c < 0x20:
			return n, false
		case c == '\\':
			n.plain = false
			s.i++
			if s.i >= len(t) {
				return n, false
			}
			switch t[s.i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.i++
			case 'u':
				if len(t)-s.i < 5 {
					return n, false
				}
				for _, h := range t[s.i+1 : s.i+5] {
					if !('0' <= h && h <= '9' || 'a' <= h && h <= 'f' || 'A' <= h && h <= 'F') {
						return n, false
					}
				}
				s.i += 5
			default:
				return n, false
			}
		default:
			if c >= 0x80 {
				n.plain = false
			}
			s.i++
		}
	}
	return n, false
}

// jsonStringSpecial marks the bytes str must look at inside a string: the
// quote, the backslash, control characters (invalid) and bytes above 0x7f
// (not plain).
var jsonStringSpecial = func() (t [256]bool) {
	for c := range t {
		t[c] = c == '"' || c == '\\' || c < 0x20 || c >= 0x80
	}
	return t
}()

// number scans a JSON number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *jsonScanner) number(t []byte) bool {
	if t[s.i] == '-' {
		s.i++
	}
	switch {
	case s.i >= len(t):
		return false
	case t[s.i] == '0':
		s.i++
	case '1' <= t[s.i] && t[s.i] <= '9':
		s.digits(t)
	default:
		return false
	}
	if s.i < len(t) && t[s.i] == '.' {
		s.i++
		if !s.digits(t) {
			return false
		}
	}
	if s.i < len(t) && (t[s.i] == 'e' || t[s.i] == 'E') {
		s.i++
		if s.i < len(t) && (t[s.i] == '+' || t[s.i] == '-') {
			s.i++
		}
		if !s.digits(t) {
			return false
		}
	}
	return true
}

// digits scans [0-9]* and reports whether there was at least one.
func (s *jsonScanner) digits(t []byte) bool {
	start := s.i
	for s.i < len(t) && '0' <= t[s.i] && t[s.i] <= '9' {
		s.i++
	}
	return s.i > start
}

// sameName reports whether two member names of t are equal after
// unescaping, under Unicode case folding: the names encoding/json treats
// as one struct field.
func sameName(t []byte, a, b jsonName) bool {
	x, y := t[a.start:a.end], t[b.start:b.end]
	if a.plain && b.plain {
		return asciiEqualFold(x, y)
	}
	return bytes.EqualFold(unquoteName(x), unquoteName(y))
}

// nameIs reports whether member name n of t is want (lower-case ASCII)
// under the rule of sameName.
func nameIs(t []byte, n jsonName, want string) bool {
	x := t[n.start:n.end]
	if n.plain {
		return len(x) == len(want) && asciiEqualFold(x, []byte(want))
	}
	return bytes.EqualFold(unquoteName(x), []byte(want))
}

// unquoteName unescapes the contents of a JSON string that str accepted,
// as encoding/json does (lone surrogates and invalid UTF-8 become
// U+FFFD).
func unquoteName(raw []byte) []byte {
	q := make([]byte, 0, len(raw)+2)
	q = append(q, '"')
	q = append(q, raw...)
	q = append(q, '"')
	var out string
	if json.Unmarshal(q, &out) != nil {
		return raw // unreachable for what str accepted
	}
	return []byte(out)
}
