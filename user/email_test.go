package user_test

import (
	"errors"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/cedrina/cedrina/user"
	"golang.org/x/text/unicode/norm"
)

func TestParseEmailValid(t *testing.T) {
	tests := []struct {
		name, in, want, local, domain string
	}{
		{"plain", "alice@example.com", "alice@example.com", "alice", "example.com"},
		{"lower-cased entirely", "Alice.Smith@Example.COM", "alice.smith@example.com", "alice.smith", "example.com"},
		{"trimmed", "  bob@example.org\t\n", "bob@example.org", "bob", "example.org"},
		{"plus tag", "bob+news@example.org", "bob+news@example.org", "bob+news", "example.org"},
		{"apostrophe (parameterized queries handle it)", "o'brien@example.ie", "o'brien@example.ie", "o'brien", "example.ie"},
		{"all atext", "!#$%&'*+-/=?^_`{|}~@example.com", "!#$%&'*+-/=?^_`{|}~@example.com", "!#$%&'*+-/=?^_`{|}~", "example.com"},
		{"subdomains", "x@mail.eu.example.co.uk", "x@mail.eu.example.co.uk", "x", "mail.eu.example.co.uk"},
		{"digits and hyphens in domain", "x@123-abc.example9.com", "x@123-abc.example9.com", "x", "123-abc.example9.com"},
		{"punycode domain", "x@xn--bcher-kva.example", "x@xn--bcher-kva.example", "x", "xn--bcher-kva.example"},
		{"unicode local part (RFC 6531)", "José@example.com", "josé@example.com", "josé", "example.com"},
		{"decomposed accent composed", "jose\u0301@example.com", "josé@example.com", "josé", "example.com"},
		{"unicode domain", "info@Bücher.example", "info@bücher.example", "info", "bücher.example"},
		{"cyrillic domain label", "иван@пример.рф", "иван@пример.рф", "иван", "пример.рф"},
		{"devanagari", "राजा@उदाहरण.भारत", "राजा@उदाहरण.भारत", "राजा", "उदाहरण.भारत"},
		{"japanese", "ユーザー@例え.jp", "ユーザー@例え.jp", "ユーザー", "例え.jp"},
		{"one-letter tld", "a@b.c", "a@b.c", "a", "b.c"},
		{"local part of 64 bytes", strings.Repeat("a", 64) + "@example.com", strings.Repeat("a", 64) + "@example.com", strings.Repeat("a", 64), "example.com"},
		{"label of 63 bytes", "a@" + strings.Repeat("b", 63) + ".com", "a@" + strings.Repeat("b", 63) + ".com", "a", strings.Repeat("b", 63) + ".com"},
		{"254 bytes", strings.Repeat("a", 64) + "@" + longDomain(189), strings.Repeat("a", 64) + "@" + longDomain(189), strings.Repeat("a", 64), longDomain(189)},
		{"kelvin sign lower-cased", "\u212Aelvin@example.com", "kelvin@example.com", "kelvin", "example.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := user.ParseEmail(tt.in)
			if err != nil {
				t.Fatalf("ParseEmail(%q): %v", tt.in, err)
			}
			if string(got) != tt.want {
				t.Fatalf("ParseEmail(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if got.LocalPart() != tt.local || got.Domain() != tt.domain {
				t.Fatalf("parts of %q = %q, %q; want %q, %q", got, got.LocalPart(), got.Domain(), tt.local, tt.domain)
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

// longDomain returns a valid domain of exactly n bytes (n >= 5).
func longDomain(n int) string {
	var labels []string
	for n > 0 {
		l := min(63, n-4) // leave room for ".com"
		if l <= 0 {
			break
		}
		labels = append(labels, strings.Repeat("d", l))
		n -= l + 1
	}
	d := strings.Join(labels, ".") + ".com"
	return d
}

func TestLongDomainHelper(t *testing.T) {
	for _, n := range []int{10, 67, 189, 253} {
		if d := longDomain(n); len(d) != n {
			t.Errorf("longDomain(%d) has %d bytes", n, len(d))
		}
	}
}

// The one comparison rule: case-insensitive in full, so every spelling of
// one address gives one canonical form.
func TestParseEmailComparison(t *testing.T) {
	want := user.Email("alice@example.com")
	for _, s := range []string{"alice@example.com", "ALICE@EXAMPLE.COM", "Alice@Example.Com", " alice@example.com "} {
		got, err := user.ParseEmail(s)
		if err != nil || got != want {
			t.Errorf("ParseEmail(%q) = %q, %v; want %q", s, got, err, want)
		}
	}
	for _, s := range []string{"Alice@Example.Com", "alice@example.com "} {
		err := user.Email(s).Validate()
		if !errors.Is(err, user.ErrInvalidEmail) || !strings.Contains(err.Error(), "not in canonical form") {
			t.Errorf("Email(%q).Validate() = %v, want not in canonical form", s, err)
		}
	}
}

func TestParseEmailInvalid(t *testing.T) {
	tests := []struct {
		name, in, reason string
	}{
		{"empty", "", "empty"},
		{"blank", " \t ", "empty"},
		{"huge", strings.Repeat("a", 1<<20) + "@example.com", "too long"},
		{"over 254 bytes", strings.Repeat("a", 64) + "@" + longDomain(190), "too long"},
		{"invalid UTF-8", "ali\xffce@example.com", "invalid UTF-8"},
		{"invalid UTF-8 in domain", "alice@exa\xc3mple.com", "invalid UTF-8"},
		{"NUL", "alice\x00@example.com", "contains NUL"},
		{"NUL in domain", "alice@example.com\x00.evil.com", "contains NUL"},
		{"control", "alice\x1b@example.com", "contains a control character"},
		{"CRLF header injection", "alice@example.com\r\nBcc: victim@example.com", "contains"},
		{"inner space", "alice smith@example.com", "contains white space"},
		{"zero-width space", "ad\u200bmin@example.com", "contains a format character"},
		{"bidi override", "alice@exa\u202emple.com", "contains a format character"},
		{"missing @", "alice.example.com", "missing @"},
		{"two @", "alice@bob@example.com", "more than one @"},
		{"empty local part", "@example.com", "empty local part"},
		{"local part of 65 bytes", strings.Repeat("a", 65) + "@example.com", "local part too long"},
		{"quoted local part", `"alice"@example.com`, "quoted local part"},
		{"quoted local part with space", `"john doe"@example.com`, "contains white space"},
		{"leading dot", ".alice@example.com", "local part starts with a dot"},
		{"trailing dot", "alice.@example.com", "local part ends with a dot"},
		{"double dot", "al..ice@example.com", "consecutive dots"},
		{"comma", "a,b@example.com", "disallowed character in local part"},
		{"parentheses comment", "alice(comment)@example.com", "disallowed character in local part"},
		{"backslash", `a\b@example.com`, "disallowed character in local part"},
		{"angle brackets", "<alice@example.com>", "disallowed character in local part"},
		{"sql injection", "'; DROP TABLE users;--@example.com", "contains white space"},
		{"sql injection without spaces", "x';DROP/**/TABLE--@example.com", "disallowed character in local part"},
		{"emoji local part", "bob😀@example.com", "disallowed character in local part"},
		{"empty domain", "alice@", "empty domain"},
		{"single label", "alice@localhost", "at least two labels"},
		{"trailing dot domain", "alice@example.com.", "empty domain label"},
		{"leading dot domain", "alice@.example.com", "empty domain label"},
		{"double dot domain", "alice@example..com", "empty domain label"},
		{"leading hyphen", "alice@-example.com", "hyphen"},
		{"trailing hyphen", "alice@example-.com", "hyphen"},
		{"underscore in domain", "alice@ex_ample.com", "disallowed character in domain"},
		{"IPv4 literal", "alice@[192.0.2.1]", "address literal"},
		{"IPv6 literal", "alice@[IPv6:2001:db8::1]", "address literal"},
		{"dotted IPv4", "alice@192.0.2.1", "numeric top-level domain"},
		{"numeric tld", "alice@example.123", "numeric top-level domain"},
		{"label of 64 bytes", "a@" + strings.Repeat("b", 64) + ".com", "domain label too long"},
		{"domain of 254 bytes", "a@" + longDomain(254), "too long"},
		{"mixed-script label", "alice@p\u0430ypal.com", "mixed scripts in a domain label"},
		{"greek omicron in google", "alice@g\u03bf\u03bfgle.com", "mixed scripts in a domain label"},
		{"full-width letters", "ａｌｉｃｅ@example.com", "compatibility character"},
		{"ligature", "ﬁle@example.com", "compatibility character"},
		{"long s", "\u017fam@example.com", "compatibility character"},
		{"full-width at sign", "alice＠example.com", "compatibility character"},
		{"ideographic full stop", "alice@example。com", "at least two labels"},
		{"leading combining mark", "\u0301alice@example.com", "combining mark"},
		{"mark after dot", "a.\u0301b@example.com", "combining mark"},
		{"zalgo", "a\u0316\u0317\u0318\u0319\u031a@example.com", "too many combining marks in a row"},
		{"symbol in domain", "alice@exa$mple.com", "disallowed character in domain"},
		{"percent-encoded at", "alice%40evil.com", "missing @"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := user.ParseEmail(tt.in)
			if err == nil {
				t.Fatalf("ParseEmail(%q) = %q, want error", tt.in, got)
			}
			if !errors.Is(err, user.ErrInvalidEmail) {
				t.Fatalf("error %v does not wrap ErrInvalidEmail", err)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "user: invalid email: ") {
				t.Fatalf("error %q lacks the prefix", msg)
			}
			if !strings.Contains(msg, tt.reason) {
				t.Fatalf("error %q does not give reason %q", msg, tt.reason)
			}
			if len(tt.in) >= 3 && strings.Contains(msg, tt.in) {
				t.Fatalf("error %q quotes the input", msg)
			}
			if err := user.Email(tt.in).Validate(); err == nil {
				t.Fatalf("Email(%q).Validate() = nil", tt.in)
			}
		})
	}
}

func TestEmailPartsOfUnparsed(t *testing.T) {
	e := user.Email("no-at-sign")
	if e.LocalPart() != "" || e.Domain() != "" {
		t.Errorf("parts of %q = %q, %q", e, e.LocalPart(), e.Domain())
	}
}

func FuzzParseEmail(f *testing.F) {
	for _, s := range []string{
		"alice@example.com", "Alice@Example.COM", " bob@x.org ", "José@Bücher.example",
		"a@b@c.com", "\"q\"@example.com", "a@[1.2.3.4]", "a@1.2.3.4", "'; DROP TABLE users;--@x.com",
		"a\x00@x.com", "a@x\xff.com", "\u212A@example.com", "ẞ@example.com", "ǅ@example.com",
		"İ@example.com", "σ@ΣΑΣ.gr", "ユーザー@例え.jp", "a@p\u0430ypal.com",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := user.ParseEmail(s)
		if err != nil {
			if !errors.Is(err, user.ErrInvalidEmail) {
				t.Fatalf("error %v does not wrap ErrInvalidEmail", err)
			}
			if e != "" {
				t.Fatalf("non-empty result %q with error", e)
			}
			return
		}
		str := string(e)
		if !utf8.ValidString(str) || len(str) > 254 {
			t.Fatalf("result %q: invalid UTF-8 or %d bytes", e, len(str))
		}
		if strings.ToLower(str) != str {
			t.Fatalf("result %q is not lower case", e)
		}
		if !norm.NFC.IsNormalString(str) {
			t.Fatalf("result %q is not NFC", e)
		}
		if strings.Count(str, "@") != 1 {
			t.Fatalf("result %q does not have one @", e)
		}
		if l, d := e.LocalPart(), e.Domain(); l == "" || d == "" || len(l) > 64 || len(d) > 253 || l+"@"+d != str {
			t.Fatalf("result %q splits into %q, %q", e, l, d)
		}
		for _, r := range str {
			if unicode.IsSpace(r) || unicode.Is(unicode.Cc, r) || unicode.Is(unicode.Cf, r) {
				t.Fatalf("result %q contains %U", e, r)
			}
		}
		again, err := user.ParseEmail(str)
		if err != nil || again != e {
			t.Fatalf("ParseEmail(%q) = %q, %v; want itself", e, again, err)
		}
		if err := e.Validate(); err != nil {
			t.Fatalf("Validate(%q): %v", e, err)
		}
		// Any case variant of an accepted ASCII address is the same address.
		if isASCII(str) {
			up, err := user.ParseEmail(strings.ToUpper(str))
			if err != nil || up != e {
				t.Fatalf("ParseEmail(upper %q) = %q, %v", e, up, err)
			}
		}
	})
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
