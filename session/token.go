package session

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// MaxTokenSize is the longest access token, in bytes, that this package
// issues or accepts. Signing a longer token is an error (so
// [Service.Start] and [Service.Refresh] fail instead of issuing a token
// nobody would accept), and [Service.Authenticate], [Verifier.Verify] and
// [Service.RequireAuth] refuse a longer one before decoding any of it.
//
// Issued tokens are well under it: about 0.4 KiB with EdDSA, ES256 or
// HS256, about 1 KiB with RS256 and a 4096-bit key. Only very long Issuer,
// Audience or key id values can reach it.
const MaxTokenSize = 4096

// tooLong is the reason a token longer than MaxTokenSize is refused.
var tooLong = "longer than " + strconv.Itoa(MaxTokenSize) + " bytes"

// Token limits and defaults.
const (
	// defaultLeeway and maxLeeway bound the clock skew allowed on exp,
	// nbf and iat.
	defaultLeeway = 5 * time.Second
	maxLeeway     = 30 * time.Second
	// tokenType is the typ header of access tokens (RFC 9068 2.1).
	tokenType = "at+jwt"
)

// Claims are the claims of an access token (RFC 9068 2.2): iss, sub (the
// user id, decimal), aud, exp, iat, jti and sid (the session id,
// decimal), plus the user's role and tier at issue time.
//
// A token's claims are a snapshot: role and tier may have changed since
// it was issued. Decisions that must see the current state use the
// session check of the issuing Service, not these fields alone.
type Claims struct {
	jwt.RegisteredClaims
	// SessionID is the id of the session the token belongs to, decimal.
	SessionID string `json:"sid"`
	// Role is the user's role when the token was issued.
	Role string `json:"role,omitempty"`
	// Tier is the user's tier when the token was issued.
	Tier string `json:"tier,omitempty"`
}

// clone returns a deep copy of c that shares no memory with it: the
// Audience slice and the time pointers are copied too, in a single
// allocation when Audience has at most two entries. A nil c clones to nil.
func (c *Claims) clone() *Claims {
	if c == nil {
		return nil
	}
	// One block holds the claims and what their pointers point to.
	b := new(struct {
		c             Claims
		exp, nbf, iat jwt.NumericDate
		aud           [2]string
	})
	b.c = *c
	if c.Audience != nil {
		if len(c.Audience) <= len(b.aud) {
			n := copy(b.aud[:], c.Audience)
			b.c.Audience = b.aud[:n:n]
		} else {
			b.c.Audience = slices.Clone(c.Audience)
		}
	}
	if c.ExpiresAt != nil {
		b.exp = *c.ExpiresAt
		b.c.ExpiresAt = &b.exp
	}
	if c.NotBefore != nil {
		b.nbf = *c.NotBefore
		b.c.NotBefore = &b.nbf
	}
	if c.IssuedAt != nil {
		b.iat = *c.IssuedAt
		b.c.IssuedAt = &b.iat
	}
	return &b.c
}

