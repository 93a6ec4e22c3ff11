package session

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/cedrina/cedrina/internal/errs"
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

// tokenConfig is what access tokens are issued for and checked against.
// Issuer and Audience are what keep a token of one service (or one
// environment) from being accepted by another that shares its keys: give
// every service its own audience value.
type tokenConfig struct {
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

// validate checks c and names the bad field as a field of typ, the
// caller's configuration type ("Config" or "VerifierConfig").
func (c tokenConfig) validate(typ string) error {
	switch {
	case c.Issuer == "":
		return errs.Configf("session", typ+".Issuer", "required")
	case len(c.Audience) == 0:
		return errs.Configf("session", typ+".Audience", "required")
	case c.Leeway < 0:
		return errs.Configf("session", typ+".Leeway", "%v is negative", c.Leeway)
	case c.Leeway > maxLeeway:
		return errs.Configf("session", typ+".Leeway", "%v is above %v", c.Leeway, maxLeeway)
	}
	for i, a := range c.Audience {
		if a == "" {
			return errs.Configf("session", fmt.Sprintf("%s.Audience[%d]", typ, i), "empty")
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
func (ks *KeySet) parse(token string, cfg tokenConfig) (*Claims, error) {
	if err := cfg.validate("tokenConfig"); err != nil {
		return nil, err
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
func (ks *KeySet) parserOptions(cfg tokenConfig) []jwt.ParserOption {
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
func asciiEqualFold[T string | []byte](s, t T) bool {
	if len(s) != len(t) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if a, b := s[i], t[i]; a != b && lowerASCII(a) != lowerASCII(b) {
			return false
		}
	}
	return true
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
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
