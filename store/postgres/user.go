package postgres

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/cedrina/cedrina/store"
	"github.com/cedrina/cedrina/user"
)

// UserStore implements [user.Store] on the users table.
type UserStore struct{ db *DB }

var _ user.Store = (*UserStore)(nil)

// Users returns the user store.
func (db *DB) Users() *UserStore { return &UserStore{db: db} }

const userColumns = `id, username, email, hashed_password, is_active, is_verified, role, tier,
	created_at, updated_at, last_login_at, failed_login_attempts, locked_until,
	password_changed_at, email_verified_at, profile_data, preferences, metadata, security_stamp`

// userRow is a users row as scanned. Every column the schema leaves
// nullable is scanned as nullable, so rows written by other systems load.
type userRow struct {
	ID                  int64          `db:"id"`
	Username            string         `db:"username"`
	Email               string         `db:"email"`
	HashedPassword      string         `db:"hashed_password"`
	IsActive            sql.NullBool   `db:"is_active"`
	IsVerified          sql.NullBool   `db:"is_verified"`
	Role                sql.NullString `db:"role"`
	Tier                sql.NullString `db:"tier"`
	CreatedAt           sql.NullTime   `db:"created_at"`
	UpdatedAt           sql.NullTime   `db:"updated_at"`
	LastLoginAt         sql.NullTime   `db:"last_login_at"`
	FailedLoginAttempts sql.NullInt64  `db:"failed_login_attempts"`
	LockedUntil         sql.NullTime   `db:"locked_until"`
	PasswordChangedAt   sql.NullTime   `db:"password_changed_at"`
	EmailVerifiedAt     sql.NullTime   `db:"email_verified_at"`
	ProfileData         []byte         `db:"profile_data"`
	Preferences         []byte         `db:"preferences"`
	Metadata            []byte         `db:"metadata"`
	SecurityStamp       int64          `db:"security_stamp"`
}

// toUser converts a row. A NULL is_active reads as false (inactive: fail
// closed), a NULL counter as 0, NULL timestamps as the zero time or nil.
func (r *userRow) toUser() (*user.User, error) {
	u := &user.User{
		ID:                  r.ID,
		Username:            user.Username(r.Username),
		Email:               user.Email(r.Email),
		HashedPassword:      r.HashedPassword,
		IsActive:            r.IsActive.Valid && r.IsActive.Bool,
		IsVerified:          r.IsVerified.Valid && r.IsVerified.Bool,
		Role:                user.Role(r.Role.String),
		Tier:                user.Tier(r.Tier.String),
		CreatedAt:           utc(r.CreatedAt),
		UpdatedAt:           utc(r.UpdatedAt),
		LastLoginAt:         utcPtr(r.LastLoginAt),
		FailedLoginAttempts: int(r.FailedLoginAttempts.Int64),
		LockedUntil:         utcPtr(r.LockedUntil),
		PasswordChangedAt:   utc(r.PasswordChangedAt),
		EmailVerifiedAt:     utcPtr(r.EmailVerifiedAt),
		SecurityStamp:       r.SecurityStamp,
	}
	var err error
	if u.ProfileData, err = decodeDoc(r.ProfileData); err != nil {
		return nil, err
	}
	if u.Preferences, err = decodeDoc(r.Preferences); err != nil {
		return nil, err
	}
	if u.Metadata, err = decodeDoc(r.Metadata); err != nil {
		return nil, err
	}
	return u, nil
}

// mapUserErr turns translated errors into the user package's sentinels.
func mapUserErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrNotFound):
		return user.ErrNotFound
	}
	switch constraintName(err) {
	case "users_username_key":
		return user.ErrUsernameTaken
	case "users_email_key":
		return user.ErrEmailTaken
	}
	return err
}

// Create implements [user.Store]. Zero times take the column defaults
// (NOW()).
func (s *UserStore) Create(ctx context.Context, u *user.User) error {
	profile, err := encodeDoc(u.ProfileData, false)
	if err != nil {
		return err
	}
	prefs, err := encodeDoc(u.Preferences, true)
	if err != nil {
		return err
	}
	meta, err := encodeDoc(u.Metadata, true)
	if err != nil {
		return err
	}
	var row userRow
	err = s.db.run(ctx, func(q querier) error {
		return q.GetContext(ctx, &row, `
INSERT INTO users (username, email, hashed_password, is_active, is_verified, role, tier,
	created_at, updated_at, last_login_at, failed_login_attempts, locked_until,
	password_changed_at, email_verified_at, profile_data, preferences, metadata)
VALUES ($1, $2, $3, $4, $5, $6, $7,
	COALESCE($8, NOW()), COALESCE($9, NOW()), $10, $11, $12,
	COALESCE($13, NOW()), $14, $15, $16, $17)
RETURNING `+userColumns,
			string(u.Username), string(u.Email), u.HashedPassword, u.IsActive, u.IsVerified, string(u.Role), string(u.Tier),
			nullTime(u.CreatedAt), nullTime(u.UpdatedAt), u.LastLoginAt, u.FailedLoginAttempts, u.LockedUntil,
			nullTime(u.PasswordChangedAt), u.EmailVerifiedAt, profile, prefs, meta)
	})
	if err != nil {
		return mapUserErr(err)
	}
	created, err := row.toUser()
	if err != nil {
		return err
	}
	*u = *created
	return nil
}

