package oauth

import (
	"context"
	"fmt"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/cedrina/cedrina/audit"
	"github.com/cedrina/cedrina/internal/batch"
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

// Cleanup deletes the records of spent flow states that expired over a
// minute ago, in batches of batch (default 1,000), and returns how many
// it deleted. It is [Cleanup] with the Service's store and clock.
func (s *Service) Cleanup(ctx context.Context, batch int) (int64, error) {
	return Cleanup(ctx, s.store, CleanupConfig{Batch: batch, Now: s.now})
}

// StateGrace is how long the record of a spent flow state outlives the
// state's expiry before [Cleanup] deletes it: an instance whose clock is
// behind the cleanup's, and so takes the state for unexpired a little
// longer, still finds the record and refuses a replayed callback.
const StateGrace = time.Minute

// CleanupConfig configures [Cleanup]. Zero values are the defaults.
type CleanupConfig struct {
	// Batch is how many records one batch deletes. Default 1,000.
	Batch int
	// Pause between batches: 0 waits twice as long as the previous batch
	// took; negative does not wait.
	Pause time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Cleanup deletes from st the records of spent flow states that expired
// more than StateGrace ago, without a Service (no providers or keys
// needed), for operator tools.
func Cleanup(ctx context.Context, st Store, cfg CleanupConfig) (int64, error) {
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	n, err := batch.Expired(ctx, cfg.Batch, cfg.Pause, func() time.Time { return now().Add(-StateGrace) },
		func(at time.Time, size int) (int, error) { return st.DeleteExpiredStates(ctx, at, size) })
	if err != nil {
		return n, fmt.Errorf("oauth: cleanup: %w", err)
	}
	return n, nil
}
