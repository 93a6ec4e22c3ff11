package user

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cedrina/cedrina/audit"
	"github.com/cedrina/cedrina/internal/batch"
	"github.com/cedrina/cedrina/internal/errs"
	"github.com/cedrina/cedrina/internal/secret"
	"github.com/cedrina/cedrina/notify"
)

// setupVerification validates the verification settings of cfg.
func (s *Service) setupVerification(cfg Config) error {
	s.verify = cfg.Verification
	switch {
	case s.verify.TTL == 0:
		s.verify.TTL = 24 * time.Hour
	case s.verify.TTL < time.Minute || s.verify.TTL > 7*24*time.Hour:
		return errs.Configf("user", "Config.Verification.TTL", "%v is outside 1m..168h", s.verify.TTL)
	}
	if s.verify.URL == "" && cfg.Notifier == nil {
		return nil
	}
	u, err := secret.ParseBase(s.verify.URL)
	if err != nil {
		return errs.ConfigErr("user", "Config.Verification.URL", err)
	}
	s.verURL = u
	return nil
}

// Close stops the goroutines that send messages, after sending what is
// queued, or when ctx ends: then the messages not sent go to the
// Config.Queue.Undelivered function and Close returns ctx's error. Give it
// a fresh context with a timeout at shutdown. Without a Notifier it does
// nothing.
func (s *Service) Close(ctx context.Context) error {
	if s.out == nil {
		return nil
	}
	return s.out.Close(ctx)
}

// RequestVerification issues a verification token for the account's
// current address and sends its link there (off the request path; see
// Config.Notifier). The token is 32 random bytes of which only the SHA-256
// is stored, with the address; it verifies that address until
// Config.Verification.TTL has passed, once, and never after the address
// changed. Issuing a token spends the account's earlier ones.
//
// Errors: ErrNoNotifier; ErrAlreadyVerified when the current address is
// verified; ErrNotFound; store errors.
func (s *Service) RequestVerification(ctx context.Context, id int64) error {
	if s.out == nil {
		return ErrNoNotifier
	}
	u, err := s.store.ByID(ctx, id)
	if err != nil {
		return err
	}
	if u.IsVerified {
		return ErrAlreadyVerified
	}
	return s.issueVerification(ctx, u)
}

func (s *Service) issueVerification(ctx context.Context, u *User) error {
	token, hash := secret.New()
	now := s.clock()
	v := &Verification{UserID: u.ID, Email: u.Email, TokenHash: hash, CreatedAt: now, ExpiresAt: now.Add(s.verify.TTL)}
	if err := s.store.CreateVerification(ctx, v); err != nil {
		return errs.Wrap("user", "issue verification", err)
	}
	s.record(ctx, audit.EmailVerificationRequested, audit.Info, u.ID, now, map[string]any{"expires_at": v.ExpiresAt.Format(time.RFC3339)})
	s.out.Send(ctx, notify.Message{Kind: notify.VerifyEmail, To: string(u.Email), UserID: u.ID, Username: string(u.Username),
		Link: secret.Link(s.verURL, token), ExpiresAt: v.ExpiresAt, Time: now})
	return nil
}

// VerifyEmail spends a verification token and marks the address it was
// sent to as verified (is_verified, email_verified_at), in one atomic
// store step that holds only while the token is unspent and unexpired,
// the address is still the account's and the account is active. Of
// concurrent calls with one token exactly one succeeds. It returns the
// updated user.
//
// Errors: a *VerificationError (errors.Is ErrInvalidVerification) naming
// why the token was refused: malformed, unknown, used, expired, the
// address changed, the account is inactive. Show callers one message for
// all of them.
func (s *Service) VerifyEmail(ctx context.Context, token string) (*User, error) {
	hash, ok := secret.Parse(token)
	if !ok {
		return nil, &VerificationError{Reason: TokenMalformed}
	}
	now := s.clock()
	u, err := s.store.ConsumeVerification(ctx, hash, now)
	switch {
	case err == nil:
		s.record(ctx, audit.EmailVerified, audit.Info, u.ID, now, nil)
		return u, nil
	case errors.Is(err, ErrTokenNotFound):
		return nil, &VerificationError{Reason: TokenUnknown}
	case errors.Is(err, ErrTokenRefused):
		return nil, s.refusedVerification(ctx, hash, now)
	}
	return nil, err
}

