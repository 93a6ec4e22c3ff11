package reset_test

import (
	"context"
	"errors"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cedrina/cedrina/audit"
	"github.com/cedrina/cedrina/internal/pgtest"
	"github.com/cedrina/cedrina/internal/testkit"
	"github.com/cedrina/cedrina/notify"
	"github.com/cedrina/cedrina/reset"
	"github.com/cedrina/cedrina/session"
	"github.com/cedrina/cedrina/store"
	"github.com/cedrina/cedrina/store/memory"
	"github.com/cedrina/cedrina/store/postgres"
	"github.com/cedrina/cedrina/user"
)

const (
	baseURL     = "https://app.example.com/reset-password?lang=en"
	oldPassword = "correct horse battery staple"
	newPassword = "a fresh and long passphrase"
)

// pausingUsers wraps a user.Store so that one AdmitLogin, once armed,
// waits after reading the account: a login that has read the account
// and verifies its password while a reset happens.
type pausingUsers struct {
	user.Store
	mu             sync.Mutex
	armed          bool
	paused, resume chan struct{}
}

func (p *pausingUsers) arm() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.armed, p.paused, p.resume = true, make(chan struct{}), make(chan struct{})
}

func (p *pausingUsers) AdmitLogin(ctx context.Context, id int64, at time.Time, pol user.LockoutPolicy) (*user.User, bool, error) {
	u, ok, err := p.Store.AdmitLogin(ctx, id, at, pol)
	p.mu.Lock()
	armed, paused, resume := p.armed, p.paused, p.resume
	p.armed = false
	p.mu.Unlock()
	if armed {
		close(paused)
		<-resume
	}
	return u, ok, err
}

// env is the reset flow on one backend.
type env struct {
	tx       store.Transactor
	resets   reset.Store
	ustore   *pausingUsers
	users    *user.Service
	sessions *session.Service
	audit    *audit.Service
	clock    *testkit.Clock
	out      *testkit.Mailbox
	logs     *testkit.Buffer
	cfg      reset.Config
	svc      *reset.Service
}

type backend struct {
	tx       store.Transactor
	resets   reset.Store
	users    user.Store
	sessions session.Store
	audit    audit.Store
}

// backends runs fn on the memory store and on PostgreSQL.
func backends(t *testing.T, fn func(t *testing.T, b backend)) {
	t.Helper()
	t.Run("memory", func(t *testing.T) {
		t.Parallel()
		db := memory.New()
		fn(t, backend{db, db.Resets(), db.Users(), db.Sessions(), db.Audit()})
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		db, err := postgres.New(pgtest.DB(t), postgres.Config{})
		if err != nil {
			t.Fatal(err)
		}
		fn(t, backend{db, db.Resets(), db.Users(), db.Sessions(), db.Audit()})
	})
}

// newEnv builds the services on b; mutate adjusts the reset config.
func newEnv(t testing.TB, b backend, mutate func(*reset.Config)) *env {
	t.Helper()
	e := &env{tx: b.tx, resets: b.resets, ustore: &pausingUsers{Store: b.users},
		clock: testkit.NewClock(time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)),
		out:   testkit.NewMailbox(), logs: &testkit.Buffer{}}
	logger := slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var err error
	if e.audit, err = audit.NewService(b.audit, audit.Config{Now: e.clock.Now, Logger: logger}); err != nil {
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
	if e.sessions, err = session.NewService(b.sessions, session.Config{Keys: ks, Issuer: "https://auth.example", Audience: []string{"api"},
		Now: e.clock.Now, Recorder: e.audit, Logger: logger, CacheSize: -1}); err != nil {
		t.Fatal(err)
	}
	h, err := user.NewHasher(user.HashConfig{Argon2id: user.Argon2idParams{Memory: 64, Time: 1, Threads: 1}})
	if err != nil {
		t.Fatal(err)
	}
	if e.users, err = user.NewService(e.ustore, user.Config{Hasher: h, Now: e.clock.Now, Sessions: e.sessions,
		Recorder: e.audit, Logger: logger, Lockout: user.LockoutPolicy{Threshold: 3}}); err != nil {
		t.Fatal(err)
	}
	e.cfg = reset.Config{Users: e.users, Sessions: e.sessions, Notifier: e.out, URL: baseURL, Recorder: e.audit,
		Logger: logger, Now: e.clock.Now, Queue: notify.QueueConfig{Workers: 1}}
	if mutate != nil {
		mutate(&e.cfg)
	}
	if e.svc, err = reset.NewService(b.resets, b.tx, e.cfg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.svc.Close(context.Background()) })
	return e
}

