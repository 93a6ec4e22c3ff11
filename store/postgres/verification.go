package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/cedrina/cedrina/store"
	"github.com/cedrina/cedrina/user"
)

// Email verification tokens live in email_verification_tokens, whose rows
// belong to a user (ON DELETE CASCADE). Every method that changes a user's
// tokens takes the lock of the user's row first and the tokens' row locks
// after it, so they serialise per user and never deadlock one another:
// SetEmail by its UPDATE of the row, CreateVerification and
// ConsumeVerification by SELECT ... FOR NO KEY UPDATE.

const verificationColumns = `id, user_id, email, token_hash, created_at, expires_at, used_at`

// verificationRow is an email_verification_tokens row as scanned.
type verificationRow struct {
	ID        int64        `db:"id"`
	UserID    int64        `db:"user_id"`
	Email     string       `db:"email"`
	TokenHash string       `db:"token_hash"`
	CreatedAt time.Time    `db:"created_at"`
	ExpiresAt time.Time    `db:"expires_at"`
	UsedAt    sql.NullTime `db:"used_at"`
}

func (r *verificationRow) toVerification() *user.Verification {
	return &user.Verification{
		ID:        r.ID,
		UserID:    r.UserID,
		Email:     user.Email(r.Email),
		TokenHash: r.TokenHash,
		CreatedAt: r.CreatedAt.UTC(),
		ExpiresAt: r.ExpiresAt.UTC(),
		UsedAt:    utcPtr(r.UsedAt),
	}
}

// errVerificationHashInUse is the error for a verification token hash
// already stored (email_verification_tokens_token_hash_key).
var errVerificationHashInUse = fmt.Errorf("postgres: verification token hash already in use: %w", store.ErrConflict)

// mapVerificationErr turns translated errors of the verification methods
// into the user package's sentinels: a token of no user is ErrNotFound,
// a hash already stored a store.ErrConflict.
func mapVerificationErr(err error) error {
	switch constraintName(err) {
	case "email_verification_tokens_user_id_fkey":
		return user.ErrNotFound
	case "email_verification_tokens_token_hash_key":
		return errVerificationHashInUse
	}
	return mapUserErr(err)
}

