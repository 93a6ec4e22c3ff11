package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/cedrina/cedrina/oauth"
	"github.com/cedrina/cedrina/store"
	"github.com/cedrina/cedrina/user"
)

// OAuthStore implements [oauth.Store] on the oauth_profiles and
// oauth_spent_states tables.
type OAuthStore struct{ db *DB }

var _ oauth.Store = (*OAuthStore)(nil)

// OAuth returns the store of linked identities and spent OAuth flow
// states.
func (db *DB) OAuth() *OAuthStore { return &OAuthStore{db: db} }

const oauthColumns = `id, user_id, provider, provider_user_id, access_token, refresh_token,
	token_expires_at, user_info, created_at, updated_at`

// oauthRow is an oauth_profiles row as scanned. Every column the schema
// leaves nullable is scanned as nullable, so rows written by other
// systems load.
type oauthRow struct {
	ID             int64          `db:"id"`
	UserID         int64          `db:"user_id"`
	Provider       string         `db:"provider"`
	ProviderUserID string         `db:"provider_user_id"`
	AccessToken    sql.NullString `db:"access_token"`
	RefreshToken   sql.NullString `db:"refresh_token"`
	TokenExpiresAt sql.NullTime   `db:"token_expires_at"`
	UserInfo       []byte         `db:"user_info"`
	CreatedAt      sql.NullTime   `db:"created_at"`
	UpdatedAt      sql.NullTime   `db:"updated_at"`
}

// toProfile converts a row. NULL tokens read as "", a NULL user_info as
// nil, NULL times as nil or the zero time.
func (r *oauthRow) toProfile() (*oauth.Profile, error) {
	info, err := decodeDoc(r.UserInfo)
	if err != nil {
		return nil, fmt.Errorf("postgres: oauth profile %d: user_info: %w", r.ID, err)
	}
	return &oauth.Profile{
		ID: r.ID, UserID: r.UserID, Provider: r.Provider, ProviderUserID: r.ProviderUserID,
		AccessToken: r.AccessToken.String, RefreshToken: r.RefreshToken.String,
		TokenExpiresAt: utcPtr(r.TokenExpiresAt), UserInfo: info,
		CreatedAt: utc(r.CreatedAt), UpdatedAt: utc(r.UpdatedAt),
	}, nil
}

// mapOAuthErr turns translated errors into the oauth package's sentinels,
// by constraint name. The package's own sentinels pass unchanged.
func mapOAuthErr(err error) error {
	switch {
	case err == nil:
		return nil
	case isOAuthErr(err):
		return err
	case errors.Is(err, store.ErrNotFound):
		return oauth.ErrNotFound
	}
	switch constraintName(err) {
	case "oauth_profiles_provider_provider_user_id_key":
		return oauth.ErrIdentityTaken
	case "oauth_profiles_user_id_provider_key":
		return oauth.ErrProviderLinked
	case "oauth_profiles_user_id_fkey":
		return oauth.ErrUnknownUser
	case "oauth_spent_states_pkey":
		return oauth.ErrStateSpent
	}
	return err
}

func isOAuthErr(err error) bool {
	for _, s := range []error{oauth.ErrNotFound, oauth.ErrUnknownUser, oauth.ErrIdentityTaken, oauth.ErrProviderLinked,
		oauth.ErrUserChanged, oauth.ErrLastSignInMethod, oauth.ErrStateSpent} {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

// userInfoDoc returns the JSON text of the user info for a jsonb
// parameter (nil is NULL). A NUL in a key or a string (\u0000 in JSON)
// is refused here: jsonb cannot hold it.
func userInfoDoc(m map[string]any) (any, error) {
	doc, err := encodeDoc(m, false)
	if err != nil {
		return nil, err
	}
	if s, ok := doc.(string); ok && hasNULEscape(s) {
		return nil, errors.New("postgres: oauth profile: user_info holds a NUL character")
	}
	return doc, nil
}

// hasNULEscape reports whether the JSON text s holds the escape \u0000
// (and not an escaped backslash followed by u0000).
func hasNULEscape(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' || i+1 >= len(s) {
			continue
		}
		if s[i+1] == 'u' && strings.HasPrefix(s[i+2:], "0000") {
			return true
		}
		i++ // skip the escaped character
	}
	return false
}

