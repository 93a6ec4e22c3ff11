package memory

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cedrina/cedrina/store"
	"github.com/cedrina/cedrina/user"
)

// errVerificationHashInUse is the error for a verification token hash
// already stored, as the unique constraint on
// email_verification_tokens.token_hash gives it.
var errVerificationHashInUse = fmt.Errorf("memory: verification token hash already in use: %w", store.ErrConflict)

// SetEmail implements [user.Store]: the address, the verification state
// and the user's outstanding verification tokens change in one write.
func (s *UserStore) SetEmail(ctx context.Context, id int64, old, email user.Email, at time.Time, stamp int64) (*user.User, error) {
	at = dbTime(at)
	var out *user.User
	err := s.db.write(ctx, func(t *tx) error {
		tb := &s.db.users
		prev, ok := tb.rows[id]
		if !ok {
			return user.ErrNotFound
		}
		if prev.Email != old || prev.SecurityStamp != stamp {
			return user.ErrStale
		}
		if other, taken := tb.byEmail[email]; taken && other != id {
			return user.ErrEmailTaken
		}
		row := *prev
		row.Email, row.IsVerified, row.EmailVerifiedAt, row.UpdatedAt = email, false, nil, at
		row.FailedLoginAttempts, row.LockedUntil = 0, nil
		tb.rows[id] = &row
		delete(tb.byEmail, prev.Email)
		tb.byEmail[row.Email] = id
		t.record(func() {
			tb.rows[id] = prev
			delete(tb.byEmail, row.Email)
			tb.byEmail[prev.Email] = id
		})
		tb.spendVerifications(t, id, at)
		out = copyUser(&row)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// CreateVerification implements [user.Store]. A zero CreatedAt takes the
// time of insertion, as the column's default does.
func (s *UserStore) CreateVerification(ctx context.Context, v *user.Verification) error {
	row := *v
	if row.CreatedAt.IsZero() {
		row.CreatedAt = time.Now()
	}
	row.CreatedAt, row.ExpiresAt, row.UsedAt = dbTime(row.CreatedAt), dbTime(row.ExpiresAt), dbTimePtr(row.UsedAt)
	return s.db.write(ctx, func(t *tx) error {
		tb := &s.db.users
		if _, ok := tb.rows[row.UserID]; !ok {
			return user.ErrNotFound
		}
		if _, dup := tb.verifByHash[row.TokenHash]; dup {
			return errVerificationHashInUse
		}
		tb.spendVerifications(t, row.UserID, row.CreatedAt)
		prevID := tb.nextVerifID
		tb.nextVerifID++
		row.ID = tb.nextVerifID
		tb.putVerification(t, &row)
		t.record(func() { tb.nextVerifID = prevID })
		*v = *copyVerification(&row)
		return nil
	})
}

// VerificationByHash implements [user.Store].
func (s *UserStore) VerificationByHash(ctx context.Context, hash string) (*user.Verification, error) {
	var found *user.Verification
	err := s.db.read(ctx, func() {
		if id, ok := s.db.users.verifByHash[hash]; ok {
			found = copyVerification(s.db.users.verifs[id])
		}
	})
	if err != nil {
		return nil, err
	}
	if found == nil {
		return nil, user.ErrTokenNotFound
	}
	return found, nil
}

// ConsumeVerification implements [user.Store]: the token and its user
// change in one write, after every condition was checked.
func (s *UserStore) ConsumeVerification(ctx context.Context, hash string, at time.Time) (*user.User, error) {
	at = dbTime(at)
	var out *user.User
	err := s.db.write(ctx, func(t *tx) error {
		tb := &s.db.users
		vid, ok := tb.verifByHash[hash]
		if !ok {
			return user.ErrTokenNotFound
		}
		v := tb.verifs[vid]
		prev, ok := tb.rows[v.UserID]
		if !ok {
			return user.ErrTokenNotFound // cannot happen: tokens go with their user
		}
		if v.UsedAt != nil || !v.ExpiresAt.After(at) || prev.Email != v.Email || !prev.IsActive {
			return user.ErrTokenRefused
		}
		spent := *v
		spent.UsedAt = &at
		tb.putVerification(t, &spent)
		row := *prev
		row.IsVerified, row.UpdatedAt = true, at
		if row.EmailVerifiedAt == nil {
			row.EmailVerifiedAt = &at
		}
		tb.rows[row.ID] = &row
		t.record(func() { tb.rows[prev.ID] = prev })
		out = copyUser(&row)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DeleteExpiredVerifications implements [user.Store].
func (s *UserStore) DeleteExpiredVerifications(ctx context.Context, at time.Time, batch int) (int, error) {
	if batch <= 0 {
		return 0, errors.New("memory: DeleteExpiredVerifications: batch must be positive")
	}
	at = dbTime(at)
	n := 0
	err := s.db.write(ctx, func(t *tx) error {
		tb := &s.db.users
		for id, v := range tb.verifs {
			if n == batch {
				break
			}
			if v.UsedAt != nil || !v.ExpiresAt.After(at) {
				tb.removeVerification(t, id)
				n++
			}
		}
		return nil
	})
	return n, err
}

// putVerification stores row (new, or replacing the row with its id; the
// hash never changes) and records how to undo it.
func (tb *userTable) putVerification(t *tx, row *user.Verification) {
	old, had := tb.verifs[row.ID]
	tb.verifs[row.ID] = row
	tb.verifByHash[row.TokenHash] = row.ID
	t.record(func() {
		if had {
			tb.verifs[row.ID] = old
			return
		}
		delete(tb.verifs, row.ID)
		delete(tb.verifByHash, row.TokenHash)
	})
}

// removeVerification deletes token id and records how to undo it.
func (tb *userTable) removeVerification(t *tx, id int64) {
	old, ok := tb.verifs[id]
	if !ok {
		return
	}
	delete(tb.verifs, id)
	delete(tb.verifByHash, old.TokenHash)
	t.record(func() {
		tb.verifs[id] = old
		tb.verifByHash[old.TokenHash] = id
	})
}

// spendVerifications sets used_at to at on the outstanding tokens of user
// userID.
func (tb *userTable) spendVerifications(t *tx, userID int64, at time.Time) {
	for _, v := range tb.verifs {
		if v.UserID != userID || v.UsedAt != nil {
			continue
		}
		spent := *v
		spent.UsedAt = copyTime(&at)
		tb.putVerification(t, &spent)
	}
}

// removeVerifications deletes the tokens of a deleted user (ON DELETE
// CASCADE).
func (tb *userTable) removeVerifications(t *tx, userID int64) {
	for id, v := range tb.verifs {
		if v.UserID == userID {
			tb.removeVerification(t, id)
		}
	}
}

// copyVerification returns a copy of a stored token that the caller may
// change.
func copyVerification(v *user.Verification) *user.Verification {
	c := *v
	c.UsedAt = copyTime(v.UsedAt)
	return &c
}
