package postgres_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/cedrina/cedrina/internal/pgtest"
	"github.com/cedrina/cedrina/oauth"
	"github.com/cedrina/cedrina/reset"
	"github.com/cedrina/cedrina/store"
	"github.com/cedrina/cedrina/store/postgres"
	"github.com/cedrina/cedrina/store/storetest"
	"github.com/cedrina/cedrina/user"
)

// newOAuthDB returns a DB on a fresh, migrated schema, the pool under it,
// and a user.
func newOAuthDB(t *testing.T, u *user.User) (*postgres.DB, *sqlx.DB) {
	t.Helper()
	x := pgtest.DB(t)
	db, err := postgres.New(x, postgres.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Users().Create(context.Background(), u); err != nil {
		t.Fatal(err)
	}
	return db, x
}

// TestOAuthLegacyRows: profiles the original system wrote, naming only
// the required columns or holding NULL where the schema allows it, read
// back without tokens, expiry or user info, and can be updated and
// unlinked; a user whose is_active is NULL links nothing (fail closed, as
// the user store reads it); a user_info that is not a JSON object is an
// error, not a panic.
func TestOAuthLegacyRows(t *testing.T) {
	t.Parallel()
	u := storetest.NewUser("legacy")
	db, x := newOAuthDB(t, u)
	s := db.OAuth()
	ctx := context.Background()

	if _, err := x.ExecContext(ctx, `INSERT INTO oauth_profiles (user_id, provider, provider_user_id) VALUES ($1, 'GOOGLE', 'plain')`, u.ID); err != nil {
		t.Fatal(err)
	}
	got, err := s.ByIdentity(ctx, "GOOGLE", "plain")
	if err != nil {
		t.Fatal(err)
	}
	if got.UserID != u.ID || got.AccessToken != "" || got.RefreshToken != "" || got.TokenExpiresAt != nil || got.UserInfo != nil ||
		got.CreatedAt.IsZero() || got.CreatedAt.Location() != time.UTC || got.UpdatedAt.Location() != time.UTC {
		t.Errorf("ByIdentity(a row with only the required columns) = %+v; want no tokens, expiry or info, created now in UTC", got)
	}

	if _, err := x.ExecContext(ctx, `INSERT INTO oauth_profiles (user_id, provider, provider_user_id, access_token, refresh_token,
	token_expires_at, user_info, created_at, updated_at) VALUES ($1, 'GITHUB', 'nulls', NULL, NULL, NULL, NULL, NULL, NULL)`, u.ID); err != nil {
		t.Fatal(err)
	}
	got, err = s.ByIdentity(ctx, "GITHUB", "nulls")
	if err != nil {
		t.Fatal(err)
	}
	if got.AccessToken != "" || got.UserInfo != nil || !got.CreatedAt.IsZero() || !got.UpdatedAt.IsZero() {
		t.Errorf("ByIdentity(a row of NULLs) = %+v; want zero values", got)
	}
	at := time.Date(2026, 3, 14, 15, 0, 0, 0, time.UTC)
	up, err := s.UpdateTokens(ctx, got.ID, oauth.TokenUpdate{AccessToken: "sealed", UserInfo: map[string]any{"a": "b"}}, at)
	if err != nil || up.AccessToken != "sealed" || up.UserInfo["a"] != "b" || !up.UpdatedAt.Equal(at) || !up.CreatedAt.IsZero() {
		t.Errorf("UpdateTokens of a row of NULLs = %+v, %v", up, err)
	}
	if all, err := s.ByUser(ctx, u.ID); err != nil || len(all) != 2 || all[0].Provider != "GITHUB" {
		t.Errorf("ByUser = %d profiles, %v; want GITHUB and GOOGLE", len(all), err)
	}
	if gone, err := s.Unlink(ctx, u.ID, "GITHUB"); err != nil || gone.ProviderUserID != "nulls" {
		t.Errorf("Unlink of a legacy row = %+v, %v", gone, err)
	}

	// An is_active the original system left NULL reads as inactive.
	if _, err := x.ExecContext(ctx, `UPDATE users SET is_active = NULL WHERE id = $1`, u.ID); err != nil {
		t.Fatal(err)
	}
	p := &oauth.Profile{UserID: u.ID, Provider: "APPLE", ProviderUserID: "a1"}
	if err := s.Link(ctx, p, u.SecurityStamp); !errors.Is(err, oauth.ErrUserChanged) {
		t.Errorf("Link for a user whose is_active is NULL: err = %v, want oauth.ErrUserChanged", err)
	}

	// user_info that is not an object.
	if _, err := x.ExecContext(ctx, `UPDATE oauth_profiles SET user_info = '["not", "an", "object"]' WHERE provider = 'GOOGLE'`); err != nil {
		t.Fatal(err)
	}
	if got, err := s.ByIdentity(ctx, "GOOGLE", "plain"); err == nil || errors.Is(err, store.ErrNotFound) {
		t.Errorf("ByIdentity of a row whose user_info is an array = %+v, %v; want an error", got, err)
	}
}

// lockTimeout makes the statements of ctx's transaction give up after
// waiting 100 ms for a lock, with SQLSTATE 55P03, which the store reports
// as store.ErrUnavailable: a statement that needs a lock another
// transaction holds fails instead of waiting, with no sleep in the test.
func lockTimeout(t *testing.T, ctx context.Context) {
	t.Helper()
	if _, err := postgres.TxFromContext(ctx).ExecContext(ctx, `SET LOCAL lock_timeout = '100ms'`); err != nil {
		t.Fatal(err)
	}
}

// holdUserRow updates the user's row in a transaction of its own, left
// open until the test ends or release is called, as a password change in
// progress does.
func holdUserRow(t *testing.T, x *sqlx.DB, userID int64) (release func()) {
	t.Helper()
	tx, err := x.BeginTxx(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(`UPDATE users SET security_stamp = security_stamp + 1, hashed_password = 'changing' WHERE id = $1`, userID); err != nil {
		t.Fatal(err)
	}
	done := false
	release = func() {
		if !done {
			done = true
			if err := tx.Rollback(); err != nil {
				t.Error(err)
			}
		}
	}
	t.Cleanup(release)
	return release
}

// TestOAuthLinkLocksUser: Link does not read past a change of the user in
// progress (it waits for it: here, it runs out of lock_timeout), and the
// user's row stays locked against a change of its stamp until Link's
// transaction ends.
func TestOAuthLinkLocksUser(t *testing.T) {
	t.Parallel()
	u := storetest.NewUser("locked")
	db, x := newOAuthDB(t, u)
	s := db.OAuth()
	ctx := context.Background()

	release := holdUserRow(t, x, u.ID)
	err := db.InTx(ctx, func(ctx context.Context) error {
		lockTimeout(t, ctx)
		return s.Link(ctx, &oauth.Profile{UserID: u.ID, Provider: "GOOGLE", ProviderUserID: "g1"}, u.SecurityStamp)
	})
	if !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Link while the user's row is being changed: err = %v, want it to wait (a lock timeout, store.ErrUnavailable)", err)
	}
	release() // the change is rolled back: the stamp is the one read
	p := &oauth.Profile{UserID: u.ID, Provider: "GOOGLE", ProviderUserID: "g1"}
	if err := s.Link(ctx, p, u.SecurityStamp); err != nil {
		t.Fatal(err)
	}

	// While a Link's transaction is open, the stamp cannot move.
	err = db.InTx(ctx, func(ctx context.Context) error {
		if err := s.Link(ctx, &oauth.Profile{UserID: u.ID, Provider: "GITHUB", ProviderUserID: "h1"}, u.SecurityStamp); err != nil {
			return err
		}
		err := db.InTx(context.Background(), func(other context.Context) error { // another connection
			lockTimeout(t, other)
			return db.Users().SetPassword(other, u.ID, "new-hash", time.Now(), u.SecurityStamp)
		})
		if !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("SetPassword during a Link's transaction: err = %v, want it to wait (store.ErrUnavailable)", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Users().SetPassword(ctx, u.ID, "new-hash", time.Now(), u.SecurityStamp); err != nil {
		t.Errorf("SetPassword after the Link committed: %v", err)
	}
}

// TestOAuthUnlinkLocksUser: Unlink waits for a change of the user in
// progress before it counts the user's identities, and holds the user's
// row against password changes until its transaction ends, but not
// against rows other tables insert for the user (their foreign key
// checks).
func TestOAuthUnlinkLocksUser(t *testing.T) {
	t.Parallel()
	u := storetest.NewUser("unlinker")
	u.HashedPassword = user.NoPassword
	db, x := newOAuthDB(t, u)
	s := db.OAuth()
	ctx := context.Background()
	for _, prov := range []string{"GOOGLE", "GITHUB"} {
		if err := s.Link(ctx, &oauth.Profile{UserID: u.ID, Provider: prov, ProviderUserID: prov + "-1"}, u.SecurityStamp); err != nil {
			t.Fatal(err)
		}
	}

	release := holdUserRow(t, x, u.ID)
	err := db.InTx(ctx, func(ctx context.Context) error {
		lockTimeout(t, ctx)
		_, err := s.Unlink(ctx, u.ID, "GOOGLE")
		return err
	})
	if !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Unlink while the user's row is being changed: err = %v, want it to wait (store.ErrUnavailable)", err)
	}
	release()

	err = db.InTx(ctx, func(ctx context.Context) error {
		if _, err := s.Unlink(ctx, u.ID, "GOOGLE"); err != nil {
			return err
		}
		err := db.InTx(context.Background(), func(other context.Context) error {
			lockTimeout(t, other)
			return db.Users().SetPassword(other, u.ID, "new-hash", time.Now(), u.SecurityStamp)
		})
		if !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("SetPassword during an Unlink's transaction: err = %v, want it to wait (store.ErrUnavailable)", err)
		}
		err = db.InTx(context.Background(), func(other context.Context) error {
			lockTimeout(t, other)
			return db.Resets().Issue(other, &reset.Token{UserID: u.ID, TokenHash: "h", ExpiresAt: time.Now().Add(time.Hour)})
		})
		if err != nil {
			t.Errorf("a reset token for the user during an Unlink's transaction: %v, want it inserted", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Unlink(ctx, u.ID, "GITHUB"); !errors.Is(err, oauth.ErrLastSignInMethod) {
		t.Errorf("Unlink of the last identity: err = %v, want oauth.ErrLastSignInMethod", err)
	}
}