// ByID implements [user.Store].
func (s *UserStore) ByID(ctx context.Context, id int64) (*user.User, error) {
	if !isRowID(id) {
		return nil, user.ErrNotFound
	}
	return s.get(ctx, `SELECT `+userColumns+` FROM users WHERE id = $1`, id)
}

// ByUsername implements [user.Store]. It uses the unique index on username.
func (s *UserStore) ByUsername(ctx context.Context, name user.Username) (*user.User, error) {
	return s.get(ctx, `SELECT `+userColumns+` FROM users WHERE username = $1`, string(name))
}

// ByEmail implements [user.Store]. It uses the unique index on email.
func (s *UserStore) ByEmail(ctx context.Context, email user.Email) (*user.User, error) {
	return s.get(ctx, `SELECT `+userColumns+` FROM users WHERE email = $1`, string(email))
}

// get runs a query returning one users row.
func (s *UserStore) get(ctx context.Context, query string, args ...any) (*user.User, error) {
	var row userRow
	if err := s.db.run(ctx, func(q querier) error { return q.GetContext(ctx, &row, query, args...) }); err != nil {
		return nil, mapUserErr(err)
	}
	return row.toUser()
}

// UpdateProfile implements [user.Store].
func (s *UserStore) UpdateProfile(ctx context.Context, id int64, p user.ProfileUpdate, at time.Time) (*user.User, error) {
	if !isRowID(id) {
		return nil, user.ErrNotFound
	}
	var docs [3]any
	for i, m := range []map[string]any{p.ProfileData, p.Preferences, p.Metadata} {
		if m == nil {
			continue // NULL parameter: COALESCE keeps the column
		}
		doc, err := encodeDoc(m, true)
		if err != nil {
			return nil, err
		}
		docs[i] = doc
	}
	return s.get(ctx, `
UPDATE users SET
	profile_data = COALESCE($2::jsonb, profile_data),
	preferences = COALESCE($3::jsonb, preferences),
	metadata = COALESCE($4::jsonb, metadata),
	updated_at = $5
WHERE id = $1
RETURNING `+userColumns, id, docs[0], docs[1], docs[2], at)
}

// SetRole implements [user.Store].
func (s *UserStore) SetRole(ctx context.Context, id int64, role user.Role, at time.Time) (*user.User, error) {
	if !isRowID(id) {
		return nil, user.ErrNotFound
	}
	return s.get(ctx, `UPDATE users SET role = $2, updated_at = $3 WHERE id = $1 RETURNING `+userColumns, id, string(role), at)
}

// SetTier implements [user.Store].
func (s *UserStore) SetTier(ctx context.Context, id int64, tier user.Tier, at time.Time) (*user.User, error) {
	if !isRowID(id) {
		return nil, user.ErrNotFound
	}
	return s.get(ctx, `UPDATE users SET tier = $2, updated_at = $3 WHERE id = $1 RETURNING `+userColumns, id, string(tier), at)
}

// SetActive implements [user.Store]; the stamp moves in the same
// statement when is_active changes (a NULL is_active counts as a change).
func (s *UserStore) SetActive(ctx context.Context, id int64, active bool, at time.Time) (*user.User, error) {
	if !isRowID(id) {
		return nil, user.ErrNotFound
	}
	return s.get(ctx, `
UPDATE users SET is_active = $2, updated_at = $3,
	security_stamp = security_stamp + CASE WHEN is_active IS DISTINCT FROM $2 THEN 1 ELSE 0 END
WHERE id = $1 RETURNING `+userColumns, id, active, at)
}

