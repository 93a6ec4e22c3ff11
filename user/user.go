package user

import (
	"fmt"
	"time"

	"github.com/cedrina/cedrina/store"
)

// User is an account, one row of the users table. Every column of the table
// is a field; JSON tags carry the column names. The password hash is never
// marshalled.
type User struct {
	ID                  int64      `json:"id"`
	Username            Username   `json:"username"`
	Email               Email      `json:"email"`
	HashedPassword      string     `json:"-"`
	IsActive            bool       `json:"is_active"`
	IsVerified          bool       `json:"is_verified"`
	Role                Role       `json:"role"`
	Tier                Tier       `json:"tier"`
	CreatedAt           time.Time  `json:"created_at"`
	UpdatedAt           time.Time  `json:"updated_at"`
	LastLoginAt         *time.Time `json:"last_login_at"`
	FailedLoginAttempts int        `json:"failed_login_attempts"`
	LockedUntil         *time.Time `json:"locked_until"`
	PasswordChangedAt   time.Time  `json:"password_changed_at"`
	EmailVerifiedAt     *time.Time `json:"email_verified_at"`
	// ProfileData is free-form profile information; nil is stored as NULL.
	ProfileData map[string]any `json:"profile_data"`
	// Preferences are the user's settings; nil is stored as {}.
	Preferences map[string]any `json:"preferences"`
	// Metadata is data the host keeps about the user; nil is stored as {}.
	Metadata map[string]any `json:"metadata"`
}

// Locked reports whether the account is locked out at time now.
func (u *User) Locked(now time.Time) bool {
	return u.LockedUntil != nil && u.LockedUntil.After(now)
}

// Validate reports whether u holds a storable user: a valid username,
// email, role and tier and a non-empty password hash.
func (u *User) Validate() error {
	if err := u.Username.Validate(); err != nil {
		return err
	}
	if err := u.Email.Validate(); err != nil {
		return err
	}
	if err := u.Role.Validate(); err != nil {
		return err
	}
	if err := u.Tier.Validate(); err != nil {
		return err
	}
	if u.HashedPassword == "" {
		return fmt.Errorf("user: invalid user: empty password hash")
	}
	return nil
}

// ProfileUpdate names the JSON documents to replace. A nil map leaves its
// column unchanged; a non-nil empty map stores {}.
type ProfileUpdate struct {
	ProfileData map[string]any
	Preferences map[string]any
	Metadata    map[string]any
}

// LockoutPolicy tells the store when repeated failures lock an account.
type LockoutPolicy struct {
	// Threshold is the number of consecutive failures that locks the
	// account; 0 or less never locks.
	Threshold int
	// Duration is how long a lock lasts.
	Duration time.Duration
}

// LoginFailure is the state of the lockout counter after a failed login.
type LoginFailure struct {
	// Attempts is the number of consecutive failures counted so far.
	Attempts int
	// LockedUntil is the end of the lock, or nil when the account is not
	// locked.
	LockedUntil *time.Time
}

// Sentinel errors. Each wraps the matching store sentinel, so
// errors.Is(err, store.ErrNotFound) holds for ErrNotFound too.
var (
	// ErrNotFound: no user matched.
	ErrNotFound = fmt.Errorf("user: not found: %w", store.ErrNotFound)
	// ErrUsernameTaken: another account has this username.
	ErrUsernameTaken = fmt.Errorf("user: username taken: %w", store.ErrConflict)
	// ErrEmailTaken: another account has this email address.
	ErrEmailTaken = fmt.Errorf("user: email taken: %w", store.ErrConflict)
)
