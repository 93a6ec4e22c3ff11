package user_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cedrina/cedrina/internal/pgtest"
	"github.com/cedrina/cedrina/session"
	"github.com/cedrina/cedrina/store/memory"
	"github.com/cedrina/cedrina/store/postgres"
	"github.com/cedrina/cedrina/user"
)

// These tests drive the check-then-act races of a login: a slow password
// verification separates the read the login makes (AdmitLogin) from the
// writes that depend on it (RecordLoginSuccess, the session's Create).
// A password change or reset, a deactivation (even one undone by a
// reactivation) or a lock that happens in between must leave no session
// behind and clear nothing.

// pausingStore wraps a user.Store; when pause is set, the first
// AdmitLogin after it returns its result only once resume is closed, after
// telling paused. That is the deterministic interleaving: the login has
// read the account, and the test changes it before the login goes on.
type pausingStore struct {
	user.Store
	mu     sync.Mutex
	armed  bool
	paused chan struct{}
	resume chan struct{}
}

func (p *pausingStore) arm() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.armed, p.paused, p.resume = true, make(chan struct{}), make(chan struct{})
}

func (p *pausingStore) AdmitLogin(ctx context.Context, id int64, at time.Time, pol user.LockoutPolicy) (*user.User, bool, error) {
	u, ok, err := p.Store.AdmitLogin(ctx, id, at, pol)
	p.mu.Lock()
	armed := p.armed
	p.armed = false
	paused, resume := p.paused, p.resume
	p.mu.Unlock()
	if armed {
		close(paused)
		<-resume
	}
	return u, ok, err
}

// raceEnv is one store backend with a user service (on a pausing store)
// and a session service.
type raceEnv struct {
	raw      user.Store
	paused   *pausingStore
	users    *user.Service
	sessions *session.Service
	sstore   session.Store
	hasher   user.Hasher
}

// raceStores runs fn on the memory store and on PostgreSQL. ender wires
// the session service into the user service (user.Config.Sessions); off,
// only the security stamp ends sessions.
func raceStores(t *testing.T, ender bool, lockout user.LockoutPolicy, fn func(t *testing.T, e *raceEnv)) {
	t.Helper()
	setup := func(t *testing.T, us user.Store, ss session.Store) {
		// argon2id at small parameters: slow enough (a fraction of a
		// millisecond to a few) for logins to overlap the changes.
		h, err := user.NewHasher(user.HashConfig{Argon2id: user.Argon2idParams{Memory: 256, Time: 1, Threads: 1}})
		if err != nil {
			t.Fatal(err)
		}
		k, err := session.GenerateKey(session.HS256, "")
		if err != nil {
			t.Fatal(err)
		}
		ks, err := session.NewKeySet(k)
		if err != nil {
			t.Fatal(err)
		}
		sessions, err := session.NewService(ss, session.Config{Keys: ks, Issuer: "https://auth.example", Audience: []string{"api"},
			MaxSessionsPerUser: -1, CacheSize: -1})
		if err != nil {
			t.Fatal(err)
		}
		e := &raceEnv{raw: us, paused: &pausingStore{Store: us}, sessions: sessions, sstore: ss, hasher: h}
		cfg := user.Config{Hasher: h, Lockout: lockout}
		if ender {
			cfg.Sessions = sessions
		}
		if e.users, err = user.NewService(e.paused, cfg); err != nil {
			t.Fatal(err)
		}
		fn(t, e)
	}
	t.Run("memory", func(t *testing.T) {
		t.Parallel()
		db := memory.New()
		setup(t, db.Users(), db.Sessions())
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		db, err := postgres.New(pgtest.DB(t), postgres.Config{})
		if err != nil {
			t.Fatal(err)
		}
		setup(t, db.Users(), db.Sessions())
	})
}

// login signs in and starts a session, as a host does.
func (e *raceEnv) login(ctx context.Context, name, password string) (*session.Tokens, error) {
	res, err := e.users.Login(ctx, name, password)
	if err != nil {
		return nil, err
	}
	return e.sessions.Start(ctx, res.User, session.Client{})
}

