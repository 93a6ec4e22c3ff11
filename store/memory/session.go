package memory

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/cedrina/cedrina/session"
	"github.com/cedrina/cedrina/store"
	"github.com/cedrina/cedrina/user"
)

// SessionStore implements [session.Store] on a [DB].
type SessionStore struct{ db *DB }

var _ session.Store = (*SessionStore)(nil)

// Sessions returns the database's session store.
func (db *DB) Sessions() *SessionStore { return &SessionStore{db: db} }

type sessionTable struct {
	rows      map[int64]*session.Session // never mutated in place
	byToken   map[string]int64
	byRefresh map[string]int64
	rotated   map[string]int64 // refresh hashes replaced by a rotation
	nextID    int64
}

func newSessionTable() sessionTable {
	return sessionTable{
		rows: map[int64]*session.Session{}, byToken: map[string]int64{},
		byRefresh: map[string]int64{}, rotated: map[string]int64{},
	}
}

// errHashInUse is the error for a hash already in use, as the unique
// constraints on sessions.session_token and refresh_token give it.
var errHashInUse = fmt.Errorf("memory: session hash already in use: %w", store.ErrConflict)

// Create implements [session.Store].
func (s *SessionStore) Create(ctx context.Context, in *session.Session, max int) ([]int64, error) {
	row, err := cloneSession(in)
	if err != nil {
		return nil, err
	}
	var evicted []int64
	err = s.db.write(ctx, func(t *tx) error {
		tb := &s.db.sessions
		u, ok := s.db.users.rows[row.UserID]
		if !ok {
			return session.ErrNotFound
		}
		if !u.IsActive || u.SecurityStamp != row.SecurityStamp {
			return session.ErrUserChanged
		}
		_, dupToken := tb.byToken[row.TokenHash]
		_, dupRefresh := tb.byRefresh[row.RefreshHash]
		if dupToken || dupRefresh {
			return errHashInUse
		}
		prevID := tb.nextID
		tb.nextID++
		row.ID = tb.nextID
		tb.put(t, row)
		t.record(func() { tb.nextID = prevID })
		if max > 0 {
			var others []*session.Session
			for _, o := range tb.rows {
				if o.UserID == row.UserID && o.Active && o.ID != row.ID {
					others = append(others, o)
				}
			}
			slices.SortFunc(others, byActivityDesc)
			for _, o := range others[min(len(others), max-1):] {
				c := *o
				c.Active = false
				tb.put(t, &c)
				evicted = append(evicted, o.ID)
			}
			slices.Sort(evicted)
		}
		*in = *copySession(row)
		return nil
	})
	return evicted, err
}

func byActivityDesc(a, b *session.Session) int {
	if c := b.LastActivityAt.Compare(a.LastActivityAt); c != 0 {
		return c
	}
	return cmpInt(b.ID, a.ID)
}

// put stores row (new or replacing the row with its id), keeping the
// indexes, and records how to undo it.
func (tb *sessionTable) put(t *tx, row *session.Session) {
	old, had := tb.rows[row.ID]
	tb.rows[row.ID] = row
	if had {
		delete(tb.byRefresh, old.RefreshHash)
	}
	tb.byToken[row.TokenHash] = row.ID
	tb.byRefresh[row.RefreshHash] = row.ID
	t.record(func() {
		delete(tb.byRefresh, row.RefreshHash)
		if had {
			tb.rows[row.ID] = old
			tb.byRefresh[old.RefreshHash] = old.ID
		} else {
			delete(tb.rows, row.ID)
			delete(tb.byToken, row.TokenHash)
		}
	})
}

// remove deletes session id with its rotation history.
func (tb *sessionTable) remove(t *tx, id int64) {
	old, ok := tb.rows[id]
	if !ok {
		return
	}
	delete(tb.rows, id)
	delete(tb.byToken, old.TokenHash)
	delete(tb.byRefresh, old.RefreshHash)
	var hist []string
	for h, sid := range tb.rotated {
		if sid == id {
			hist = append(hist, h)
			delete(tb.rotated, h)
		}
	}
	t.record(func() {
		tb.rows[id] = old
		tb.byToken[old.TokenHash] = id
		tb.byRefresh[old.RefreshHash] = id
		for _, h := range hist {
			tb.rotated[h] = id
		}
	})
}

