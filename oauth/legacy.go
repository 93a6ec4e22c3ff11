package oauth

import (
	"errors"
	"fmt"

	"github.com/cedrina/cedrina/legacy"
)

// LegacyTokens returns the function that moves a provider token the
// original system stored (the Fernet token's text under its key, see
// package legacy) into this package's format: opened with keys, then
// sealed by c for the user and the provider, as the Service seals tokens
// at sign-in, so that [Service.ProviderToken] reads it back. A value that
// is already sealed by this package comes back unchanged, so a second run
// changes nothing; an empty value stays empty.
//
// schema.AdoptConfig.Tokens takes it. Errors wrap legacy.ErrWrongKey or
// legacy.ErrMalformed and name neither the token nor a key.
func LegacyTokens(keys *legacy.Keys, c *Cipher) func(userID int64, provider, stored string) (string, error) {
	return func(userID int64, provider, stored string) (string, error) {
		if stored == "" {
			return "", nil
		}
		if _, ok := KeyID(stored); ok {
			return stored, nil
		}
		if c == nil {
			return "", errors.New("oauth: no cipher to seal the tokens with")
		}
		tok, err := keys.OpenToken(stored)
		if err != nil {
			return "", fmt.Errorf("oauth: the %s token of user %d: %w", provider, userID, err)
		}
		return c.Seal(tok, userID, provider), nil
	}
}