// SetPassword implements [user.Store] as one conditional UPDATE on the
// security stamp.
func (s *UserStore) SetPassword(ctx context.Context, id int64, hash string, at time.Time, stamp int64) error {
	if !isRowID(id) {
		return user.ErrNotFound
	}
	ok, err := s.conditional(ctx, `
UPDATE users SET hashed_password = $2, password_changed_at = $3, updated_at = $3,
	failed_login_attempts = 0, locked_until = NULL, security_stamp = security_stamp + 1
WHERE id = $1 AND security_stamp = $4`, id, hash, at, stamp)
	if err == nil && !ok {
		return user.ErrStale
	}
	return err
}

// ReplacePasswordHash implements [user.Store] with a compare-and-swap on
// the stored hash.
func (s *UserStore) ReplacePasswordHash(ctx context.Context, id int64, oldHash, newHash string) (bool, error) {
	if !isRowID(id) {
		return false, user.ErrNotFound
	}
	return s.conditional(ctx, `UPDATE users SET hashed_password = $3 WHERE id = $1 AND hashed_password = $2`, id, oldHash, newHash)
}

// admissionRow is a users row with whether AdmitLogin admitted it.
type admissionRow struct {
	Admitted bool `db:"admitted"`
	userRow
}

// AdmitLogin implements [user.Store] in one statement. The UPDATE's SET
// and WHERE read only the row being updated, so a concurrent admission
// makes PostgreSQL re-evaluate them on the newest row version: every
// attempt is counted, and no more than the threshold are admitted. When
// nothing is admitted, the row is returned as the statement's snapshot
// saw it (possibly before a concurrent admission's lock: the service
// treats an active, apparently unlocked row that was not admitted as
// locked).
func (s *UserStore) AdmitLogin(ctx context.Context, id int64, at time.Time, p user.LockoutPolicy) (*user.User, bool, error) {
	if !isRowID(id) {
		return nil, false, user.ErrNotFound
	}
	var row admissionRow
	err := s.db.run(ctx, func(q querier) error {
		return q.GetContext(ctx, &row, `
WITH a AS (
	UPDATE users SET
		failed_login_attempts = CASE WHEN locked_until <= $2 THEN 1 ELSE COALESCE(failed_login_attempts, 0) + 1 END,
		locked_until = CASE
			WHEN $3 > 0 AND CASE WHEN locked_until <= $2 THEN 1 ELSE COALESCE(failed_login_attempts, 0) + 1 END >= $3
				THEN $2::timestamptz + $4::interval
			ELSE NULL
		END
	WHERE id = $1 AND is_active AND (locked_until IS NULL OR locked_until <= $2)
	RETURNING `+userColumns+`
)
SELECT true AS admitted, `+userColumns+` FROM a
UNION ALL
SELECT false AS admitted, `+userColumns+` FROM users WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM a)`,
			id, at, p.Threshold, fmt.Sprintf("%d microseconds", p.Duration.Microseconds()))
	})
	if err != nil {
		return nil, false, mapUserErr(err)
	}
	u, err := row.toUser()
	if err != nil {
		return nil, false, err
	}
	return u, row.Admitted, nil
}

// RecordLoginSuccess implements [user.Store] as one conditional UPDATE on
// what the admission read.
func (s *UserStore) RecordLoginSuccess(ctx context.Context, id int64, at time.Time, stamp int64, lockedUntil *time.Time) (bool, error) {
	if !isRowID(id) {
		return false, user.ErrNotFound
	}
	return s.conditional(ctx, `
UPDATE users SET last_login_at = $2, failed_login_attempts = 0, locked_until = NULL
WHERE id = $1 AND is_active AND security_stamp = $3
	AND (locked_until IS NULL OR locked_until <= $2 OR locked_until = $4::timestamptz)`, id, at, stamp, lockedUntil)
}

// conditional runs an UPDATE of row id (the first argument) with extra
// conditions and reports whether it changed the row, in one statement:
// ErrNotFound when there is no such row.
func (s *UserStore) conditional(ctx context.Context, update string, args ...any) (bool, error) {
	var out struct {
		Changed bool `db:"changed"`
		Found   bool `db:"found"`
	}
	err := s.db.run(ctx, func(q querier) error {
		return q.GetContext(ctx, &out, `
WITH c AS (`+update+` RETURNING id)
SELECT EXISTS (SELECT 1 FROM c) AS changed, EXISTS (SELECT 1 FROM users WHERE id = $1) AS found`, args...)
	})
	if err != nil {
		return false, mapUserErr(err)
	}
	if !out.Found {
		return false, user.ErrNotFound
	}
	return out.Changed, nil
}

// Delete implements [user.Store]; the schema's ON DELETE rules remove or
// detach the rows of other tables.
func (s *UserStore) Delete(ctx context.Context, id int64) error {
	if !isRowID(id) {
		return user.ErrNotFound
	}
	return s.execOne(ctx, `DELETE FROM users WHERE id = $1`, id)
}