// SetEmail implements [user.Store] in one transaction (the caller's, if
// ctx carries one) of two statements: the conditional UPDATE of the user,
// which locks its row, then the spending of the user's outstanding
// tokens. The second statement runs after the lock is held, so under READ
// COMMITTED it sees every token a CreateVerification committed before:
// one statement could not, as all its parts read one snapshot, taken
// before the lock was granted. (In a caller's REPEATABLE READ or
// SERIALIZABLE transaction every statement reads the transaction's
// snapshot, and a token issued after it is left outstanding; it still
// verifies nothing unless its address is the new one.)
func (s *UserStore) SetEmail(ctx context.Context, id int64, old, email user.Email, at time.Time, stamp int64) (*user.User, error) {
	if !isRowID(id) {
		return nil, user.ErrNotFound
	}
	var out *user.User
	err := s.db.InTx(ctx, func(ctx context.Context) error {
		var row userRow
		err := s.db.run(ctx, func(q querier) error {
			return q.GetContext(ctx, &row, `
UPDATE users SET email = $3, is_verified = false, email_verified_at = NULL, updated_at = $4,
    failed_login_attempts = 0, locked_until = NULL
WHERE id = $1 AND email = $2 AND security_stamp = $5
RETURNING `+userColumns, id, string(old), string(email), at, stamp)
		})
		if errors.Is(err, store.ErrNotFound) {
			return s.staleOrNotFound(ctx, id)
		}
		if err != nil {
			return mapUserErr(err)
		}
		err = s.db.run(ctx, func(q querier) error {
			_, err := q.ExecContext(ctx, `
UPDATE email_verification_tokens SET used_at = $2 WHERE user_id = $1 AND used_at IS NULL`, id, at)
			return err
		})
		if err != nil {
			return mapVerificationErr(err)
		}
		out, err = row.toUser()
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// staleOrNotFound tells, after a conditional UPDATE of user id changed
// nothing, whether the row exists (ErrStale) or not (ErrNotFound).
func (s *UserStore) staleOrNotFound(ctx context.Context, id int64) error {
	var found bool
	err := s.db.run(ctx, func(q querier) error {
		return q.GetContext(ctx, &found, `SELECT EXISTS (SELECT 1 FROM users WHERE id = $1)`, id)
	})
	switch {
	case err != nil:
		return mapUserErr(err)
	case !found:
		return user.ErrNotFound
	}
	return user.ErrStale
}

// CreateVerification implements [user.Store] in one transaction (the
// caller's, if ctx carries one): it locks the user's row (ErrNotFound
// when there is none), then spends the user's outstanding tokens and
// inserts v in one statement, whose snapshot, taken under the lock, holds
// every token committed before. A zero v.CreatedAt takes the column's
// default, NOW().
func (s *UserStore) CreateVerification(ctx context.Context, v *user.Verification) error {
	if !isRowID(v.UserID) {
		return user.ErrNotFound
	}
	var row verificationRow
	err := s.db.InTx(ctx, func(ctx context.Context) error {
		if err := s.lockUser(ctx, v.UserID); err != nil {
			return err
		}
		return s.db.run(ctx, func(q querier) error {
			return q.GetContext(ctx, &row, `
WITH spent AS (
	UPDATE email_verification_tokens SET used_at = COALESCE($4, NOW())
	WHERE user_id = $1 AND used_at IS NULL
)
INSERT INTO email_verification_tokens (user_id, email, token_hash, created_at, expires_at, used_at)
VALUES ($1, $2, $3, COALESCE($4, NOW()), $5, $6)
RETURNING `+verificationColumns,
				v.UserID, string(v.Email), v.TokenHash, nullTime(v.CreatedAt), v.ExpiresAt, v.UsedAt)
		})
	})
	if err != nil {
		return mapVerificationErr(err)
	}
	*v = *row.toVerification()
	return nil
}

// lockUser takes the row lock of user id for the rest of the transaction
// in ctx; ErrNotFound when there is no such user.
func (s *UserStore) lockUser(ctx context.Context, id int64) error {
	var got int64
	err := s.db.run(ctx, func(q querier) error {
		return q.GetContext(ctx, &got, `SELECT id FROM users WHERE id = $1 FOR NO KEY UPDATE`, id)
	})
	return mapUserErr(err)
}

// VerificationByHash implements [user.Store]. It uses the unique index on
// token_hash.
func (s *UserStore) VerificationByHash(ctx context.Context, hash string) (*user.Verification, error) {
	var row verificationRow
	err := s.db.run(ctx, func(q querier) error {
		return q.GetContext(ctx, &row, `SELECT `+verificationColumns+` FROM email_verification_tokens WHERE token_hash = $1`, hash)
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, user.ErrTokenNotFound
	}
	if err != nil {
		return nil, err
	}
	return row.toVerification(), nil
}

// ConsumeVerification implements [user.Store] in one statement:
//
//   - lk locks the token's user, if it is active and its address is the
//     token's. A lock that had to wait re-reads the row as the other
//     transaction committed it and checks these conditions again, so a
//     deactivation or an address change that committed meanwhile refuses
//     the token.
//   - t spends the token if it is unspent and unexpired. Its row lock is
//     taken after the user's, so concurrent consumers of one token queue
//     on the user's row, and each after the first finds, when it updates
//     the token, the row spent by the first: PostgreSQL evaluates
//     used_at IS NULL again on the newest version of a row it waited for,
//     so exactly one succeeds.
//   - u verifies the user.
//
// When it changes nothing, a second query tells ErrTokenNotFound from
// ErrTokenRefused.
func (s *UserStore) ConsumeVerification(ctx context.Context, hash string, at time.Time) (*user.User, error) {
	var row userRow
	err := s.db.run(ctx, func(q querier) error {
		return q.GetContext(ctx, &row, `
WITH lk AS (
	SELECT u.id FROM users u
	JOIN email_verification_tokens v ON v.user_id = u.id
	WHERE v.token_hash = $1 AND v.used_at IS NULL AND v.expires_at > $2
		AND u.email = v.email AND u.is_active IS TRUE
	FOR NO KEY UPDATE OF u
), t AS (
	UPDATE email_verification_tokens SET used_at = $2
	WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2
		AND user_id IN (SELECT id FROM lk)
	RETURNING user_id
), u AS (
	UPDATE users SET is_verified = true, email_verified_at = COALESCE(email_verified_at, $2), updated_at = $2
	WHERE id IN (SELECT user_id FROM t)
	RETURNING `+userColumns+`
)
SELECT `+userColumns+` FROM u`, hash, at)
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, s.refusedOrNotFound(ctx, hash)
	}
	if err != nil {
		return nil, mapUserErr(err)
	}
	return row.toUser()
}

// refusedOrNotFound tells, after ConsumeVerification changed nothing,
// whether the token exists (ErrTokenRefused) or not (ErrTokenNotFound).
func (s *UserStore) refusedOrNotFound(ctx context.Context, hash string) error {
	var found bool
	err := s.db.run(ctx, func(q querier) error {
		return q.GetContext(ctx, &found, `SELECT EXISTS (SELECT 1 FROM email_verification_tokens WHERE token_hash = $1)`, hash)
	})
	switch {
	case err != nil:
		return err
	case !found:
		return user.ErrTokenNotFound
	}
	return user.ErrTokenRefused
}

// DeleteExpiredVerifications implements [user.Store] in one statement: it
// picks at most batch spent or expired tokens, locking them and skipping
// rows other transactions hold (so concurrent cleaners and consumers pass
// each other), and deletes them through the primary key. The ids go
// through ARRAY(...) rather than IN (...), so that every plan, generic
// ones included, deletes through email_verification_tokens_pkey.
func (s *UserStore) DeleteExpiredVerifications(ctx context.Context, at time.Time, batch int) (int, error) {
	if batch <= 0 {
		return 0, errors.New("postgres: DeleteExpiredVerifications: batch must be positive")
	}
	var n int64
	err := s.db.run(ctx, func(q querier) error {
		res, err := q.ExecContext(ctx, `
DELETE FROM email_verification_tokens WHERE id = ANY (ARRAY(
	SELECT id FROM email_verification_tokens
	WHERE used_at IS NOT NULL OR expires_at <= $1
	LIMIT $2
	FOR UPDATE SKIP LOCKED))`, at, batch)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, err
	}
	return int(n), nil
}
