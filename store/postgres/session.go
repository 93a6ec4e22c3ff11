package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/cedrina/cedrina/session"
	"github.com/cedrina/cedrina/store"
	"github.com/cedrina/cedrina/user"
)

// SessionStore implements [session.Store] on the sessions and
// session_refresh_history tables.
type SessionStore struct{ db *DB }

var _ session.Store = (*SessionStore)(nil)

// Sessions returns the session store.
func (db *DB) Sessions() *SessionStore { return &SessionStore{db: db} }

// sessionColumns are a session's columns (as s) and its user's state (as
// u), read in one join.
const sessionColumns = `s.id, s.user_id, s.session_token, s.refresh_token, s.is_active, s.created_at, s.expires_at,
	s.last_activity_at, host(s.client_ip) AS client_ip, s.user_agent, s.device_info, s.security_context,
	s.security_stamp, u.role, u.tier, u.is_active AS user_active, u.password_changed_at, u.security_stamp AS user_stamp`

type sessionRow struct {
	ID              int64          `db:"id"`
	UserID          int64          `db:"user_id"`
	TokenHash       string         `db:"session_token"`
	RefreshHash     string         `db:"refresh_token"`
	Active          sql.NullBool   `db:"is_active"`
	CreatedAt       sql.NullTime   `db:"created_at"`
	ExpiresAt       time.Time      `db:"expires_at"`
	LastActivityAt  sql.NullTime   `db:"last_activity_at"`
	ClientIP        sql.NullString `db:"client_ip"`
	UserAgent       sql.NullString `db:"user_agent"`
	DeviceInfo      []byte         `db:"device_info"`
	SecurityContext []byte         `db:"security_context"`
	SecurityStamp   int64          `db:"security_stamp"`
	Role            sql.NullString `db:"role"`
	Tier            sql.NullString `db:"tier"`
	UserActive      sql.NullBool   `db:"user_active"`
	PasswordChanged sql.NullTime   `db:"password_changed_at"`
	UserStamp       int64          `db:"user_stamp"`
}

func (r *sessionRow) toSession() (*session.Session, session.UserState, error) {
	s := &session.Session{
		ID: r.ID, UserID: r.UserID, TokenHash: r.TokenHash, RefreshHash: r.RefreshHash,
		Active: r.Active.Valid && r.Active.Bool, CreatedAt: utc(r.CreatedAt), ExpiresAt: r.ExpiresAt.UTC(),
		LastActivityAt: utc(r.LastActivityAt), UserAgent: r.UserAgent.String, SecurityStamp: r.SecurityStamp,
	}
	if r.ClientIP.Valid {
		ip, err := netip.ParseAddr(r.ClientIP.String)
		if err != nil {
			return nil, session.UserState{}, fmt.Errorf("postgres: session %d: client_ip: %w", r.ID, err)
		}
		s.ClientIP = ip
	}
	var err error
	if s.DeviceInfo, err = decodeDoc(r.DeviceInfo); err != nil {
		return nil, session.UserState{}, err
	}
	if s.SecurityContext, err = decodeDoc(r.SecurityContext); err != nil {
		return nil, session.UserState{}, err
	}
	st := session.UserState{Role: user.Role(r.Role.String), Tier: user.Tier(r.Tier.String),
		Active: r.UserActive.Valid && r.UserActive.Bool, PasswordChangedAt: utc(r.PasswordChanged), SecurityStamp: r.UserStamp}
	return s, st, nil
}

func mapSessionErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrNotFound):
		return session.ErrNotFound
	case constraintName(err) == "sessions_user_id_fkey":
		return session.ErrNotFound
	}
	return err
}

// sessionCapLock is the first key of the advisory locks that serialise
// session creation per user (the second is the user id).
const sessionCapLock int32 = 0x5e55

