package audit

import (
	"net/url"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Redacted replaces the value of every key that looks like it holds a
// secret, and every secret found inside a text value.
const Redacted = "[REDACTED]"

// Key names are compared in a normal form: NFKC (so full-width letters
// count), lower case, letters and digits only ("X-Api-Key" → "xapikey",
// "accessToken" → "accesstoken", "api:key" → "apikey").
func normKey(k string) string {
	var b strings.Builder
	for _, r := range norm.NFKC.String(k) {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(unicode.ToLower(r))
		}
	}
	return b.String()
}

// secretParts mark a key as secret wherever they occur in its normal form.
var secretParts = []string{
	"password", "passwd", "passphrase", "passcode", "secret", "token", "apikey", "accesskey",
	"privatekey", "privkey", "signingkey", "authorization", "credential", "cookie", "signature",
	"verifier", "totp", "csrf", "recoverycode", "backupcode", "authcode", "resetcode", "otpcode",
}

// secretSuffixes mark a key as secret when its normal form ends with them
// ("reset_code", "signingKey", "user_pass", "pin").
var secretSuffixes = []string{
	"pass", "pwd", "pw", "otp", "pin", "nonce", "salt", "jwt", "auth", "bearer",
	"key", "code", "codes", "oauthstate",
}

// publicKeys are normal forms that the rules above would redact but that
// name no secret: counters and flags about secrets, public material, and
// codes that are not credentials. Over-redaction is the safe mistake;
// these are the common exceptions that audit events need.
var publicKeys = map[string]bool{
	"tokencount": true, "tokensrevoked": true, "tokentype": true, "tokenfamily": true,
	"tokenexpiresat": true, "passwordchangedat": true, "passwordpolicy": true,
	"passwordstrength": true, "publickey": true, "publickeys": true, "signaturevalid": true,
	"signaturealgorithm": true, "cookieconsent": true,
	"countrycode": true, "statuscode": true, "errorcode": true, "languagecode": true,
	"currencycode": true, "postalcode": true, "zipcode": true, "regioncode": true,
	"httpcode": true, "responsecode": true, "exitcode": true,
}

// jwtLike matches a value shaped like a JWS compact serialization.
var jwtLike = regexp.MustCompile(`eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*`)

// bearerLike matches credentials of the Authorization header schemes.
var bearerLike = regexp.MustCompile(`(?i)\b(bearer|basic|token|digest)\s+[A-Za-z0-9._~+/=-]{8,}`)

// urlLike matches absolute URLs, whose query and fragment parameters are
// checked like keys (a reset link's token, an OAuth callback's code).
var urlLike = regexp.MustCompile(`(?i)\b[a-z][a-z0-9+.-]*://[^\s"'<>]+`)

// redactor removes secrets and control characters from event documents.
// extra holds more secret parts, in normal form.
type redactor struct{ extra []string }

// secretKey reports whether a key's value must be redacted.
func (r redactor) secretKey(k string) bool {
	n := normKey(k)
	if n == "" || publicKeys[n] {
		return false
	}
	for _, p := range secretParts {
		if strings.Contains(n, p) {
			return true
		}
	}
	for _, p := range r.extra {
		if strings.Contains(n, p) {
			return true
		}
	}
	for _, s := range secretSuffixes {
		if strings.HasSuffix(n, s) {
			return true
		}
	}
	return false
}

// doc returns a redacted, cleaned copy of a document already normalized to
// JSON's types (map[string]any, []any, string, float64, bool, nil).
func (r redactor) doc(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		ck := r.text(k, 200)
		if r.secretKey(k) {
			out[ck] = Redacted
			continue
		}
		out[ck] = r.value(v)
	}
	return out
}

func (r redactor) value(v any) any {
	switch v := v.(type) {
	case map[string]any:
		return r.doc(v)
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = r.value(e)
		}
		return out
	case string:
		return r.text(v, maxValueRunes)
	default:
		return v
	}
}

// text cleans s (see cleanText) and replaces the secrets it can recognize
// inside free text: JWTs, Authorization credentials, and secret-named
// parameters of URLs.
func (r redactor) text(s string, max int) string {
	s = cleanText(s, max)
	if strings.Contains(s, "eyJ") {
		s = jwtLike.ReplaceAllString(s, Redacted)
	}
	s = bearerLike.ReplaceAllString(s, "$1 "+Redacted)
	if strings.Contains(s, "://") {
		s = urlLike.ReplaceAllStringFunc(s, r.redactURL)
	}
	return s
}

// redactURL replaces the values of secret-named query and fragment
// parameters, and the password of the user information, working on the
// text so the rest of the URL stays as it was written.
func (r redactor) redactURL(raw string) string {
	scheme, rest, _ := strings.Cut(raw, "://")
	authority, path := rest, ""
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		authority, path = rest[:i], rest[i:]
	}
	if userinfo, host, ok := strings.Cut(authority, "@"); ok {
		if user, _, hasPassword := strings.Cut(userinfo, ":"); hasPassword {
			authority = user + ":" + Redacted + "@" + host
		}
	}
	base, frag, hasFrag := strings.Cut(path, "#")
	p, query, hasQuery := strings.Cut(base, "?")
	out := scheme + "://" + authority + p
	if hasQuery {
		out += "?" + r.params(query)
	}
	if hasFrag {
		out += "#" + r.params(frag)
	}
	return out
}

// params redacts the secret-named values of an a=b&c=d list.
func (r redactor) params(s string) string {
	parts := strings.Split(s, "&")
	for i, p := range parts {
		k, _, ok := strings.Cut(p, "=")
		if !ok {
			continue
		}
		name, err := url.QueryUnescape(k)
		if err != nil {
			name = k
		}
		if r.secretKey(name) {
			parts[i] = k + "=" + Redacted
		}
	}
	return strings.Join(parts, "&")
}

// maxValueRunes caps a string in an event document.
const maxValueRunes = 4096

// cleanText makes s safe to store and to print: valid UTF-8, no control
// characters (C0, DEL, C1, and the Unicode line and paragraph separators
// become U+FFFD, so no value can start a new log line or hold a NUL that
// PostgreSQL text refuses), and at most max code points.
func cleanText(s string, max int) string {
	clean := true
	n := 0
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && size == 1) || isControl(r) {
			clean = false
			break
		}
		i += size
		n++
	}
	if clean && n <= max {
		return s
	}
	var b strings.Builder
	n = 0
	for _, r := range s { // invalid bytes decode as U+FFFD
		if n == max {
			break
		}
		if isControl(r) {
			r = utf8.RuneError
		}
		b.WriteRune(r)
		n++
	}
	return b.String()
}

func isControl(r rune) bool {
	return unicode.IsControl(r) || r == '\u2028' || r == '\u2029'
}
