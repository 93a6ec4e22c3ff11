package user

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Email is an email address in canonical form, as [ParseEmail] returns it
// (users.email, VARCHAR(254), unique).
//
// # Comparison
//
// Addresses are compared case-insensitively in full, local part included.
// The canonical form is the address trimmed of surrounding white space,
// normalized to Unicode NFC, and lower-cased entirely (Unicode simple
// lowercase mapping, as strings.ToLower does) in both the local part and
// the domain. The canonical form is what is stored and looked up, so the
// database's UNIQUE(email) constraint decides duplicates: "Alice@Example.COM"
// and "alice@example.com" are the same account. (RFC 5321 lets a mail server
// treat local parts case-sensitively; practically none does, and treating
// them so would let two accounts claim one mailbox.)
type Email string

// Email length limits, in bytes of the canonical form (RFC 5321 4.5.3.1).
const (
	MaxEmailLength       = 254
	MaxEmailLocalLength  = 64
	MaxEmailDomainLength = 253
	maxEmailLabelLength  = 63
)

// maxEmailInput bounds the raw input, in bytes, before trimming and
// normalization.
const maxEmailInput = 1024

// ErrInvalidEmail is wrapped by every error [ParseEmail] and
// [Email.Validate] return, with a short reason appended, as in
// "user: invalid email: missing @". The reason never quotes the input.
var ErrInvalidEmail = errors.New("user: invalid email")

func emailError(reason string) error {
	return fmt.Errorf("%w: %s", ErrInvalidEmail, reason)
}

// ParseEmail returns the canonical form of the address s (see [Email] for
// the comparison rule), or an error wrapping [ErrInvalidEmail].
//
// Input over 1024 bytes or not valid UTF-8 is refused. Leading and trailing
// white space is trimmed; after that, white space, control characters (Cc,
// including NUL) and format characters (Cf, such as zero-width spaces and
// bidirectional overrides) are refused anywhere. The address is normalized
// (NFC, lower case) and the canonical form must satisfy:
//   - it contains exactly one '@', splitting it into a local part and a
//     domain; at most 254 bytes in all;
//   - the local part is 1 to 64 bytes of RFC 5322 dot-atom text: atoms of
//     ASCII letters, digits and !#$%&'*+-/=?^_`{|}~, extended as RFC 6531
//     allows with non-ASCII letters (L), combining marks (Mn, Mc) and decimal
//     digits (Nd), separated by single dots, with no leading or trailing dot.
//     Quoted local parts ("john doe"@example.com) are refused;
//   - the domain is 1 to 253 bytes of at least two dot-separated labels, each
//     1 to 63 bytes of letters (ASCII or other), combining marks (Mn, Mc),
//     ASCII digits and '-', neither starting nor ending with '-'. The
//     letters and script-specific marks of each label share one script, as
//     for [ParseUsername]. The last label (the top-level domain) is not all
//     digits. IP-address literals ([192.0.2.1]) are refused;
//   - a combining mark follows a letter, a digit or another mark, at most 4
//     in a row;
//   - it contains no compatibility characters, that is it is unchanged by
//     NFKC: full-width letters, ligatures, superscripts and the like, which
//     imitate plain letters, are refused;
//   - normalizing it again changes nothing.
//
// The byte limits apply to the UTF-8 form: Unicode domains are not
// converted to their ASCII (Punycode) form, whose length may differ.
func ParseEmail(s string) (Email, error) {
	if len(s) > maxEmailInput {
		return "", emailError("too long")
	}
	if !utf8.ValidString(s) {
		return "", emailError("invalid UTF-8")
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return "", emailError("empty")
	}
	if reason := refuseInvisible(s); reason != "" {
		return "", emailError(reason)
	}
	canon := norm.NFC.String(strings.ToLower(norm.NFC.String(s)))
	if strings.ToLower(canon) != canon || !norm.NFC.IsNormalString(canon) {
		return "", emailError("unstable under normalization")
	}
	if !norm.NFKC.IsNormalString(canon) {
		return "", emailError("contains a compatibility character")
	}
	if len(canon) > MaxEmailLength {
		return "", emailError("too long")
	}
	local, domain, ok := strings.Cut(canon, "@")
	if !ok {
		return "", emailError("missing @")
	}
	if strings.Contains(domain, "@") {
		return "", emailError("more than one @")
	}
	if reason := checkLocalPart(local); reason != "" {
		return "", emailError(reason)
	}
	if reason := checkDomain(domain); reason != "" {
		return "", emailError(reason)
	}
	return Email(canon), nil
}

