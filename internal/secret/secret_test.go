package secret

import (
	"strings"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		tok, hash := New()
		if len(tok) != Len || len(hash) != 64 {
			t.Fatalf("New() = %q (%d), %q", tok, len(tok), hash)
		}
		got, ok := Parse(tok)
		if !ok || got != hash {
			t.Fatalf("Parse(%q) = %q, %v; want %q", tok, got, ok, hash)
		}
		if seen[tok] {
			t.Fatalf("New repeated %q", tok)
		}
		seen[tok] = true
	}
}

func TestParseRefuses(t *testing.T) {
	tok, _ := New()
	for name, in := range map[string]string{
		"empty":        "",
		"truncated":    tok[:Len-1],
		"padded":       tok + "=",
		"extended":     tok + "A",
		"std base64":   strings.Repeat("+", Len),
		"nul":          tok[:Len-1] + "\x00",
		"space":        " " + tok[1:],
		"non-ascii":    tok[:Len-2] + "é",
		"huge":         strings.Repeat("A", 1<<20),
		"noncanonical": tok[:Len-1] + nonCanonical(tok[Len-1]),
	} {
		if h, ok := Parse(in); ok {
			t.Errorf("%s: Parse(%q) = %q, accepted", name, in, h)
		}
	}
}

// nonCanonical returns the character whose lowest bit differs from c's.
// The last character of a 32-byte base64url text carries 4 bits of data
// and 2 bits that must be zero, so the result writes the same bytes with
// a padding bit set: a text a strict decoder refuses.
func nonCanonical(c byte) string {
	const alpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	i := strings.IndexByte(alpha, c)
	return string(alpha[i^1])
}

func FuzzParse(f *testing.F) {
	tok, _ := New()
	f.Add(tok)
	f.Add("")
	f.Add(tok + "=")
	f.Fuzz(func(t *testing.T, s string) {
		h, ok := Parse(s)
		if !ok {
			return
		}
		if len(s) != Len || h != Hash(s) {
			t.Fatalf("Parse(%q) accepted with hash %q", s, h)
		}
		b, err := enc.DecodeString(s)
		if err != nil || enc.EncodeToString(b) != s {
			t.Fatalf("accepted %q does not round-trip", s)
		}
	})
}

func TestLink(t *testing.T) {
	for in, want := range map[string]string{
		"https://app.example.com/reset":         "https://app.example.com/reset?token=T",
		"https://app.example.com/reset?lang=fr": "https://app.example.com/reset?lang=fr&token=T",
		"http://localhost:8080/p/verify-email":  "http://localhost:8080/p/verify-email?token=T",
		"https://app.example.com/a%20b?x=1&x=2": "https://app.example.com/a%20b?token=T&x=1&x=2",
	} {
		u, err := ParseBase(in)
		if err != nil {
			t.Fatalf("ParseBase(%q): %v", in, err)
		}
		if got := Link(u, "T"); got != want {
			t.Errorf("Link(%q) = %q, want %q", in, got, want)
		}
		if again := Link(u, "T"); again != want {
			t.Errorf("Link changed its base: %q", again)
		}
	}
	for _, in := range []string{"", "/reset", "reset", "ftp://x/y", "https:///nohost", "https://u:p@x/y",
		"https://x/y#frag", "https://x/y?token=a", "javascript:alert(1)", "https://x/\x00"} {
		if _, err := ParseBase(in); err == nil {
			t.Errorf("ParseBase(%q) accepted", in)
		}
	}
}