// removeUser deletes a deleted user's sessions (ON DELETE CASCADE). The
// caller holds the write lock.
func (tb *sessionTable) removeUser(t *tx, userID int64) {
	for id, row := range tb.rows {
		if row.UserID == userID {
			tb.remove(t, id)
		}
	}
}

// withUser returns a copy of row and its user's state. The caller holds
// the lock.
func (s *SessionStore) withUser(row *session.Session) (*session.Session, session.UserState) {
	var st session.UserState
	if u, ok := s.db.users.rows[row.UserID]; ok {
		st = userState(u)
	}
	return copySession(row), st
}

func userState(u *user.User) session.UserState {
	return session.UserState{Role: u.Role, Tier: u.Tier, Active: u.IsActive, PasswordChangedAt: u.PasswordChangedAt,
		SecurityStamp: u.SecurityStamp}
}

// ByID implements [session.Store].
func (s *SessionStore) ByID(ctx context.Context, id int64) (*session.Session, session.UserState, error) {
	return s.lookup(ctx, func(tb *sessionTable) (int64, bool) { return id, true })
}

// ByTokenHash implements [session.Store].
func (s *SessionStore) ByTokenHash(ctx context.Context, hash string) (*session.Session, session.UserState, error) {
	return s.lookup(ctx, func(tb *sessionTable) (int64, bool) { id, ok := tb.byToken[hash]; return id, ok })
}

// ByRefreshHash implements [session.Store].
func (s *SessionStore) ByRefreshHash(ctx context.Context, hash string) (*session.Session, session.UserState, error) {
	rotated := false
	sess, st, err := s.lookup(ctx, func(tb *sessionTable) (int64, bool) {
		if id, ok := tb.byRefresh[hash]; ok {
			return id, true
		}
		id, ok := tb.rotated[hash]
		rotated = ok
		return id, ok
	})
	if err == nil && rotated {
		err = session.ErrRotated
	}
	return sess, st, err
}

func (s *SessionStore) lookup(ctx context.Context, find func(*sessionTable) (int64, bool)) (*session.Session, session.UserState, error) {
	var out *session.Session
	var st session.UserState
	err := s.db.read(ctx, func() {
		if id, ok := find(&s.db.sessions); ok {
			if row, ok := s.db.sessions.rows[id]; ok {
				out, st = s.withUser(row)
			}
		}
	})
	if err != nil {
		return nil, session.UserState{}, err
	}
	if out == nil {
		return nil, session.UserState{}, session.ErrNotFound
	}
	return out, st, nil
}

// Rotate implements [session.Store]; the write lock makes the
// compare-and-swap atomic.
func (s *SessionStore) Rotate(ctx context.Context, oldHash, newHash string, at time.Time, idle time.Duration) (*session.Session, session.UserState, error) {
	at = dbTime(at)
	var out *session.Session
	var st session.UserState
	var result error
	err := s.db.write(ctx, func(t *tx) error {
		tb := &s.db.sessions
		if id, ok := tb.rotated[oldHash]; ok {
			out, st = s.withUser(tb.rows[id])
			result = session.ErrRotated
			return nil
		}
		id, ok := tb.byRefresh[oldHash]
		if !ok {
			return session.ErrNotFound
		}
		row := tb.rows[id]
		if !row.Active || !row.ExpiresAt.After(at) || !row.LastActivityAt.After(at.Add(-idle)) {
			out, st = s.withUser(row)
			result = session.ErrRotated
			return nil
		}
		if _, taken := tb.byRefresh[newHash]; taken {
			return errHashInUse
		}
		c := *row
		c.RefreshHash, c.LastActivityAt = newHash, dbTime(at)
		tb.put(t, &c)
		tb.rotated[oldHash] = id
		t.record(func() { delete(tb.rotated, oldHash) })
		out, st = s.withUser(&c)
		return nil
	})
	if err != nil {
		return nil, session.UserState{}, err
	}
	return out, st, result
}

