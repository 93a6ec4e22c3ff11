package user

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/secure/precis"
)

// Username is a user's login name in canonical form, as [ParseUsername]
// returns it (users.username, VARCHAR(50), unique). Two names that differ
// only by letter case or character width are the same name.
type Username string

// Username length limits, in Unicode code points of the canonical form.
const (
	MinUsernameLength = 3
	MaxUsernameLength = 50
)

// maxUsernameInput bounds the raw input, in bytes, before any normalization
// is attempted. No valid name comes near it: 50 code points are at most 200
// bytes of UTF-8, and even a fully decomposed or full-width spelling of one
// stays well below.
const maxUsernameInput = 1024

// maxCombiningRun is the most combining marks allowed in a row, in usernames
// and email addresses. Real scripts need up to four (Hebrew letter with
// dagesh, vowel point and cantillation); longer stacks are "Zalgo" text.
const maxCombiningRun = 4

// ErrInvalidUsername is wrapped by every error [ParseUsername] and
// [Username.Validate] return, with a short reason appended, as in
// "user: invalid username: too long". The reason never quotes the input.
var ErrInvalidUsername = errors.New("user: invalid username")

func usernameError(reason string) error {
	return fmt.Errorf("%w: %s", ErrInvalidUsername, reason)
}

// ParseUsername returns the canonical form of s, or an error wrapping
// [ErrInvalidUsername].
//
// s is first refused if it is longer than 1024 bytes, is not valid UTF-8, or
// contains a control character (Unicode category Cc, including NUL), a
// format character (Cf, such as the zero-width space or joiner and the
// bidirectional overrides) or white space. It is then prepared and enforced
// with the PRECIS UsernameCaseMapped profile (RFC 8265, golang.org/x/text):
// full-width and half-width characters are mapped to their normal width,
// letters are lower-cased, the result is normalized to NFC, the
// bidirectional rule of RFC 5893 applies, and characters outside the PRECIS
// IdentifierClass (symbols, compatibility characters such as "ﬁ", ...) are
// refused. A string that the profile would change again is refused too, so
// the result is always a fixed point.
//
// The result must then satisfy these rules:
//   - 3 to 50 Unicode code points long;
//   - made only of letters (category L), combining marks (Mn, Mc), the ASCII
//     digits 0-9, and the three punctuation characters '.', '_' and '-';
//   - every letter, and every combining mark that belongs to a particular
//     script, belongs to ONE script. Mixing scripts, such as a Cyrillic "а"
//     in an otherwise Latin "admin", is refused. As in Unicode UTS #39, the
//     scripts one language writes together count as one: Han with Hiragana
//     and Katakana (Japanese), Han with Hangul (Korean), Han with Bopomofo.
//     Letters that belong to no script (the Common modifier letters such as
//     "ʼ") are refused, except U+30FC KATAKANA-HIRAGANA PROLONGED SOUND
//     MARK, which counts as Japanese. Digits and punctuation mix with any
//     script;
//   - the first code point is a letter or a digit, and the last code point
//     that is not a combining mark is a letter or a digit;
//   - a combining mark follows a letter or another mark, at most 4 in a row.
func ParseUsername(s string) (Username, error) {
	if len(s) > maxUsernameInput {
		return "", usernameError("too long")
	}
	if s == "" {
		return "", usernameError("empty")
	}
	if reason := refuseInvisible(s); reason != "" {
		return "", usernameError(reason)
	}
	canon, err := precis.UsernameCaseMapped.String(s)
	if err != nil {
		return "", usernameError("disallowed character or direction (PRECIS UsernameCaseMapped)")
	}
	if again, err := precis.UsernameCaseMapped.String(canon); err != nil || again != canon {
		return "", usernameError("unstable under normalization")
	}
	n := utf8.RuneCountInString(canon)
	if n < MinUsernameLength {
		return "", usernameError("too short")
	}
	if n > MaxUsernameLength {
		return "", usernameError("too long")
	}
	if reason := checkUsernameRunes(canon); reason != "" {
		return "", usernameError(reason)
	}
	return Username(canon), nil
}

// checkUsernameRunes applies the character, script and position rules to a
// PRECIS-enforced name and returns the reason it is refused, or "".
func checkUsernameRunes(s string) string {
	var script singleScript
	marks := 0           // combining marks in a row
	lastBase := rune(-1) // last code point that is not a combining mark
	first := true
	for _, r := range s {
		switch {
		case isCombiningMark(r):
			if first || !(lastBase >= 0 && unicode.IsLetter(lastBase)) {
				return "combining mark not after a letter"
			}
			marks++
			if marks > maxCombiningRun {
				return "too many combining marks in a row"
			}
			if !script.add(r) {
				return "mixed scripts"
			}
		case unicode.IsLetter(r):
			marks = 0
			lastBase = r
			if !script.add(r) {
				return "mixed scripts"
			}
		case '0' <= r && r <= '9':
			marks = 0
			lastBase = r
		case r == '.' || r == '_' || r == '-':
			if first {
				return "must start with a letter or digit"
			}
			marks = 0
			lastBase = r
		default:
			return "disallowed character"
		}
		first = false
	}
	if !(unicode.IsLetter(lastBase) || '0' <= lastBase && lastBase <= '9') {
		return "must end with a letter or digit"
	}
	return ""
}

