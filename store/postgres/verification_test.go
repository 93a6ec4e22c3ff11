package postgres_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/cedrina/cedrina/internal/pgtest"
	"github.com/cedrina/cedrina/store/postgres"
	"github.com/cedrina/cedrina/store/storetest"
	"github.com/cedrina/cedrina/user"
)

// The tests below drive one interleaving each, deterministically: a
// transaction holds a user's row lock while another call on the same user
// starts, PostgreSQL reports that call waiting for the transaction, and
// the transaction goes on and commits. They check what the conformance
// suite's races can only make likely: that the verification methods take
// the user's row lock before the tokens' and read the tokens after it.

var vBase = time.Date(2026, 3, 14, 15, 9, 26, 535897000, time.UTC)

// interleave runs hold in a transaction, then starts call on another
// connection, waits until PostgreSQL reports call waiting for the
// transaction's locks, runs then in the transaction and commits. It
// returns call's error; the test fails if call did not wait.
func interleave(t *testing.T, db *postgres.DB, hold, then func(ctx context.Context) error, call func(ctx context.Context) error) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	done := make(chan error, 1)
	err := db.InTx(ctx, func(ctx context.Context) error {
		if err := hold(ctx); err != nil {
			return err
		}
		var pid int
		if err := postgres.TxFromContext(ctx).GetContext(ctx, &pid, `SELECT pg_backend_pid()`); err != nil {
			return err
		}
		go func() { done <- call(context.Background()) }()
		for {
			var waiting bool
			if err := db.SQLX().GetContext(ctx, &waiting,
				`SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE $1 = ANY (pg_blocking_pids(pid)))`, pid); err != nil {
				return err
			}
			if waiting {
				break
			}
			select {
			case err := <-done:
				t.Errorf("the call did not wait for the transaction's lock (it returned %v)", err)
				done <- err
				return nil
			default:
			}
		}
		return then(ctx)
	})
	if err != nil {
		t.Fatalf("holding transaction: %v", err)
	}
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		t.Fatal("the call did not return after the transaction committed")
		return nil
	}
}

func verificationDB(t *testing.T) (*postgres.DB, *postgres.UserStore) {
	t.Helper()
	db, err := postgres.New(pgtest.DB(t), postgres.Config{})
	if err != nil {
		t.Fatal(err)
	}
	return db, db.Users()
}

func newToken(t *testing.T, s *postgres.UserStore, u *user.User, hash string, created time.Time) *user.Verification {
	t.Helper()
	v := &user.Verification{UserID: u.ID, Email: u.Email, TokenHash: hash, CreatedAt: created, ExpiresAt: created.Add(24 * time.Hour)}
	if err := s.CreateVerification(context.Background(), v); err != nil {
		t.Fatal(err)
	}
	return v
}

func createUser(t *testing.T, s *postgres.UserStore, name string) *user.User {
	t.Helper()
	u := storetest.NewUser(name)
	if err := s.Create(context.Background(), u); err != nil {
		t.Fatal(err)
	}
	return u
}

func tokenState(t *testing.T, s *postgres.UserStore, hash string) *time.Time {
	t.Helper()
	v, err := s.VerificationByHash(context.Background(), hash)
	if err != nil {
		t.Fatal(err)
	}
	return v.UsedAt
}

func nothing(context.Context) error { return nil }

