package session

import (
	"context"
	"time"
)

// Store is the storage the [Service] needs. store/memory and
// store/postgres implement it; store/storetest checks implementations
// alike. Times are given by the caller and kept in UTC at microsecond
// precision. Each method is atomic.
type Store interface {
	// Create inserts s and sets s.ID, only if its user is active and has
	// the security stamp s.SecurityStamp (what the login read): the check
	// and the insert are one atomic step, so a concurrent password change,
	// reset, deactivation or reactivation either comes first (nothing is
	// inserted) or after (and its stamp change ends the session). When
	// max > 0 it then deactivates the user's active sessions beyond the
	// max most recently active ones (s counts, and is never the one
	// evicted), and returns the ids it deactivated. Errors: ErrNotFound
	// when s.UserID names no user; ErrUserChanged when the user is
	// inactive or its stamp differs; a store.ErrConflict when a hash is
	// already used.
	Create(ctx context.Context, s *Session, max int) (evicted []int64, err error)

	// ByID and ByTokenHash return the session, active or not, with its
	// user's state, in one lookup. Errors: ErrNotFound.
	ByID(ctx context.Context, id int64) (*Session, UserState, error)
	ByTokenHash(ctx context.Context, hash string) (*Session, UserState, error)
	// ByRefreshHash returns the session whose current refresh hash is
	// hash, active or not, with its user's state; if hash was replaced by
	// a rotation earlier, the session it belonged to, with ErrRotated.
	// Errors: ErrNotFound.
	ByRefreshHash(ctx context.Context, hash string) (*Session, UserState, error)

	// Rotate swaps the refresh hash in one atomic step: if the refresh
	// hash of a session that is live at at (active, expires_at after at,
	// last_activity_at after at-idle) is oldHash, it becomes newHash,
	// last_activity_at becomes at, oldHash is remembered as rotated, and
	// the updated session is returned with its user's state. Of concurrent
	// calls with one oldHash exactly one succeeds. If oldHash was rotated
	// before, or is the current hash of a session that is not live,
	// Rotate changes nothing and returns that session, unchanged, with
	// ErrRotated; if it is unknown, ErrNotFound.
	Rotate(ctx context.Context, oldHash, newHash string, at time.Time, idle time.Duration) (*Session, UserState, error)

	// Touch sets last_activity_at to at if it is earlier than at-minGap
	// and the session is active, and reports whether it wrote.
	Touch(ctx context.Context, id int64, at time.Time, minGap time.Duration) (bool, error)

	// Revoke deactivates the session and reports whether it was active.
	// Errors: ErrNotFound.
	Revoke(ctx context.Context, id int64) (bool, error)

	// RevokeUser deactivates every active session of the user except the
	// one with id except (0: none) and returns the ids it deactivated.
	RevokeUser(ctx context.Context, userID, except int64) ([]int64, error)

	// ListActive returns the user's active sessions that are valid at at:
	// expires_at after at, last_activity_at after at-idle, created no
	// earlier than the user's password change, with the user's current
	// security stamp. Most recently active first.
	ListActive(ctx context.Context, userID int64, at time.Time, idle time.Duration) ([]Session, error)

	// DeleteExpired deletes at most batch (> 0) sessions that are
	// inactive, expired at at (expires_at <= at), or idle
	// (last_activity_at <= at-idle), with their rotation history, and
	// returns how many it deleted. Callers loop until it returns less than
	// batch.
	DeleteExpired(ctx context.Context, at time.Time, idle time.Duration, batch int) (int, error)
}