// Validate reports whether u is a username in canonical form, that is
// whether ParseUsername(string(u)) returns u itself. It returns the error
// ParseUsername gives, or one wrapping [ErrInvalidUsername] with the reason
// "not in canonical form".
func (u Username) Validate() error {
	c, err := ParseUsername(string(u))
	if err != nil {
		return err
	}
	if c != u {
		return usernameError("not in canonical form")
	}
	return nil
}

// String returns the username as a plain string.
func (u Username) String() string { return string(u) }

// refuseInvisible returns why s may not be part of an identifier, or "" if
// it may: invalid UTF-8, NUL, other control characters (Cc), format
// characters (Cf) and white space are refused wherever they appear.
func refuseInvisible(s string) string {
	if !utf8.ValidString(s) {
		return "invalid UTF-8"
	}
	for _, r := range s {
		switch {
		case r == 0:
			return "contains NUL"
		case unicode.Is(unicode.Cc, r):
			return "contains a control character"
		case unicode.Is(unicode.Cf, r):
			return "contains a format character"
		case unicode.IsSpace(r):
			return "contains white space"
		}
	}
	return ""
}

// isCombiningMark reports whether r is a non-spacing or spacing combining
// mark (Mn, Mc). Enclosing marks (Me) are not included.
func isCombiningMark(r rune) bool {
	return unicode.In(r, unicode.Mn, unicode.Mc)
}

// singleScript checks that the letters and script-specific marks of a
// string share one script, with the Unicode UTS #39 augmented scripts for
// Chinese, Japanese and Korean. The zero value is ready to use.
type singleScript struct {
	started bool
	// allowed holds the resolved scripts every character so far belongs
	// to; the string is single-script while it is not empty.
	allowed []string
	// last caches the table of the last script found, since consecutive
	// characters almost always share it.
	last     *unicode.RangeTable
	lastName string
}

// Names of the UTS #39 augmented script sets.
const (
	scriptJapanese = "Jpan" // Han + Hiragana + Katakana
	scriptKorean   = "Kore" // Han + Hangul
	scriptHanb     = "Hanb" // Han + Bopomofo
)

// add records r and reports whether the characters seen so far still share
// a script. Characters in no particular script (Common or Inherited) are
// neutral when they are marks and refused when they are letters, except
// U+30FC, which is Japanese.
func (s *singleScript) add(r rune) bool {
	var name string
	switch {
	case r == '\u30FC': // KATAKANA-HIRAGANA PROLONGED SOUND MARK
		name = scriptJapanese
	case s.last != nil && unicode.Is(s.last, r):
		name = s.lastName
	default:
		name, s.last = scriptOf(r)
		if name == "" {
			return !unicode.IsLetter(r)
		}
		s.lastName = name
	}
	set := resolvedScripts(name)
	if !s.started {
		s.started = true
		s.allowed = set
		return true
	}
	for _, a := range s.allowed {
		if !slices.Contains(set, a) {
			// Narrow to the common scripts in a fresh slice: allowed may
			// alias one of the shared sets.
			var both []string
			for _, b := range s.allowed {
				if slices.Contains(set, b) {
					both = append(both, b)
				}
			}
			s.allowed = both
			break
		}
	}
	return len(s.allowed) > 0
}

// Shared, read-only script sets for [singleScript].
var (
	hanScripts      = []string{"Han", scriptJapanese, scriptKorean, scriptHanb}
	hiraganaScripts = []string{"Hiragana", scriptJapanese}
	katakanaScripts = []string{"Katakana", scriptJapanese}
	hangulScripts   = []string{"Hangul", scriptKorean}
	bopomofoScripts = []string{"Bopomofo", scriptHanb}
	japaneseScripts = []string{scriptJapanese}
)

// resolvedScripts returns the scripts a character of the named script
// counts as. The result must not be modified.
func resolvedScripts(name string) []string {
	switch name {
	case "Han":
		return hanScripts
	case "Hiragana":
		return hiraganaScripts
	case "Katakana":
		return katakanaScripts
	case "Hangul":
		return hangulScripts
	case "Bopomofo":
		return bopomofoScripts
	case scriptJapanese:
		return japaneseScripts
	}
	return []string{name}
}

type namedScript struct {
	name  string
	table *unicode.RangeTable
}

// scripts lists the Unicode scripts other than Common and Inherited, sorted
// by name; it is built on first use.
var scripts = sync.OnceValue(func() []namedScript {
	list := make([]namedScript, 0, len(unicode.Scripts))
	for name, table := range unicode.Scripts {
		if name == "Common" || name == "Inherited" {
			continue
		}
		list = append(list, namedScript{name, table})
	}
	sort.Slice(list, func(i, j int) bool { return list[i].name < list[j].name })
	return list
})

// scriptOf returns the script of r and its table, or "" and nil when r is
// in Common, Inherited or no script at all.
func scriptOf(r rune) (string, *unicode.RangeTable) {
	for _, s := range scripts() {
		if unicode.Is(s.table, r) {
			return s.name, s.table
		}
	}
	return "", nil
}
