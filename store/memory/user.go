package memory

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/cedrina/cedrina/user"
)

// UserStore implements [user.Store] on a [DB].
type UserStore struct{ db *DB }

var _ user.Store = (*UserStore)(nil)

// Users returns the database's user store.
func (db *DB) Users() *UserStore { return &UserStore{db: db} }

type userTable struct {
	rows    map[int64]*user.User // never mutated in place: replaced on change
	byName  map[user.Username]int64
	byEmail map[user.Email]int64
	nextID  int64

	// The email_verification_tokens table, which belongs to the users.
	verifs      map[int64]*user.Verification // never mutated in place
	verifByHash map[string]int64
	nextVerifID int64
}

func newUserTable() userTable {
	return userTable{
		rows:        make(map[int64]*user.User),
		byName:      make(map[user.Username]int64),
		byEmail:     make(map[user.Email]int64),
		verifs:      make(map[int64]*user.Verification),
		verifByHash: make(map[string]int64),
	}
}

// Create implements [user.Store].
func (s *UserStore) Create(ctx context.Context, u *user.User) error {
	row, err := cloneUser(u)
	if err != nil {
		return err
	}
	now := dbTime(time.Now())
	for _, t := range []*time.Time{&row.CreatedAt, &row.UpdatedAt, &row.PasswordChangedAt} {
		if t.IsZero() {
			*t = now
		}
	}
	if row.Preferences == nil {
		row.Preferences = map[string]any{}
	}
	if row.Metadata == nil {
		row.Metadata = map[string]any{}
	}
	return s.db.write(ctx, func(t *tx) error {
		tb := &s.db.users
		if _, ok := tb.byName[row.Username]; ok {
			return user.ErrUsernameTaken
		}
		if _, ok := tb.byEmail[row.Email]; ok {
			return user.ErrEmailTaken
		}
		prevID := tb.nextID
		tb.nextID++
		row.ID = tb.nextID
		tb.rows[row.ID] = row
		tb.byName[row.Username] = row.ID
		tb.byEmail[row.Email] = row.ID
		t.record(func() {
			delete(tb.rows, row.ID)
			delete(tb.byName, row.Username)
			delete(tb.byEmail, row.Email)
			tb.nextID = prevID
		})
		*u = *copyUser(row) // as stored, like PostgreSQL's RETURNING
		return nil
	})
}

// ByID implements [user.Store].
func (s *UserStore) ByID(ctx context.Context, id int64) (*user.User, error) {
	return s.lookup(ctx, func(tb *userTable) (int64, bool) { return id, true })
}

// ByUsername implements [user.Store].
func (s *UserStore) ByUsername(ctx context.Context, name user.Username) (*user.User, error) {
	return s.lookup(ctx, func(tb *userTable) (int64, bool) { id, ok := tb.byName[name]; return id, ok })
}

// ByEmail implements [user.Store].
func (s *UserStore) ByEmail(ctx context.Context, email user.Email) (*user.User, error) {
	return s.lookup(ctx, func(tb *userTable) (int64, bool) { id, ok := tb.byEmail[email]; return id, ok })
}

func (s *UserStore) lookup(ctx context.Context, find func(*userTable) (int64, bool)) (*user.User, error) {
	var found *user.User
	err := s.db.read(ctx, func() {
		if id, ok := find(&s.db.users); ok {
			found = s.db.users.rows[id]
		}
	})
	if err != nil {
		return nil, err
	}
	if found == nil {
		return nil, user.ErrNotFound
	}
	return copyUser(found), nil
}

// UpdateProfile implements [user.Store].
func (s *UserStore) UpdateProfile(ctx context.Context, id int64, p user.ProfileUpdate, at time.Time) (*user.User, error) {
	docs := make([]map[string]any, 3)
	for i, m := range []map[string]any{p.ProfileData, p.Preferences, p.Metadata} {
		if m == nil {
			continue
		}
		doc, err := normalizeJSON(m)
		if err != nil {
			return nil, err
		}
		docs[i] = doc
	}
	return s.update(ctx, id, func(u *user.User) bool {
		if docs[0] != nil {
			u.ProfileData = docs[0]
		}
		if docs[1] != nil {
			u.Preferences = docs[1]
		}
		if docs[2] != nil {
			u.Metadata = docs[2]
		}
		u.UpdatedAt = dbTime(at)
		return true
	})
}

