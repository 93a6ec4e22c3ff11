package oauth

import (
	"context"
	"strings"

	"golang.org/x/oauth2"

	"github.com/cedrina/cedrina/audit"
)

// storedName returns the stored name of a provider's route name: the
// configured provider's, or the name upper-cased for one that is not
// configured (a row another system wrote, a provider since removed).
func (s *Service) storedName(name string) (string, error) {
	if p, ok := s.providers[name]; ok {
		return p.stored, nil
	}
	if !validName(name) {
		return "", ErrUnknownProvider
	}
	return strings.ToUpper(name), nil
}

// Identities returns the user's linked identities, ordered by provider.
func (s *Service) Identities(ctx context.Context, userID int64) ([]*Profile, error) {
	return s.store.ByUser(ctx, userID)
}

// Unlink removes the user's identity of the provider (its route name),
// unless it is the account's last way to sign in: an account without a
// password keeps its last identity (ErrLastSignInMethod) until a password
// is set through a password reset. It records oauth_unlinked.
//
// Errors: ErrUnknownProvider for a name no provider can have;
// ErrNotFound when the user has no identity of that provider;
// ErrLastSignInMethod.
func (s *Service) Unlink(ctx context.Context, userID int64, provider string) error {
	stored, err := s.storedName(provider)
	if err != nil {
		return err
	}
	if _, err := s.store.Unlink(ctx, userID, stored); err != nil {
		return err
	}
	s.record(ctx, audit.OAuthUnlinked, audit.Info, userID, map[string]any{"provider": stored})
	return nil
}

// ProviderToken returns the provider's tokens stored for the user, opened,
// for the host to call the provider's API on the user's behalf. Never
// send them to the browser.
//
// Errors: ErrUnknownProvider; ErrNotFound; ErrTokenUnreadable when they
// were sealed under a key the Cipher does not hold.
func (s *Service) ProviderToken(ctx context.Context, userID int64, provider string) (*oauth2.Token, error) {
	stored, err := s.storedName(provider)
	if err != nil {
		return nil, err
	}
	profiles, err := s.store.ByUser(ctx, userID)
	if err != nil {
		return nil, err
	}
	for _, p := range profiles {
		if p.Provider != stored {
			continue
		}
		tok := &oauth2.Token{TokenType: "Bearer"}
		if tok.AccessToken, err = s.cipher.Open(p.AccessToken, userID, stored); err != nil {
			return nil, err
		}
		if tok.RefreshToken, err = s.cipher.Open(p.RefreshToken, userID, stored); err != nil {
			return nil, err
		}
		if p.TokenExpiresAt != nil {
			tok.Expiry = *p.TokenExpiresAt
		}
		return tok, nil
	}
	return nil, ErrNotFound
}

// Cleanup deletes the records of spent flow states that have expired, in
// batches of batch (default 1000), and returns how many it deleted.
func (s *Service) Cleanup(ctx context.Context, batch int) (int, error) {
	if batch <= 0 {
		batch = 1000
	}
	total := 0
	for {
		n, err := s.store.DeleteExpiredStates(ctx, s.clock(), batch)
		total += n
		if err != nil {
			return total, err
		}
		if n < batch {
			return total, nil
		}
		if err := ctx.Err(); err != nil {
			return total, err
		}
	}
}
