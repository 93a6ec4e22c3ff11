package reset

import (
	"context"
	"net/netip"
	"time"

	"github.com/cedrina/cedrina/internal/errs"
	"github.com/cedrina/cedrina/store"
)

// Token is a password reset token, one row of the password_reset_tokens
// table. Only the hash of the secret sent to the user is stored.
type Token struct {
	ID     int64
	UserID int64
	// TokenHash is the hex SHA-256 of the token the user was sent.
	TokenHash string
	// IsUsed is set when the token is spent: used for a reset, or
	// replaced by a newer request. UsedAt is when.
	IsUsed    bool
	UsedAt    *time.Time
	CreatedAt time.Time
	ExpiresAt time.Time
	// ClientIP and UserAgent are those of the request that asked for the
	// token (ClientIP's zero value is stored as NULL).
	ClientIP  netip.Addr
	UserAgent string
	// SecurityStamp is the user's security stamp when the token was
	// issued (see user.User.SecurityStamp), kept in the row's
	// security_context document as {"security_stamp": n}. The token is
	// refused once the stamp has moved: after a password change or reset,
	// a deactivation or a reactivation. nil for a row written without one
	// (by another system), which is then judged by its created_at against
	// the user's password_changed_at alone.
	SecurityStamp *int64
}

// Store is the storage the [Service] needs. store/memory and
// store/postgres implement it, and store/storetest checks any
// implementation against the behaviour written here. Times are given by
// the caller and kept in UTC at microsecond precision. Each method is
// atomic.
type Store interface {
	// Issue inserts t (its ID is set) and, in the same atomic step,
	// spends every other unspent token of t.UserID (is_used true, used_at
	// t.CreatedAt), so that a user has at most one outstanding token.
	// Errors: ErrUnknownUser when t.UserID names no user; a
	// store.ErrConflict when t.TokenHash is already stored.
	Issue(ctx context.Context, t *Token) error
	// ByHash returns the token with that hash, spent or not. Errors:
	// ErrNotFound.
	ByHash(ctx context.Context, hash string) (*Token, error)
	// Consume spends the token with that hash, only if it is unspent and
	// unexpired at at (expires_at after at): is_used becomes true and
	// used_at at, and the spent token is returned. Of concurrent calls
	// with one hash exactly one succeeds. Otherwise nothing changes and
	// the error is ErrNotFound (no such hash) or ErrSpent, returned with
	// the token as stored, so the caller can tell a used token from an
	// expired one.
	Consume(ctx context.Context, hash string, at time.Time) (*Token, error)
	// InvalidateUser spends every unspent token of the user (is_used
	// true, used_at at) and returns how many it spent.
	InvalidateUser(ctx context.Context, userID int64, at time.Time) (int, error)
	// DeleteExpired deletes at most batch (> 0) tokens that can no longer
	// be used (spent, or expired at at: expires_at <= at) and returns how
	// many it deleted. Callers loop until it returns less than batch.
	DeleteExpired(ctx context.Context, at time.Time, batch int) (int, error)
}

// Store errors. Each matches the store sentinel of its class.
var (
	// ErrNotFound: no token has this hash.
	ErrNotFound = errs.Kind("reset: token not found", store.ErrNotFound)
	// ErrSpent: the token was used, replaced by a newer one, or has
	// expired.
	ErrSpent = errs.Kind("reset: token spent or expired", store.ErrConflict)
	// ErrUnknownUser: the token names no user.
	ErrUnknownUser = errs.Kind("reset: unknown user", store.ErrNotFound)
)
