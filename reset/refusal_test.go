package reset_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/cedrina/cedrina/audit"
	"github.com/cedrina/cedrina/internal/secret"
	"github.com/cedrina/cedrina/internal/testkit"
	"github.com/cedrina/cedrina/ratelimit"
	"github.com/cedrina/cedrina/reset"
	"github.com/cedrina/cedrina/session"
	"github.com/cedrina/cedrina/user"
)

// Every kind of unusable token is refused with its reason, the password
// stays, and the one message callers see is the same.
func TestConfirmRefusals(t *testing.T) {
	cases := []struct {
		name   string
		reason reset.Reason
		// prepare returns the token to confirm with.
		prepare func(t *testing.T, e *env, u *user.User) string
	}{
		{"expired", reset.Expired, func(t *testing.T, e *env, u *user.User) string {
			tok := e.request(t, u)
			e.clock.Advance(30 * time.Minute)
			return tok
		}},
		{"issued before a password change", reset.Superseded, func(t *testing.T, e *env, u *user.User) string {
			tok := e.request(t, u)
			e.clock.Advance(time.Second)
			if err := e.users.ChangePassword(context.Background(), u.ID, oldPassword, "changed meanwhile, long"); err != nil {
				t.Fatal(err)
			}
			return tok
		}},
		{"truncated", reset.Malformed, func(t *testing.T, e *env, u *user.User) string { return e.request(t, u)[:42] }},
		{"padded", reset.Malformed, func(t *testing.T, e *env, u *user.User) string { return e.request(t, u) + "=" }},
		{"with whitespace", reset.Malformed, func(t *testing.T, e *env, u *user.User) string { return " " + e.request(t, u)[1:] }},
		{"nul byte", reset.Malformed, func(t *testing.T, e *env, u *user.User) string { return e.request(t, u)[:42] + "\x00" }},
		{"sql", reset.Malformed, func(t *testing.T, e *env, u *user.User) string { return "' OR 1=1 --" }},
		{"empty", reset.Malformed, func(t *testing.T, e *env, u *user.User) string { return "" }},
		{"unknown", reset.Unknown, func(t *testing.T, e *env, u *user.User) string { tok, _ := secret.New(); return tok }},
		{"used", reset.Used, func(t *testing.T, e *env, u *user.User) string {
			tok := e.request(t, u)
			if err := e.svc.Confirm(context.Background(), tok, "first reset, long enough", reset.Meta{}); err != nil {
				t.Fatal(err)
			}
			e.out.Next(t) // the notice
			return tok
		}},
		{"replaced by a newer request", reset.Used, func(t *testing.T, e *env, u *user.User) string {
			tok := e.request(t, u)
			e.request(t, u)
			return tok
		}},
		{"user deactivated", reset.Inactive, func(t *testing.T, e *env, u *user.User) string {
			tok := e.request(t, u)
			if _, err := e.users.Deactivate(context.Background(), u.ID); err != nil {
				t.Fatal(err)
			}
			return tok
		}},
		{"user deactivated and reactivated", reset.Superseded, func(t *testing.T, e *env, u *user.User) string {
			tok := e.request(t, u)
			ctx := context.Background()
			if _, err := e.users.Deactivate(ctx, u.ID); err != nil {
				t.Fatal(err)
			}
			if _, err := e.users.Reactivate(ctx, u.ID); err != nil {
				t.Fatal(err)
			}
			return tok
		}},
		{"user deleted", reset.Unknown, func(t *testing.T, e *env, u *user.User) string {
			tok := e.request(t, u)
			if err := e.users.Delete(context.Background(), u.ID); err != nil {
				t.Fatal(err)
			}
			return tok
		}},
	}
	backends(t, func(t *testing.T, b backend) {
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				e := newEnv(t, b, func(c *reset.Config) { c.NoRateLimit = true })
				u := e.register(t, "u"+secret.Hash(c.name)[:10])
				tok := c.prepare(t, e, u)
				err := e.svc.Confirm(context.Background(), tok, "the attacker's passphrase", reset.Meta{})
				tokenErr(t, err, c.reason)
				if err.Error() != "reset: invalid or expired token ("+string(c.reason)+")" {
					t.Errorf("message %q", err)
				}
				if e.canLogin(t, u, "the attacker's passphrase") {
					t.Error("the refused token set the password")
				}
			})
		}
	})
}

