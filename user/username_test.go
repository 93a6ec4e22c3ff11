package user_test

import (
	"errors"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/cedrina/cedrina/user"
)

func TestParseUsernameValid(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"plain", "alice", "alice"},
		{"upper case folded", "Alice", "alice"},
		{"full width mapped", "ＡＬＩＣＥ", "alice"},
		{"punctuation inside", "john.doe_99-x", "john.doe_99-x"},
		{"shortest", "a-b", "a-b"},
		{"digits only", "123", "123"},
		{"consecutive punctuation", "a._b", "a._b"},
		{"precomposed accent", "josé", "josé"},
		{"decomposed accent composed (NFC)", "jose\u0301", "josé"},
		{"greek", "ΩΜΈΓΑ", "ωμέγα"},
		{"cyrillic", "Иван", "иван"},
		{"arabic", "محمد", "محمد"},
		{"hebrew with points", "שָׁלוֹם", "שָׁלוֹם"},
		{"devanagari ending in a vowel sign", "राजा", "राजा"},
		{"japanese kanji hiragana katakana", "東京たワー", "東京たワー"},
		{"japanese prolonged sound mark", "ラーメン", "ラーメン"},
		{"half width katakana mapped", "ｱｲｳ", "アイウ"},
		{"korean hangul with han", "漢字한글", "漢字한글"},
		{"dotted capital I lower-cased with a mark", "İstanbul", "i\u0307stanbul"},
		{"latin with digits", "bob2000", "bob2000"},
		{"50 code points", strings.Repeat("a", 50), strings.Repeat("a", 50)},
		{"50 two-byte code points", strings.Repeat("é", 50), strings.Repeat("é", 50)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := user.ParseUsername(tt.in)
			if err != nil {
				t.Fatalf("ParseUsername(%q): %v", tt.in, err)
			}
			if string(got) != tt.want {
				t.Fatalf("ParseUsername(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if err := got.Validate(); err != nil {
				t.Fatalf("Validate(%q): %v", got, err)
			}
			if got.String() != tt.want {
				t.Fatalf("String() = %q", got.String())
			}
		})
	}
}

func TestParseUsernameInvalid(t *testing.T) {
	tests := []struct {
		name, in, reason string
	}{
		{"empty", "", "empty"},
		{"too short", "ab", "too short"},
		{"one wide char", "ａ", "too short"},
		{"51 code points", strings.Repeat("a", 51), "too long"},
		{"huge", strings.Repeat("a", 1<<20), "too long"},
		{"NUL", "ali\x00ce", "contains NUL"},
		{"trailing NUL", "alice\x00", "contains NUL"},
		{"invalid UTF-8", "ali\xffce", "invalid UTF-8"},
		{"truncated UTF-8", "alic\xc3", "invalid UTF-8"},
		{"control", "ali\x1bce", "contains a control character"},
		{"newline", "alice\n", "contains a control character"},
		{"space", "alice smith", "contains white space"},
		{"leading space", " alice", "contains white space"},
		{"no-break space", "alice\u00a0smith", "contains white space"},
		{"ideographic space", "alice\u3000smith", "contains white space"},
		{"zero-width space", "ad\u200bmin", "contains a format character"},
		{"zero-width joiner", "ad\u200dmin", "contains a format character"},
		{"right-to-left override", "admin\u202etxt", "contains a format character"},
		{"byte order mark", "\ufeffadmin", "contains a format character"},
		{"soft hyphen", "ad\u00admin", "contains a format character"},
		{"cyrillic a in admin", "\u0430dmin", "mixed scripts"},
		{"cyrillic i in admin", "adm\u0456n", "mixed scripts"},
		{"greek alpha in admin", "\u0391DMIN", "mixed scripts"},
		{"cyrillic o in paypal", "payp\u043el", "mixed scripts"},
		{"hiragana with bopomofo", "ひらがなㄅ", "mixed scripts"},
		{"hangul with katakana", "한국カ", "mixed scripts"},
		{"latin with han", "bob漢字", "mixed scripts"},
		{"modifier letter apostrophe", "\u02bcadmin", "mixed scripts"},
		{"sql injection", "'; DROP TABLE users;--", "contains white space"},
		{"sql injection without spaces", "x';DROP/**/TABLE--", "disallowed"},
		{"quote", "o'brien", "disallowed"},
		{"at sign", "bob@example", "disallowed"},
		{"slash", "a/b/c", "disallowed"},
		{"emoji", "bob😀", "disallowed"},
		{"ligature", "ﬁle", "disallowed"},
		{"arabic-indic digit", "abc٣", "disallowed"},
		{"superscript digit", "abc²", "disallowed"},
		{"leading dot", ".alice", "must start with a letter or digit"},
		{"leading underscore", "_bob", "must start with a letter or digit"},
		{"trailing dot", "alice.", "must end with a letter or digit"},
		{"trailing hyphen", "bob-", "must end with a letter or digit"},
		{"leading combining mark", "\u0301abc", ""},
		{"mark after digit", "ab1\u0301", "combining mark not after a letter"},
		{"mark after dot", "ab.\u0301c", "combining mark not after a letter"},
		{"zalgo", "a\u0316\u0317\u0318\u0319\u031abc", "too many combining marks in a row"},
		{"only punctuation", "...", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := user.ParseUsername(tt.in)
			if err == nil {
				t.Fatalf("ParseUsername(%q) = %q, want error", tt.in, got)
			}
			if !errors.Is(err, user.ErrInvalidUsername) {
				t.Fatalf("error %v does not wrap ErrInvalidUsername", err)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "user: invalid username: ") {
				t.Fatalf("error %q lacks the prefix", msg)
			}
			if !strings.Contains(msg, tt.reason) {
				t.Fatalf("error %q does not give reason %q", msg, tt.reason)
			}
			if len(tt.in) >= 3 && strings.Contains(msg, tt.in) {
				t.Fatalf("error %q quotes the input", msg)
			}
			if err := user.Username(tt.in).Validate(); err == nil {
				t.Fatalf("Username(%q).Validate() = nil", tt.in)
			}
		})
	}
}