// Link implements [oauth.Store] in one statement: the INSERT takes its
// row from a SELECT of the user that matches only while the user is
// active (a NULL is_active counts as inactive, as the user store reads
// it) and its security stamp is the one given, and locks it FOR SHARE,
// so that a concurrent change of the stamp (a password change, a
// deactivation) either waits for the insert's transaction or makes the
// SELECT, which then re-reads the changed row, match nothing. When
// nothing is inserted, a second statement tells an unknown user from a
// changed one. The unique constraints decide a taken identity and a
// linked provider; when both hold, the identity's is met first (its index
// is the older). A zero CreatedAt takes the time of the transaction.
//
// The provider, provider_user_id and tokens are checked first
// (Profile.CheckStorable): PostgreSQL would store a value too long by
// trailing spaces only cut to its column's length.
func (s *OAuthStore) Link(ctx context.Context, p *oauth.Profile, stamp int64) error {
	if err := p.CheckStorable(); err != nil {
		return err
	}
	info, err := userInfoDoc(p.UserInfo)
	if err != nil {
		return err
	}
	if !isRowID(p.UserID) {
		return oauth.ErrUnknownUser
	}
	type linked struct {
		ID        int64     `db:"id"`
		CreatedAt time.Time `db:"created_at"`
		UpdatedAt time.Time `db:"updated_at"`
	}
	var row linked
	err = s.db.run(ctx, func(q querier) error {
		var rows []linked
		if err := q.SelectContext(ctx, &rows, `
INSERT INTO oauth_profiles (user_id, provider, provider_user_id, access_token, refresh_token,
	token_expires_at, user_info, created_at, updated_at)
SELECT id, $2, $3, NULLIF($4, ''), NULLIF($5, ''), $6, $7::jsonb, COALESCE($8, NOW()), COALESCE($8, NOW())
FROM users WHERE id = $1 AND is_active AND security_stamp = $9
FOR SHARE
RETURNING id, created_at, updated_at`,
			p.UserID, p.Provider, p.ProviderUserID, p.AccessToken, p.RefreshToken, p.TokenExpiresAt, info,
			nullTime(p.CreatedAt), stamp); err != nil {
			return err
		}
		if len(rows) == 1 {
			row = rows[0]
			return nil
		}
		var exists bool
		if err := q.GetContext(ctx, &exists, `SELECT EXISTS (SELECT 1 FROM users WHERE id = $1)`, p.UserID); err != nil {
			return err
		}
		if !exists {
			return oauth.ErrUnknownUser
		}
		return oauth.ErrUserChanged
	})
	if err != nil {
		return mapOAuthErr(err)
	}
	p.ID, p.CreatedAt, p.UpdatedAt = row.ID, row.CreatedAt.UTC(), row.UpdatedAt.UTC()
	return nil
}

// ByIdentity implements [oauth.Store], through the unique index on
// (provider, provider_user_id). An identity a text column cannot hold
// (see storable) finds nothing: the server would refuse it rather than
// compare it.
func (s *OAuthStore) ByIdentity(ctx context.Context, provider, subject string) (*oauth.Profile, error) {
	if !storable(provider) || !storable(subject) {
		return nil, oauth.ErrNotFound
	}
	var row oauthRow
	err := s.db.run(ctx, func(q querier) error {
		return q.GetContext(ctx, &row, `SELECT `+oauthColumns+` FROM oauth_profiles WHERE provider = $1 AND provider_user_id = $2`,
			provider, subject)
	})
	if err != nil {
		return nil, mapOAuthErr(err)
	}
	return row.toProfile()
}