// A password the policy refuses does not spend the token.
func TestConfirmWeakPassword(t *testing.T) {
	backends(t, func(t *testing.T, b backend) {
		e := newEnv(t, b, nil)
		u := e.register(t, "alice")
		tok := e.request(t, u)
		for _, weak := range []string{"short", "password123", ""} {
			err := e.svc.Confirm(context.Background(), tok, weak, reset.Meta{})
			if !errors.Is(err, user.ErrWeakPassword) {
				t.Fatalf("Confirm(%q) = %v, want ErrWeakPassword", weak, err)
			}
		}
		if err := e.svc.Confirm(context.Background(), tok, newPassword, reset.Meta{}); err != nil {
			t.Fatalf("the token was spent by refused passwords: %v", err)
		}
	})
}

// failingEnder fails its first call: a step after the token was spent.
type failingEnder struct {
	user.SessionEnder
	mu    sync.Mutex
	fails int
}

var errInjected = errors.New("injected failure")

func (f *failingEnder) RevokeAll(ctx context.Context, userID, except int64) (int, error) {
	f.mu.Lock()
	fail := f.fails > 0
	f.fails--
	f.mu.Unlock()
	if fail {
		// The sessions are ended first, inside the transaction: the
		// rollback must bring them back too.
		if _, err := f.SessionEnder.RevokeAll(ctx, userID, except); err != nil {
			return 0, err
		}
		return 0, errInjected
	}
	return f.SessionEnder.RevokeAll(ctx, userID, except)
}

// failingRecorder refuses password_reset_completed once.
type failingRecorder struct {
	audit.Recorder
	mu   sync.Mutex
	fail bool
}

func (f *failingRecorder) Record(ctx context.Context, ev audit.Event) error {
	f.mu.Lock()
	fail := f.fail && ev.Type == audit.PasswordResetCompleted
	if fail {
		f.fail = false
	}
	f.mu.Unlock()
	if fail {
		return errInjected
	}
	return f.Recorder.Record(ctx, ev)
}

// If a step after the token was spent fails, nothing changes: the token,
// the password, the sessions, the lockout are as before, and the token
// then works.
func TestConfirmAllOrNothing(t *testing.T) {
	for _, step := range []string{"sessions", "audit"} {
		t.Run(step, func(t *testing.T) {
			backends(t, func(t *testing.T, b backend) {
				var ender *failingEnder
				var rec *failingRecorder
				e := newEnv(t, b, func(c *reset.Config) {
					switch step {
					case "sessions":
						ender = &failingEnder{SessionEnder: c.Sessions, fails: 1}
						c.Sessions = ender
					case "audit":
						rec = &failingRecorder{Recorder: c.Recorder, fail: true}
						c.Recorder = rec
					}
				})
				ctx := context.Background()
				u := e.register(t, "alice")
				res, err := e.users.Login(ctx, "alice", oldPassword)
				if err != nil {
					t.Fatal(err)
				}
				tokens, err := e.sessions.Start(ctx, res.User, session.Client{})
				if err != nil {
					t.Fatal(err)
				}
				tok := e.request(t, u)
				before, _ := e.users.Get(ctx, u.ID)

				if err := e.svc.Confirm(ctx, tok, newPassword, reset.Meta{}); !errors.Is(err, errInjected) {
					t.Fatalf("Confirm = %v, want the injected failure", err)
				}
				e.out.None(t)
				after, _ := e.users.Get(ctx, u.ID)
				if after.HashedPassword != before.HashedPassword || after.SecurityStamp != before.SecurityStamp ||
					!after.PasswordChangedAt.Equal(before.PasswordChangedAt) {
					t.Error("the account changed")
				}
				if _, err := e.sessions.Authenticate(ctx, tokens.AccessToken); err != nil {
					t.Errorf("the session ended: %v", err)
				}
				stored, err := e.resets.ByHash(ctx, secret.Hash(tok))
				if err != nil || stored.IsUsed || stored.UsedAt != nil {
					t.Fatalf("token after the failed reset: %+v, %v", stored, err)
				}
				if n := len(e.events(t, audit.PasswordResetCompleted)); n != 0 {
					t.Errorf("%d completed events recorded", n)
				}

				if err := e.svc.Confirm(ctx, tok, newPassword, reset.Meta{}); err != nil {
					t.Fatalf("the token does not work after the failed attempt: %v", err)
				}
				if !e.canLogin(t, u, newPassword) {
					t.Error("new password refused")
				}
				if _, err := e.sessions.Authenticate(ctx, tokens.AccessToken); err == nil {
					t.Error("the session survived the reset")
				}
			})
		})
	}
}