func TestUsernameValidateNonCanonical(t *testing.T) {
	for _, s := range []string{"Alice", "ＡＬＩＣＥ", "jose\u0301"} {
		err := user.Username(s).Validate()
		if !errors.Is(err, user.ErrInvalidUsername) || !strings.Contains(err.Error(), "not in canonical form") {
			t.Errorf("Username(%q).Validate() = %v, want not in canonical form", s, err)
		}
	}
}

// Look-alike names differ from the originals, or are refused.
func TestParseUsernameLookalikes(t *testing.T) {
	admin, err := user.ParseUsername("admin")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"ADMIN", "Admin", "ＡＤＭＩＮ", "ａｄｍｉｎ"} {
		got, err := user.ParseUsername(s)
		if err != nil || got != admin {
			t.Errorf("ParseUsername(%q) = %q, %v; want %q", s, got, err, admin)
		}
	}
	for _, s := range []string{"\u0430dmin", "\u0251dmin", "adm\u0131n", "\u0430\u0501m\u0456n", "admin\u200b", "adm\u0456n"} {
		if got, err := user.ParseUsername(s); err == nil && got == admin {
			t.Errorf("ParseUsername(%q) = %q, same as admin", s, got)
		}
	}
	// All-Cyrillic look-alikes are a single script and allowed, but they
	// are a different name.
	if got, err := user.ParseUsername("\u0430\u0441\u0435"); err != nil || got == "ace" {
		t.Errorf("cyrillic ace = %q, %v", got, err)
	}
}

func FuzzParseUsername(f *testing.F) {
	for _, s := range []string{
		"alice", "Alice", "ＡＬＩＣＥ", "jose\u0301", "İstanbul", "ラーメン", "राजा",
		"\u0430dmin", "a\x00b", "ab\xff", "'; DROP TABLE users;--", "a.b", "ǅemal",
		"ΣΑΣ", "ß", "ẞẞẞ", "\u0345\u0345\u0345", "ﬀﬀﬀ", "x\u0307\u0307abc",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := user.ParseUsername(s)
		if err != nil {
			if !errors.Is(err, user.ErrInvalidUsername) {
				t.Fatalf("error %v does not wrap ErrInvalidUsername", err)
			}
			if u != "" {
				t.Fatalf("non-empty result %q with error", u)
			}
			return
		}
		if !utf8.ValidString(string(u)) {
			t.Fatalf("invalid UTF-8 result %q", u)
		}
		if n := utf8.RuneCountInString(string(u)); n < 3 || n > 50 {
			t.Fatalf("result %q has %d code points", u, n)
		}
		again, err := user.ParseUsername(string(u))
		if err != nil || again != u {
			t.Fatalf("ParseUsername(%q) = %q, %v; want itself", u, again, err)
		}
		if err := u.Validate(); err != nil {
			t.Fatalf("Validate(%q): %v", u, err)
		}
		first, _ := utf8.DecodeRuneInString(string(u))
		if !unicode.IsLetter(first) && !('0' <= first && first <= '9') {
			t.Fatalf("result %q starts with %q", u, first)
		}
		for _, r := range string(u) {
			if unicode.IsSpace(r) || unicode.Is(unicode.Cc, r) || unicode.Is(unicode.Cf, r) {
				t.Fatalf("result %q contains %U", u, r)
			}
			if r < utf8.RuneSelf && !('a' <= r && r <= 'z' || '0' <= r && r <= '9' || r == '.' || r == '_' || r == '-') {
				t.Fatalf("result %q contains ASCII %q", u, r)
			}
		}
	})
}