// Touch implements [session.Store].
func (s *SessionStore) Touch(ctx context.Context, id int64, at time.Time, minGap time.Duration) (bool, error) {
	at = dbTime(at)
	wrote := false
	err := s.db.write(ctx, func(t *tx) error {
		tb := &s.db.sessions
		row, ok := tb.rows[id]
		if !ok || !row.Active || !row.LastActivityAt.Before(at.Add(-minGap)) {
			return nil
		}
		c := *row
		c.LastActivityAt = at
		tb.put(t, &c)
		wrote = true
		return nil
	})
	return wrote, err
}

// Revoke implements [session.Store].
func (s *SessionStore) Revoke(ctx context.Context, id int64) (bool, error) {
	changed := false
	err := s.db.write(ctx, func(t *tx) error {
		tb := &s.db.sessions
		row, ok := tb.rows[id]
		if !ok {
			return session.ErrNotFound
		}
		if row.Active {
			c := *row
			c.Active = false
			tb.put(t, &c)
			changed = true
		}
		return nil
	})
	return changed, err
}

// RevokeUser implements [session.Store].
func (s *SessionStore) RevokeUser(ctx context.Context, userID, except int64) ([]int64, error) {
	var ids []int64
	err := s.db.write(ctx, func(t *tx) error {
		tb := &s.db.sessions
		for id, row := range tb.rows {
			if row.UserID == userID && row.Active && id != except {
				c := *row
				c.Active = false
				tb.put(t, &c)
				ids = append(ids, id)
			}
		}
		return nil
	})
	slices.Sort(ids)
	return ids, err
}

// valid reports whether a session counts as live at at.
func valid(row *session.Session, st session.UserState, at time.Time, idle time.Duration) bool {
	return row.Active && row.ExpiresAt.After(at) && row.LastActivityAt.After(at.Add(-idle)) &&
		!row.CreatedAt.Before(st.PasswordChangedAt) && row.SecurityStamp == st.SecurityStamp
}

// ListActive implements [session.Store].
func (s *SessionStore) ListActive(ctx context.Context, userID int64, at time.Time, idle time.Duration) ([]session.Session, error) {
	var rows []*session.Session
	err := s.db.read(ctx, func() {
		for _, row := range s.db.sessions.rows {
			if row.UserID != userID {
				continue
			}
			if c, st := s.withUser(row); valid(c, st, at, idle) {
				rows = append(rows, c)
			}
		}
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(rows, byActivityDesc)
	out := make([]session.Session, len(rows))
	for i, r := range rows {
		out[i] = *r
	}
	return out, nil
}

// DeleteExpired implements [session.Store].
func (s *SessionStore) DeleteExpired(ctx context.Context, at time.Time, idle time.Duration, batch int) (int, error) {
	n := 0
	err := s.db.write(ctx, func(t *tx) error {
		tb := &s.db.sessions
		for id, row := range tb.rows {
			if n == batch {
				break
			}
			if !row.Active || !row.ExpiresAt.After(at) || !row.LastActivityAt.After(at.Add(-idle)) {
				tb.remove(t, id)
				n++
			}
		}
		return nil
	})
	return n, err
}

// cloneSession returns the row to store for in: times as the database
// keeps them and JSON documents as a JSON column returns them.
func cloneSession(in *session.Session) (*session.Session, error) {
	row := *in
	now := dbTime(time.Now())
	for _, t := range []*time.Time{&row.CreatedAt, &row.LastActivityAt} {
		if t.IsZero() {
			*t = now
		}
		*t = dbTime(*t)
	}
	row.ExpiresAt = dbTime(row.ExpiresAt)
	row.ClientIP = row.ClientIP.Unmap().WithZone("")
	var err error
	if row.DeviceInfo, err = normalizeJSON(in.DeviceInfo); err != nil {
		return nil, err
	}
	if row.SecurityContext, err = normalizeJSON(in.SecurityContext); err != nil {
		return nil, err
	}
	if row.SecurityContext == nil {
		row.SecurityContext = map[string]any{}
	}
	return &row, nil
}

func copySession(row *session.Session) *session.Session {
	c := *row
	c.DeviceInfo, c.SecurityContext = deepCopy(row.DeviceInfo), deepCopy(row.SecurityContext)
	return &c
}
