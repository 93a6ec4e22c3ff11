package oauth

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"
)

func TestFlowSeal(t *testing.T) {
	s, _ := newSealer(bytes.Repeat([]byte{7}, 32))
	f := &flow{V: 1, State: "st", Verifier: "cv", Nonce: "n", Provider: "acme", ReturnTo: "/x", Expires: 99, LinkUser: 5, LinkStamp: 2}
	sealed := s.seal(f)
	for _, secret := range []string{"cv", "acme", "/x"} {
		if strings.Contains(sealed, base64.RawURLEncoding.EncodeToString([]byte(secret))) {
			t.Fatalf("the sealed flow shows %q", secret)
		}
	}
	got, err := s.open(sealed)
	if err != nil || *got != *f {
		t.Fatalf("open = %+v, %v; want %+v", got, err, f)
	}
	other, _ := newSealer(bytes.Repeat([]byte{8}, 32))
	raw, _ := base64.RawURLEncoding.DecodeString(sealed)
	raw[len(raw)/2] ^= 0x40
	flipped := base64.RawURLEncoding.EncodeToString(raw)
	unsealed, _ := newSealer(bytes.Repeat([]byte{7}, 32))
	empty := unsealed.seal(&flow{V: 1})
	for name, v := range map[string]string{
		"other key": sealed, "tampered": flipped, "empty": "", "garbage": "!!!", "short": sealed[:10],
		"huge": strings.Repeat("A", maxCookie+1), "no state": empty,
	} {
		sl := s
		if name == "other key" {
			sl = other
		}
		if _, err := sl.open(v); err == nil {
			t.Errorf("%s: opened", name)
		}
	}
}

// FuzzFlowOpen checks that no cookie value but a sealed one opens, and
// that opening never panics.
func FuzzFlowOpen(f *testing.F) {
	s, _ := newSealer(bytes.Repeat([]byte{7}, 32))
	f.Add(s.seal(&flow{V: 1, State: "s", Verifier: "v", Provider: "p"}))
	f.Add("")
	f.Add("AAAA")
	f.Fuzz(func(t *testing.T, v string) {
		if fl, err := s.open(v); err == nil && (fl.State != "s" || fl.Verifier != "v") {
			t.Fatalf("opened a forged flow %+v", fl)
		}
	})
}