func (e *env) register(t testing.TB, name string) *user.User {
	t.Helper()
	u, err := e.users.Register(context.Background(), user.Registration{Username: name, Email: name + "@example.com", Password: oldPassword})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// request asks for a reset of u's address and returns the token of the
// link sent.
func (e *env) request(t testing.TB, u *user.User) string {
	t.Helper()
	if err := e.svc.Request(context.Background(), string(u.Email), reset.Meta{}); err != nil {
		t.Fatal(err)
	}
	return tokenOf(t, e.out.Next(t))
}

func tokenOf(t testing.TB, m notify.Message) string {
	t.Helper()
	if m.Kind != notify.PasswordReset {
		t.Fatalf("message kind %q, want password_reset", m.Kind)
	}
	u, err := url.Parse(m.Link)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query().Get("token")
}

func (e *env) events(t *testing.T, typ audit.EventType) []audit.Event {
	t.Helper()
	p, err := e.audit.Query(context.Background(), audit.Query{Types: []audit.EventType{typ}, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return p.Events
}

func tokenErr(t *testing.T, err error, want reset.Reason) {
	t.Helper()
	var te *reset.TokenError
	if !errors.As(err, &te) || !errors.Is(err, reset.ErrInvalidToken) {
		t.Fatalf("err = %v, want a TokenError (%s)", err, want)
	}
	if te.Reason != want {
		t.Fatalf("reason = %s, want %s", te.Reason, want)
	}
}

// canLogin reports whether password logs u in.
func (e *env) canLogin(t *testing.T, u *user.User, password string) bool {
	t.Helper()
	_, err := e.users.Login(context.Background(), string(u.Username), password)
	if err != nil && !errors.Is(err, user.ErrInvalidCredentials) {
		t.Fatal(err)
	}
	return err == nil
}

// TestRequestAndConfirm walks the whole flow and checks every effect.
func TestRequestAndConfirm(t *testing.T) {
	backends(t, func(t *testing.T, b backend) {
		e := newEnv(t, b, nil)
		ctx := context.Background()
		alice := e.register(t, "alice")
		bob := e.register(t, "bob")

		// A session, and a lockout, both of which the reset ends.
		res, err := e.users.Login(ctx, "alice", oldPassword)
		if err != nil {
			t.Fatal(err)
		}
		tokens, err := e.sessions.Start(ctx, res.User, session.Client{})
		if err != nil {
			t.Fatal(err)
		}
		for range 3 {
			e.canLogin(t, alice, "wrong password")
		}
		if e.canLogin(t, alice, oldPassword) {
			t.Fatal("the account is not locked")
		}

		if err := e.svc.Request(ctx, "Alice@Example.com", reset.Meta{}); err != nil {
			t.Fatal(err)
		}
		m := e.out.Next(t)
		if m.To != "alice@example.com" || m.UserID != alice.ID || m.Username != "alice" {
			t.Errorf("message = %v", m)
		}
		if !m.ExpiresAt.Equal(e.clock.Now().Add(30 * time.Minute)) {
			t.Errorf("expires at %v, want 30 minutes from now", m.ExpiresAt)
		}
		link, _ := url.Parse(m.Link)
		if link.Scheme != "https" || link.Host != "app.example.com" || link.Path != "/reset-password" || link.Query().Get("lang") != "en" {
			t.Errorf("link %q is not built from the base URL", link.Redacted())
		}
		token := tokenOf(t, m)
		if len(token) != 43 {
			t.Fatalf("token of %d characters, want 43", len(token))
		}

		e.clock.Advance(29 * time.Minute)
		if err := e.svc.Confirm(ctx, token, newPassword, reset.Meta{}); err != nil {
			t.Fatal(err)
		}
		if n := e.out.Next(t); n.Kind != notify.PasswordChanged || n.To != "alice@example.com" || n.Link != "" {
			t.Errorf("notice = %v", n)
		}
		if !e.canLogin(t, alice, newPassword) {
			t.Error("the new password does not log in (lockout not cleared?)")
		}
		if e.canLogin(t, alice, oldPassword) {
			t.Error("the old password still logs in")
		}
		if _, err := e.sessions.Authenticate(ctx, tokens.AccessToken); err == nil {
			t.Error("the session started before the reset is alive")
		}
		if e.canLogin(t, bob, newPassword) || !e.canLogin(t, bob, oldPassword) {
			t.Error("bob's password changed")
		}
		u, _ := e.users.Get(ctx, alice.ID)
		if !u.PasswordChangedAt.Equal(e.clock.Now()) {
			t.Errorf("password_changed_at = %v, want %v", u.PasswordChangedAt, e.clock.Now())
		}

		// Used once.
		tokenErr(t, e.svc.Confirm(ctx, token, "another long passphrase", reset.Meta{}), reset.Used)

		if ev := e.events(t, audit.PasswordResetCompleted); len(ev) != 1 || *ev[0].UserID != alice.ID || ev[0].Data["sessions_ended"] != float64(1) {
			t.Errorf("completed events: %+v", ev)
		}
		if ev := e.events(t, audit.PasswordResetRequested); len(ev) != 1 || ev[0].Data["outcome"] != "issued" {
			t.Errorf("requested events: %+v", ev)
		}
		if ev := e.events(t, audit.SessionRevoked); len(ev) != 1 {
			t.Errorf("session_revoked events: %d, want 1", len(ev))
		}
	})
}

// Known and unknown addresses, and inactive accounts, get the same
// answer; only the known, active one gets a message.
func TestRequestSameResult(t *testing.T) {
	backends(t, func(t *testing.T, b backend) {
		e := newEnv(t, b, func(c *reset.Config) { c.NoRateLimit = true })
		ctx := context.Background()
		alice := e.register(t, "alice")
		carol := e.register(t, "carol")
		if _, err := e.users.Deactivate(ctx, carol.ID); err != nil {
			t.Fatal(err)
		}
		for _, addr := range []string{"nobody@example.com", "carol@example.com", "alice@example.com"} {
			if err := e.svc.Request(ctx, addr, reset.Meta{}); err != nil {
				t.Errorf("Request(%s) = %v", addr, err)
			}
		}
		// One worker: alice's message comes after the other two were handled.
		if m := e.out.Next(t); m.UserID != alice.ID {
			t.Fatalf("message to %v", m)
		}
		e.out.None(t)
		outcomes := map[string]int{}
		for _, ev := range e.events(t, audit.PasswordResetRequested) {
			outcomes[ev.Data["outcome"].(string)]++
			if ev.Data["outcome"] == "unknown_address" && ev.UserID != nil {
				t.Errorf("unknown address event names user %d", *ev.UserID)
			}
		}
		if outcomes["issued"] != 1 || outcomes["inactive"] != 1 || outcomes["unknown_address"] != 1 {
			t.Errorf("outcomes %v", outcomes)
		}
		// Malformed input is refused as such, for any account.
		for _, bad := range []string{"", "no-at-sign", "a@b@c", strings.Repeat("a", 300) + "@example.com", "nul\x00@example.com"} {
			if err := e.svc.Request(ctx, bad, reset.Meta{}); !errors.Is(err, user.ErrInvalidEmail) {
				t.Errorf("Request(%q) = %v, want ErrInvalidEmail", bad, err)
			}
		}
	})
}