// alive reports whether a session's tokens still work: its access token
// authenticates, or its refresh token refreshes.
func (e *raceEnv) alive(ctx context.Context, tok *session.Tokens) bool {
	if _, err := e.sessions.Authenticate(ctx, tok.AccessToken); err == nil {
		return true
	}
	_, err := e.sessions.Refresh(ctx, tok.RefreshToken)
	return err == nil
}

// reset sets the password through the store, as a password reset does:
// the stamp read with the user is the condition.
func (e *raceEnv) reset(ctx context.Context, id int64, password string) error {
	u, err := e.raw.ByID(ctx, id)
	if err != nil {
		return err
	}
	hash, err := e.hasher.Hash(ctx, password)
	if err != nil {
		return err
	}
	return e.raw.SetPassword(ctx, id, hash, time.Now(), u.SecurityStamp)
}

// changes are the account changes a login can straddle. Each takes the
// old and the new password and returns whether the old password still
// works afterwards.
var changes = []struct {
	name  string
	ender bool
	do    func(ctx context.Context, e *raceEnv, u *user.User, old, next string) error
}{
	{"password change", true, func(ctx context.Context, e *raceEnv, u *user.User, old, next string) error {
		return e.users.ChangePassword(ctx, u.ID, old, next)
	}},
	{"password change, stamp only", false, func(ctx context.Context, e *raceEnv, u *user.User, old, next string) error {
		return e.users.ChangePassword(ctx, u.ID, old, next)
	}},
	{"reset through the store", false, func(ctx context.Context, e *raceEnv, u *user.User, _, next string) error {
		return e.reset(ctx, u.ID, next)
	}},
	{"deactivate and reactivate", false, func(ctx context.Context, e *raceEnv, u *user.User, _, _ string) error {
		if _, err := e.users.Deactivate(ctx, u.ID); err != nil {
			return err
		}
		_, err := e.users.Reactivate(ctx, u.ID)
		return err
	}},
}

// TestRaceNatural: 8 goroutines sign in with the old password, over and
// over, while the account changes; 5 trials per change and store. After
// the change, no session started from the account's old state (its
// security stamp) is alive, whichever way the race went.
func TestRaceNatural(t *testing.T) {
	for _, c := range changes {
		t.Run(c.name, func(t *testing.T) {
			raceStores(t, c.ender, user.LockoutPolicy{Threshold: -1}, func(t *testing.T, e *raceEnv) {
				ctx := context.Background()
				u := register(t, e.users, "owner")
				var started, checked int
				var straddlers atomic.Int64
				password := goodPassword
				for trial := range 5 {
					next := fmt.Sprintf("the %d-th brand new passphrase", trial)
					before, err := e.raw.ByID(ctx, u.ID)
					if err != nil {
						t.Fatal(err)
					}
					var (
						mu     sync.Mutex
						tokens []*session.Tokens
						wg     sync.WaitGroup
						logins atomic.Int64
						stop   = make(chan struct{})
					)
					for range 8 {
						wg.Add(1)
						go func() {
							defer wg.Done()
							for {
								select {
								case <-stop:
									return
								default:
								}
								tok, err := e.login(ctx, "owner", password)
								logins.Add(1)
								if err == nil {
									mu.Lock()
									tokens = append(tokens, tok)
									mu.Unlock()
									continue
								}
								var ae *user.AuthError
								switch {
								case errors.Is(err, session.ErrUserChanged),
									errors.As(err, &ae) && ae.Reason == user.AuthAccountChanged:
									straddlers.Add(1) // read before the change, refused after it
								case !errors.Is(err, user.ErrInvalidCredentials) && !errors.Is(err, session.ErrUnauthenticated):
									t.Errorf("login: %v", err)
									return
								}
							}
						}()
					}
					waitFor(t, func() bool { return logins.Load() >= 16 })
					if err := c.do(ctx, e, u, password, next); err != nil {
						t.Fatalf("trial %d: %s: %v", trial, c.name, err)
					}
					n := logins.Load()
					waitFor(t, func() bool { return logins.Load() >= n+16 })
					close(stop)
					wg.Wait()

					for _, tok := range tokens {
						sess, _, err := e.sstore.ByID(ctx, tok.SessionID)
						if err != nil {
							t.Fatal(err)
						}
						if sess.SecurityStamp != before.SecurityStamp {
							continue // the login read the account after the change
						}
						checked++
						if e.alive(ctx, tok) {
							t.Errorf("trial %d: session %d, started from the account before the %s, is alive", trial, tok.SessionID, c.name)
						}
					}
					started += len(tokens)
					if c.name != "deactivate and reactivate" {
						password = next
					}
				}
				if checked == 0 || straddlers.Load() == 0 {
					t.Fatalf("%d sessions from before the changes, %d logins straddling one: the race was not exercised", checked, straddlers.Load())
				}
				t.Logf("%d sessions from before the changes checked (of %d started), none alive; %d logins straddled a change and were refused",
					checked, started, straddlers.Load())
			})
		})
	}
}