// checkLocalPart returns why local is not a valid local part, or "".
func checkLocalPart(local string) string {
	switch {
	case local == "":
		return "empty local part"
	case len(local) > MaxEmailLocalLength:
		return "local part too long"
	case local[0] == '"':
		return "quoted local part"
	case local[0] == '.':
		return "local part starts with a dot"
	case local[len(local)-1] == '.':
		return "local part ends with a dot"
	case strings.Contains(local, ".."):
		return "local part has consecutive dots"
	}
	marks := 0
	prev := rune(-1) // last code point that is not a combining mark
	for _, r := range local {
		switch {
		case isCombiningMark(r):
			if !(unicode.IsLetter(prev) || unicode.Is(unicode.Nd, prev)) {
				return "combining mark not after a letter or digit"
			}
			marks++
			if marks > maxCombiningRun {
				return "too many combining marks in a row"
			}
			continue
		case r < utf8.RuneSelf:
			if !isAtext(byte(r)) && r != '.' {
				return "disallowed character in local part"
			}
		case unicode.IsLetter(r) || unicode.Is(unicode.Nd, r):
		default:
			return "disallowed character in local part"
		}
		marks = 0
		prev = r
	}
	return ""
}

// isAtext reports whether c is RFC 5322 atext.
func isAtext(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0
}

// checkDomain returns why domain is not a valid domain, or "".
func checkDomain(domain string) string {
	switch {
	case domain == "":
		return "empty domain"
	case len(domain) > MaxEmailDomainLength:
		return "domain too long"
	case domain[0] == '[':
		return "address literal"
	}
	labels := strings.Split(domain, ".")
	if len(labels) < 2 {
		return "domain needs at least two labels"
	}
	for _, label := range labels {
		if reason := checkLabel(label); reason != "" {
			return reason
		}
	}
	tld := labels[len(labels)-1]
	if strings.Trim(tld, "0123456789") == "" {
		return "numeric top-level domain"
	}
	return ""
}

// checkLabel returns why label is not a valid domain label, or "".
func checkLabel(label string) string {
	switch {
	case label == "":
		return "empty domain label"
	case len(label) > maxEmailLabelLength:
		return "domain label too long"
	case label[0] == '-' || label[len(label)-1] == '-':
		return "domain label starts or ends with a hyphen"
	}
	var script singleScript
	marks := 0
	prev := rune(-1)
	for _, r := range label {
		switch {
		case isCombiningMark(r):
			if !(unicode.IsLetter(prev) || '0' <= prev && prev <= '9') {
				return "combining mark not after a letter or digit"
			}
			marks++
			if marks > maxCombiningRun {
				return "too many combining marks in a row"
			}
			if !script.add(r) {
				return "mixed scripts in a domain label"
			}
			continue
		case unicode.IsLetter(r):
			if !script.add(r) {
				return "mixed scripts in a domain label"
			}
		case '0' <= r && r <= '9', r == '-':
		default:
			return "disallowed character in domain"
		}
		marks = 0
		prev = r
	}
	return ""
}

// Validate reports whether e is an address in canonical form, that is
// whether ParseEmail(string(e)) returns e itself. It returns the error
// ParseEmail gives, or one wrapping [ErrInvalidEmail] with the reason
// "not in canonical form".
func (e Email) Validate() error {
	c, err := ParseEmail(string(e))
	if err != nil {
		return err
	}
	if c != e {
		return emailError("not in canonical form")
	}
	return nil
}

// String returns the address as a plain string.
func (e Email) String() string { return string(e) }

// LocalPart returns the part of the address before the '@'. For an Email
// that did not come from [ParseEmail] it returns the text before the last
// '@', or "" when there is none.
func (e Email) LocalPart() string {
	i := strings.LastIndexByte(string(e), '@')
	if i < 0 {
		return ""
	}
	return string(e[:i])
}

// Domain returns the part of the address after the '@'. For an Email that
// did not come from [ParseEmail] it returns the text after the last '@', or
// "" when there is none.
func (e Email) Domain() string {
	i := strings.LastIndexByte(string(e), '@')
	if i < 0 {
		return ""
	}
	return string(e[i+1:])
}
