package user

import (
	"fmt"
	"time"

	"github.com/cedrina/cedrina/internal/errs"
	"github.com/cedrina/cedrina/store"
)

// User is an account, one row of the users table. Every column of the
// table is a field.
//
// Its JSON encoding is the account's public view, safe to send to its
// owner: id, username, email, is_active, is_verified, role, tier,
// created_at, updated_at, last_login_at, password_changed_at,
// email_verified_at, profile_data and preferences. The password hash, the
// lockout state (failed_login_attempts, locked_until), the security stamp
// and the host's Metadata are never marshalled. fmt and log/slog never
// show the hash either (see [User.Format] and [User.LogValue]).
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
	FailedLoginAttempts int        `json:"-"`
	LockedUntil         *time.Time `json:"-"`
	PasswordChangedAt   time.Time  `json:"password_changed_at"`
	EmailVerifiedAt     *time.Time `json:"email_verified_at"`
	// ProfileData is free-form profile information; nil is stored as NULL.
	ProfileData map[string]any `json:"profile_data"`
	// Preferences are the user's settings; nil is stored as {}.
	Preferences map[string]any `json:"preferences"`
	// Metadata is data the host keeps about the user; nil is stored as {}.
	// It is not part of the JSON view.
	Metadata map[string]any `json:"-"`
	// SecurityStamp (users.security_stamp) moves forward with every
	// password change or reset, deactivation and reactivation. A login
	// reads it before the slow password check, and what the login then
	// writes (its success, its session) is conditional on it, so a login
	// that straddles any of those changes leaves nothing behind. Sessions
	// carry the stamp they started with and end when it moves.
	SecurityStamp int64 `json:"-"`
}

// NoPassword is the password hash of an account that has no password: one
// created through an external identity (package oauth). users.hashed_password
// is NOT NULL, so the account stores this marker, which is no hash of any
// password: it never verifies, and a login against it is refused as a
// wrong password, after as long as any other refusal takes. A password is
// set later through a password reset, which replaces it.
const NoPassword = "!no-password"

// HasPassword reports whether the account has a password to sign in with
// (its hash is not [NoPassword]).
func (u *User) HasPassword() bool { return u.HashedPassword != NoPassword }

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

// Sentinel errors. Each matches the store sentinel of its class, so
// errors.Is(err, store.ErrNotFound) holds for ErrNotFound too; the
// message is the sentinel's own ("user: username taken").
var (
	// ErrNotFound: no user matched.
	ErrNotFound = errs.Kind("user: not found", store.ErrNotFound)
	// ErrUsernameTaken: another account has this username.
	ErrUsernameTaken = errs.Kind("user: username taken", store.ErrConflict)
	// ErrEmailTaken: another account has this email address.
	ErrEmailTaken = errs.Kind("user: email taken", store.ErrConflict)
	// ErrStale: the account changed (its security stamp moved: a password
	// change or reset, a deactivation or reactivation) between the read a
	// write depended on and the write, which was not made.
	ErrStale = errs.Kind("user: account changed meanwhile", store.ErrConflict)
)
