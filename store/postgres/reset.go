package postgres

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"time"

	"github.com/cedrina/cedrina/reset"
	"github.com/cedrina/cedrina/store"
)

// ResetStore implements [reset.Store] on the password_reset_tokens table.
type ResetStore struct{ db *DB }

var _ reset.Store = (*ResetStore)(nil)

// Resets returns the password reset token store.
func (db *DB) Resets() *ResetStore { return &ResetStore{db: db} }

// resetColumns are a token's columns, as SELECT and RETURNING give them:
// the address as text, and the security stamp taken out of the
// security_context document (NULL when the key is absent).
const resetColumns = `id, user_id, token_hash, is_used, created_at, expires_at, used_at,
	host(client_ip) AS client_ip, user_agent, security_context->'security_stamp' AS security_stamp`

// resetRow is a password_reset_tokens row as scanned. Every column the
// schema leaves nullable is scanned as nullable, so rows written by other
// systems load.
type resetRow struct {
	ID            int64          `db:"id"`
	UserID        int64          `db:"user_id"`
	TokenHash     string         `db:"token_hash"`
	IsUsed        sql.NullBool   `db:"is_used"`
	CreatedAt     sql.NullTime   `db:"created_at"`
	ExpiresAt     time.Time      `db:"expires_at"`
	UsedAt        sql.NullTime   `db:"used_at"`
	ClientIP      sql.NullString `db:"client_ip"`
	UserAgent     sql.NullString `db:"user_agent"`
	SecurityStamp []byte         `db:"security_stamp"`
}

// toToken converts a row. A NULL is_used reads as false (unused: it is
// the column's default), a NULL created_at as the zero time, a
// security_stamp that is absent or not an integer as nil.
func (r *resetRow) toToken() (*reset.Token, error) {
	t := &reset.Token{
		ID: r.ID, UserID: r.UserID, TokenHash: r.TokenHash, IsUsed: r.IsUsed.Valid && r.IsUsed.Bool,
		UsedAt: utcPtr(r.UsedAt), CreatedAt: utc(r.CreatedAt), ExpiresAt: r.ExpiresAt.UTC(),
		UserAgent: r.UserAgent.String, SecurityStamp: stampOf(r.SecurityStamp),
	}
	if r.ClientIP.Valid {
		ip, err := netip.ParseAddr(r.ClientIP.String)
		if err != nil {
			return nil, fmt.Errorf("postgres: reset token %d: client_ip: %w", r.ID, err)
		}
		t.ClientIP = ip
	}
	return t, nil
}

// stampOf reads the JSON value of security_context's security_stamp key:
// an integer gives its value; NULL (no key), another type or a number
// that is not an integer of int64's range gives nil.
func stampOf(b []byte) *int64 {
	if b == nil {
		return nil
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var doc any
	if err := d.Decode(&doc); err != nil {
		return nil
	}
	n, ok := doc.(json.Number) // not a string, an object, null, ...
	if !ok {
		return nil
	}
	v, err := strconv.ParseInt(n.String(), 10, 64)
	if err != nil {
		return nil
	}
	return &v
}

// securityContext is the security_context document written for a token:
// {"security_stamp": n}, or {} without a stamp.
func securityContext(stamp *int64) string {
	if stamp == nil {
		return "{}"
	}
	return `{"security_stamp": ` + strconv.FormatInt(*stamp, 10) + `}`
}

// mapResetErr turns translated errors into the reset package's sentinels.
// A duplicate token_hash (password_reset_tokens_token_hash_key) stays the
// translated constraint error, a store.ErrConflict.
func mapResetErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrNotFound):
		return reset.ErrNotFound
	case constraintName(err) == "password_reset_tokens_user_id_fkey":
		return reset.ErrUnknownUser
	}
	return err
}

// resetIssueLock is the first key of the advisory locks that serialise
// Issue per user (the second is the user id).
const resetIssueLock int32 = 0x7e5e

