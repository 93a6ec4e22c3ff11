package memory

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/cedrina/cedrina/oauth"
	"github.com/cedrina/cedrina/user"
)

// OAuthStore implements [oauth.Store] on a [DB]: linked identities (the
// oauth_profiles table) and spent flow states.
type OAuthStore struct{ db *DB }

var _ oauth.Store = (*OAuthStore)(nil)

// OAuth returns the database's store of linked identities and spent OAuth
// flow states.
func (db *DB) OAuth() *OAuthStore { return &OAuthStore{db: db} }

// identity is the key of oauth_profiles_provider_provider_user_id_key.
type identity struct{ provider, subject string }

// userProvider is the key of oauth_profiles_user_id_provider_key.
type userProvider struct {
	userID   int64
	provider string
}

type oauthTable struct {
	rows       map[int64]*oauth.Profile // never mutated in place
	byIdentity map[identity]int64
	byUser     map[userProvider]int64
	nextID     int64

	// spent are the spent flow states: hash -> expires_at.
	spent map[string]time.Time
}

func newOAuthTable() oauthTable {
	return oauthTable{
		rows:       map[int64]*oauth.Profile{},
		byIdentity: map[identity]int64{},
		byUser:     map[userProvider]int64{},
		spent:      map[string]time.Time{},
	}
}

// errNULInJSON refuses a JSON document that holds a NUL in a key or a
// string, which a jsonb column cannot hold.
var errNULInJSON = errors.New("memory: oauth profile: user_info holds a NUL character")

// userInfo returns the user info as a jsonb column keeps it, refusing
// what it cannot hold.
func userInfo(m map[string]any) (map[string]any, error) {
	doc, err := normalizeJSON(m)
	if err != nil {
		return nil, err
	}
	if hasNUL(doc) {
		return nil, errNULInJSON
	}
	return doc, nil
}

// hasNUL reports whether a decoded JSON value holds a NUL in a key or a
// string.
func hasNUL(v any) bool {
	switch v := v.(type) {
	case string:
		return strings.ContainsRune(v, 0)
	case map[string]any:
		for k, e := range v {
			if strings.ContainsRune(k, 0) || hasNUL(e) {
				return true
			}
		}
	case []any:
		return slices.ContainsFunc(v, hasNUL)
	}
	return false
}

// cloneProfile returns the row to store for p, or the error PostgreSQL
// would give for it.
func cloneProfile(p *oauth.Profile) (*oauth.Profile, error) {
	if err := p.CheckStorable(); err != nil {
		return nil, err
	}
	row := *p
	info, err := userInfo(p.UserInfo)
	if err != nil {
		return nil, err
	}
	row.UserInfo = info
	row.TokenExpiresAt = dbTimePtr(p.TokenExpiresAt)
	row.CreatedAt = dbTime(p.CreatedAt)
	if p.CreatedAt.IsZero() {
		row.CreatedAt = dbTime(time.Now())
	}
	row.UpdatedAt = row.CreatedAt
	return &row, nil
}

// copyProfile returns a copy of a stored row that shares no memory with
// it.
func copyProfile(p *oauth.Profile) *oauth.Profile {
	c := *p
	c.UserInfo = deepCopy(p.UserInfo)
	c.TokenExpiresAt = copyTime(p.TokenExpiresAt)
	return &c
}

// Link implements [oauth.Store]. The write lock makes the checks of the
// user and of the unique keys and the insert one step. The user is checked
// first, then (provider, provider_user_id), then (user_id, provider), in
// the order PostgreSQL's statement meets them. A zero CreatedAt is the
// current time, as the columns' default.
func (s *OAuthStore) Link(ctx context.Context, p *oauth.Profile, stamp int64) error {
	row, err := cloneProfile(p)
	if err != nil {
		return err
	}
	return s.db.write(ctx, func(t *tx) error {
		tb := &s.db.oauth
		u, ok := s.db.users.rows[row.UserID]
		if !ok {
			return oauth.ErrUnknownUser
		}
		if !u.IsActive || u.SecurityStamp != stamp {
			return oauth.ErrUserChanged
		}
		if _, taken := tb.byIdentity[identity{row.Provider, row.ProviderUserID}]; taken {
			return oauth.ErrIdentityTaken
		}
		if _, linked := tb.byUser[userProvider{row.UserID, row.Provider}]; linked {
			return oauth.ErrProviderLinked
		}
		prevID := tb.nextID
		tb.nextID++
		row.ID = tb.nextID
		tb.put(t, row)
		t.record(func() { tb.nextID = prevID })
		p.ID, p.CreatedAt, p.UpdatedAt = row.ID, row.CreatedAt, row.UpdatedAt
		return nil
	})
}

// ByIdentity implements [oauth.Store].
func (s *OAuthStore) ByIdentity(ctx context.Context, provider, subject string) (*oauth.Profile, error) {
	var out *oauth.Profile
	err := s.db.read(ctx, func() {
		if id, ok := s.db.oauth.byIdentity[identity{provider, subject}]; ok {
			out = copyProfile(s.db.oauth.rows[id])
		}
	})
	if err != nil {
		return nil, err
	}
	if out == nil {
		return nil, oauth.ErrNotFound
	}
	return out, nil
}