// Create implements [session.Store]: the insert and the eviction of the
// user's least recently active sessions beyond max run in one
// transaction, under a per-user advisory lock.
func (s *SessionStore) Create(ctx context.Context, in *session.Session, max int) ([]int64, error) {
	if !isRowID(in.UserID) {
		return nil, session.ErrNotFound // no such user
	}
	device, err := encodeDoc(in.DeviceInfo, false)
	if err != nil {
		return nil, err
	}
	secctx, err := encodeDoc(in.SecurityContext, true)
	if err != nil {
		return nil, err
	}
	var ip any
	if in.ClientIP.IsValid() {
		ip = in.ClientIP.Unmap().WithZone("").String()
	}
	var evicted []int64
	var row sessionRow
	err = s.db.InTx(ctx, func(ctx context.Context) error {
		return s.db.run(ctx, func(q querier) error {
			if max > 0 {
				// Creates for one user queue here until the previous one
				// commits, so each eviction sees every session before it
				// and the cap holds under concurrency. The lock is per
				// user and ends with the transaction.
				if _, err := q.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1, $2)`, sessionCapLock, int32(in.UserID)); err != nil {
					return err
				}
			}
			// The user row is read FOR SHARE: a concurrent UPDATE of the
			// user (a password change, a deactivation) waits for this
			// transaction, or this waits for it and then finds the stamp
			// moved. Either way no session outlives the change.
			var rows []sessionRow
			if err := q.SelectContext(ctx, &rows, `
WITH u AS (
	SELECT id FROM users WHERE id = $1 AND is_active AND security_stamp = $11 FOR SHARE
), s AS (
	INSERT INTO sessions (user_id, session_token, refresh_token, is_active, created_at, expires_at,
		last_activity_at, client_ip, user_agent, device_info, security_context, security_stamp)
	SELECT u.id, $2, $3, true, COALESCE($4, NOW()), $5, COALESCE($6, NOW()), $7::inet, NULLIF($8, ''), $9, $10, $11
	FROM u
	RETURNING *
)
SELECT `+sessionColumns+` FROM s JOIN users u ON u.id = s.user_id`,
				in.UserID, in.TokenHash, in.RefreshHash, nullTime(in.CreatedAt), in.ExpiresAt,
				nullTime(in.LastActivityAt), ip, in.UserAgent, device, secctx, in.SecurityStamp); err != nil {
				return err
			}
			if len(rows) == 0 {
				var exists bool
				if err := q.GetContext(ctx, &exists, `SELECT EXISTS (SELECT 1 FROM users WHERE id = $1)`, in.UserID); err != nil {
					return err
				}
				if !exists {
					return session.ErrNotFound
				}
				return session.ErrUserChanged
			}
			row = rows[0]
			if max <= 0 {
				return nil
			}
			return q.SelectContext(ctx, &evicted, `
UPDATE sessions SET is_active = false
WHERE id IN (
	SELECT id FROM sessions
	WHERE user_id = $1 AND is_active AND id <> $2
	ORDER BY last_activity_at DESC, id DESC
	OFFSET $3
	FOR UPDATE
)
RETURNING id`, in.UserID, row.ID, max-1)
		})
	})
	if err != nil {
		return nil, mapSessionErr(err)
	}
	created, _, err := row.toSession()
	if err != nil {
		return nil, err
	}
	*in = *created
	slices.Sort(evicted)
	return evicted, nil
}

func (s *SessionStore) get(ctx context.Context, where string, args ...any) (*session.Session, session.UserState, error) {
	var row sessionRow
	err := s.db.run(ctx, func(q querier) error {
		return q.GetContext(ctx, &row, `SELECT `+sessionColumns+` FROM sessions s JOIN users u ON u.id = s.user_id WHERE `+where, args...)
	})
	if err != nil {
		return nil, session.UserState{}, mapSessionErr(err)
	}
	return row.toSession()
}

// ByID implements [session.Store]: one primary-key lookup joined to the user.
func (s *SessionStore) ByID(ctx context.Context, id int64) (*session.Session, session.UserState, error) {
	if !isRowID(id) {
		return nil, session.UserState{}, session.ErrNotFound
	}
	return s.get(ctx, `s.id = $1`, id)
}

// ByTokenHash implements [session.Store], through the unique index on
// session_token.
func (s *SessionStore) ByTokenHash(ctx context.Context, hash string) (*session.Session, session.UserState, error) {
	return s.get(ctx, `s.session_token = $1`, hash)
}

// ByRefreshHash implements [session.Store]: the unique index on
// refresh_token, then the history's primary key, in one statement.
func (s *SessionStore) ByRefreshHash(ctx context.Context, hash string) (*session.Session, session.UserState, error) {
	var rows []struct {
		Rotated bool `db:"rotated"`
		sessionRow
	}
	err := s.db.run(ctx, func(q querier) error {
		return q.SelectContext(ctx, &rows, `
SELECT false AS rotated, `+sessionColumns+` FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.refresh_token = $1
UNION ALL
SELECT true AS rotated, `+sessionColumns+` FROM session_refresh_history h
	JOIN sessions s ON s.id = h.session_id JOIN users u ON u.id = s.user_id
WHERE h.token_hash = $1
LIMIT 1`, hash)
	})
	if err != nil {
		return nil, session.UserState{}, mapSessionErr(err)
	}
	if len(rows) == 0 {
		return nil, session.UserState{}, session.ErrNotFound
	}
	sess, st, err := rows[0].toSession()
	if err == nil && rows[0].Rotated {
		err = session.ErrRotated
	}
	return sess, st, err
}

// Rotate implements [session.Store] as one statement: the conditional
// UPDATE is the compare-and-swap (concurrent callers queue on the row lock
// and then find the hash changed), and the replaced hash goes into the
// history in the same statement, hence the same transaction.
func (s *SessionStore) Rotate(ctx context.Context, oldHash, newHash string, at time.Time, idle time.Duration) (*session.Session, session.UserState, error) {
	var rows []sessionRow
	err := s.db.run(ctx, func(q querier) error {
		return q.SelectContext(ctx, &rows, `
WITH s AS (
	UPDATE sessions SET refresh_token = $2, last_activity_at = $3
	WHERE refresh_token = $1 AND is_active AND expires_at > $3 AND last_activity_at > $4
	RETURNING *
), h AS (
	INSERT INTO session_refresh_history (token_hash, session_id, rotated_at)
	SELECT $1, id, $3 FROM s
)
SELECT `+sessionColumns+` FROM s JOIN users u ON u.id = s.user_id`, oldHash, newHash, at, at.Add(-idle))
	})
	if err != nil {
		return nil, session.UserState{}, mapSessionErr(err)
	}
	if len(rows) == 1 {
		return rows[0].toSession()
	}
	// Not swapped: a rotated hash, an inactive session's hash, or unknown.
	sess, st, err := s.get(ctx, `s.id = (
	SELECT session_id FROM session_refresh_history WHERE token_hash = $1
	UNION ALL
	SELECT id FROM sessions WHERE refresh_token = $1
	LIMIT 1)`, oldHash)
	if err != nil {
		return nil, session.UserState{}, err
	}
	return sess, st, session.ErrRotated
}

// Touch implements [session.Store] with a conditional UPDATE, so
// concurrent requests write at most once per minGap.
func (s *SessionStore) Touch(ctx context.Context, id int64, at time.Time, minGap time.Duration) (bool, error) {
	if !isRowID(id) {
		return false, nil // no such session: nothing to write
	}
	var n int64
	err := s.db.run(ctx, func(q querier) error {
		res, err := q.ExecContext(ctx, `
UPDATE sessions SET last_activity_at = $2
WHERE id = $1 AND is_active AND last_activity_at < $2::timestamptz - $3::interval`,
			id, at, fmt.Sprintf("%d microseconds", minGap.Microseconds()))
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return n == 1, mapSessionErr(err)
}

// Revoke implements [session.Store].
func (s *SessionStore) Revoke(ctx context.Context, id int64) (bool, error) {
	if !isRowID(id) {
		return false, session.ErrNotFound
	}
	var out struct {
		Changed bool `db:"changed"`
		Found   bool `db:"found"`
	}
	err := s.db.run(ctx, func(q querier) error {
		return q.GetContext(ctx, &out, `
WITH r AS (UPDATE sessions SET is_active = false WHERE id = $1 AND is_active IS NOT FALSE RETURNING id)
SELECT EXISTS (SELECT 1 FROM r) AS changed, EXISTS (SELECT 1 FROM sessions WHERE id = $1) AS found`, id)
	})
	if err != nil {
		return false, mapSessionErr(err)
	}
	if !out.Found {
		return false, session.ErrNotFound
	}
	return out.Changed, nil
}

// RevokeUser implements [session.Store].
func (s *SessionStore) RevokeUser(ctx context.Context, userID, except int64) ([]int64, error) {
	if !isRowID(userID) {
		return nil, nil // no such user, no sessions
	}
	if !isRowID(except) {
		except = 0 // no such session to keep
	}
	var ids []int64
	err := s.db.run(ctx, func(q querier) error {
		return q.SelectContext(ctx, &ids, `
UPDATE sessions SET is_active = false
WHERE user_id = $1 AND is_active AND id <> $2
RETURNING id`, userID, except)
	})
	slices.Sort(ids)
	return ids, mapSessionErr(err)
}

// ListActive implements [session.Store] through idx_sessions_user_activity.
func (s *SessionStore) ListActive(ctx context.Context, userID int64, at time.Time, idle time.Duration) ([]session.Session, error) {
	if !isRowID(userID) {
		return nil, nil // no such user, no sessions
	}
	var rows []sessionRow
	err := s.db.run(ctx, func(q querier) error {
		return q.SelectContext(ctx, &rows, `SELECT `+sessionColumns+`
FROM sessions s JOIN users u ON u.id = s.user_id
WHERE s.user_id = $1 AND s.is_active AND s.expires_at > $2 AND s.last_activity_at > $3
	AND (u.password_changed_at IS NULL OR s.created_at >= u.password_changed_at)
	AND s.security_stamp = u.security_stamp
ORDER BY s.last_activity_at DESC, s.id DESC`, userID, at, at.Add(-idle))
	})
	if err != nil {
		return nil, mapSessionErr(err)
	}
	out := make([]session.Session, len(rows))
	for i := range rows {
		sess, _, err := rows[i].toSession()
		if err != nil {
			return nil, err
		}
		out[i] = *sess
	}
	return out, nil
}

// cleanupPass is one statement of [SessionStore.DeleteExpired].
type cleanupPass struct {
	index string // the index the inner scan walks
	query string
	args  func(at time.Time, idle time.Duration, limit int) []any
}

// cleanupPasses are the statements DeleteExpired runs, in order. Each
// picks at most limit ids with a scan of one index (the inner SELECT,
// which locks them, skipping rows other transactions hold) and deletes
// them through sessions_pkey. The ids go through ARRAY(...) rather than
// IN (...): with IN, a generic plan (plan_cache_mode =
// force_generic_plan, or a prepared statement the server has switched to
// its generic plan) cannot tell how many ids LIMIT $n yields, guesses a
// tenth of the table and hash-joins it to a sequential scan of sessions;
// "id = ANY(array)" is an index scan of sessions_pkey in every plan.
//
// The third pass's WHERE is exactly the predicate of the partial index
// idx_sessions_inactive (migration 00004): the planner uses a partial
// index only when it can prove the query implies the index predicate, and
// with a literal copy it can, in custom and generic plans alike.
var cleanupPasses = []cleanupPass{
	{
		index: "idx_sessions_expires_at",
		query: `DELETE FROM sessions WHERE id = ANY (ARRAY(
	SELECT id FROM sessions WHERE expires_at <= $1
	ORDER BY expires_at LIMIT $2
	FOR UPDATE SKIP LOCKED))`,
		args: func(at time.Time, _ time.Duration, limit int) []any { return []any{at, limit} },
	},
	{
		index: "idx_sessions_last_activity_at",
		query: `DELETE FROM sessions WHERE id = ANY (ARRAY(
	SELECT id FROM sessions WHERE last_activity_at <= $1
	ORDER BY last_activity_at LIMIT $2
	FOR UPDATE SKIP LOCKED))`,
		args: func(at time.Time, idle time.Duration, limit int) []any { return []any{at.Add(-idle), limit} },
	},
	{
		index: "idx_sessions_inactive",
		query: `DELETE FROM sessions WHERE id = ANY (ARRAY(
	SELECT id FROM sessions WHERE is_active IS NOT TRUE
	ORDER BY id LIMIT $1
	FOR UPDATE SKIP LOCKED))`,
		args: func(_ time.Time, _ time.Duration, limit int) []any { return []any{limit} },
	},
}

// DeleteExpired implements [session.Store] in up to three short
// statements, each an index scan bounded by what is left of batch:
//
//  1. expired sessions (expires_at <= at), in expires_at order, through
//     idx_sessions_expires_at;
//  2. idle sessions (last_activity_at <= at-idle), in last_activity_at
//     order, through idx_sessions_last_activity_at;
//  3. ended sessions (is_active false or NULL), in id order, through the
//     partial index idx_sessions_inactive, which holds only those rows.
//
// Each statement then deletes the ids it picked through sessions_pkey;
// the rotation history goes with them (ON DELETE CASCADE). A pass runs
// only while the earlier ones deleted less than batch. A single scan with
// the three conditions OR-ed would be a sequential scan that, batch after
// batch, reads again the dead rows the previous batches left (until
// vacuum): quadratic work that starves concurrent requests. SKIP LOCKED
// lets concurrent cleaners and requests pass each other.
func (s *SessionStore) DeleteExpired(ctx context.Context, at time.Time, idle time.Duration, batch int) (int, error) {
	total := 0
	for _, p := range cleanupPasses {
		if total >= batch {
			break
		}
		var n int64
		err := s.db.run(ctx, func(q querier) error {
			res, err := q.ExecContext(ctx, p.query, p.args(at, idle, batch-total)...)
			if err != nil {
				return err
			}
			n, err = res.RowsAffected()
			return err
		})
		if err != nil {
			return total, mapSessionErr(err)
		}
		total += int(n)
	}
	return total, nil
}