// TokenConfig is what access tokens are issued for and checked against.
// Issuer and Audience are what keep a token of one service (or one
// environment) from being accepted by another that shares its keys: give
// every service its own audience value.
type TokenConfig struct {
	// Issuer is the iss claim of issued tokens and the only one accepted.
	// Required.
	Issuer string
	// Audience is the aud claim of issued tokens; a token is accepted when
	// its aud contains at least one of them. Required, no empty entries.
	Audience []string
	// Leeway is the clock skew allowed on exp, nbf and iat. Default 5 s;
	// more than 30 s is refused, as it lengthens every token's life.
	Leeway time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// validate checks c and names the bad field. The error has no package
// prefix: callers wrap it with their own ("session: Config: %w").
func (c TokenConfig) validate() error {
	switch {
	case c.Issuer == "":
		return errors.New("Issuer is required")
	case len(c.Audience) == 0:
		return errors.New("Audience is required")
	case c.Leeway < 0:
		return fmt.Errorf("Leeway %v is negative", c.Leeway)
	case c.Leeway > maxLeeway:
		return fmt.Errorf("Leeway %v is above %v", c.Leeway, maxLeeway)
	}
	for i, a := range c.Audience {
		if a == "" {
			return fmt.Errorf("Audience[%d] is empty", i)
		}
	}
	return nil
}

// sign issues a token for c, signed with the set's signing key; the header
// is {"alg":..., "kid": signing key id, "typ":"at+jwt"}. It refuses claims
// that parse would refuse whatever the time (missing iss, aud, exp, iat
// or jti, sub or sid not a positive decimal integer) and tokens longer
// than parse accepts, so an issued token always verifies until it expires.
func (ks *KeySet) sign(c *Claims) (string, error) {
	k := ks.signing
	if k == nil || !k.CanSign() {
		return "", errors.New("session: sign token: the key set has no signing key")
	}
	if c == nil {
		return "", errors.New("session: sign token: nil claims")
	}
	var problem string
	switch {
	case c.Issuer == "":
		problem = "iss is empty"
	case len(c.Audience) == 0:
		problem = "aud is empty"
	case c.ExpiresAt == nil:
		problem = "exp is missing"
	default:
		problem = claimsProblem(c)
	}
	if problem != "" {
		return "", fmt.Errorf("session: sign token: %s", problem)
	}
	t := jwt.NewWithClaims(k.alg.method(), c)
	t.Header["typ"] = tokenType
	t.Header["kid"] = k.id
	s, err := t.SignedString(k.signingKey())
	if err != nil {
		return "", fmt.Errorf("session: sign token: %w", err)
	}
	if len(s) > MaxTokenSize {
		return "", fmt.Errorf("session: sign token: token would be %d bytes, more than MaxTokenSize (%d): shorten Issuer, Audience or the key id", len(s), MaxTokenSize)
	}
	return s, nil
}

// parse verifies a token issued with this key set and returns its claims.
//
// Checks, in this order: at most MaxTokenSize bytes; three segments of
// base64url characters only (no padding, whitespace or line breaks;
// canonical trailing bits); alg in the set's algorithms
// (jwt.WithValidMethods, so "none" never passes); then in keyfunc: no
// crit header, typ "at+jwt" or "application/at+jwt" (ASCII
// case-insensitive), the key named by kid taken from the set only and of
// the token's alg (an HS256 token "signed" with a public key names an
// asymmetric key and is refused); the signature; then strict JSON in the
// header and payload (strictJSON: no duplicate member names, exp, iat and
// nbf JSON numbers); then exp present and not past, nbf and iat not in
// the future (each with cfg.Leeway), iss equal to cfg.Issuer, aud
// containing one of cfg.Audience; finally iat and jti present, sub and
// sid positive decimal integers. Headers jku, x5u, jwk and x5c are never
// read.
//
// The strict JSON check runs only on tokens whose signature is valid:
// forged or garbled tokens cost nothing more, and the tokens it refuses
// can only come from a holder of a key (a buggy or foreign issuer), whose
// JSON other parsers might read differently from encoding/json.
//
// Errors: an expired token, otherwise valid, wraps ErrExpired; every
// other refusal wraps ErrInvalidToken with a fixed reason that never
// contains the token or any value taken from it. An invalid cfg returns
// an error naming the field, wrapping neither.
func (ks *KeySet) parse(token string, cfg TokenConfig) (*Claims, error) {
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("session: parse token: config: %w", err)
	}
	switch {
	case token == "":
		return nil, invalid("empty")
	case len(token) > MaxTokenSize:
		return nil, invalid(tooLong)
	case !compactJWS(token):
		return nil, invalid("not three base64url segments")
	}
	c := new(Claims)
	_, err := jwt.NewParser(ks.parserOptions(cfg)...).ParseWithClaims(token, c, ks.keyfunc)
	if err == nil || errors.Is(err, jwt.ErrTokenInvalidClaims) {
		// The signature is valid (golang-jwt checks claims only after it),
		// so the JSON is the signer's: check it before trusting what
		// golang-jwt read from it, expiry included.
		if reason := strictJSON(token); reason != "" {
			return nil, invalid(reason)
		}
	}
	if err != nil {
		return nil, tokenError(err, c)
	}
	if problem := claimsProblem(c); problem != "" {
		return nil, invalid(problem)
	}
	return c, nil
}

// parserOptions are the golang-jwt options parse uses; cfg must be valid
// (an empty Issuer or Audience would switch those checks off).
func (ks *KeySet) parserOptions(cfg TokenConfig) []jwt.ParserOption {
	leeway := cfg.Leeway
	if leeway == 0 {
		leeway = defaultLeeway
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	return []jwt.ParserOption{
		jwt.WithValidMethods(ks.methods),
		jwt.WithIssuer(cfg.Issuer),
		jwt.WithAudience(cfg.Audience...),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(leeway),
		jwt.WithTimeFunc(now),
		jwt.WithStrictDecoding(),
	}
}

// Reasons keyfunc refuses a token before its signature is checked.
var (
	errCrit        = errors.New("crit header not supported")
	errType        = errors.New(`typ is not "at+jwt"`)
	errNoKID       = errors.New("kid missing")
	errUnknownKID  = errors.New("kid unknown")
	errAlgMismatch = errors.New("alg does not match the key named by kid")
)

// keyfunc picks the verification key of a parsed, unverified token: the
// key of the set named by its kid, if the token's alg is that key's
// algorithm. It reads only the alg, typ, kid and crit headers.
func (ks *KeySet) keyfunc(t *jwt.Token) (any, error) {
	if _, ok := t.Header["crit"]; ok {
		// RFC 7515 4.1.11: extensions we do not understand must fail.
		return nil, errCrit
	}
	if typ, _ := t.Header["typ"].(string); !asciiEqualFold(typ, tokenType) && !asciiEqualFold(typ, "application/"+tokenType) {
		return nil, errType
	}
	kid, _ := t.Header["kid"].(string)
	if kid == "" {
		return nil, errNoKID
	}
	k := ks.byID[kid]
	if k == nil {
		return nil, errUnknownKID
	}
	if t.Method == nil || t.Method.Alg() != string(k.alg) {
		return nil, errAlgMismatch
	}
	return k.verificationKey(), nil
}

// compactJWS reports whether s has only base64url characters and exactly
// two dots. golang-jwt decodes with encoding/base64, which skips CR and LF
// anywhere in a segment, so without this check "token\n" and tokens with
// line breaks inside would verify as the token: one token, many strings.
func compactJWS(s string) bool {
	dots := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '_':
		case c == '.':
			dots++
		default:
			return false
		}
	}
	return dots == 2
}

