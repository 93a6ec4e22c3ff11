package user

import (
	"context"
	"errors"

	"github.com/cedrina/cedrina/audit"
)

// ExternalAccount is an account to create for someone who signed in with
// an external identity (package oauth) and has no password.
type ExternalAccount struct {
	// Username is the name to take; it must be free (the caller derives
	// one and retries with another on ErrUsernameTaken).
	Username string
	// Email is the address the identity provider gave.
	Email string
	// EmailVerified records the address as verified (is_verified,
	// email_verified_at now): set it only when the provider asserts that
	// it verified the address.
	EmailVerified bool
	// ProfileData is stored as the account's profile_data.
	ProfileData map[string]any
}

// CreateExternal creates an active account without a password (its hash
// is [NoPassword]) with the default role and tier, and returns it. It
// records no audit event: the caller, which knows how the account came
// to be, does, once its own transaction has committed. Run it inside the
// caller's store.Transactor transaction when something else must be
// stored with the account.
//
// Errors: ErrInvalidUsername, ErrInvalidEmail, ErrUsernameTaken,
// ErrEmailTaken; store errors.
func (s *Service) CreateExternal(ctx context.Context, a ExternalAccount) (*User, error) {
	name, email, err := parseAccount(a.Username, a.Email)
	if err != nil {
		return nil, err
	}
	u := s.newAccount(name, email, NoPassword, s.role, s.tier)
	u.ProfileData = a.ProfileData
	if a.EmailVerified {
		at := u.CreatedAt
		u.IsVerified, u.EmailVerifiedAt = true, &at
	}
	if err := s.store.Create(ctx, u); err != nil {
		return nil, err
	}
	return u, nil
}

// LoginExternal records a sign-in that the caller authenticated by other
// means than the password (an external identity, package oauth) and
// returns the account as the sign-in left it: last_login_at set and the
// lockout cleared, as after a password login. The account must be active.
// The write is conditional on the account as read here (its security
// stamp and lock), and [LoginResult.User] carries that stamp for
// session.Service.Start, so a deactivation or password reset that races
// the sign-in leaves no session. It records login_success with data
// {"method": method}. The lockout, which counts password guesses, does
// not stop it, and a success clears it, as a password login's does.
//
// Errors: an *AuthError (errors.Is ErrInvalidCredentials) with
// AuthUnknownUser, AuthInactive, AuthAccountChanged, or AuthLocked (a
// lock set by password guesses while it ran); store errors.
func (s *Service) LoginExternal(ctx context.Context, id int64, method string) (*LoginResult, error) {
	u, err := s.store.ByID(ctx, id)
	switch {
	case errors.Is(err, ErrNotFound):
		return nil, &AuthError{Reason: AuthUnknownUser}
	case err != nil:
		return nil, err
	case !u.IsActive:
		return nil, &AuthError{Reason: AuthInactive, UserID: u.ID}
	}
	if err := s.recordSuccess(ctx, u); err != nil {
		return nil, err
	}
	s.record(ctx, audit.LoginSucceeded, audit.Info, u.ID, *u.LastLoginAt, map[string]any{"method": method})
	return &LoginResult{User: u}, nil
}
