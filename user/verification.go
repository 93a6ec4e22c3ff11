package user

import (
	"errors"
	"time"

	"github.com/cedrina/cedrina/internal/errs"
	"github.com/cedrina/cedrina/store"
)

// Verification is an email verification token, one row of the
// email_verification_tokens table: the hash of a secret sent to Email, an
// address the user had when it was issued. Only the hash is stored.
type Verification struct {
	ID     int64
	UserID int64
	// Email is the address the token verifies. It verifies nothing once
	// the user's address is another.
	Email Email
	// TokenHash is the hex SHA-256 of the token the user was sent.
	TokenHash string
	CreatedAt time.Time
	ExpiresAt time.Time
	// UsedAt is when the token was spent: used, or replaced by a newer
	// token or an address change. nil while it is outstanding.
	UsedAt *time.Time
}

// Store errors of verification tokens.
var (
	// ErrTokenNotFound: no verification token has this hash.
	ErrTokenNotFound = errs.Kind("user: verification token not found", store.ErrNotFound)
	// ErrTokenRefused: the token is spent, expired, for an address the
	// user no longer has, or its user is inactive; nothing changed.
	ErrTokenRefused = errs.Kind("user: verification token refused", store.ErrConflict)
)

// VerificationConfig configures email verification.
type VerificationConfig struct {
	// URL is the address of the host's page that takes a verification
	// token, as its "token" query parameter (other parameters of URL are
	// kept): "https://app.example.com/verify-email". Links are built
	// from it, never from a request's Host header. Required with
	// Config.Notifier; absolute, http or https, without a fragment.
	URL string
	// TTL is how long a token verifies. Default 24 hours; at most 7 days.
	TTL time.Duration
}

// ErrInvalidVerification is the one error a refused verification token
// gives, whatever the reason; a *VerificationError says which.
var ErrInvalidVerification = errors.New("user: invalid or expired verification token")

// ErrAlreadyVerified: the account's current address is verified already;
// no token was issued.
var ErrAlreadyVerified = errs.Kind("user: email already verified", store.ErrConflict)

// ErrNoNotifier: the service has no Config.Notifier to send a
// verification link through.
var ErrNoNotifier = errors.New("user: no Notifier configured")

// TokenReason says why a token was refused.
type TokenReason string

// The reasons a verification token is refused.
const (
	// TokenMalformed: not a token as the service writes them (truncated,
	// padded, wrong alphabet or length).
	TokenMalformed TokenReason = "malformed"
	// TokenUnknown: no such token (never issued, or deleted by cleanup).
	TokenUnknown TokenReason = "unknown"
	// TokenUsed: used, or replaced by a newer token or an address change.
	TokenUsed TokenReason = "used"
	// TokenExpired: older than its lifetime.
	TokenExpired TokenReason = "expired"
	// TokenAddressChanged: the account's address is no longer the one the
	// token was sent to.
	TokenAddressChanged TokenReason = "address_changed"
	// TokenInactive: the account is deactivated.
	TokenInactive TokenReason = "inactive"
)

// VerificationError is the error of a refused verification token. It
// matches [ErrInvalidVerification]; Reason tells the host why, for its
// logs. Callers should be shown one message for every reason.
type VerificationError struct {
	Reason TokenReason
	// UserID is the token's user, 0 when unknown.
	UserID int64
}

func (e *VerificationError) Error() string {
	return ErrInvalidVerification.Error() + " (" + string(e.Reason) + ")"
}

// Is makes errors.Is(err, ErrInvalidVerification) hold.
func (e *VerificationError) Is(target error) bool { return target == ErrInvalidVerification }
