package oauth_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/cedrina/cedrina/internal/legacytest"
	"github.com/cedrina/cedrina/legacy"
	"github.com/cedrina/cedrina/oauth"
)

// TestLegacyTokens moves the tokens the original system stored (made by
// Python's Fernet) into sealed values that open for their row only, and
// leaves sealed and empty values alone.
func TestLegacyTokens(t *testing.T) {
	t.Parallel()
	keys, err := legacy.ParseKeys(legacytest.Key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := oauth.NewCipher(oauth.Key{ID: "k1", Secret: make([]byte, 32)})
	if err != nil {
		t.Fatal(err)
	}
	move := oauth.LegacyTokens(keys, c)
	for _, p := range legacytest.Profiles {
		sealed, err := move(p.UserID, p.Provider, p.Stored)
		if err != nil {
			t.Fatalf("%s: %v", p.Provider, err)
		}
		if !strings.HasPrefix(sealed, "v1:k1:") || strings.Contains(sealed, p.Token) {
			t.Fatalf("%s: sealed value %q", p.Provider, sealed)
		}
		got, err := c.Open(sealed, p.UserID, p.Provider)
		if err != nil || got != p.Token {
			t.Fatalf("%s: opens to %q, %v; want the provider's token", p.Provider, got, err)
		}
		if _, err := c.Open(sealed, p.UserID+1, p.Provider); !errors.Is(err, oauth.ErrTokenUnreadable) {
			t.Errorf("%s: opens for another user: %v", p.Provider, err)
		}
		again, err := move(p.UserID, p.Provider, sealed)
		if err != nil || again != sealed {
			t.Errorf("%s: a second run gives %q, %v; want the value unchanged", p.Provider, again, err)
		}
	}
	if got, err := move(1, "GOOGLE", ""); got != "" || err != nil {
		t.Errorf("empty value: %q, %v", got, err)
	}

	other, err := legacy.ParseKeys(legacytest.OtherKey)
	if err != nil {
		t.Fatal(err)
	}
	p := legacytest.Profiles[0]
	if _, err := oauth.LegacyTokens(other, c)(p.UserID, p.Provider, p.Stored); !errors.Is(err, legacy.ErrWrongKey) ||
		strings.Contains(err.Error(), p.Stored) || strings.Contains(err.Error(), legacytest.OtherKey) {
		t.Errorf("wrong key: %v; want ErrWrongKey naming neither token nor key", err)
	}
	if _, err := move(p.UserID, p.Provider, "not-a-fernet-token"); !errors.Is(err, legacy.ErrMalformed) {
		t.Errorf("malformed: %v; want ErrMalformed", err)
	}
}
