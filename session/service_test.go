package session_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/cedrina/cedrina/audit"
	"github.com/cedrina/cedrina/internal/pgtest"
	"github.com/cedrina/cedrina/session"
	"github.com/cedrina/cedrina/store/memory"
	"github.com/cedrina/cedrina/store/postgres"
	"github.com/cedrina/cedrina/store/storetest"
	"github.com/cedrina/cedrina/user"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// env is one store backend with a user, an audit trail and a session
// service on a settable clock.
type env struct {
	users    user.Store
	sessions session.Store
	audit    *audit.Service
	svc      *session.Service
	clock    *clock
	user     *user.User
}

func newKeys(t testing.TB) *session.KeySet {
	t.Helper()
	k, err := session.GenerateKey(session.EdDSA, "")
	if err != nil {
		t.Fatal(err)
	}
	ks, err := session.NewKeySet(k)
	if err != nil {
		t.Fatal(err)
	}
	return ks
}

// both runs fn on the memory store and, when configured, PostgreSQL.
func both(t *testing.T, cfg session.Config, fn func(t *testing.T, e *env)) {
	t.Helper()
	setup := func(t *testing.T, users user.Store, sessions session.Store, events audit.Store) {
		c := &clock{t: time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)}
		a, err := audit.NewService(events, audit.Config{Now: c.Now})
		if err != nil {
			t.Fatal(err)
		}
		cfg := cfg
		cfg.Now, cfg.Recorder = c.Now, a
		if cfg.Keys == nil {
			cfg.Keys = newKeys(t)
		}
		if cfg.Issuer == "" {
			cfg.Issuer, cfg.Audience = "https://auth.example", []string{"api"}
		}
		svc, err := session.NewService(sessions, cfg)
		if err != nil {
			t.Fatal(err)
		}
		u := storetest.NewUser("sam")
		u.PasswordChangedAt = c.Now().Add(-time.Hour)
		if err := users.Create(context.Background(), u); err != nil {
			t.Fatal(err)
		}
		fn(t, &env{users: users, sessions: sessions, audit: a, svc: svc, clock: c, user: u})
	}
	t.Run("memory", func(t *testing.T) {
		t.Parallel()
		db := memory.New()
		setup(t, db.Users(), db.Sessions(), db.Audit())
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		db, err := postgres.New(pgtest.DB(t), postgres.Config{})
		if err != nil {
			t.Fatal(err)
		}
		setup(t, db.Users(), db.Sessions(), db.Audit())
	})
}