// ByUser implements [oauth.Store]: the user's profiles in byte order of
// provider, as PostgreSQL's store orders them.
func (s *OAuthStore) ByUser(ctx context.Context, userID int64) ([]*oauth.Profile, error) {
	var out []*oauth.Profile
	err := s.db.read(ctx, func() {
		for _, row := range s.db.oauth.rows {
			if row.UserID == userID {
				out = append(out, copyProfile(row))
			}
		}
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b *oauth.Profile) int { return strings.Compare(a.Provider, b.Provider) })
	return out, nil
}

// UpdateTokens implements [oauth.Store].
func (s *OAuthStore) UpdateTokens(ctx context.Context, id int64, u oauth.TokenUpdate, at time.Time) (*oauth.Profile, error) {
	if err := u.CheckStorable(); err != nil {
		return nil, err
	}
	info, err := userInfo(u.UserInfo)
	if err != nil {
		return nil, err
	}
	var out *oauth.Profile
	err = s.db.write(ctx, func(t *tx) error {
		tb := &s.db.oauth
		old, ok := tb.rows[id]
		if !ok {
			return oauth.ErrNotFound
		}
		row := *old
		row.AccessToken, row.RefreshToken = u.AccessToken, u.RefreshToken
		row.TokenExpiresAt, row.UserInfo = dbTimePtr(u.TokenExpiresAt), info
		row.UpdatedAt = dbTime(at)
		tb.put(t, &row)
		out = copyProfile(&row)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Unlink implements [oauth.Store]. The write lock makes the check of the
// user's password and other profiles and the delete one step.
func (s *OAuthStore) Unlink(ctx context.Context, userID int64, provider string) (*oauth.Profile, error) {
	var out *oauth.Profile
	err := s.db.write(ctx, func(t *tx) error {
		tb := &s.db.oauth
		id, ok := tb.byUser[userProvider{userID, provider}]
		if !ok {
			return oauth.ErrNotFound
		}
		if u, ok := s.db.users.rows[userID]; ok && u.HashedPassword == user.NoPassword && !tb.hasOther(userID, provider) {
			return oauth.ErrLastSignInMethod
		}
		out = copyProfile(tb.rows[id])
		tb.remove(t, id)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// hasOther reports whether the user has a profile of another provider.
func (tb *oauthTable) hasOther(userID int64, provider string) bool {
	for k := range tb.byUser {
		if k.userID == userID && k.provider != provider {
			return true
		}
	}
	return false
}

// SpendState implements [oauth.Store]: the write lock makes the check and
// the record one step. hash must be the state's hex SHA-256 (64
// hexadecimal digits), as oauth_spent_states.state_hash holds it.
func (s *OAuthStore) SpendState(ctx context.Context, hash string, expiresAt time.Time) error {
	if !isStateHash(hash) {
		return errStateHash
	}
	expiresAt = dbTime(expiresAt)
	return s.db.write(ctx, func(t *tx) error {
		tb := &s.db.oauth
		if _, spent := tb.spent[hash]; spent {
			return oauth.ErrStateSpent
		}
		tb.spent[hash] = expiresAt
		t.record(func() { delete(tb.spent, hash) })
		return nil
	})
}

// errStateHash refuses a state hash that is not a hex SHA-256.
var errStateHash = errors.New("memory: oauth state: hash is not 64 hexadecimal digits")

// isStateHash reports whether h is 64 hexadecimal digits.
func isStateHash(h string) bool {
	if len(h) != 64 {
		return false
	}
	for i := range len(h) {
		c := h[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// DeleteExpiredStates implements [oauth.Store].
func (s *OAuthStore) DeleteExpiredStates(ctx context.Context, at time.Time, batch int) (int, error) {
	at = dbTime(at)
	n := 0
	err := s.db.write(ctx, func(t *tx) error {
		tb := &s.db.oauth
		for hash, expires := range tb.spent {
			if n >= batch {
				break
			}
			if !expires.After(at) {
				delete(tb.spent, hash)
				t.record(func() { tb.spent[hash] = expires })
				n++
			}
		}
		return nil
	})
	return n, err
}

// put stores row (new or replacing the row with its id), keeping the
// indexes, and records how to undo it. A profile's user, provider and
// provider_user_id never change.
func (tb *oauthTable) put(t *tx, row *oauth.Profile) {
	old, had := tb.rows[row.ID]
	tb.rows[row.ID] = row
	tb.byIdentity[identity{row.Provider, row.ProviderUserID}] = row.ID
	tb.byUser[userProvider{row.UserID, row.Provider}] = row.ID
	t.record(func() {
		if had {
			tb.rows[row.ID] = old
			return
		}
		delete(tb.rows, row.ID)
		delete(tb.byIdentity, identity{row.Provider, row.ProviderUserID})
		delete(tb.byUser, userProvider{row.UserID, row.Provider})
	})
}

// remove deletes profile id.
func (tb *oauthTable) remove(t *tx, id int64) {
	old, ok := tb.rows[id]
	if !ok {
		return
	}
	delete(tb.rows, id)
	delete(tb.byIdentity, identity{old.Provider, old.ProviderUserID})
	delete(tb.byUser, userProvider{old.UserID, old.Provider})
	t.record(func() {
		tb.rows[id] = old
		tb.byIdentity[identity{old.Provider, old.ProviderUserID}] = id
		tb.byUser[userProvider{old.UserID, old.Provider}] = id
	})
}

// removeUser deletes a deleted user's profiles (ON DELETE CASCADE). The
// caller holds the write lock.
func (tb *oauthTable) removeUser(t *tx, userID int64) {
	for id, row := range tb.rows {
		if row.UserID == userID {
			tb.remove(t, id)
		}
	}
}