// execOne runs a statement that must change exactly one row.
func (s *UserStore) execOne(ctx context.Context, query string, args ...any) error {
	err := s.db.run(ctx, func(q querier) error {
		res, err := q.ExecContext(ctx, query, args...)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if n == 0 {
			return sql.ErrNoRows
		}
		return nil
	})
	return mapUserErr(err)
}

// encodeDoc returns the JSON text of m for a jsonb parameter (a string:
// lib/pq would send []byte as bytea). A nil map is NULL, or {} when
// emptyForNil.
func encodeDoc(m map[string]any, emptyForNil bool) (any, error) {
	if m == nil {
		if emptyForNil {
			return "{}", nil
		}
		return nil, nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("postgres: encoding JSON document: %w", err)
	}
	return string(b), nil
}

// decodeDoc decodes a jsonb column; NULL gives nil.
func decodeDoc(b []byte) (map[string]any, error) {
	if b == nil {
		return nil, nil
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("postgres: decoding JSON column: %w", err)
	}
	return m, nil
}

func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

func utc(t sql.NullTime) time.Time {
	if !t.Valid {
		return time.Time{}
	}
	return t.Time.UTC()
}

func utcPtr(t sql.NullTime) *time.Time {
	if !t.Valid {
		return nil
	}
	v := t.Time.UTC()
	return &v
}

// passwordFormat is the SQL of user.PasswordFormat: the format of
// users.hashed_password, by its prefix, compared byte for byte (COLLATE
// "C"; every prefix is ASCII, so left's characters are its bytes).
const passwordFormat = `CASE
	WHEN left(hashed_password, 10) COLLATE "C" = '$argon2id$' THEN '` + user.FormatArgon2id + `'
	WHEN left(hashed_password, 4) COLLATE "C" = '$2a$' THEN '` + user.FormatBcrypt + `'
	WHEN left(hashed_password, 4) COLLATE "C" IN ('$2b$', '$2y$') THEN '` + user.FormatLegacyBcrypt + `'
	WHEN left(hashed_password, 7) COLLATE "C" = 'enc_v1:' THEN '` + user.FormatLegacyEncrypted + `'
	WHEN hashed_password COLLATE "C" = '` + user.NoPassword + `' THEN '` + user.FormatNone + `'
	ELSE '` + user.FormatUnknown + `'
END`

// PasswordFormats counts the users by the format of their password hash,
// as user.PasswordFormat names it (user.FormatArgon2id, ...), in one
// statement: a scan of the users table. A format no user has is absent
// from the map (reads as 0).
func (s *UserStore) PasswordFormats(ctx context.Context) (map[string]int64, error) {
	var rows []struct {
		Format string `db:"format"`
		N      int64  `db:"n"`
	}
	err := s.db.run(ctx, func(q querier) error {
		return q.SelectContext(ctx, &rows, `SELECT `+passwordFormat+` AS format, count(*) AS n FROM users GROUP BY 1`)
	})
	if err != nil {
		return nil, err
	}
	out := make(map[string]int64, len(rows))
	for _, r := range rows {
		out[r.Format] = r.N
	}
	return out, nil
}

// StoredHash is one account's stored password hash, as
// [UserStore.ByPasswordFormat] pages them.
type StoredHash struct {
	UserID int64  `db:"id"`
	Hash   string `db:"hashed_password"`
}

// ByPasswordFormat returns the stored hashes of at most limit (> 0)
// users whose hash has format (as user.PasswordFormat names it), with
// ids above after, in id order: one page of a walk over the accounts of
// one format (pass the last id of a page as the next page's after; a
// page shorter than limit is the last). It walks the primary key, so each
// page reads little more than the rows it skips over, and the whole walk
// about one scan of the table. It reads only columns the original
// system's users table has, so it works on its database before adoption
// too. Rows change meanwhile: a user rehashed at sign-in during the walk
// may be missed or seen with its old hash.
func (s *UserStore) ByPasswordFormat(ctx context.Context, format string, after int64, limit int) ([]StoredHash, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("postgres: ByPasswordFormat: limit %d is not positive", limit)
	}
	var rows []StoredHash
	err := s.db.run(ctx, func(q querier) error {
		return q.SelectContext(ctx, &rows, `SELECT id, hashed_password FROM users
WHERE id > $2::bigint AND `+passwordFormat+` = $1 ORDER BY id LIMIT $3`, format, after, limit)
	})
	if err != nil {
		return nil, err
	}
	return rows, nil
}
