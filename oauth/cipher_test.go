package oauth_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/cedrina/cedrina/oauth"
)

func key(id string, b byte) oauth.Key { return oauth.Key{ID: id, Secret: bytes.Repeat([]byte{b}, 32)} }

func TestCipherRoundTrip(t *testing.T) {
	c, err := oauth.NewCipher(key("k1", 1))
	if err != nil {
		t.Fatal(err)
	}
	for _, tok := range []string{"ya29.token", "ünïcödé token", strings.Repeat("x", 8192), "with\x00nul"} {
		sealed := c.Seal(tok, 42, "GOOGLE")
		if strings.Contains(sealed, tok) {
			t.Fatalf("sealed value contains the token")
		}
		if id, ok := oauth.KeyID(sealed); !ok || id != "k1" {
			t.Fatalf("KeyID(%q) = %q, %v", sealed[:10], id, ok)
		}
		got, err := c.Open(sealed, 42, "GOOGLE")
		if err != nil || got != tok {
			t.Fatalf("Open = %q, %v; want the token", got, err)
		}
	}
	if c.Seal("", 1, "GOOGLE") != "" {
		t.Fatal("an empty token seals to something")
	}
	if got, err := c.Open("", 1, "GOOGLE"); got != "" || err != nil {
		t.Fatalf("Open(\"\") = %q, %v", got, err)
	}
}

func TestCipherFreshNonce(t *testing.T) {
	c, _ := oauth.NewCipher(key("k1", 1))
	seen := map[string]bool{}
	for range 1000 {
		s := c.Seal("same token", 1, "GITHUB")
		if seen[s] {
			t.Fatal("two seals of one token are equal: the nonce repeats")
		}
		seen[s] = true
	}
}

// The additional data binds a sealed token to its user and provider; a
// value copied into another row does not open.
func TestCipherRefuses(t *testing.T) {
	c, _ := oauth.NewCipher(key("k1", 1))
	other, _ := oauth.NewCipher(key("k1", 2))
	sealed := c.Seal("secret-token", 7, "GOOGLE")
	raw := strings.TrimPrefix(sealed, "v1:k1:")
	b, _ := base64.RawURLEncoding.DecodeString(raw)
	b[len(b)-1] ^= 1
	tampered := "v1:k1:" + base64.RawURLEncoding.EncodeToString(b)
	cases := map[string]struct {
		c        *oauth.Cipher
		s        string
		user     int64
		provider string
	}{
		"other user":      {c, sealed, 8, "GOOGLE"},
		"other provider":  {c, sealed, 7, "GITHUB"},
		"other key":       {other, sealed, 7, "GOOGLE"},
		"tampered":        {c, tampered, 7, "GOOGLE"},
		"unknown key id":  {c, strings.Replace(sealed, "v1:k1:", "v1:k9:", 1), 7, "GOOGLE"},
		"plain text":      {c, "secret-token", 7, "GOOGLE"},
		"truncated":       {c, sealed[:12], 7, "GOOGLE"},
		"bad base64":      {c, "v1:k1:!!!", 7, "GOOGLE"},
		"invalid key id":  {c, "v1:k 1:AAAA", 7, "GOOGLE"},
		"nul in key id":   {c, "v1:k\x001:AAAA", 7, "GOOGLE"},
		"invalid utf8 id": {c, "v1:\xff:AAAA", 7, "GOOGLE"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := tc.c.Open(tc.s, tc.user, tc.provider)
			if !errors.Is(err, oauth.ErrTokenUnreadable) || got != "" {
				t.Fatalf("Open = %q, %v; want ErrTokenUnreadable", got, err)
			}
			if strings.Contains(err.Error(), "secret-token") {
				t.Fatalf("the error quotes the token: %v", err)
			}
		})
	}
}

func TestCipherRotation(t *testing.T) {
	old, _ := oauth.NewCipher(key("2025", 1))
	sealed := old.Seal("token", 1, "GOOGLE")
	rotated, err := oauth.NewCipher(key("2026", 2), key("2025", 1))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := rotated.Open(sealed, 1, "GOOGLE"); err != nil || got != "token" {
		t.Fatalf("the rotated cipher does not open the old key's value: %q, %v", got, err)
	}
	if id, _ := oauth.KeyID(rotated.Seal("token", 1, "GOOGLE")); id != "2026" || rotated.Current() != "2026" {
		t.Fatalf("new values are sealed under %q; want 2026", id)
	}
}

func TestNewCipherRefuses(t *testing.T) {
	for name, keys := range map[string][]oauth.Key{
		"short secret":  {{ID: "a", Secret: make([]byte, 16)}},
		"empty id":      {{ID: "", Secret: make([]byte, 32)}},
		"long id":       {{ID: strings.Repeat("a", 33), Secret: make([]byte, 32)}},
		"id with colon": {{ID: "a:b", Secret: make([]byte, 32)}},
		"duplicate id":  {key("a", 1), key("a", 2)},
	} {
		if _, err := oauth.NewCipher(keys[0], keys[1:]...); err == nil {
			t.Errorf("%s: NewCipher accepted it", name)
		}
	}
}

func TestParseKeys(t *testing.T) {
	k1 := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, 32))
	k2 := base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte{0xfb}, 32))
	c, err := oauth.ParseKeys(" new:" + k2 + " , old:" + k1 + "\n")
	if err != nil {
		t.Fatal(err)
	}
	if c.Current() != "new" {
		t.Fatalf("current key %q; want new", c.Current())
	}
	oldC, _ := oauth.NewCipher(oauth.Key{ID: "old", Secret: bytes.Repeat([]byte{1}, 32)})
	if got, err := c.Open(oldC.Seal("t", 1, "X"), 1, "X"); err != nil || got != "t" {
		t.Fatalf("the parsed old key does not open: %v", err)
	}
	secret := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{9}, 16))
	for _, bad := range []string{"", "nocolon", "id:" + secret, "id:not-base64!", ":" + k1} {
		_, err := oauth.ParseKeys(bad)
		if err == nil {
			t.Errorf("ParseKeys(%q) accepted it", bad)
		} else if strings.Contains(err.Error(), secret) {
			t.Errorf("the error quotes the secret: %v", err)
		}
	}
}