// ByUser implements [oauth.Store], through the unique index on (user_id,
// provider). Profiles are ordered by provider byte by byte (COLLATE "C"),
// whatever the database's collation, as the memory store orders them.
func (s *OAuthStore) ByUser(ctx context.Context, userID int64) ([]*oauth.Profile, error) {
	if !isRowID(userID) {
		return nil, nil // no such user, no profiles
	}
	var rows []oauthRow
	err := s.db.run(ctx, func(q querier) error {
		return q.SelectContext(ctx, &rows, `SELECT `+oauthColumns+` FROM oauth_profiles WHERE user_id = $1
ORDER BY provider COLLATE "C"`, userID)
	})
	if err != nil {
		return nil, mapOAuthErr(err)
	}
	out := make([]*oauth.Profile, 0, len(rows))
	for i := range rows {
		p, err := rows[i].toProfile()
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// UpdateTokens implements [oauth.Store] with one UPDATE ... RETURNING.
func (s *OAuthStore) UpdateTokens(ctx context.Context, id int64, t oauth.TokenUpdate, at time.Time) (*oauth.Profile, error) {
	if err := t.CheckStorable(); err != nil {
		return nil, err
	}
	info, err := userInfoDoc(t.UserInfo)
	if err != nil {
		return nil, err
	}
	if !isRowID(id) {
		return nil, oauth.ErrNotFound
	}
	var row oauthRow
	err = s.db.run(ctx, func(q querier) error {
		return q.GetContext(ctx, &row, `
UPDATE oauth_profiles SET access_token = NULLIF($2, ''), refresh_token = NULLIF($3, ''),
	token_expires_at = $4, user_info = $5::jsonb, updated_at = $6
WHERE id = $1
RETURNING `+oauthColumns, id, t.AccessToken, t.RefreshToken, t.TokenExpiresAt, info, at)
	})
	if err != nil {
		return nil, mapOAuthErr(err)
	}
	return row.toProfile()
}

// Unlink implements [oauth.Store] in a transaction (the context's, or its
// own) of two statements. The first locks the user's row (FOR NO KEY
// UPDATE: the lock a password change's UPDATE takes, which conflicts with
// it, with Link's FOR SHARE and with other Unlinks, but not with the
// foreign key checks of rows inserted for the user elsewhere) and reads
// its password hash. The second, whose snapshot is taken once the lock is
// held and so sees what the previous holder committed, deletes the
// profile unless the user has no password and no other profile. So
// concurrent Unlinks of a passwordless user take turns and leave one
// identity, and a password set meanwhile counts. When nothing is deleted,
// a third statement tells a refused Unlink from a missing profile.
func (s *OAuthStore) Unlink(ctx context.Context, userID int64, provider string) (*oauth.Profile, error) {
	if !isRowID(userID) || !storable(provider) {
		return nil, oauth.ErrNotFound
	}
	var row oauthRow
	err := s.db.InTx(ctx, func(ctx context.Context) error {
		return s.db.run(ctx, func(q querier) error {
			var hashes []string
			if err := q.SelectContext(ctx, &hashes, `SELECT hashed_password FROM users WHERE id = $1 FOR NO KEY UPDATE`, userID); err != nil {
				return err
			}
			if len(hashes) == 0 {
				return oauth.ErrNotFound // no user, no profile
			}
			var rows []oauthRow
			if err := q.SelectContext(ctx, &rows, `
DELETE FROM oauth_profiles
WHERE user_id = $1 AND provider = $2
	AND ($3 OR EXISTS (SELECT 1 FROM oauth_profiles WHERE user_id = $1 AND provider <> $2))
RETURNING `+oauthColumns, userID, provider, hashes[0] != user.NoPassword); err != nil {
				return err
			}
			if len(rows) == 1 {
				row = rows[0]
				return nil
			}
			var exists bool
			if err := q.GetContext(ctx, &exists, `SELECT EXISTS (SELECT 1 FROM oauth_profiles WHERE user_id = $1 AND provider = $2)`,
				userID, provider); err != nil {
				return err
			}
			if exists {
				return oauth.ErrLastSignInMethod
			}
			return oauth.ErrNotFound
		})
	})
	if err != nil {
		return nil, mapOAuthErr(err)
	}
	return row.toProfile()
}

// isStateHash reports whether h is 64 hexadecimal digits, as
// oauth_spent_states.state_hash (CHAR(64)) holds a state's hex SHA-256.
func isStateHash(h string) bool {
	return len(h) == 64 && !slices.ContainsFunc([]byte(h), func(c byte) bool {
		return !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F')
	})
}

// errStateHash refuses a state hash that is not a hex SHA-256.
var errStateHash = errors.New("postgres: oauth state: hash is not 64 hexadecimal digits")

// SpendState implements [oauth.Store] with one INSERT ... ON CONFLICT DO
// NOTHING on the primary key: of concurrent spends of one state, one
// inserts and the others, waiting for it to commit, insert nothing. hash
// must be 64 hexadecimal digits (see the migration's comment on
// state_hash); anything else is refused before it reaches the server.
func (s *OAuthStore) SpendState(ctx context.Context, hash string, expiresAt time.Time) error {
	if !isStateHash(hash) {
		return errStateHash
	}
	var n int64
	err := s.db.run(ctx, func(q querier) error {
		res, err := q.ExecContext(ctx, `
INSERT INTO oauth_spent_states (state_hash, expires_at) VALUES ($1, $2)
ON CONFLICT (state_hash) DO NOTHING`, hash, expiresAt)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return mapOAuthErr(err)
	}
	if n == 0 {
		return oauth.ErrStateSpent
	}
	return nil
}

// oauthStateCleanup is the statement of [OAuthStore.DeleteExpiredStates]:
// it picks at most $2 expired hashes through
// idx_oauth_spent_states_expires_at, locking them and skipping rows other
// transactions hold, and deletes them through the primary key. The hashes
// go through ARRAY(...) rather than IN (...) so that generic plans too
// delete through the primary key.
const oauthStateCleanup = `DELETE FROM oauth_spent_states WHERE state_hash = ANY (ARRAY(
	SELECT state_hash FROM oauth_spent_states WHERE expires_at <= $1
	ORDER BY expires_at LIMIT $2
	FOR UPDATE SKIP LOCKED))`

// DeleteExpiredStates implements [oauth.Store] in one short statement
// bounded by batch; a batch of 0 or less deletes nothing.
func (s *OAuthStore) DeleteExpiredStates(ctx context.Context, at time.Time, batch int) (int, error) {
	if batch <= 0 {
		return 0, nil
	}
	var n int64
	err := s.db.run(ctx, func(q querier) error {
		res, err := q.ExecContext(ctx, oauthStateCleanup, at, batch)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return int(n), mapOAuthErr(err)
}