// asciiEqualFold reports whether s and t are equal under ASCII case
// folding only (strings.EqualFold also folds some non-ASCII letters).
func asciiEqualFold(s, t string) bool {
	if len(s) != len(t) {
		return false
	}
	for i := 0; i < len(s); i++ {
		a, b := s[i], t[i]
		if 'A' <= a && a <= 'Z' {
			a += 'a' - 'A'
		}
		if 'A' <= b && b <= 'Z' {
			b += 'a' - 'A'
		}
		if a != b {
			return false
		}
	}
	return true
}

// claimsProblem checks what golang-jwt does not: iat and jti present, sub
// and sid positive decimal integers. It returns "" when all is well.
func claimsProblem(c *Claims) string {
	switch {
	case c.IssuedAt == nil:
		return "iat missing"
	case c.ID == "":
		return "jti missing"
	case !isID(c.Subject):
		return "sub is not a user id"
	case !isID(c.SessionID):
		return "sid is not a session id"
	}
	return ""
}

// isID reports whether s is a positive int64 in canonical decimal: digits
// only, no sign, no leading zero.
func isID(s string) bool {
	const maxInt64 = "9223372036854775807"
	if s == "" || len(s) > len(maxInt64) || s[0] == '0' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return len(s) < len(maxInt64) || s <= maxInt64
}

// claimReasons map golang-jwt's claim errors to fixed reasons.
var claimReasons = []struct {
	err    error
	reason string
}{
	{jwt.ErrTokenRequiredClaimMissing, "required claim missing (exp, iss or aud)"},
	{jwt.ErrTokenInvalidIssuer, "wrong issuer"},
	{jwt.ErrTokenInvalidAudience, "wrong audience"},
	{jwt.ErrTokenUsedBeforeIssued, "iat in the future"},
	{jwt.ErrTokenNotValidYet, "nbf in the future"},
}

// tokenError turns a golang-jwt error into ErrExpired or ErrInvalidToken
// with a fixed reason. golang-jwt's own messages can quote decoded input
// (JSON syntax errors), so none of their text is kept.
func tokenError(err error, c *Claims) error {
	for _, e := range []error{errCrit, errType, errNoKID, errUnknownKID, errAlgMismatch} {
		if errors.Is(err, e) {
			return invalid(e.Error())
		}
	}
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return invalid("malformed")
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		// Also an alg outside the set's algorithms, "none" included.
		return invalid("signature invalid or algorithm not accepted")
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		return invalid("unverifiable (unknown algorithm)")
	case !errors.Is(err, jwt.ErrTokenInvalidClaims):
		return invalid("refused")
	}
	// The signature is valid: golang-jwt checks claims only after it.
	var reasons []string
	for _, r := range claimReasons {
		if errors.Is(err, r.err) {
			reasons = append(reasons, r.reason)
		}
	}
	if p := claimsProblem(c); p != "" {
		reasons = append(reasons, p)
	}
	if errors.Is(err, jwt.ErrTokenExpired) {
		if len(reasons) == 0 {
			return fmt.Errorf("%w: access token", ErrExpired)
		}
		reasons = append(reasons, "expired")
	}
	if len(reasons) == 0 {
		return invalid("invalid claims")
	}
	return invalid(strings.Join(reasons, ", "))
}

// invalid returns ErrInvalidToken with a reason.
func invalid(reason string) error {
	return fmt.Errorf("%w: %s", ErrInvalidToken, reason)
}

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

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
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
		return equalFoldASCII(x, y)
	}
	return bytes.EqualFold(unquoteName(x), unquoteName(y))
}

// nameIs reports whether member name n of t is want (lower-case ASCII)
// under the rule of sameName.
func nameIs(t []byte, n jsonName, want string) bool {
	x := t[n.start:n.end]
	if n.plain {
		return len(x) == len(want) && equalFoldASCII(x, []byte(want))
	}
	return bytes.EqualFold(unquoteName(x), []byte(want))
}

// equalFoldASCII reports whether x and y are equal under ASCII case
// folding.
func equalFoldASCII(x, y []byte) bool {
	if len(x) != len(y) {
		return false
	}
	for i, a := range x {
		b := y[i]
		if a == b {
			continue
		}
		if 'A' <= a && a <= 'Z' {
			a += 'a' - 'A'
		}
		if 'A' <= b && b <= 'Z' {
			b += 'a' - 'A'
		}
		if a != b {
			return false
		}
	}
	return true
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