func (e *env) start(t *testing.T) *session.Tokens {
	t.Helper()
	tok, err := e.svc.Start(context.Background(), e.user, session.Client{
		ClientIP: netip.MustParseAddr("203.0.113.5"), UserAgent: "test/1", DeviceInfo: map[string]any{"os": "linux"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func (e *env) events(t *testing.T, typ audit.EventType) []audit.Event {
	t.Helper()
	p, err := e.audit.Query(context.Background(), audit.Query{Types: []audit.EventType{typ}, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return p.Events
}

func wantErr(t *testing.T, err, want error) {
	t.Helper()
	if !errors.Is(err, want) || !errors.Is(err, session.ErrUnauthenticated) {
		t.Fatalf("err = %v, want %v (wrapping ErrUnauthenticated)", err, want)
	}
}

func TestStartAndAuthenticate(t *testing.T) {
	both(t, session.Config{}, func(t *testing.T, e *env) {
		ctx := context.Background()
		tok := e.start(t)
		if tok.SessionID == 0 || tok.AccessToken == "" || len(tok.RefreshToken) != 43 || len(tok.SessionToken) != 43 {
			t.Fatalf("tokens %+v", tok)
		}
		if !tok.AccessExpiresAt.Equal(e.clock.Now().Add(15*time.Minute)) || !tok.ExpiresAt.Equal(e.clock.Now().Add(7*24*time.Hour)) {
			t.Errorf("expiries %v %v", tok.AccessExpiresAt, tok.ExpiresAt)
		}
		for range 2 { // the second time from the cache
			p, err := e.svc.Authenticate(ctx, tok.AccessToken)
			if err != nil {
				t.Fatal(err)
			}
			if p.UserID != e.user.ID || p.SessionID != tok.SessionID || p.Role != user.RoleUser || p.Tier != user.TierFree || p.Claims.Subject != fmt.Sprint(e.user.ID) {
				t.Fatalf("principal %+v", p)
			}
		}
		p, err := e.svc.AuthenticateSession(ctx, tok.SessionToken)
		if err != nil || p.SessionID != tok.SessionID {
			t.Fatalf("AuthenticateSession = %+v, %v", p, err)
		}
		// Only hashes are stored.
		s, _, err := e.sessions.ByID(ctx, tok.SessionID)
		if err != nil {
			t.Fatal(err)
		}
		for _, secret := range []string{tok.SessionToken, tok.RefreshToken, tok.AccessToken} {
			if strings.Contains(fmt.Sprintf("%+v", *s), secret) {
				t.Fatalf("a token is stored in clear: %+v", *s)
			}
		}
		if s.ClientIP != netip.MustParseAddr("203.0.113.5") || s.UserAgent != "test/1" || s.DeviceInfo["os"] != "linux" {
			t.Errorf("session %+v", s)
		}
		if len(e.events(t, audit.SessionCreated)) != 1 {
			t.Error("no session_created event")
		}
		// Role changes show on the next request.
		if _, err := e.users.SetRole(ctx, e.user.ID, user.RoleAdmin, e.clock.Now()); err != nil {
			t.Fatal(err)
		}
		if p, err := e.svc.Authenticate(ctx, tok.AccessToken); err != nil || p.Role != user.RoleAdmin {
			t.Fatalf("after a role change: %+v, %v", p, err)
		}
	})
}

func TestAuthenticateRefusals(t *testing.T) {
	both(t, session.Config{}, func(t *testing.T, e *env) {
		ctx := context.Background()
		tok := e.start(t)
		other := newKeys(t)
		foreign, err := session.NewService(e.sessions, session.Config{Keys: other, Issuer: "https://auth.example", Audience: []string{"api"}, Now: e.clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		forged, err := foreign.Start(ctx, e.user, session.Client{})
		if err != nil {
			t.Fatal(err)
		}
		for name, token := range map[string]string{
			"empty":         "",
			"garbage":       "not.a.jwt",
			"refresh token": tok.RefreshToken,
			"session token": tok.SessionToken,
			"other key set": forged.AccessToken,
			"truncated":     tok.AccessToken[:len(tok.AccessToken)-3],
			"SQL":           "' OR 1=1 --",
			"NUL":           tok.AccessToken + "\x00",
			"huge":          strings.Repeat("a", 1<<20),
			"invalid UTF-8": "\xff\xfe",
		} {
			_, err := e.svc.Authenticate(ctx, token)
			if !errors.Is(err, session.ErrInvalidToken) {
				t.Errorf("%s: err = %v, want ErrInvalidToken", name, err)
			}
		}
		for name, token := range map[string]string{"empty": "", "short": "abc", "SQL": "' OR 1=1 --", "access token": tok.AccessToken, "unknown": strings.Repeat("A", 43)} {
			if _, err := e.svc.AuthenticateSession(ctx, token); !errors.Is(err, session.ErrInvalidToken) {
				t.Errorf("session token %s: err = %v", name, err)
			}
		}
	})
}

func TestLogoutIsImmediate(t *testing.T) {
	both(t, session.Config{}, func(t *testing.T, e *env) {
		ctx := context.Background()
		tok := e.start(t)
		p, err := e.svc.Authenticate(ctx, tok.AccessToken) // now cached
		if err != nil {
			t.Fatal(err)
		}
		if err := e.svc.Logout(ctx, p); err != nil {
			t.Fatal(err)
		}
		_, err = e.svc.Authenticate(ctx, tok.AccessToken)
		wantErr(t, err, session.ErrRevoked)
		_, err = e.svc.AuthenticateSession(ctx, tok.SessionToken)
		wantErr(t, err, session.ErrRevoked)
		_, err = e.svc.Refresh(ctx, tok.RefreshToken)
		wantErr(t, err, session.ErrRevoked) // an ended session's current refresh token: refused, not reuse
		if len(e.events(t, audit.TokenReuse)) != 0 {
			t.Error("a logged-out session's refresh was recorded as reuse")
		}
		if len(e.events(t, audit.Logout)) != 1 {
			t.Error("no logout event")
		}
	})
}

// TestRefreshReuse: the refresh token rotates; presenting the old one
// again revokes the session and records token_reuse.
func TestRefreshReuse(t *testing.T) {
	both(t, session.Config{}, func(t *testing.T, e *env) {
		ctx := context.Background()
		tok := e.start(t)
		e.clock.Advance(10 * time.Minute)
		next, err := e.svc.Refresh(ctx, tok.RefreshToken)
		if err != nil {
			t.Fatal(err)
		}
		if next.RefreshToken == tok.RefreshToken || next.AccessToken == tok.AccessToken || next.SessionID != tok.SessionID || next.SessionToken != "" {
			t.Fatalf("refreshed tokens %+v", next)
		}
		if _, err := e.svc.Authenticate(ctx, next.AccessToken); err != nil {
			t.Fatal(err)
		}
		// The rotated token again: reuse.
		_, err = e.svc.Refresh(ctx, tok.RefreshToken)
		wantErr(t, err, session.ErrTokenReuse)
		// The whole session is dead, the newest tokens included.
		_, err = e.svc.Authenticate(ctx, next.AccessToken)
		wantErr(t, err, session.ErrRevoked)
		_, err = e.svc.Refresh(ctx, next.RefreshToken)
		wantErr(t, err, session.ErrRevoked)
		reuse := e.events(t, audit.TokenReuse)
		if len(reuse) != 1 || reuse[0].Severity != audit.Critical || *reuse[0].UserID != e.user.ID {
			t.Fatalf("token_reuse events %+v", reuse)
		}
		// A token that never existed is not reuse.
		_, err = e.svc.Refresh(ctx, strings.Repeat("Q", 43))
		wantErr(t, err, session.ErrInvalidToken)
		if len(e.events(t, audit.SessionRefreshed)) != 1 {
			t.Error("want one session_refreshed event")
		}
	})
}

// TestConcurrentRefresh: 50 refreshes with one token at once: exactly one
// wins; the others are reuse, and the session ends.
func TestConcurrentRefresh(t *testing.T) {
	both(t, session.Config{}, func(t *testing.T, e *env) {
		ctx := context.Background()
		tok := e.start(t)
		const n = 50
		results := make([]*session.Tokens, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Go(func() {
				<-start
				results[i], errs[i] = e.svc.Refresh(ctx, tok.RefreshToken)
			})
		}
		close(start)
		wg.Wait()
		won, reused := 0, 0
		var winner *session.Tokens
		for i, err := range errs {
			switch {
			case err == nil:
				won++
				winner = results[i]
			case errors.Is(err, session.ErrTokenReuse):
				reused++
			default:
				t.Errorf("unexpected error: %v", err)
			}
		}
		if won != 1 || reused != n-1 {
			t.Fatalf("%d successes, %d reuse refusals; want 1 and %d", won, reused, n-1)
		}
		_, err := e.svc.Authenticate(ctx, winner.AccessToken)
		wantErr(t, err, session.ErrRevoked)
	})
}

func TestTimeouts(t *testing.T) {
	both(t, session.Config{IdleTimeout: time.Hour, AbsoluteTimeout: 3 * time.Hour, AccessTTL: 2 * time.Hour}, func(t *testing.T, e *env) {
		ctx := context.Background()
		// Idle: no activity for an hour.
		idle := e.start(t)
		e.clock.Advance(59 * time.Minute)
		if _, err := e.svc.Authenticate(ctx, idle.AccessToken); err != nil {
			t.Fatalf("before the idle limit: %v", err)
		}
		busy := e.start(t)
		e.clock.Advance(59 * time.Minute)
		if _, err := e.svc.Authenticate(ctx, idle.AccessToken); err != nil {
			t.Fatalf("activity 59 minutes ago: %v", err)
		}
		e.clock.Advance(61 * time.Minute)
		_, err := e.svc.Authenticate(ctx, idle.AccessToken)
		wantErr(t, err, session.ErrExpired)
		_, err = e.svc.Authenticate(ctx, idle.AccessToken)
		wantErr(t, err, session.ErrExpired)
		// busy was idle for two hours too; its refresh token is refused
		// as expired, not as reuse.
		_, err = e.svc.Refresh(ctx, busy.RefreshToken)
		wantErr(t, err, session.ErrExpired)
		expired := e.events(t, audit.SessionExpired)
		if len(expired) < 1 || expired[len(expired)-1].Data["reason"] != "idle_timeout" {
			t.Fatalf("session_expired events %+v", expired)
		}
	})
}

func TestAbsoluteTimeout(t *testing.T) {
	both(t, session.Config{IdleTimeout: time.Hour, AbsoluteTimeout: 3 * time.Hour}, func(t *testing.T, e *env) {
		ctx := context.Background()
		tok := e.start(t)
		refresh := tok.RefreshToken
		for range 5 { // every 40 minutes for 3 h 20 min
			e.clock.Advance(40 * time.Minute)
			next, err := e.svc.Refresh(ctx, refresh)
			if e.clock.Now().Before(tok.ExpiresAt) {
				if err != nil {
					t.Fatalf("at %v: %v", e.clock.Now(), err)
				}
				if !next.AccessExpiresAt.After(e.clock.Now()) || next.AccessExpiresAt.After(tok.ExpiresAt) {
					t.Fatalf("access token expires %v, session %v", next.AccessExpiresAt, tok.ExpiresAt)
				}
				refresh = next.RefreshToken
				continue
			}
			wantErr(t, err, session.ErrExpired)
			return
		}
		t.Fatal("the session outlived its absolute timeout")
	})
}

// TestActivityThrottled: activity is written at most once per interval.
func TestActivityThrottled(t *testing.T) {
	both(t, session.Config{}, func(t *testing.T, e *env) {
		ctx := context.Background()
		tok := e.start(t)
		created := e.clock.Now()
		last := func() time.Time {
			s, _, err := e.sessions.ByID(ctx, tok.SessionID)
			if err != nil {
				t.Fatal(err)
			}
			return s.LastActivityAt
		}
		for range 5 {
			e.clock.Advance(10 * time.Second)
			if _, err := e.svc.Authenticate(ctx, tok.AccessToken); err != nil {
				t.Fatal(err)
			}
		}
		if !last().Equal(created) {
			t.Fatalf("activity written within the interval: %v", last())
		}
		e.clock.Advance(15 * time.Second) // 65 s after the start
		if _, err := e.svc.Authenticate(ctx, tok.AccessToken); err != nil {
			t.Fatal(err)
		}
		if !last().Equal(e.clock.Now()) {
			t.Fatalf("activity not written after the interval: %v", last())
		}
	})
}

// TestUserChangesEndSessions: a password change ends the sessions started
// before it; deactivating or deleting the user ends all.
func TestUserChangesEndSessions(t *testing.T) {
	both(t, session.Config{}, func(t *testing.T, e *env) {
		ctx := context.Background()
		h, err := user.NewHasher(user.HashConfig{Argon2id: user.Argon2idParams{Memory: 64, Time: 1, Threads: 1}})
		if err != nil {
			t.Fatal(err)
		}
		users, err := user.NewService(e.users, user.Config{Hasher: h, Now: e.clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		u, err := users.Register(ctx, user.Registration{Username: "pam", Email: "pam@example.com", Password: "first long passphrase"})
		if err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(time.Minute)
		a, _ := e.svc.Start(ctx, u, session.Client{})
		b, _ := e.svc.Start(ctx, u, session.Client{})
		e.clock.Advance(time.Minute)
		if err := users.ChangePassword(ctx, u.ID, "first long passphrase", "second long passphrase"); err != nil {
			t.Fatal(err)
		}
		for _, tok := range []*session.Tokens{a, b} {
			_, err := e.svc.Authenticate(ctx, tok.AccessToken)
			wantErr(t, err, session.ErrRevoked)
			_, err = e.svc.Refresh(ctx, tok.RefreshToken)
			if !errors.Is(err, session.ErrRevoked) {
				t.Fatalf("refresh after a password change: %v", err)
			}
		}
		u, _ = users.Get(ctx, u.ID)
		c, err := e.svc.Start(ctx, u, session.Client{}) // the client that changed it logs in anew
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.Authenticate(ctx, c.AccessToken); err != nil {
			t.Fatalf("a session started after the change: %v", err)
		}
		if list, _ := e.svc.List(ctx, u.ID); len(list) != 1 || list[0].ID != c.SessionID {
			t.Fatalf("List = %+v", list)
		}
		if _, err := users.Deactivate(ctx, u.ID); err != nil {
			t.Fatal(err)
		}
		_, err = e.svc.Authenticate(ctx, c.AccessToken)
		wantErr(t, err, session.ErrRevoked)
		if _, err := users.Reactivate(ctx, u.ID); err != nil {
			t.Fatal(err)
		}
		if err := users.Delete(ctx, u.ID); err != nil {
			t.Fatal(err)
		}
		_, err = e.svc.Authenticate(ctx, c.AccessToken)
		wantErr(t, err, session.ErrRevoked)
	})
}

func TestSessionCapAndRevocation(t *testing.T) {
	both(t, session.Config{MaxSessionsPerUser: 2}, func(t *testing.T, e *env) {
		ctx := context.Background()
		first := e.start(t)
		e.clock.Advance(2 * time.Minute)
		second := e.start(t)
		e.clock.Advance(2 * time.Minute)
		if _, err := e.svc.Authenticate(ctx, first.AccessToken); err != nil { // first is now the most recently active
			t.Fatal(err)
		}
		e.clock.Advance(2 * time.Minute)
		third := e.start(t)
		_, err := e.svc.Authenticate(ctx, second.AccessToken)
		wantErr(t, err, session.ErrRevoked)
		for _, tok := range []*session.Tokens{first, third} {
			if _, err := e.svc.Authenticate(ctx, tok.AccessToken); err != nil {
				t.Fatal(err)
			}
		}
		list, err := e.svc.List(ctx, e.user.ID)
		if err != nil || len(list) != 2 || list[0].ID != third.SessionID && list[0].ID != first.SessionID {
			t.Fatalf("List = %+v, %v", list, err)
		}
		// Another user cannot end this user's session.
		if err := e.svc.Revoke(ctx, e.user.ID+1000, first.SessionID); !errors.Is(err, session.ErrNotFound) {
			t.Fatalf("Revoke by another user: %v", err)
		}
		if n, err := e.svc.RevokeAll(ctx, e.user.ID, third.SessionID); err != nil || n != 1 {
			t.Fatalf("RevokeAll except current = %d, %v", n, err)
		}
		_, err = e.svc.Authenticate(ctx, first.AccessToken)
		wantErr(t, err, session.ErrRevoked)
		if _, err := e.svc.Authenticate(ctx, third.AccessToken); err != nil {
			t.Fatalf("the current session ended: %v", err)
		}
		if err := e.svc.Revoke(ctx, e.user.ID, third.SessionID); err != nil {
			t.Fatal(err)
		}
		_, err = e.svc.Authenticate(ctx, third.AccessToken)
		wantErr(t, err, session.ErrRevoked)
	})
}

func TestCleanup(t *testing.T) {
	both(t, session.Config{IdleTimeout: time.Hour, CleanupPause: -1}, func(t *testing.T, e *env) {
		ctx := context.Background()
		var old []*session.Tokens
		for range 5 {
			old = append(old, e.start(t))
		}
		e.clock.Advance(2 * time.Hour)
		live := e.start(t)
		n, err := e.svc.Cleanup(ctx, 2)
		if err != nil || n != 5 {
			t.Fatalf("Cleanup = %d, %v; want 5", n, err)
		}
		if _, err := e.svc.Authenticate(ctx, live.AccessToken); err != nil {
			t.Fatal(err)
		}
		if _, _, err := e.sessions.ByID(ctx, old[0].SessionID); !errors.Is(err, session.ErrNotFound) {
			t.Fatalf("an idle session survived: %v", err)
		}
	})
}

func TestNewServiceConfig(t *testing.T) {
	st := memory.New().Sessions()
	keys := newKeys(t)
	for _, tc := range []struct {
		cfg   session.Config
		field string
	}{
		{session.Config{Issuer: "i", Audience: []string{"a"}}, "Keys"},
		{session.Config{Keys: keys, Audience: []string{"a"}}, "Issuer"},
		{session.Config{Keys: keys, Issuer: "i"}, "Audience"},
		{session.Config{Keys: keys, Issuer: "i", Audience: []string{"a"}, Leeway: time.Minute}, "Leeway"},
		{session.Config{Keys: keys, Issuer: "i", Audience: []string{"a"}, IdleTimeout: -1}, "IdleTimeout"},
		{session.Config{Keys: keys, Issuer: "i", Audience: []string{"a"}, AccessTTL: 8 * 24 * time.Hour}, "AccessTTL"},
	} {
		if _, err := session.NewService(st, tc.cfg); err == nil || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("NewService(%+v) = %v, want an error naming %s", tc.cfg, err, tc.field)
		}
	}
}

// TestStartCleansUserAgent: a User-Agent that is not valid UTF-8, holds
// control characters or is huge is stored cleaned, not refused.
func TestStartCleansUserAgent(t *testing.T) {
	both(t, session.Config{}, func(t *testing.T, e *env) {
		for _, ua := range []string{"bad\xffbyte", "x" + strings.Repeat("é", 600), "line\nbreak\x00nul", strings.Repeat("a", 1<<20)} {
			tok, err := e.svc.Start(context.Background(), e.user, session.Client{UserAgent: ua})
			if err != nil {
				t.Fatalf("Start with user agent %.20q: %v", ua, err)
			}
			s, _, err := e.sessions.ByID(context.Background(), tok.SessionID)
			if err != nil {
				t.Fatal(err)
			}
			if !utf8.ValidString(s.UserAgent) || len(s.UserAgent) > 1024 || strings.ContainsAny(s.UserAgent, "\n\x00") {
				t.Errorf("stored user agent %.40q", s.UserAgent)
			}
		}
	})
}

// TestUserServiceEndsSessions: with session.Service as user.Config.Sessions,
// a password change and a deactivation end the sessions explicitly
// (List shows none), not only by the time checks.
func TestUserServiceEndsSessions(t *testing.T) {
	both(t, session.Config{}, func(t *testing.T, e *env) {
		ctx := context.Background()
		h, err := user.NewHasher(user.HashConfig{Argon2id: user.Argon2idParams{Memory: 64, Time: 1, Threads: 1}})
		if err != nil {
			t.Fatal(err)
		}
		users, err := user.NewService(e.users, user.Config{Hasher: h, Now: e.clock.Now, Sessions: e.svc})
		if err != nil {
			t.Fatal(err)
		}
		u, err := users.Register(ctx, user.Registration{Username: "ned", Email: "ned@example.com", Password: "first long passphrase"})
		if err != nil {
			t.Fatal(err)
		}
		for range 3 {
			if _, err := e.svc.Start(ctx, u, session.Client{}); err != nil {
				t.Fatal(err)
			}
		}
		// Same clock instant: the time check alone would not catch these.
		if err := users.ChangePassword(ctx, u.ID, "first long passphrase", "second long passphrase"); err != nil {
			t.Fatal(err)
		}
		if n, err := e.svc.RevokeAll(ctx, u.ID, 0); err != nil || n != 0 {
			t.Fatalf("sessions still active after the password change: %d, %v", n, err)
		}
		u, _ = users.Get(ctx, u.ID)
		tok, err := e.svc.Start(ctx, u, session.Client{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := users.Deactivate(ctx, u.ID); err != nil {
			t.Fatal(err)
		}
		s, _, err := e.sessions.ByID(ctx, tok.SessionID)
		if err != nil || s.Active {
			t.Fatalf("session after deactivation: %+v, %v", s, err)
		}
	})
}

// TestLogoutRefreshToken: a client whose access token has expired logs
// out with its refresh token; a replayed (rotated) refresh token ends the
// session as reuse; nonsense is invalid; a nil principal is an error.
func TestLogoutRefreshToken(t *testing.T) {
	both(t, session.Config{}, func(t *testing.T, e *env) {
		ctx := context.Background()
		tok := e.start(t)
		e.clock.Advance(time.Hour) // the access token (15 min) has expired
		if _, err := e.svc.Authenticate(ctx, tok.AccessToken); !errors.Is(err, session.ErrExpired) {
			t.Fatalf("expired access token: %v", err)
		}
		if err := e.svc.LogoutRefreshToken(ctx, tok.RefreshToken); err != nil {
			t.Fatalf("LogoutRefreshToken: %v", err)
		}
		if _, err := e.svc.Refresh(ctx, tok.RefreshToken); !errors.Is(err, session.ErrRevoked) {
			t.Fatalf("Refresh after logout: err = %v, want ErrRevoked", err)
		}
		if got := e.events(t, audit.Logout); len(got) != 1 {
			t.Fatalf("%d logout events, want 1", len(got))
		}
		// Again: already over, not an error, no second event.
		if err := e.svc.LogoutRefreshToken(ctx, tok.RefreshToken); err != nil {
			t.Fatalf("second LogoutRefreshToken: %v", err)
		}
		if got := e.events(t, audit.Logout); len(got) != 1 {
			t.Fatalf("%d logout events after a second logout, want 1", len(got))
		}

		// A rotated refresh token presented to logout is a replay.
		tok2 := e.start(t)
		next, err := e.svc.Refresh(ctx, tok2.RefreshToken)
		if err != nil {
			t.Fatal(err)
		}
		wantErr(t, e.svc.LogoutRefreshToken(ctx, tok2.RefreshToken), session.ErrTokenReuse)
		if _, err := e.svc.Authenticate(ctx, next.AccessToken); !errors.Is(err, session.ErrRevoked) {
			t.Fatalf("session after a replayed logout: err = %v, want ErrRevoked", err)
		}
		if got := e.events(t, audit.TokenReuse); len(got) != 1 {
			t.Fatalf("%d token_reuse events, want 1", len(got))
		}

		for _, bad := range []string{"", "x", tok.AccessToken, strings.Repeat("A", 43), tok.RefreshToken + "=", "\x00" + tok.RefreshToken[1:]} {
			wantErr(t, e.svc.LogoutRefreshToken(ctx, bad), session.ErrInvalidToken)
		}

		wantErr(t, e.svc.Logout(ctx, nil), session.ErrUnauthenticated)
	})
}

// TestStartChecksUser: Start starts a session only for the account as the
// login read it; sessions carry the stamp and end when it moves.
func TestStartChecksUser(t *testing.T) {
	both(t, session.Config{}, func(t *testing.T, e *env) {
		ctx := context.Background()
		tok := e.start(t)
		read := *e.user // as a login read it
		if err := e.users.SetPassword(ctx, e.user.ID, "new-hash", e.clock.Now(), e.user.SecurityStamp); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.Start(ctx, &read, session.Client{}); !errors.Is(err, session.ErrUserChanged) || !errors.Is(err, session.ErrUnauthenticated) {
			t.Fatalf("Start with a stale user: err = %v, want ErrUserChanged", err)
		}
		wantErr(t, func() error { _, err := e.svc.Authenticate(ctx, tok.AccessToken); return err }(), session.ErrRevoked)
		fresh, err := e.users.ByID(ctx, e.user.ID)
		if err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(time.Second) // after password_changed_at
		tok2, err := e.svc.Start(ctx, fresh, session.Client{})
		if err != nil {
			t.Fatalf("Start with the user as it is now: %v", err)
		}
		if _, err := e.svc.Authenticate(ctx, tok2.AccessToken); err != nil {
			t.Fatal(err)
		}
		// Deactivated and reactivated: the time checks cannot see it, the stamp does.
		if _, err := e.users.SetActive(ctx, e.user.ID, false, e.clock.Now()); err != nil {
			t.Fatal(err)
		}
		if _, err := e.users.SetActive(ctx, e.user.ID, true, e.clock.Now()); err != nil {
			t.Fatal(err)
		}
		wantErr(t, func() error { _, err := e.svc.Authenticate(ctx, tok2.AccessToken); return err }(), session.ErrRevoked)
		if _, err := e.svc.Refresh(ctx, tok2.RefreshToken); !errors.Is(err, session.ErrRevoked) {
			t.Fatalf("Refresh after deactivation and reactivation: err = %v, want ErrRevoked", err)
		}
		if _, err := e.svc.Start(ctx, fresh, session.Client{}); !errors.Is(err, session.ErrUserChanged) {
			t.Fatalf("Start with the user read before the deactivation: err = %v", err)
		}
	})
}
