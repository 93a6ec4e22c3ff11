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
	// SetRole, SetTier and SetActive change one column, set updated_at to
	// at and return the updated user.
	SetRole(ctx context.Context, id int64, role Role, at time.Time) (*User, error)
	SetTier(ctx context.Context, id int64, tier Tier, at time.Time) (*User, error)
	SetActive(ctx context.Context, id int64, active bool, at time.Time) (*User, error)

	// SetPassword stores a new password hash, sets password_changed_at and
	// updated_at to at, and clears the lockout (failed_login_attempts = 0,
	// locked_until = NULL).
	SetPassword(ctx context.Context, id int64, hash string, at time.Time) error
	// ReplacePasswordHash swaps oldHash for newHash only if the stored hash
	// is still oldHash (compare-and-swap), for rehashing after a login; it
	// reports whether it replaced the hash and leaves password_changed_at
	// alone.
	ReplacePasswordHash(ctx context.Context, id int64, oldHash, newHash string) (bool, error)

	// RecordLoginFailure counts one failed login in a single atomic step
	// and returns the counter's new state:
	//   - if a lock has expired (locked_until <= at), counting starts anew
	//     at 1 and the lock is cleared;
	//   - otherwise the counter goes up by one;
	//   - if the account is not locked and the new count reaches
	//     p.Threshold (> 0), locked_until becomes at + p.Duration; a lock in
	//     force is never extended.
	RecordLoginFailure(ctx context.Context, id int64, at time.Time, p LockoutPolicy) (LoginFailure, error)
	// RecordLoginSuccess sets last_login_at to at and clears the lockout.
	RecordLoginSuccess(ctx context.Context, id int64, at time.Time) error

	// Delete removes the user. Rows that belong to the user in other
	// tables go with it (sessions, OAuth profiles, reset tokens); audit
	// rows keep existing with their user id set to NULL.
	Delete(ctx context.Context, id int64) error
}