// Issue implements [reset.Store] in one transaction (the context's, or its
// own): a per-user advisory lock, then one statement that spends the
// user's unspent tokens and inserts t. The lock makes concurrent Issues
// for one user take turns, and the statement after it, with a snapshot
// taken once the lock is held (at READ COMMITTED, PostgreSQL's default),
// sees the token the previous Issue inserted: the user is left with one
// unspent token, not one per caller.
// A zero CreatedAt takes the column's default, NOW(). t is set to the
// token as stored.
func (s *ResetStore) Issue(ctx context.Context, t *reset.Token) error {
	if !isRowID(t.UserID) {
		return reset.ErrUnknownUser
	}
	var ip any
	if t.ClientIP.IsValid() {
		ip = t.ClientIP.Unmap().WithZone("").String()
	}
	var usedAt any
	if t.UsedAt != nil {
		usedAt = *t.UsedAt
	}
	var row resetRow
	err := s.db.InTx(ctx, func(ctx context.Context) error {
		return s.db.run(ctx, func(q querier) error {
			if _, err := q.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1, $2)`, resetIssueLock, int32(t.UserID)); err != nil {
				return err
			}
			return q.GetContext(ctx, &row, `
WITH spent AS (
	UPDATE password_reset_tokens SET is_used = true, used_at = COALESCE($3::timestamptz, NOW())
	WHERE user_id = $1 AND is_used IS NOT TRUE
)
INSERT INTO password_reset_tokens (user_id, token_hash, is_used, created_at, expires_at, used_at,
	client_ip, user_agent, security_context)
VALUES ($1, $2, $4, COALESCE($3::timestamptz, NOW()), $5, $6, $7::inet, NULLIF($8, ''), $9::jsonb)
RETURNING `+resetColumns,
				t.UserID, t.TokenHash, nullTime(t.CreatedAt), t.IsUsed, t.ExpiresAt, usedAt, ip, t.UserAgent,
				securityContext(t.SecurityStamp))
		})
	})
	if err != nil {
		return mapResetErr(err)
	}
	issued, err := row.toToken()
	if err != nil {
		return err
	}
	*t = *issued
	return nil
}

// ByHash implements [reset.Store], through the unique index on
// token_hash.
func (s *ResetStore) ByHash(ctx context.Context, hash string) (*reset.Token, error) {
	var row resetRow
	err := s.db.run(ctx, func(q querier) error {
		return q.GetContext(ctx, &row, `SELECT `+resetColumns+` FROM password_reset_tokens WHERE token_hash = $1`, hash)
	})
	if err != nil {
		return nil, mapResetErr(err)
	}
	return row.toToken()
}

// Consume implements [reset.Store]. The conditional UPDATE is the
// compare-and-swap: concurrent callers queue on the row lock and then
// find it spent. When it changes nothing, a second statement, with a
// snapshot of its own, reads the token to tell a spent or expired one
// from an unknown hash. A NULL is_used counts as unused.
func (s *ResetStore) Consume(ctx context.Context, hash string, at time.Time) (*reset.Token, error) {
	var rows []resetRow
	err := s.db.run(ctx, func(q querier) error {
		return q.SelectContext(ctx, &rows, `
UPDATE password_reset_tokens SET is_used = true, used_at = $2
WHERE token_hash = $1 AND is_used IS NOT TRUE AND expires_at > $2
RETURNING `+resetColumns, hash, at)
	})
	if err != nil {
		return nil, mapResetErr(err)
	}
	if len(rows) == 1 {
		return rows[0].toToken()
	}
	t, err := s.ByHash(ctx, hash)
	if err != nil {
		return nil, err
	}
	if !t.IsUsed && t.ExpiresAt.After(at) {
		// Inserted after the UPDATE looked: when Consume took effect
		// there was no such token.
		return nil, reset.ErrNotFound
	}
	return t, reset.ErrSpent
}

// InvalidateUser implements [reset.Store] with one UPDATE through
// idx_password_reset_tokens_user_id.
func (s *ResetStore) InvalidateUser(ctx context.Context, userID int64, at time.Time) (int, error) {
	if !isRowID(userID) {
		return 0, nil // no such user, no tokens
	}
	var n int64
	err := s.db.run(ctx, func(q querier) error {
		res, err := q.ExecContext(ctx, `
UPDATE password_reset_tokens SET is_used = true, used_at = $2
WHERE user_id = $1 AND is_used IS NOT TRUE`, userID, at)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return int(n), mapResetErr(err)
}

// resetCleanupPass is one statement of [ResetStore.DeleteExpired].
type resetCleanupPass struct {
	query string
	args  func(at time.Time, limit int) []any
}

// resetCleanupPasses are the statements [ResetStore.DeleteExpired] runs,
// in order, as [SessionStore.DeleteExpired] does: each picks at most
// limit ids with a scan of one index (idx_password_reset_tokens_expires_at,
// then idx_password_reset_tokens_is_used), locking them and skipping rows
// other transactions hold, and deletes them through the primary key. The
// ids go through ARRAY(...) rather than IN (...) so that generic plans
// too delete through the primary key. The spent pass says is_used =
// true, which the index on is_used serves, rather than is_used IS TRUE,
// which no btree serves; the two select the same rows.
var resetCleanupPasses = []resetCleanupPass{
	{
		query: `DELETE FROM password_reset_tokens WHERE id = ANY (ARRAY(
	SELECT id FROM password_reset_tokens WHERE expires_at <= $1
	ORDER BY expires_at LIMIT $2
	FOR UPDATE SKIP LOCKED))`,
		args: func(at time.Time, limit int) []any { return []any{at, limit} },
	},
	{
		query: `DELETE FROM password_reset_tokens WHERE id = ANY (ARRAY(
	SELECT id FROM password_reset_tokens WHERE is_used = true
	LIMIT $1
	FOR UPDATE SKIP LOCKED))`,
		args: func(_ time.Time, limit int) []any { return []any{limit} },
	},
}

// DeleteExpired implements [reset.Store] in up to two short statements,
// each bounded by what is left of batch: expired tokens (expires_at <= at)
// in expires_at order, then spent ones. The second runs only when the
// first deleted less than batch. A single scan with the two conditions
// OR-ed would read the whole table, dead rows of earlier batches
// included, on every call.
func (s *ResetStore) DeleteExpired(ctx context.Context, at time.Time, batch int) (int, error) {
	total := 0
	for _, p := range resetCleanupPasses {
		if total >= batch {
			break
		}
		var n int64
		err := s.db.run(ctx, func(q querier) error {
			res, err := q.ExecContext(ctx, p.query, p.args(at, batch-total)...)
			if err != nil {
				return err
			}
			n, err = res.RowsAffected()
			return err
		})
		if err != nil {
			return total, mapResetErr(err)
		}
		total += int(n)
	}
	return total, nil
}