// SetRole implements [user.Store].
func (s *UserStore) SetRole(ctx context.Context, id int64, role user.Role, at time.Time) (*user.User, error) {
	return s.update(ctx, id, func(u *user.User) bool { u.Role, u.UpdatedAt = role, dbTime(at); return true })
}

// SetTier implements [user.Store].
func (s *UserStore) SetTier(ctx context.Context, id int64, tier user.Tier, at time.Time) (*user.User, error) {
	return s.update(ctx, id, func(u *user.User) bool { u.Tier, u.UpdatedAt = tier, dbTime(at); return true })
}

// SetActive implements [user.Store].
func (s *UserStore) SetActive(ctx context.Context, id int64, active bool, at time.Time) (*user.User, error) {
	return s.update(ctx, id, func(u *user.User) bool {
		if u.IsActive != active {
			u.SecurityStamp++
		}
		u.IsActive, u.UpdatedAt = active, dbTime(at)
		return true
	})
}

// SetPassword implements [user.Store].
func (s *UserStore) SetPassword(ctx context.Context, id int64, hash string, at time.Time, stamp int64) error {
	stale := false
	_, err := s.update(ctx, id, func(u *user.User) bool {
		if u.SecurityStamp != stamp {
			stale = true
			return false
		}
		u.HashedPassword = hash
		u.PasswordChangedAt, u.UpdatedAt = dbTime(at), dbTime(at)
		u.FailedLoginAttempts, u.LockedUntil = 0, nil
		u.SecurityStamp++
		return true
	})
	if err == nil && stale {
		return user.ErrStale
	}
	return err
}

// ReplacePasswordHash implements [user.Store].
func (s *UserStore) ReplacePasswordHash(ctx context.Context, id int64, oldHash, newHash string) (bool, error) {
	replaced := false
	_, err := s.update(ctx, id, func(u *user.User) bool {
		if u.HashedPassword != oldHash {
			return false
		}
		u.HashedPassword = newHash
		replaced = true
		return true
	})
	return replaced, err
}

// AdmitLogin implements [user.Store].
func (s *UserStore) AdmitLogin(ctx context.Context, id int64, at time.Time, p user.LockoutPolicy) (*user.User, bool, error) {
	at = dbTime(at)
	admitted := false
	u, err := s.update(ctx, id, func(u *user.User) bool {
		if !u.IsActive || u.Locked(at) {
			return false
		}
		if u.LockedUntil != nil { // expired: counting starts anew
			u.FailedLoginAttempts, u.LockedUntil = 0, nil
		}
		u.FailedLoginAttempts++
		if p.Threshold > 0 && u.FailedLoginAttempts >= p.Threshold {
			until := dbTime(at.Add(p.Duration))
			u.LockedUntil = &until
		}
		admitted = true
		return true
	})
	if err != nil {
		return nil, false, err
	}
	return u, admitted, nil
}

// RecordLoginSuccess implements [user.Store].
func (s *UserStore) RecordLoginSuccess(ctx context.Context, id int64, at time.Time, stamp int64, lockedUntil *time.Time) (bool, error) {
	at = dbTime(at)
	wrote := false
	_, err := s.update(ctx, id, func(u *user.User) bool {
		lockOK := !u.Locked(at) || timeEqual(u.LockedUntil, lockedUntil)
		if !u.IsActive || u.SecurityStamp != stamp || !lockOK {
			return false
		}
		u.LastLoginAt = &at
		u.FailedLoginAttempts, u.LockedUntil = 0, nil
		wrote = true
		return true
	})
	return wrote, err
}

// timeEqual reports whether a and b are both nil or the same instant.
func timeEqual(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.Equal(*b)
}