// waitFor polls cond (without sleeping past a bounded total) until it
// holds.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 30 s")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestRaceInterleaved: one deterministic interleaving per change. The
// login reads the account (AdmitLogin) and pauses; the account changes;
// the login goes on with the right (old) password and is refused as
// account_changed, starting no session. A login that finished before the
// change cannot start a session after it (ErrUserChanged), and a session
// started before it is dead.
func TestRaceInterleaved(t *testing.T) {
	for _, c := range changes {
		t.Run(c.name, func(t *testing.T) {
			raceStores(t, c.ender, user.LockoutPolicy{}, func(t *testing.T, e *raceEnv) {
				ctx := context.Background()
				u := register(t, e.users, "owner")
				const next = "a brand new passphrase"
				early, err := e.login(ctx, "owner", goodPassword)
				if err != nil {
					t.Fatal(err)
				}
				finished, err := e.users.Login(ctx, "owner", goodPassword)
				if err != nil {
					t.Fatal(err)
				}

				e.paused.arm()
				done := make(chan error, 1)
				go func() {
					_, err := e.login(ctx, "owner", goodPassword)
					done <- err
				}()
				<-e.paused.paused
				if err := c.do(ctx, e, u, goodPassword, next); err != nil {
					t.Fatal(err)
				}
				close(e.paused.resume)
				err = <-done
				ae := authErr(t, err, user.AuthAccountChanged)
				if ae.UserID != u.ID {
					t.Errorf("refusal names user %d", ae.UserID)
				}

				if _, err := e.sessions.Start(ctx, finished.User, session.Client{}); !errors.Is(err, session.ErrUserChanged) {
					t.Errorf("Start with the user as read before the change: err = %v, want ErrUserChanged", err)
				}
				if e.alive(ctx, early) {
					t.Errorf("the session started before the %s is alive", c.name)
				}
				list, err := e.sessions.List(ctx, u.ID)
				if err != nil || len(list) != 0 {
					t.Errorf("sessions listed after the change: %d, %v", len(list), err)
				}
			})
		})
	}
}

