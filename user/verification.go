package user

import (
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
