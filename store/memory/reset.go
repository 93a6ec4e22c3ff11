package memory

import (
	"context"
	"time"

	"github.com/cedrina/cedrina/internal/errs"
	"github.com/cedrina/cedrina/reset"
	"github.com/cedrina/cedrina/store"
)

// ResetStore implements [reset.Store] on a [DB].
type ResetStore struct{ db *DB }

var _ reset.Store = (*ResetStore)(nil)

// Resets returns the database's password reset token store.
func (db *DB) Resets() *ResetStore { return &ResetStore{db: db} }

type resetTable struct {
	rows   map[int64]*reset.Token // never mutated in place
	byHash map[string]int64
	nextID int64
}

func newResetTable() resetTable {
	return resetTable{rows: map[int64]*reset.Token{}, byHash: map[string]int64{}}
}

// errResetHashInUse is the error for a token hash already stored, as the
// unique constraint on password_reset_tokens.token_hash gives it.
var errResetHashInUse = errs.Kind("memory: reset token hash already in use", store.ErrConflict)

// Issue implements [reset.Store]. A zero CreatedAt is the current time,
// as the column's default; in is set to the token as stored. The write
// lock makes the insert and the spending of the user's other tokens one
// step.
func (s *ResetStore) Issue(ctx context.Context, in *reset.Token) error {
	row := cloneToken(in)
	if row.CreatedAt.IsZero() {
		row.CreatedAt = dbTime(time.Now())
	}
	return s.db.write(ctx, func(t *tx) error {
		tb := &s.db.resets
		if _, ok := s.db.users.rows[row.UserID]; !ok {
			return reset.ErrUnknownUser
		}
		if _, dup := tb.byHash[row.TokenHash]; dup {
			return errResetHashInUse
		}
		for _, o := range tb.rows {
			if o.UserID == row.UserID && !o.IsUsed {
				tb.put(t, spent(o, row.CreatedAt))
			}
		}
		prevID := tb.nextID
		tb.nextID++
		row.ID = tb.nextID
		tb.put(t, row)
		t.record(func() { tb.nextID = prevID })
		*in = *copyToken(row) // as stored, like PostgreSQL's RETURNING
		return nil
	})
}

// ByHash implements [reset.Store].
func (s *ResetStore) ByHash(ctx context.Context, hash string) (*reset.Token, error) {
	var out *reset.Token
	err := s.db.read(ctx, func() {
		if id, ok := s.db.resets.byHash[hash]; ok {
			out = copyToken(s.db.resets.rows[id])
		}
	})
	if err != nil {
		return nil, err
	}
	if out == nil {
		return nil, reset.ErrNotFound
	}
	return out, nil
}

// Consume implements [reset.Store]; the write lock makes the check and
// the change one step.
func (s *ResetStore) Consume(ctx context.Context, hash string, at time.Time) (*reset.Token, error) {
	at = dbTime(at)
	var out *reset.Token
	var result error
	err := s.db.write(ctx, func(t *tx) error {
		tb := &s.db.resets
		id, ok := tb.byHash[hash]
		if !ok {
			return reset.ErrNotFound
		}
		row := tb.rows[id]
		if row.IsUsed || !row.ExpiresAt.After(at) {
			out, result = copyToken(row), reset.ErrSpent
			return nil
		}
		c := spent(row, at)
		tb.put(t, c)
		out = copyToken(c)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, result
}

// InvalidateUser implements [reset.Store].
func (s *ResetStore) InvalidateUser(ctx context.Context, userID int64, at time.Time) (int, error) {
	at = dbTime(at)
	n := 0
	err := s.db.write(ctx, func(t *tx) error {
		tb := &s.db.resets
		for _, row := range tb.rows {
			if row.UserID == userID && !row.IsUsed {
				tb.put(t, spent(row, at))
				n++
			}
		}
		return nil
	})
	return n, err
}

// DeleteExpired implements [reset.Store].
func (s *ResetStore) DeleteExpired(ctx context.Context, at time.Time, batch int) (int, error) {
	at = dbTime(at)
	n := 0
	err := s.db.write(ctx, func(t *tx) error {
		tb := &s.db.resets
		for id, row := range tb.rows {
			if n >= batch {
				break
			}
			if row.IsUsed || !row.ExpiresAt.After(at) {
				tb.remove(t, id)
				n++
			}
		}
		return nil
	})
	return n, err
}

// put stores row (new or replacing the row with its id), keeping the
// index, and records how to undo it. A token's hash never changes.
func (tb *resetTable) put(t *tx, row *reset.Token) {
	old, had := tb.rows[row.ID]
	tb.rows[row.ID] = row
	tb.byHash[row.TokenHash] = row.ID
	t.record(func() {
		if had {
			tb.rows[row.ID] = old
		} else {
			delete(tb.rows, row.ID)
			delete(tb.byHash, row.TokenHash)
		}
	})
}

// remove deletes token id.
func (tb *resetTable) remove(t *tx, id int64) {
	old, ok := tb.rows[id]
	if !ok {
		return
	}
	delete(tb.rows, id)
	delete(tb.byHash, old.TokenHash)
	t.record(func() {
		tb.rows[id] = old
		tb.byHash[old.TokenHash] = id
	})
}

// removeUser deletes a deleted user's tokens (ON DELETE CASCADE). The
// caller holds the write lock.
func (tb *resetTable) removeUser(t *tx, userID int64) {
	for id, row := range tb.rows {
		if row.UserID == userID {
			tb.remove(t, id)
		}
	}
}

// spent returns a spent copy of row, used at at.
func spent(row *reset.Token, at time.Time) *reset.Token {
	c := copyToken(row)
	c.IsUsed, c.UsedAt = true, &at
	return c
}

// cloneToken returns the row to store for in: times and the client
// address as the database keeps them, nothing shared with the caller.
func cloneToken(in *reset.Token) *reset.Token {
	row := copyToken(in)
	row.CreatedAt, row.ExpiresAt, row.UsedAt = dbTime(in.CreatedAt), dbTime(in.ExpiresAt), dbTimePtr(in.UsedAt)
	row.ClientIP = in.ClientIP.Unmap().WithZone("")
	return row
}

// copyToken returns a copy of t that shares no memory with it.
func copyToken(t *reset.Token) *reset.Token {
	c := *t
	if t.UsedAt != nil {
		v := *t.UsedAt
		c.UsedAt = &v
	}
	if t.SecurityStamp != nil {
		v := *t.SecurityStamp
		c.SecurityStamp = &v
	}
	return &c
}