// TestConsumeVerificationWaitsForDeactivation: a consume that waited for
// a deactivation refuses the token, judging the user as committed, not
// as its snapshot saw it.
func TestConsumeVerificationWaitsForDeactivation(t *testing.T) {
	t.Parallel()
	db, s := verificationDB(t)
	u := createUser(t, s, "wanda")
	v := newToken(t, s, u, "wanda-1", vBase)
	err := interleave(t, db,
		func(ctx context.Context) error { _, err := s.SetActive(ctx, u.ID, false, vBase); return err },
		nothing,
		func(ctx context.Context) error {
			_, err := s.ConsumeVerification(ctx, v.TokenHash, vBase.Add(time.Minute))
			return err
		})
	if !errors.Is(err, user.ErrTokenRefused) {
		t.Fatalf("ConsumeVerification after a concurrent deactivation: err = %v, want ErrTokenRefused", err)
	}
	got, err := s.ByID(context.Background(), u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.IsVerified || got.EmailVerifiedAt != nil || got.IsActive {
		t.Fatalf("user after the refused consume: verified %v at %v, active %v", got.IsVerified, got.EmailVerifiedAt, got.IsActive)
	}
	if used := tokenState(t, s, v.TokenHash); used != nil {
		t.Fatalf("the refused token was spent at %v", used)
	}
}

// TestConsumeVerificationLockOrder: a consume waiting for the user's row
// holds no token lock, so the transaction holding the row can spend the
// user's tokens (here by issuing a new one) without a deadlock; the
// consume then finds its token spent.
func TestConsumeVerificationLockOrder(t *testing.T) {
	t.Parallel()
	db, s := verificationDB(t)
	u := createUser(t, s, "wilma")
	v := newToken(t, s, u, "wilma-1", vBase)
	issued := vBase.Add(time.Minute)
	err := interleave(t, db,
		func(ctx context.Context) error { _, err := s.SetRole(ctx, u.ID, user.RoleAdmin, vBase); return err },
		func(ctx context.Context) error {
			return s.CreateVerification(ctx, &user.Verification{UserID: u.ID, Email: u.Email, TokenHash: "wilma-2",
				CreatedAt: issued, ExpiresAt: issued.Add(time.Hour)})
		},
		func(ctx context.Context) error {
			_, err := s.ConsumeVerification(ctx, v.TokenHash, vBase.Add(2*time.Minute))
			return err
		})
	if !errors.Is(err, user.ErrTokenRefused) {
		t.Fatalf("ConsumeVerification of a token replaced meanwhile: err = %v, want ErrTokenRefused", err)
	}
	if used := tokenState(t, s, v.TokenHash); used == nil || !used.Equal(issued) {
		t.Fatalf("replaced token used at %v, want %v", used, issued)
	}
	if got, _ := s.ByID(context.Background(), u.ID); got.IsVerified {
		t.Fatal("the user was verified by a replaced token")
	}
}

// TestCreateVerificationWaitsForCreate: of two tokens issued at once for
// one user, the later spends the earlier, though the earlier committed
// after the later started.
func TestCreateVerificationWaitsForCreate(t *testing.T) {
	t.Parallel()
	db, s := verificationDB(t)
	u := createUser(t, s, "xena")
	first := &user.Verification{UserID: u.ID, Email: u.Email, TokenHash: "xena-1", CreatedAt: vBase, ExpiresAt: vBase.Add(time.Hour)}
	second := &user.Verification{UserID: u.ID, Email: u.Email, TokenHash: "xena-2", CreatedAt: vBase.Add(time.Minute), ExpiresAt: vBase.Add(time.Hour)}
	err := interleave(t, db,
		func(ctx context.Context) error { return s.CreateVerification(ctx, first) },
		nothing,
		func(ctx context.Context) error { return s.CreateVerification(ctx, second) })
	if err != nil {
		t.Fatal(err)
	}
	if used := tokenState(t, s, "xena-1"); used == nil || !used.Equal(second.CreatedAt) {
		t.Fatalf("the earlier token is used at %v, want spent by the later one at %v", used, second.CreatedAt)
	}
	if used := tokenState(t, s, "xena-2"); used != nil {
		t.Fatalf("the later token is used at %v, want outstanding", used)
	}
}

// TestSetEmailWaitsForCreate: an address change that waited for a token
// being issued spends that token too.
func TestSetEmailWaitsForCreate(t *testing.T) {
	t.Parallel()
	db, s := verificationDB(t)
	u := createUser(t, s, "yara")
	tok := &user.Verification{UserID: u.ID, Email: "yara.new@example.com", TokenHash: "yara-1", CreatedAt: vBase, ExpiresAt: vBase.Add(time.Hour)}
	at := vBase.Add(time.Minute)
	err := interleave(t, db,
		func(ctx context.Context) error { return s.CreateVerification(ctx, tok) },
		nothing,
		func(ctx context.Context) error {
			_, err := s.SetEmail(ctx, u.ID, u.Email, "yara.new@example.com", at, u.SecurityStamp)
			return err
		})
	if err != nil {
		t.Fatal(err)
	}
	if used := tokenState(t, s, "yara-1"); used == nil || !used.Equal(at) {
		t.Fatalf("token issued during the address change used at %v, want spent by it at %v", used, at)
	}
	if _, err := s.ConsumeVerification(context.Background(), "yara-1", at.Add(time.Second)); !errors.Is(err, user.ErrTokenRefused) {
		t.Fatalf("ConsumeVerification: err = %v, want ErrTokenRefused", err)
	}
}