// refusedVerification says why the store refused the token with hash.
func (s *Service) refusedVerification(ctx context.Context, hash string, now time.Time) error {
	v, err := s.store.VerificationByHash(ctx, hash)
	switch {
	case errors.Is(err, ErrTokenNotFound):
		return &VerificationError{Reason: TokenUnknown}
	case err != nil:
		return err
	case v.UsedAt != nil:
		return &VerificationError{Reason: TokenUsed, UserID: v.UserID}
	case !v.ExpiresAt.After(now):
		return &VerificationError{Reason: TokenExpired, UserID: v.UserID}
	}
	u, err := s.store.ByID(ctx, v.UserID)
	switch {
	case errors.Is(err, ErrNotFound):
		return &VerificationError{Reason: TokenUnknown}
	case err != nil:
		return err
	case !u.IsActive:
		return &VerificationError{Reason: TokenInactive, UserID: u.ID}
	}
	// The address differs, or changed and came back between the two
	// reads: either way not the address the token was checked against.
	return &VerificationError{Reason: TokenAddressChanged, UserID: u.ID}
}

// ChangeEmail changes the account's address after checking its current
// password, which is admitted and counted like a login attempt (so a
// stolen session cannot guess it) and refused while the account is
// locked or inactive. The new address is normalized as at registration
// and must be free. The change is stored only if the account is still as
// the check read it (its address and security stamp), clears the lockout
// the check counted towards, and resets verification: the new address is
// unverified and every outstanding verification token is spent.
// Sessions go on.
//
// With a Notifier, the previous address receives a notice of the change
// and the new one a verification link (a failure to issue it is logged;
// RequestVerification issues another).
//
// Errors: ErrInvalidEmail (also when email is the current address);
// ErrEmailTaken; an *AuthError (errors.Is ErrInvalidCredentials) when
// current is wrong or the account is locked or inactive; ErrStale when the
// account changed during the call; ErrNotFound.
func (s *Service) ChangeEmail(ctx context.Context, id int64, email, current string) (*User, error) {
	u, err := s.changeEmail(ctx, id, email, current)
	var ae *AuthError
	if errors.As(err, &ae) {
		s.recordRefusal(ctx, ae, s.clock(), "email_change")
	}
	return u, err
}

func (s *Service) changeEmail(ctx context.Context, id int64, email, current string) (*User, error) {
	addr, err := ParseEmail(email)
	if err != nil {
		return nil, err
	}
	u, err := s.store.ByID(ctx, id)
	if err != nil {
		return nil, err
	}
	if u.Email == addr {
		return nil, fmt.Errorf("%w: it is the account's address already", ErrInvalidEmail)
	}
	adm, err := s.checkCurrent(ctx, id, current, "change email")
	if err != nil {
		return nil, err
	}
	now := s.clock()
	nu, err := s.store.SetEmail(ctx, id, adm.Email, addr, now, adm.SecurityStamp)
	if err != nil {
		return nil, err
	}
	s.record(ctx, audit.EmailChanged, audit.Warning, id, now, nil)
	if s.out != nil {
		s.out.Send(ctx, notify.Message{Kind: notify.EmailChanged, To: string(adm.Email), UserID: id, Username: string(nu.Username), Time: now})
		if err := s.issueVerification(ctx, nu); err != nil {
			s.log.ErrorContext(ctx, "user: issuing a verification token after an address change failed", "user_id", id, "error", err)
		}
	}
	return nu, nil
}

// CleanupConfig configures [CleanupVerifications]. Zero values are the
// defaults.
type CleanupConfig struct {
	// Batch is how many tokens one batch deletes. Default 1,000.
	Batch int
	// Pause between batches: 0 waits twice as long as the previous batch
	// took; negative does not wait.
	Pause time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// CleanupVerifications deletes the verification tokens that can no
// longer be used (spent or expired) from st, a batch at a time, until
// none is left or ctx ends, and returns how many it deleted. Run it from
// a background job or `cedrina cleanup`, not on a request path.
func CleanupVerifications(ctx context.Context, st Store, cfg CleanupConfig) (int64, error) {
	n, err := batch.Expired(ctx, cfg.Batch, cfg.Pause, cfg.Now, func(at time.Time, size int) (int, error) {
		return st.DeleteExpiredVerifications(ctx, at, size)
	})
	if err != nil {
		return n, errs.Wrap("user", "cleanup verifications", err)
	}
	return n, nil
}