// TestRaceLockout: the correct password, read before a burst of wrong
// guesses locked the account, is refused once it is locked, and clears
// neither the lock nor the count.
func TestRaceLockout(t *testing.T) {
	raceStores(t, false, user.LockoutPolicy{Threshold: 5, Duration: 15 * time.Minute}, func(t *testing.T, e *raceEnv) {
		ctx := context.Background()
		u := register(t, e.users, "owner")
		e.paused.arm()
		done := make(chan error, 1)
		go func() {
			_, err := e.users.Login(ctx, "owner", goodPassword)
			done <- err
		}()
		<-e.paused.paused // admitted: attempt 1 of 5
		for i := 2; i <= 5; i++ {
			_, err := e.users.Login(ctx, "owner", "wrong guess")
			ae := authErr(t, err, user.AuthWrongPassword)
			if ae.Attempts != i || (i == 5) != (ae.LockedUntil != nil) {
				t.Fatalf("wrong guess %d: attempts %d, locked until %v", i, ae.Attempts, ae.LockedUntil)
			}
		}
		close(e.paused.resume)
		authErr(t, <-done, user.AuthLocked)
		got, err := e.raw.ByID(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.FailedLoginAttempts != 5 || got.LockedUntil == nil || got.LastLoginAt != nil {
			t.Fatalf("after the stale success: attempts %d, locked until %v, last login %v; want 5, locked, never", got.FailedLoginAttempts, got.LockedUntil, got.LastLoginAt)
		}
	})
}

// TestRaceLockoutBurst: 40 wrong guesses and the correct password at once,
// 10 trials per store. The correct password is either refused as locked
// (never as a wrong password: it was admitted after the lock, or the lock
// came while it was verified), and then exactly 5 attempts are counted
// and the account is locked; or it was admitted before the lock and won,
// and its success reset the count: then only the guesses admitted after
// it count (at most 5, locked at 5), and at most 4 + 5 guesses were
// verified in all.
func TestRaceLockoutBurst(t *testing.T) {
	raceStores(t, false, user.LockoutPolicy{Threshold: 5, Duration: 15 * time.Minute}, func(t *testing.T, e *raceEnv) {
		ctx := context.Background()
		refusedLocked := 0
		for trial := range 10 {
			u := register(t, e.users, fmt.Sprintf("burst%d", trial))
			var wg sync.WaitGroup
			start := make(chan struct{})
			var wrongVerified atomic.Int64
			for range 40 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					_, err := e.users.Login(ctx, string(u.Username), "wrong guess")
					var ae *user.AuthError
					switch {
					case !errors.As(err, &ae):
						t.Errorf("wrong guess: %v", err)
					case ae.Reason == user.AuthWrongPassword:
						wrongVerified.Add(1)
					case ae.Reason != user.AuthLocked:
						t.Errorf("wrong guess refused as %s", ae.Reason)
					}
				}()
			}
			var correct error
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				_, correct = e.users.Login(ctx, string(u.Username), goodPassword)
			}()
			close(start)
			wg.Wait()
			got, err := e.raw.ByID(ctx, u.ID)
			if err != nil {
				t.Fatal(err)
			}
			w, n, locked := wrongVerified.Load(), got.FailedLoginAttempts, got.LockedUntil != nil
			switch {
			case correct == nil:
				if n > 5 || locked != (n == 5) || w > 9 || w < int64(n) {
					t.Fatalf("trial %d: the correct password won; then attempts %d, locked %v, %d guesses verified", trial, n, locked, w)
				}
			default:
				authErr(t, correct, user.AuthLocked)
				refusedLocked++
				if n != 5 || !locked || (w != 4 && w != 5) {
					t.Fatalf("trial %d: correct password refused; attempts %d, locked %v, %d guesses verified; want 5, locked, 4 or 5", trial, n, locked, w)
				}
			}
		}
		t.Logf("correct password refused as locked in %d of 10 trials", refusedLocked)
	})
}

// TestRaceChangePasswordStale: a password change reads the account when
// its check of the current password is admitted; a reset that lands
// while it verifies and hashes wins, and the change stores nothing
// (ErrStale): the reset's password is the one that works.
func TestRaceChangePasswordStale(t *testing.T) {
	raceStores(t, false, user.LockoutPolicy{}, func(t *testing.T, e *raceEnv) {
		ctx := context.Background()
		u := register(t, e.users, "owner")
		e.paused.arm()
		done := make(chan error, 1)
		go func() { done <- e.users.ChangePassword(ctx, u.ID, goodPassword, "the change that loses") }()
		<-e.paused.paused
		if err := e.reset(ctx, u.ID, "the reset that wins"); err != nil {
			t.Fatal(err)
		}
		close(e.paused.resume)
		if err := <-done; !errors.Is(err, user.ErrStale) {
			t.Fatalf("ChangePassword straddling a reset: err = %v, want ErrStale", err)
		}
		if _, err := e.users.Login(ctx, "owner", "the reset that wins"); err != nil {
			t.Fatalf("the reset's password: %v", err)
		}
		_, err := e.users.Login(ctx, "owner", "the change that loses")
		authErr(t, err, user.AuthWrongPassword)
	})
}