// Delete implements [user.Store].
func (s *UserStore) Delete(ctx context.Context, id int64) error {
	return s.db.write(ctx, func(t *tx) error {
		tb := &s.db.users
		old, ok := tb.rows[id]
		if !ok {
			return user.ErrNotFound
		}
		delete(tb.rows, id)
		delete(tb.byName, old.Username)
		delete(tb.byEmail, old.Email)
		t.record(func() {
			tb.rows[id] = old
			tb.byName[old.Username] = id
			tb.byEmail[old.Email] = id
		})
		s.db.audit.detachUser(t, id)    // audit_logs.user_id: ON DELETE SET NULL
		s.db.sessions.removeUser(t, id) // sessions.user_id: ON DELETE CASCADE
		tb.removeVerifications(t, id)   // email_verification_tokens.user_id: ON DELETE CASCADE
		s.db.resets.removeUser(t, id)   // password_reset_tokens.user_id: ON DELETE CASCADE
		s.db.oauth.removeUser(t, id)    // oauth_profiles.user_id: ON DELETE CASCADE
		return nil
	})
}

// update replaces row id by a changed copy in one write and returns a copy
// of the result. change reports whether it changed the row; when it did
// not, the row is left as it was and returned as stored.
func (s *UserStore) update(ctx context.Context, id int64, change func(*user.User) bool) (*user.User, error) {
	var out *user.User
	err := s.db.write(ctx, func(t *tx) error {
		tb := &s.db.users
		old, ok := tb.rows[id]
		if !ok {
			return user.ErrNotFound
		}
		row := *old
		if !change(&row) {
			out = copyUser(old)
			return nil
		}
		tb.rows[id] = &row
		t.record(func() { tb.rows[id] = old })
		out = copyUser(&row)
		return nil
	})
	return out, err
}

// dbTime returns t as PostgreSQL keeps a timestamptz: UTC, microseconds.
func dbTime(t time.Time) time.Time { return t.UTC().Round(time.Microsecond) }

func dbTimePtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	v := dbTime(*t)
	return &v
}

// cloneUser returns the row to store for u: times as the database keeps
// them and JSON documents as they come back from a JSON column.
func cloneUser(u *user.User) (*user.User, error) {
	row := *u
	row.CreatedAt, row.UpdatedAt, row.PasswordChangedAt = dbTime(u.CreatedAt), dbTime(u.UpdatedAt), dbTime(u.PasswordChangedAt)
	row.LastLoginAt, row.LockedUntil, row.EmailVerifiedAt = dbTimePtr(u.LastLoginAt), dbTimePtr(u.LockedUntil), dbTimePtr(u.EmailVerifiedAt)
	var err error
	if row.ProfileData, err = normalizeJSON(u.ProfileData); err != nil {
		return nil, err
	}
	if row.Preferences, err = normalizeJSON(u.Preferences); err != nil {
		return nil, err
	}
	if row.Metadata, err = normalizeJSON(u.Metadata); err != nil {
		return nil, err
	}
	return &row, nil
}

// copyUser returns a copy of a stored row that the caller may change: its
// documents and its nullable times are its own.
func copyUser(u *user.User) *user.User {
	c := *u
	c.ProfileData, c.Preferences, c.Metadata = deepCopy(u.ProfileData), deepCopy(u.Preferences), deepCopy(u.Metadata)
	c.LastLoginAt, c.LockedUntil, c.EmailVerifiedAt = copyTime(u.LastLoginAt), copyTime(u.LockedUntil), copyTime(u.EmailVerifiedAt)
	return &c
}

// copyTime returns a pointer to a copy of *t, or nil.
func copyTime(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	v := *t
	return &v
}

// normalizeJSON round-trips m through encoding/json so the stored document
// has exactly the types a JSON column gives back. A nil map stays nil.
func normalizeJSON(m map[string]any) (map[string]any, error) {
	if m == nil {
		return nil, nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("memory: encoding JSON document: %w", err)
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("memory: decoding JSON document: %w", err)
	}
	return out, nil
}

// deepCopy copies a decoded JSON document.
func deepCopy(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = deepCopyValue(v)
	}
	return out
}

func deepCopyValue(v any) any {
	switch v := v.(type) {
	case map[string]any:
		return deepCopy(v)
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = deepCopyValue(e)
		}
		return out
	default:
		return v
	}
}

// PasswordFormats counts the users by the format of their password hash,
// as user.PasswordFormat names it, under one read lock. A format no user
// has is absent from the map (reads as 0).
func (s *UserStore) PasswordFormats(ctx context.Context) (map[string]int64, error) {
	out := map[string]int64{}
	err := s.db.read(ctx, func() {
		for _, u := range s.db.users.rows {
			out[user.PasswordFormat(u.HashedPassword)]++
		}
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
