package user_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cedrina/cedrina/internal/pgtest"
	"github.com/cedrina/cedrina/internal/testkit"
	"github.com/cedrina/cedrina/store/memory"
	"github.com/cedrina/cedrina/store/postgres"
	"github.com/cedrina/cedrina/user"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *clock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// cheapHasher hashes with argon2id at tiny parameters, so tests run fast
// under the race detector while exercising the real code.
func cheapHasher(t testing.TB) *user.PasswordHasher {
	t.Helper()
	h, err := user.NewHasher(user.HashConfig{Argon2id: user.Argon2idParams{Memory: 64, Time: 1, Threads: 1}})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// countingHasher counts the hashing work a service asks for.
type countingHasher struct {
	user.Hasher
	hashes, verifies atomic.Int64
}

func (c *countingHasher) Hash(ctx context.Context, pw string) (string, error) {
	c.hashes.Add(1)
	return c.Hasher.Hash(ctx, pw)
}

func (c *countingHasher) Verify(ctx context.Context, encoded, pw string) (bool, bool, error) {
	c.verifies.Add(1)
	return c.Hasher.Verify(ctx, encoded, pw)
}

// stores runs fn on a fresh memory store and, when
// CEDRINA_TEST_DATABASE_URL is set, on a fresh PostgreSQL schema.
func stores(t *testing.T, fn func(t *testing.T, st user.Store)) {
	t.Helper()
	t.Run("memory", func(t *testing.T) {
		t.Parallel()
		fn(t, memory.New().Users())
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		db, err := postgres.New(pgtest.DB(t), postgres.Config{})
		if err != nil {
			t.Fatal(err)
		}
		fn(t, db.Users())
	})
}

func newService(t *testing.T, st user.Store, cfg user.Config) *user.Service {
	t.Helper()
	if cfg.Hasher == nil {
		cfg.Hasher = cheapHasher(t)
	}
	s, err := user.NewService(st, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

const goodPassword = "correct horse battery staple"

func register(t *testing.T, s *user.Service, name string) *user.User {
	t.Helper()
	u, err := s.Register(context.Background(), user.Registration{Username: name, Email: name + "@Example.COM", Password: goodPassword})
	if err != nil {
		t.Fatalf("Register(%q): %v", name, err)
	}
	return u
}

func TestRegister(t *testing.T) {
	stores(t, func(t *testing.T, st user.Store) {
		c := newClock()
		s := newService(t, st, user.Config{Now: c.Now})
		ctx := context.Background()
		u, err := s.Register(ctx, user.Registration{
			Username: "Alice", Email: "Alice.Smith@Example.COM", Password: goodPassword,
			ProfileData: map[string]any{"display_name": "Alice"},
		})
		if err != nil {
			t.Fatal(err)
		}
		if u.ID == 0 || u.Username != "alice" || u.Email != "alice.smith@example.com" {
			t.Fatalf("Register = id %d, %q, %q; want an id, normalized name and address", u.ID, u.Username, u.Email)
		}
		if !u.IsActive || u.IsVerified || u.Role != user.RoleUser || u.Tier != user.TierFree {
			t.Errorf("new account: active %v verified %v role %s tier %s", u.IsActive, u.IsVerified, u.Role, u.Tier)
		}
		if !u.CreatedAt.Equal(c.Now()) || !u.PasswordChangedAt.Equal(c.Now()) {
			t.Errorf("times %v %v, want the clock's %v", u.CreatedAt, u.PasswordChangedAt, c.Now())
		}
		if !strings.HasPrefix(u.HashedPassword, "$argon2id$v=19$") || strings.Contains(u.HashedPassword, goodPassword) {
			t.Errorf("stored hash %q is not an argon2id PHC string", u.HashedPassword)
		}
		got, err := s.GetByEmail(ctx, "ALICE.SMITH@example.com")
		if err != nil || got.ID != u.ID || got.ProfileData["display_name"] != "Alice" {
			t.Fatalf("GetByEmail = %+v, %v", got, err)
		}
		if got, err := s.GetByUsername(ctx, "ALICE"); err != nil || got.ID != u.ID {
			t.Fatalf("GetByUsername = %+v, %v", got, err)
		}
	})
}

func TestRegisterRefusals(t *testing.T) {
	stores(t, func(t *testing.T, st user.Store) {
		s := newService(t, st, user.Config{Password: user.PasswordPolicy{ServiceName: "Cedrina"}})
		register(t, s, "taken")
		cases := []struct {
			name string
			r    user.Registration
			want error
		}{
			{"empty username", user.Registration{Email: "a@example.com", Password: goodPassword}, user.ErrInvalidUsername},
			{"SQL in username", user.Registration{Username: "x'; DROP TABLE users;--", Email: "a@example.com", Password: goodPassword}, user.ErrInvalidUsername},
			{"NUL in username", user.Registration{Username: "bob\x00", Email: "a@example.com", Password: goodPassword}, user.ErrInvalidUsername},
			{"Cyrillic look-alike", user.Registration{Username: "t\u0430ken", Email: "a@example.com", Password: goodPassword}, user.ErrInvalidUsername},
			{"bad email", user.Registration{Username: "bob", Email: "not-an-address", Password: goodPassword}, user.ErrInvalidEmail},
			{"short password", user.Registration{Username: "bob", Email: "b@example.com", Password: "x9!q"}, user.ErrWeakPassword},
			{"common password", user.Registration{Username: "bob", Email: "b@example.com", Password: "Password1"}, user.ErrWeakPassword},
			{"username as password", user.Registration{Username: "bobbybobby", Email: "b@example.com", Password: "BobbyBobby"}, user.ErrWeakPassword},
			{"service name as password", user.Registration{Username: "bob", Email: "b@example.com", Password: "cedrina"}, user.ErrWeakPassword},
			{"invalid UTF-8 password", user.Registration{Username: "bob", Email: "b@example.com", Password: "abc\xffdefgh"}, user.ErrWeakPassword},
			{"bad role", user.Registration{Username: "bob", Email: "b@example.com", Password: goodPassword, Role: "root; --"}, user.ErrInvalidRole},
			{"duplicate username", user.Registration{Username: "TAKEN", Email: "other@example.com", Password: goodPassword}, user.ErrUsernameTaken},
			{"duplicate email", user.Registration{Username: "other", Email: "Taken@example.com", Password: goodPassword}, user.ErrEmailTaken},
		}
		for _, tc := range cases {
			_, err := s.Register(context.Background(), tc.r)
			if !errors.Is(err, tc.want) {
				t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
				continue
			}
			if tc.r.Password != "" && strings.Contains(err.Error(), tc.r.Password) {
				t.Errorf("%s: error %q contains the password", tc.name, err)
			}
		}
		if _, err := s.GetByUsername(context.Background(), "bob"); !errors.Is(err, user.ErrNotFound) {
			t.Errorf("a refused registration was stored: %v", err)
		}
	})
}

// TestConcurrentRegistration: 50 parallel registrations of one username
// give exactly one account; the database constraint decides.
func TestConcurrentRegistration(t *testing.T) {
	stores(t, func(t *testing.T, st user.Store) {
		s := newService(t, st, user.Config{})
		const n = 50
		errs := testkit.Race(n, func(i int) error {
			_, err := s.Register(context.Background(), user.Registration{
				Username: "popular", Email: fmt.Sprintf("p%d@example.com", i), Password: goodPassword,
			})
			return err
		})
		ok, taken := 0, 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case errors.Is(err, user.ErrUsernameTaken):
				taken++
			default:
				t.Errorf("unexpected error: %v", err)
			}
		}
		if ok != 1 || taken != n-1 {
			t.Fatalf("%d registered, %d ErrUsernameTaken; want 1 and %d", ok, taken, n-1)
		}
	})
}

func authErr(t *testing.T, err error, want user.AuthReason) *user.AuthError {
	t.Helper()
	var ae *user.AuthError
	if !errors.Is(err, user.ErrInvalidCredentials) || !errors.As(err, &ae) {
		t.Fatalf("err = %v, want an *AuthError (%s)", err, want)
	}
	if ae.Reason != want {
		t.Fatalf("reason = %s, want %s", ae.Reason, want)
	}
	if err.Error() != user.ErrInvalidCredentials.Error() {
		t.Fatalf("message %q reveals more than %q", err.Error(), user.ErrInvalidCredentials)
	}
	return ae
}

func TestLogin(t *testing.T) {
	stores(t, func(t *testing.T, st user.Store) {
		c := newClock()
		s := newService(t, st, user.Config{Now: c.Now})
		ctx := context.Background()
		u := register(t, s, "bob")
		for _, login := range []string{"bob", "BOB", "bob@example.com", "Bob@EXAMPLE.com"} {
			res, err := s.Login(ctx, login, goodPassword)
			if err != nil {
				t.Fatalf("Login(%q): %v", login, err)
			}
			if got := res.User; res.PasswordChangeRequired || got.ID != u.ID || got.LastLoginAt == nil || !got.LastLoginAt.Equal(c.Now()) {
				t.Fatalf("Login(%q) = id %d, last login %v", login, got.ID, got.LastLoginAt)
			}
		}
		// NFKC: the full-width form of the password is the same password.
		if _, err := s.Login(ctx, "bob", "ｃｏｒｒｅｃｔ horse battery staple"); err != nil {
			t.Fatalf("NFKC-equivalent password refused: %v", err)
		}
		stored, err := s.Get(ctx, u.ID)
		if err != nil || stored.LastLoginAt == nil {
			t.Fatalf("last_login_at not stored: %+v, %v", stored, err)
		}
	})
}

// TestLoginRefusals: every refusal gives the same error value and
// message, and every refusal is padded to the common refusal time: an
// unknown user verifies the dummy hash (one verification), a wrong
// password the account's (one), a deactivated account nothing (it is not
// admitted), input over the length cap nothing (it cannot match).
func TestLoginRefusals(t *testing.T) {
	stores(t, func(t *testing.T, st user.Store) {
		c := newClock()
		h := &countingHasher{Hasher: cheapHasher(t)}
		s := newService(t, st, user.Config{Now: c.Now, Hasher: h, MinRefusalTime: time.Hour})
		var padded []time.Duration
		user.SetRefusalWait(s, func(_ context.Context, d time.Duration) { padded = append(padded, d) })
		ctx := context.Background()
		u := register(t, s, "carol")
		inactive := register(t, s, "dave")
		if _, err := s.Deactivate(ctx, inactive.ID); err != nil {
			t.Fatal(err)
		}
		cases := []struct {
			name, login, password string
			want                  user.AuthReason
			verifies              int64
		}{
			{"unknown user", "nobody", goodPassword, user.AuthUnknownUser, 1},
			{"unknown email", "nobody@example.com", goodPassword, user.AuthUnknownUser, 1},
			{"invalid login", "\xff\x00'; --", goodPassword, user.AuthUnknownUser, 1},
			{"huge login", strings.Repeat("a", 1<<20), goodPassword, user.AuthUnknownUser, 1},
			{"wrong password", "carol", "wrong password!", user.AuthWrongPassword, 1},
			{"empty password", "carol", "", user.AuthWrongPassword, 1},
			{"huge password", "carol", strings.Repeat("x", 1<<20), user.AuthWrongPassword, 0},
			{"NUL password", "carol", goodPassword + "\x00", user.AuthWrongPassword, 0},
			{"inactive, right password", "dave", goodPassword, user.AuthInactive, 0},
			{"inactive, wrong password", "dave", "nope", user.AuthInactive, 0},
		}
		for i, tc := range cases {
			before := h.verifies.Load()
			start := time.Now()
			_, err := s.Login(ctx, tc.login, tc.password)
			ae := authErr(t, err, tc.want)
			if n := h.verifies.Load() - before; n != tc.verifies {
				t.Errorf("%s: %d verifications, want %d", tc.name, n, tc.verifies)
			}
			if tc.want == user.AuthUnknownUser && ae.UserID != 0 {
				t.Errorf("%s: UserID = %d", tc.name, ae.UserID)
			}
			// Padded up to the floor (an hour here), measured from the start.
			if len(padded) != i+1 || padded[i] > time.Hour || padded[i]+time.Since(start) < time.Hour {
				t.Fatalf("%s: padding %v, want the rest of an hour", tc.name, padded)
			}
		}
		got, err := s.Get(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.FailedLoginAttempts != 4 {
			t.Errorf("failed_login_attempts = %d after 4 wrong passwords", got.FailedLoginAttempts)
		}
		if got, _ := s.Get(ctx, inactive.ID); got.FailedLoginAttempts != 0 {
			t.Errorf("an inactive account's failures were counted: %d", got.FailedLoginAttempts)
		}
		// A success is not padded.
		if _, err := s.Login(ctx, "carol", goodPassword); err != nil || len(padded) != len(cases) {
			t.Fatalf("success: %v, padded %d times, want %d", err, len(padded), len(cases))
		}
	})
}

func TestLockout(t *testing.T) {
	stores(t, func(t *testing.T, st user.Store) {
		c := newClock()
		s := newService(t, st, user.Config{Now: c.Now})
		ctx := context.Background()
		u := register(t, s, "erin")
		for i := 1; i <= 5; i++ {
			_, err := s.Login(ctx, "erin", "wrong")
			ae := authErr(t, err, user.AuthWrongPassword)
			if ae.Attempts != i || (i < 5) != (ae.LockedUntil == nil) {
				t.Fatalf("failure %d: attempts %d, locked until %v", i, ae.Attempts, ae.LockedUntil)
			}
			c.Advance(time.Second)
		}
		// Locked: even the right password is refused, and the counter stays.
		_, err := s.Login(ctx, "erin", goodPassword)
		ae := authErr(t, err, user.AuthLocked)
		want := c.Now().Add(-time.Second).Add(15 * time.Minute)
		if ae.LockedUntil == nil || !ae.LockedUntil.Equal(want) {
			t.Fatalf("locked until %v, want %v", ae.LockedUntil, want)
		}
		c.Advance(15 * time.Minute)
		res, err := s.Login(ctx, "erin", goodPassword)
		if err != nil {
			t.Fatalf("after the lock expired: %v", err)
		}
		if got := res.User; got.FailedLoginAttempts != 0 || got.LockedUntil != nil {
			t.Fatalf("success did not reset the lockout: %+v", res.User)
		}
		if stored, _ := s.Get(ctx, u.ID); stored.FailedLoginAttempts != 0 || stored.LockedUntil != nil {
			t.Fatalf("stored lockout not reset: %d, %v", stored.FailedLoginAttempts, stored.LockedUntil)
		}
	})
}

// TestConcurrentWrongPasswords: with the threshold above 100, 100 parallel
// wrong passwords leave the counter at exactly 100.
func TestConcurrentWrongPasswords(t *testing.T) {
	stores(t, func(t *testing.T, st user.Store) {
		s := newService(t, st, user.Config{Lockout: user.LockoutPolicy{Threshold: 1000}})
		u := register(t, s, "frank")
		parallelLogins(t, s, "frank", "wrong password", 100, user.AuthWrongPassword)
		got, err := s.Get(context.Background(), u.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.FailedLoginAttempts != 100 || got.LockedUntil != nil {
			t.Fatalf("after 100 parallel failures: attempts %d, locked %v; want exactly 100, unlocked", got.FailedLoginAttempts, got.LockedUntil)
		}
	})
}

// TestConcurrentLockout: with the default threshold, 40 parallel wrong
// passwords are admitted 5 at most: exactly 5 are verified and counted,
// the account locks, the 35 others are refused as locked without
// verifying the account's hash, and the correct password is then refused.
func TestConcurrentLockout(t *testing.T) {
	stores(t, func(t *testing.T, st user.Store) {
		c := newClock()
		h := &countingHasher{Hasher: cheapHasher(t)}
		s := newService(t, st, user.Config{Now: c.Now, Hasher: h})
		u := register(t, s, "gina")
		before := h.verifies.Load()
		reasons := parallelLogins(t, s, "gina", "wrong password", 40, "")
		if v := h.verifies.Load() - before; v != 5 || reasons[user.AuthWrongPassword] != 5 || reasons[user.AuthLocked] != 35 {
			t.Fatalf("40 parallel wrong passwords: %d verifications, reasons %v; want 5 verified wrong, 35 locked", v, reasons)
		}
		got, err := s.Get(context.Background(), u.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.FailedLoginAttempts != 5 || !got.Locked(c.Now()) {
			t.Fatalf("after 40 parallel failures: attempts %d, locked until %v; want exactly 5 and locked", got.FailedLoginAttempts, got.LockedUntil)
		}
		_, err = s.Login(context.Background(), "gina", goodPassword)
		authErr(t, err, user.AuthLocked)
		if got, _ := s.Get(context.Background(), u.ID); got.FailedLoginAttempts != 5 {
			t.Fatalf("the refused correct password changed the counter to %d", got.FailedLoginAttempts)
		}
	})
}

// parallelLogins runs n logins at once; each must be refused (with reason
// want, when want is set). It returns how many were refused for each
// reason.
func parallelLogins(t *testing.T, s *user.Service, login, password string, n int, want user.AuthReason) map[user.AuthReason]int {
	t.Helper()
	var wg sync.WaitGroup
	var mu sync.Mutex
	reasons := map[user.AuthReason]int{}
	start := make(chan struct{})
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, err := s.Login(context.Background(), login, password)
			var ae *user.AuthError
			if !errors.As(err, &ae) || (want != "" && ae.Reason != want) {
				t.Errorf("parallel login: err = %v, want reason %q", err, want)
				return
			}
			mu.Lock()
			reasons[ae.Reason]++
			mu.Unlock()
		}()
	}
	close(start)
	wg.Wait()
	return reasons
}

func TestRehashOnLogin(t *testing.T) {
	stores(t, func(t *testing.T, st user.Store) {
		ctx := context.Background()
		bc, err := user.NewHasher(user.HashConfig{Algorithm: user.Bcrypt, BcryptCost: 4})
		if err != nil {
			t.Fatal(err)
		}
		old := newService(t, st, user.Config{Hasher: bc})
		u := register(t, old, "hank")
		if !strings.HasPrefix(u.HashedPassword, "$2a$04$") {
			t.Fatalf("bcrypt hash = %q", u.HashedPassword)
		}
		// The policy moves to argon2id: the next login rehashes.
		s := newService(t, st, user.Config{})
		res, err := s.Login(ctx, "hank", goodPassword)
		if err != nil {
			t.Fatal(err)
		}
		got := res.User
		stored, err := s.Get(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(stored.HashedPassword, "$argon2id$v=19$m=64,t=1,p=1$") || got.HashedPassword != stored.HashedPassword {
			t.Fatalf("after login the stored hash is %q (returned %q), want argon2id", stored.HashedPassword, got.HashedPassword)
		}
		if !stored.PasswordChangedAt.Equal(u.PasswordChangedAt) {
			t.Errorf("rehash changed password_changed_at")
		}
		// A parameter change rehashes too.
		stronger, err := user.NewHasher(user.HashConfig{Argon2id: user.Argon2idParams{Memory: 128, Time: 2, Threads: 1}})
		if err != nil {
			t.Fatal(err)
		}
		s2 := newService(t, st, user.Config{Hasher: stronger})
		if _, err := s2.Login(ctx, "hank", goodPassword); err != nil {
			t.Fatal(err)
		}
		stored, _ = s.Get(ctx, u.ID)
		if !strings.HasPrefix(stored.HashedPassword, "$argon2id$v=19$m=128,t=2,p=1$") {
			t.Fatalf("after a parameter change the stored hash is %q", stored.HashedPassword)
		}
		// An up-to-date hash is left alone.
		if _, err := s2.Login(ctx, "hank", goodPassword); err != nil {
			t.Fatal(err)
		}
		if again, _ := s.Get(ctx, u.ID); again.HashedPassword != stored.HashedPassword {
			t.Fatal("a current hash was replaced")
		}
		// The old password still works with the old policy's verifier: both verify both.
		if _, err := old.Login(ctx, "hank", goodPassword); err != nil {
			t.Fatalf("bcrypt-policy service cannot verify argon2id: %v", err)
		}
	})
}

func TestChangePassword(t *testing.T) {
	stores(t, func(t *testing.T, st user.Store) {
		c := newClock()
		s := newService(t, st, user.Config{Now: c.Now})
		ctx := context.Background()
		u := register(t, s, "ivy")
		const next = "a brand new passphrase"
		authErr(t, s.ChangePassword(ctx, u.ID, "not the password", next), user.AuthWrongPassword)
		if err := s.ChangePassword(ctx, u.ID, goodPassword, "password1"); !errors.Is(err, user.ErrWeakPassword) {
			t.Fatalf("weak new password: err = %v", err)
		}
		c.Advance(time.Hour)
		if err := s.ChangePassword(ctx, u.ID, goodPassword, next); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Login(ctx, "ivy", goodPassword); !errors.Is(err, user.ErrInvalidCredentials) {
			t.Fatalf("old password still works: %v", err)
		}
		res, err := s.Login(ctx, "ivy", next)
		if err != nil {
			t.Fatal(err)
		}
		if got := res.User; !got.PasswordChangedAt.Equal(c.Now()) || got.SecurityStamp != u.SecurityStamp+1 {
			t.Errorf("password_changed_at = %v, stamp %d; want %v, %d", got.PasswordChangedAt, got.SecurityStamp, c.Now(), u.SecurityStamp+1)
		}
		// The current password is capped like a login's: a huge one is
		// refused as wrong without being hashed.
		h := &countingHasher{Hasher: cheapHasher(t)}
		capped := newService(t, st, user.Config{Now: c.Now, Hasher: h})
		before := h.verifies.Load()
		authErr(t, capped.ChangePassword(ctx, u.ID, strings.Repeat("x", 1<<20), "another fine passphrase"), user.AuthWrongPassword)
		if n := h.verifies.Load() - before; n != 0 {
			t.Errorf("a 1 MiB current password was verified %d times", n)
		}
		if err := s.ChangePassword(ctx, 424242, next, goodPassword); !errors.Is(err, user.ErrNotFound) {
			t.Errorf("missing user: err = %v", err)
		}
	})
}

func TestAccountManagement(t *testing.T) {
	stores(t, func(t *testing.T, st user.Store) {
		c := newClock()
		s := newService(t, st, user.Config{Now: c.Now})
		ctx := context.Background()
		u := register(t, s, "jack")
		c.Advance(time.Minute)
		got, err := s.UpdateProfile(ctx, u.ID, user.ProfileUpdate{Preferences: map[string]any{"theme": "dark"}})
		if err != nil || got.Preferences["theme"] != "dark" || !got.UpdatedAt.Equal(c.Now()) {
			t.Fatalf("UpdateProfile = %+v, %v", got, err)
		}
		if got, err = s.SetRole(ctx, u.ID, user.RoleAdmin); err != nil || got.Role != user.RoleAdmin {
			t.Fatalf("SetRole = %+v, %v", got, err)
		}
		if _, err = s.SetRole(ctx, u.ID, "admin"); !errors.Is(err, user.ErrInvalidRole) {
			t.Fatalf("SetRole(lower case) err = %v", err)
		}
		if got, err = s.SetTier(ctx, u.ID, user.TierPremium); err != nil || got.Tier != user.TierPremium {
			t.Fatalf("SetTier = %+v, %v", got, err)
		}
		if _, err = s.SetTier(ctx, u.ID, ""); !errors.Is(err, user.ErrInvalidTier) {
			t.Fatalf("SetTier(\"\") err = %v", err)
		}
		if _, err := s.Deactivate(ctx, u.ID); err != nil {
			t.Fatal(err)
		}
		_, err = s.Login(ctx, "jack", goodPassword)
		authErr(t, err, user.AuthInactive)
		if _, err := s.Reactivate(ctx, u.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Login(ctx, "jack", goodPassword); err != nil {
			t.Fatalf("after Reactivate: %v", err)
		}
		if err := s.Delete(ctx, u.ID); err != nil {
			t.Fatal(err)
		}
		_, err = s.Login(ctx, "jack", goodPassword)
		authErr(t, err, user.AuthUnknownUser)
		for name, err := range map[string]error{
			"Get":        func() error { _, err := s.Get(ctx, u.ID); return err }(),
			"Deactivate": func() error { _, err := s.Deactivate(ctx, u.ID); return err }(),
			"Delete":     s.Delete(ctx, u.ID),
		} {
			if !errors.Is(err, user.ErrNotFound) {
				t.Errorf("%s after Delete: err = %v", name, err)
			}
		}
	})
}

func TestNewServiceConfig(t *testing.T) {
	st := memory.New().Users()
	for _, tc := range []struct {
		cfg   user.Config
		field string
	}{
		{user.Config{Password: user.PasswordPolicy{MaxLength: 32}}, "Password"},
		{user.Config{Password: user.PasswordPolicy{MinLength: 200}}, "Password"},
		{user.Config{Lockout: user.LockoutPolicy{Duration: time.Millisecond}}, "Lockout.Duration"},
		{user.Config{DefaultRole: "not a role"}, "DefaultRole"},
		{user.Config{DefaultTier: "x-y"}, "DefaultTier"},
	} {
		_, err := user.NewService(st, tc.cfg)
		if err == nil || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("NewService(%+v) err = %v, want one naming %s", tc.cfg, err, tc.field)
		}
	}
	if _, err := user.NewService(nil, user.Config{}); err == nil {
		t.Error("NewService(nil store) succeeded")
	}
}

func TestCanceledContext(t *testing.T) {
	s := newService(t, memory.New().Users(), user.Config{})
	register(t, s, "kate")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Login(ctx, "kate", goodPassword); !errors.Is(err, context.Canceled) {
		t.Errorf("Login: err = %v, want context.Canceled", err)
	}
	if _, err := s.Register(ctx, user.Registration{Username: "luke", Email: "l@example.com", Password: goodPassword}); !errors.Is(err, context.Canceled) {
		t.Errorf("Register: err = %v, want context.Canceled", err)
	}
}

// TestBcryptLongPassword: with bcrypt, a password over 72 bytes is a policy
// refusal, never silently truncated.
func TestBcryptLongPassword(t *testing.T) {
	bc, err := user.NewHasher(user.HashConfig{Algorithm: user.Bcrypt, BcryptCost: 4})
	if err != nil {
		t.Fatal(err)
	}
	s := newService(t, memory.New().Users(), user.Config{Hasher: bc})
	long := strings.Repeat("päss wörd ", 8) // 80 code points, 96 bytes
	_, err = s.Register(context.Background(), user.Registration{Username: "mona", Email: "m@example.com", Password: long})
	var pe *user.PasswordError
	if !errors.As(err, &pe) || pe.Reason != user.ReasonTooLong || !errors.Is(err, user.ErrPasswordTooLong) {
		t.Fatalf("err = %v, want a too-long *PasswordError", err)
	}
	if !strings.Contains(err.Error(), "72 bytes") {
		t.Errorf("message %q does not say the limit", err)
	}
	u := register(t, s, "nina")
	if err := s.ChangePassword(context.Background(), u.ID, goodPassword, long); !errors.As(err, &pe) {
		t.Fatalf("ChangePassword: err = %v, want a *PasswordError", err)
	}
}

func TestUserValidate(t *testing.T) {
	good := user.User{Username: "alice", Email: "alice@example.com", HashedPassword: "h", Role: user.RoleUser, Tier: user.TierFree}
	if err := good.Validate(); err != nil {
		t.Fatalf("valid user: %v", err)
	}
	for name, tc := range map[string]struct {
		change func(*user.User)
		want   error
	}{
		"username not canonical": {func(u *user.User) { u.Username = "Alice" }, user.ErrInvalidUsername},
		"email not canonical":    {func(u *user.User) { u.Email = "Alice@example.com" }, user.ErrInvalidEmail},
		"empty role":             {func(u *user.User) { u.Role = "" }, user.ErrInvalidRole},
		"bad tier":               {func(u *user.User) { u.Tier = "free" }, user.ErrInvalidTier},
		"no hash":                {func(u *user.User) { u.HashedPassword = "" }, nil},
	} {
		u := good
		tc.change(&u)
		err := u.Validate()
		if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) {
			t.Errorf("%s: Validate() = %v, want %v", name, err, tc.want)
		}
	}
}

// TestRefusalFloorIgnoresSkippedVerifications: passwords that cannot be
// verified (a control character) are refused without hashing; they must
// not count as fast verifications, or a flood of them would wear the
// refusal floor down until a locked account (nothing verified) answered
// faster than an unknown user (the dummy hash verified).
func TestRefusalFloorIgnoresSkippedVerifications(t *testing.T) {
	h := cheapHasher(t)
	s := newService(t, memory.New().Users(), user.Config{Hasher: h, Lockout: user.LockoutPolicy{Threshold: -1}})
	user.SetRefusalWait(s, func(context.Context, time.Duration) {})
	u := register(t, s, "tess")
	class := "argon2id " + strings.Split(u.HashedPassword, "$")[3]
	for range 64 {
		user.ObserveVerification(s, class, time.Second)
	}
	before := user.RefusalFloor(s)
	if before < 900*time.Millisecond {
		t.Fatalf("floor %v after seeding one second", before)
	}
	ctx := context.Background()
	for range 200 {
		_, err := s.Login(ctx, "tess", "tab\tpassword")
		authErr(t, err, user.AuthWrongPassword)
		_, err = s.Login(ctx, "nobody", "nul\x00password")
		authErr(t, err, user.AuthUnknownUser)
	}
	if after := user.RefusalFloor(s); after < before*9/10 {
		t.Fatalf("400 unverifiable passwords lowered the refusal floor from %v to %v", before, after)
	}
}