// 50 parallel confirmations with one token: exactly one succeeds.
func TestConfirmConcurrent(t *testing.T) {
	backends(t, func(t *testing.T, b backend) {
		e := newEnv(t, b, nil)
		u := e.register(t, "alice")
		tok := e.request(t, u)
		const n = 50
		errs := testkit.Race(n, func(i int) error {
			return e.svc.Confirm(context.Background(), tok, newPassword+string(rune('a'+i%26)), reset.Meta{})
		})
		ok := 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case errors.Is(err, reset.ErrInvalidToken):
				var te *reset.TokenError
				errors.As(err, &te)
				if te.Reason != reset.Used && te.Reason != reset.Superseded {
					t.Errorf("refusal reason %s", te.Reason)
				}
			default:
				t.Errorf("unexpected error: %v", err)
			}
		}
		if ok != 1 {
			t.Fatalf("%d successes, want exactly 1", ok)
		}
		if n := len(e.events(t, audit.PasswordResetCompleted)); n != 1 {
			t.Errorf("%d completed events, want 1", n)
		}
	})
}

// A login with the old password that read the account before the reset
// and finishes after it leaves no session behind.
func TestConfirmStraddlingLogin(t *testing.T) {
	backends(t, func(t *testing.T, b backend) {
		e := newEnv(t, b, nil)
		ctx := context.Background()
		u := e.register(t, "alice")
		tok := e.request(t, u)

		e.ustore.arm()
		done := make(chan error, 1)
		go func() {
			res, err := e.users.Login(ctx, "alice", oldPassword)
			if err == nil {
				_, err = e.sessions.Start(ctx, res.User, session.Client{})
			}
			done <- err
		}()
		<-e.ustore.paused
		if err := e.svc.Confirm(ctx, tok, newPassword, reset.Meta{}); err != nil {
			t.Fatal(err)
		}
		close(e.ustore.resume)
		err := <-done
		var ae *user.AuthError
		if !errors.As(err, &ae) || ae.Reason != user.AuthAccountChanged {
			t.Fatalf("straddling login: %v, want account_changed", err)
		}
		list, err := e.sessions.List(ctx, u.ID)
		if err != nil || len(list) != 0 {
			t.Fatalf("sessions after the reset: %d, %v", len(list), err)
		}
	})
}

// Requests are limited per address and per client, on every backend; a
// limited request changes nothing and sends nothing.
func TestRequestRateLimits(t *testing.T) {
	backends(t, func(t *testing.T, b backend) {
		e := newEnv(t, b, nil)
		ctx := context.Background()
		u := e.register(t, "alice")
		for range 3 {
			e.request(t, u)
		}
		err := e.svc.Request(ctx, "alice@example.com", reset.Meta{})
		wantLimited(t, err, ratelimit.PerHour("password_forgot_address", 3), time.Hour)
		e.out.None(t)
		// Unknown addresses count alike.
		for range 3 {
			if err := e.svc.Request(ctx, "ghost@example.com", reset.Meta{}); err != nil {
				t.Fatal(err)
			}
		}
		if err := e.svc.Request(ctx, "ghost@example.com", reset.Meta{}); !errors.Is(err, ratelimit.ErrLimited) {
			t.Fatalf("4th request for an unknown address: %v", err)
		}
		// Per client: 20 an hour from one IP, whatever the address.
		ip := reset.Meta{ClientIP: mustAddr("203.0.113.9")}
		for i := range 20 {
			if err := e.svc.Request(ctx, "x"+string(rune('a'+i))+"@example.com", ip); err != nil {
				t.Fatalf("request %d: %v", i, err)
			}
		}
		err = e.svc.Request(ctx, "fresh@example.com", ip)
		wantLimited(t, err, ratelimit.PerHour("password_forgot_client", 20), time.Hour)
		e.clock.Advance(time.Hour)
		if err := e.svc.Request(ctx, "alice@example.com", ip); err != nil {
			t.Fatalf("after an hour: %v", err)
		}
		e.out.Next(t)
		e.out.None(t)
	})
}

// wantLimited checks that err is p's refusal of a request made retry
// before the end of p's fixed window.
func wantLimited(t *testing.T, err error, p ratelimit.Policy, retry time.Duration) {
	t.Helper()
	var le *ratelimit.LimitedError
	if !errors.As(err, &le) || !errors.Is(err, ratelimit.ErrLimited) {
		t.Fatalf("err = %v, want a *ratelimit.LimitedError", err)
	}
	want := ratelimit.LimitedError{Policy: p, Result: ratelimit.Result{Limit: p.Limit, Reset: retry, RetryAfter: retry}}
	if *le != want {
		t.Fatalf("refusal %+v, want %+v", *le, want)
	}
}
