package user

import (
	"context"
	"time"
)

// Store is the storage the [Service] needs. store/memory and store/postgres
// implement it, and store/storetest checks any implementation against the
// behaviour written here.
//
// Times are given by the caller (the service's clock) and stored at
// microsecond precision in UTC. Every method that names a user by id
// returns [ErrNotFound] when there is none. Implementations must make each
// method atomic: concurrent calls never lose an update.
type Store interface {
	// Create inserts u and sets u.ID. It returns ErrUsernameTaken or
	// ErrEmailTaken when another row already holds the username or email;
	// the unique constraint decides, so concurrent creations of one name
	// give exactly one success.
	Create(ctx context.Context, u *User) error

	// ByID, ByUsername and ByEmail return the user or ErrNotFound. Usernames
	// and emails are compared exactly: callers pass the normalized forms
	// that ParseUsername and ParseEmail return.
	ByID(ctx context.Context, id int64) (*User, error)
	ByUsername(ctx context.Context, name Username) (*User, error)
	ByEmail(ctx context.Context, email Email) (*User, error)

	// UpdateProfile replaces the documents named in p, sets updated_at to
	// at and returns the updated user.
	UpdateProfile(ctx context.Context, id int64, p ProfileUpdate, at time.Time) (*User, error)
	// SetRole and SetTier change one column, set updated_at to at and
	// return the updated user.
	SetRole(ctx context.Context, id int64, role Role, at time.Time) (*User, error)
	SetTier(ctx context.Context, id int64, tier Tier, at time.Time) (*User, error)
	// SetActive sets is_active and updated_at to at and returns the updated
	// user. When is_active changes, the security stamp moves forward (+1)
	// in the same statement.
	SetActive(ctx context.Context, id int64, active bool, at time.Time) (*User, error)

	// SetPassword stores a new password hash, only if the user's security
	// stamp is still stamp: the value the caller read before its slow
	// steps (checking the current password or a reset token, hashing the
	// new one). In one atomic step it sets password_changed_at and
	// updated_at to at, clears the lockout (failed_login_attempts = 0,
	// locked_until = NULL) and moves the security stamp forward (+1).
	// Errors: ErrStale when the stamp has moved (nothing changed),
	// ErrNotFound.
	SetPassword(ctx context.Context, id int64, hash string, at time.Time, stamp int64) error
	// ReplacePasswordHash swaps oldHash for newHash only if the stored hash
	// is still oldHash (compare-and-swap), for rehashing after a login; it
	// reports whether it replaced the hash and leaves password_changed_at
	// and the security stamp alone (the password is the same).
	ReplacePasswordHash(ctx context.Context, id int64, oldHash, newHash string) (bool, error)

	// AdmitLogin admits one password attempt on the account, in a single
	// atomic step, before the password is verified, and returns the user
	// as that step left it: the hash and the security stamp the attempt
	// is to be verified against. An attempt is admitted when the account
	// is active (is_active true) and not locked at at (locked_until is
	// NULL or not after at). Admission counts the attempt as a failure in
	// advance, so that concurrent attempts are counted without a later
	// write:
	//   - if a lock has expired (locked_until <= at), counting starts anew:
	//     failed_login_attempts becomes 1 and the lock is cleared;
	//   - otherwise failed_login_attempts goes up by one;
	//   - if the new count reaches p.Threshold (> 0), locked_until becomes
	//     at + p.Duration.
	// So of N concurrent attempts on an unlocked account exactly
	// p.Threshold are admitted. An attempt that is not admitted changes
	// nothing; the user is returned as stored, with admitted false (it is
	// inactive, or locked: by a lock in force or by attempts admitted
	// concurrently). Errors: ErrNotFound.
	AdmitLogin(ctx context.Context, id int64, at time.Time, p LockoutPolicy) (u *User, admitted bool, err error)
	// RecordLoginSuccess records that an admitted attempt verified the
	// password: it sets last_login_at to at and clears the lockout, only
	// if the account is still as the admission left it: active, security
	// stamp equal to stamp, and no lock in force at at other than
	// lockedUntil (the value AdmitLogin returned: nil, or the lock that
	// very attempt set); a lock that has expired, or was cleared by
	// another success, is no lock. So a login verified against a stale read never
	// clears a lock it did not see, and never succeeds once the account
	// was locked, its password changed or it was deactivated in between.
	// It reports whether it wrote. Errors: ErrNotFound.
	RecordLoginSuccess(ctx context.Context, id int64, at time.Time, stamp int64, lockedUntil *time.Time) (bool, error)

	// SetEmail changes the user's address from old to email, only if the
	// user's address is still old and its security stamp is still stamp
	// (what the caller read before checking the current password). In one
	// atomic step it sets email, clears verification (is_verified false,
	// email_verified_at NULL), clears the lockout (failed_login_attempts
	// = 0, locked_until = NULL: the caller verified the password, and
	// AdmitLogin counted that check in advance), sets updated_at to at,
	// spends the user's outstanding verification tokens (used_at = at),
	// and returns the updated user. The security stamp does not move: sessions go on.
	// Errors: ErrEmailTaken when another account has email (the unique
	// constraint decides); ErrStale when the address or the stamp moved
	// (nothing changed); ErrNotFound.
	SetEmail(ctx context.Context, id int64, old, email Email, at time.Time, stamp int64) (*User, error)

	// CreateVerification inserts v (its ID is set) and, in the same atomic
	// step, spends the user's other outstanding verification tokens
	// (used_at = v.CreatedAt). Errors: ErrNotFound when v.UserID names no
	// user; a store.ErrConflict when v.TokenHash is already stored.
	CreateVerification(ctx context.Context, v *Verification) error
	// VerificationByHash returns the verification token with that hash,
	// spent or not. Errors: ErrTokenNotFound.
	VerificationByHash(ctx context.Context, hash string) (*Verification, error)
	// ConsumeVerification spends the token with that hash and verifies its
	// address, in one atomic step, only if the token is unspent (used_at
	// NULL), unexpired at at (expires_at after at) and its address is the
	// user's current one, and the user is active: used_at becomes at,
	// is_verified true, email_verified_at at (when not already set: a
	// verified address keeps its first verification time) and updated_at
	// at. It returns the updated user. Of concurrent calls with one hash,
	// exactly one succeeds. Otherwise nothing changes and the error is
	// ErrTokenNotFound (no such hash) or ErrTokenRefused (the token is
	// spent, expired, for another address, or its user inactive).
	ConsumeVerification(ctx context.Context, hash string, at time.Time) (*User, error)
	// DeleteExpiredVerifications deletes at most batch (> 0) verification
	// tokens that can no longer be used (spent, or expired at at) and
	// returns how many it deleted. Callers loop until it returns less than
	// batch.
	DeleteExpiredVerifications(ctx context.Context, at time.Time, batch int) (int, error)

	// Delete removes the user. Rows that belong to the user in other
	// tables go with it (sessions, OAuth profiles, reset tokens); audit
	// rows keep existing with their user id set to NULL.
	Delete(ctx context.Context, id int64) error
}
