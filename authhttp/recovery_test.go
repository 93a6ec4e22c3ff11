package authhttp_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cedrina/cedrina/audit"
	"github.com/cedrina/cedrina/authhttp"
	"github.com/cedrina/cedrina/internal/testkit"
	"github.com/cedrina/cedrina/notify"
	"github.com/cedrina/cedrina/reset"
	"github.com/cedrina/cedrina/session"
	"github.com/cedrina/cedrina/user"
)

// The pages of the host's front end that the links point at.
const (
	resetURL  = "https://app.example.com/reset-password"
	verifyURL = "https://app.example.com/verify-email"
)

// newPassword is the password a reset or a test sets.
const newPassword = "a fresh and long passphrase"

// nextOf returns the next message of m, which must be of kind to to.
func nextOf(t *testing.T, m *testkit.Mailbox, kind notify.Kind, to string) notify.Message {
	t.Helper()
	msg := m.Next(t)
	if msg.Kind != kind || msg.To != to {
		t.Fatalf("message %v, want %s to %s", msg, kind, to)
	}
	return msg
}

// linkToken checks that msg's link is built from base and returns its
// token.
func linkToken(t *testing.T, msg notify.Message, base string) string {
	t.Helper()
	if !strings.HasPrefix(msg.Link, base+"?token=") {
		t.Fatalf("link of %v is not built from %s", msg, base)
	}
	u, err := url.Parse(msg.Link)
	if err != nil {
		t.Fatal(err)
	}
	tok := u.Query().Get("token")
	if len(tok) != 43 {
		t.Fatalf("token of %d characters, want 43", len(tok))
	}
	return tok
}

// recovery is the API with password reset and email verification, every
// service on one injected clock and one mailbox.
type recovery struct {
	*api
	stack *stack
	clock *testkit.Clock
	mail  *testkit.Mailbox
}

// newRecovery builds the API on b with a reset service and a user
// service that sends messages; adjust, if not nil, changes the services'
// configuration further.
func newRecovery(t *testing.T, b backend, adjust func(*recovery, *stackConfig)) *recovery {
	t.Helper()
	r := &recovery{clock: testkit.NewClock(time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)), mail: testkit.NewMailbox()}
	c := stackConfig{
		session: func(c *session.Config) { c.Now = r.clock.Now },
		user: func(c *user.Config) {
			c.Now, c.Notifier, c.Verification.URL = r.clock.Now, r.mail, verifyURL
			c.Queue.Workers = 1
		},
		reset: func(c *reset.Config) {
			c.Now, c.Notifier, c.URL = r.clock.Now, r.mail, resetURL
			c.Queue.Workers = 1
		},
	}
	if adjust != nil {
		adjust(r, &c)
	}
	r.stack = newStack(t, b, c)
	srv := httptest.NewServer(r.stack.h)
	t.Cleanup(srv.Close)
	r.api = &api{t: t, srv: srv, h: r.stack.h}
	return r
}

// accepted checks a 202: no body, not cacheable.
func (a *api) accepted(r response) {
	a.t.Helper()
	if r.status != http.StatusAccepted || len(r.body) != 0 {
		a.t.Fatalf("status %d, body %q; want 202 without a body", r.status, r.body)
	}
	if got := r.header.Get("Cache-Control"); got != "no-store" {
		a.t.Errorf("Cache-Control %q, want no-store", got)
	}
}

// problem checks an error response's status and type, and its field
// member when field is not empty; it returns the problem.
func (a *api) problem(r response, status int, typ, field string) map[string]any {
	a.t.Helper()
	p := a.want(r, status)
	if p["type"] != typ {
		a.t.Errorf("problem type %v, want %s (%v)", p["type"], typ, p)
	}
	if f, _ := p["field"].(string); f != field {
		a.t.Errorf("problem field %q, want %q (%v)", f, field, p)
	}
	return p
}

// sameResponse fails unless got is want byte for byte: status, body and
// every header of headerSet.
func sameResponse(t *testing.T, name string, got, want response) {
	t.Helper()
	if got.status != want.status || !bytes.Equal(got.body, want.body) {
		t.Errorf("%s: %d %q, want %d %q", name, got.status, got.body, want.status, want.body)
	}
	if g, w := headerSet(got.header), headerSet(want.header); !slices.Equal(g, w) {
		t.Errorf("%s: headers %v, want %v", name, g, w)
	}
}

func (r *recovery) forgot(email string) response {
	return r.do("POST", "/auth/password/forgot", "", map[string]string{"email": email})
}

func (r *recovery) resetPassword(token, password string) response {
	return r.do("POST", "/auth/password/reset", "", map[string]string{"token": token, "password": password})
}

// resetToken asks for a reset link for name@example.com and returns its
// token.
func (r *recovery) resetToken(t *testing.T, name string) string {
	t.Helper()
	r.accepted(r.forgot(name + "@example.com"))
	return linkToken(t, nextOf(t, r.mail, notify.PasswordReset, name+"@example.com"), resetURL)
}

// canLogin reports whether name logs in with password (200) or not (401).
func (r *recovery) canLogin(name, password string) bool {
	r.t.Helper()
	res := r.do("POST", "/auth/login", "", map[string]string{"login": name, "password": password})
	if res.status != http.StatusOK {
		r.problem(res, http.StatusUnauthorized, authhttp.TypeInvalidCredentials, "")
	}
	return res.status == http.StatusOK
}

// unknownToken is a token as the services write them that none issued.
func unknownToken() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func TestForgotPassword(t *testing.T) {
	backends(t, func(t *testing.T, b backend) {
		r := newRecovery(t, b, nil)
		r.register("alice")
		carol := r.register("carol")
		if _, err := r.stack.users.Deactivate(context.Background(), int64(carol["id"].(float64))); err != nil {
			t.Fatal(err)
		}

		// One answer for an unknown address, a deactivated account and an
		// active one; the known address is asked for last, so that its
		// message arrives after the other two requests were handled.
		unknown := r.forgot("nobody@example.com")
		inactive := r.forgot("carol@example.com")
		known := r.forgot("Alice@Example.com")
		r.accepted(known)
		sameResponse(t, "unknown address", unknown, known)
		sameResponse(t, "deactivated account", inactive, known)
		msg := nextOf(t, r.mail, notify.PasswordReset, "alice@example.com")
		linkToken(t, msg, resetURL)
		if !msg.ExpiresAt.Equal(r.clock.Now().Add(30*time.Minute)) || msg.Username != "alice" {
			t.Errorf("message %v expires at %v", msg, msg.ExpiresAt)
		}
		r.mail.None(t)

		r.problem(r.do("POST", "/auth/password/forgot", "", `{"email":`), 400, authhttp.TypeMalformedRequest, "")
		r.problem(r.do("POST", "/auth/password/forgot", "", `{"email":"a@example.com","extra":1}`), 400, authhttp.TypeMalformedRequest, "")
		req, err := http.NewRequest("POST", r.srv.URL+"/auth/password/forgot", strings.NewReader(`{"email":"alice@example.com"}`))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		res, err := r.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusUnsupportedMediaType || res.Header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("form body: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
		}
		p := r.problem(r.forgot("not an address"), 422, authhttp.TypeInvalidField, "email")
		if strings.Contains(p["detail"].(string), "not an address") {
			t.Errorf("detail echoes the input: %v", p)
		}

		// Three requests per address per hour (the window is the clock's
		// hour), whatever the case of the address; the fourth is refused
		// until the next hour.
		for range 3 {
			r.accepted(r.forgot("limit@example.com"))
		}
		limited := r.forgot("LIMIT@example.com")
		r.problem(limited, http.StatusTooManyRequests, authhttp.TypeRateLimited, "")
		if got := limited.header.Get("Retry-After"); got != "3600" {
			t.Errorf("Retry-After %q, want 3600", got)
		}
		r.accepted(r.forgot("other@example.com")) // another address is not limited
		r.clock.Advance(time.Hour)
		r.accepted(r.forgot("limit@example.com"))
		r.mail.None(t)
	})
}

func TestResetPassword(t *testing.T) {
	backends(t, func(t *testing.T, b backend) {
		r := newRecovery(t, b, nil)
		r.register("alice")
		r.register("bob")
		access, refresh := r.login("alice", goodPassword)
		token := r.resetToken(t, "alice")

		// A password the policy refuses: 422, and the token is not spent.
		r.problem(r.resetPassword(token, "short"), 422, authhttp.TypeInvalidField, "password")
		r.problem(r.resetPassword(token, "alice@example.com"), 422, authhttp.TypeInvalidField, "password")

		r.want(r.resetPassword(token, newPassword), http.StatusNoContent)
		if msg := nextOf(t, r.mail, notify.PasswordChanged, "alice@example.com"); msg.Link != "" {
			t.Errorf("the notice carries a link: %v", msg)
		}
		if !r.canLogin("alice", newPassword) || r.canLogin("alice", goodPassword) {
			t.Error("after the reset the new password does not log in, or the old one does")
		}
		if !r.canLogin("bob", goodPassword) {
			t.Error("bob's password changed")
		}
		// The sessions from before the reset are over.
		r.want(r.do("GET", "/me", access, nil), http.StatusUnauthorized)
		r.want(r.do("POST", "/auth/refresh", "", map[string]string{"refresh_token": refresh}), http.StatusUnauthorized)

		// Every refused token gets one answer.
		used := r.resetPassword(token, "yet another long passphrase")
		r.problem(used, 400, authhttp.TypeInvalidResetToken, "")
		bobToken := r.resetToken(t, "bob")
		r.clock.Advance(31 * time.Minute)
		expired := r.resetPassword(bobToken, newPassword)
		sameResponse(t, "expired", expired, used)
		for name, tok := range map[string]string{
			"unknown": unknownToken(), "truncated": bobToken[:42], "padded": bobToken + "=",
			"empty": "", "spaces": " " + bobToken + " ", "NUL": bobToken[:42] + "\x00",
		} {
			sameResponse(t, name, r.resetPassword(tok, newPassword), used)
		}
		sameResponse(t, "no token member", r.do("POST", "/auth/password/reset", "", map[string]string{"password": newPassword}), used)
		if !r.canLogin("bob", goodPassword) {
			t.Error("a refused token changed bob's password")
		}
		r.problem(r.do("POST", "/auth/password/reset", "", `{"token":42}`), 400, authhttp.TypeMalformedRequest, "")
		r.mail.None(t)
	})
}

// TestResetClearsLockout: a reset works while the account is locked, and
// unlocks it.
func TestResetClearsLockout(t *testing.T) {
	backends(t, func(t *testing.T, b backend) {
		r := newRecovery(t, b, nil)
		r.register("erin")
		for range 5 {
			r.canLogin("erin", "wrong password")
		}
		if r.canLogin("erin", goodPassword) {
			t.Fatal("the account is not locked")
		}
		token := r.resetToken(t, "erin")
		r.want(r.resetPassword(token, newPassword), http.StatusNoContent)
		nextOf(t, r.mail, notify.PasswordChanged, "erin@example.com")
		if !r.canLogin("erin", newPassword) {
			t.Error("the new password does not log in: the lockout was not cleared")
		}
	})
}

func TestEmailVerification(t *testing.T) {
	backends(t, func(t *testing.T, b backend) {
		r := newRecovery(t, b, nil)
		r.register("alice")
		access, _ := r.login("alice", goodPassword)
		if me := r.want(r.do("GET", "/me", access, nil), 200); me["is_verified"] != false || me["email_verified_at"] != nil {
			t.Errorf("a new account is verified: %v", me)
		}

		r.want(r.do("POST", "/auth/email/verify/request", "", nil), http.StatusUnauthorized)
		r.accepted(r.do("POST", "/auth/email/verify/request", access, nil))
		msg := nextOf(t, r.mail, notify.VerifyEmail, "alice@example.com")
		token := linkToken(t, msg, verifyURL)
		if !msg.ExpiresAt.Equal(r.clock.Now().Add(24 * time.Hour)) {
			t.Errorf("link expires at %v", msg.ExpiresAt)
		}

		verify := func(tok string) response {
			return r.do("POST", "/auth/email/verify", "", map[string]string{"token": tok})
		}
		unknown := verify(unknownToken())
		r.problem(unknown, 400, authhttp.TypeInvalidVerificationToken, "")
		sameResponse(t, "malformed token", verify(token[:42]), unknown)

		r.clock.Advance(10 * time.Minute)           // within the access token's 15 minutes
		r.want(verify(token), http.StatusNoContent) // no session needed
		me := r.want(r.do("GET", "/me", access, nil), 200)
		if me["is_verified"] != true || me["email_verified_at"] != r.clock.Now().Format(time.RFC3339) {
			t.Errorf("after verification: %v", me)
		}
		sameResponse(t, "used token", verify(token), unknown)
		r.problem(r.do("POST", "/auth/email/verify/request", access, nil), http.StatusConflict, authhttp.TypeAlreadyVerified, "")
		r.problem(r.do("POST", "/auth/email/verify", "", `{"token":`), 400, authhttp.TypeMalformedRequest, "")
		r.mail.None(t)
	})
}

// TestEmailVerificationNotConfigured: without a Notifier there is no
// link to send: 501. A token is still checked (and refused).
func TestEmailVerificationNotConfigured(t *testing.T) {
	a := newAPI(t, memBackend(), nil)
	a.register("alice")
	access, _ := a.login("alice", goodPassword)
	p := a.want(a.do("POST", "/auth/email/verify/request", access, nil), http.StatusNotImplemented)
	if p["type"] != "about:blank" {
		t.Errorf("problem %v", p)
	}
	a.want(a.do("POST", "/auth/email/verify", "", map[string]string{"token": unknownToken()}), http.StatusBadRequest)
}

func TestChangeEmail(t *testing.T) {
	backends(t, func(t *testing.T, b backend) {
		r := newRecovery(t, b, nil)
		r.register("alice")
		r.register("bob")
		access, _ := r.login("alice", goodPassword)
		// Verify the first address, so that the change visibly unverifies.
		r.accepted(r.do("POST", "/auth/email/verify/request", access, nil))
		r.want(r.do("POST", "/auth/email/verify", "", map[string]string{
			"token": linkToken(t, nextOf(t, r.mail, notify.VerifyEmail, "alice@example.com"), verifyURL)}), http.StatusNoContent)

		change := func(email, current string) response {
			return r.do("POST", "/me/email", access, map[string]string{"email": email, "current_password": current})
		}
		r.problem(change("alice.new@example.com", "wrong password"), http.StatusForbidden, authhttp.TypeWrongPassword, "")
		r.problem(change("BOB@example.com", goodPassword), http.StatusConflict, authhttp.TypeTaken, "email")
		r.problem(change("not an address", goodPassword), 422, authhttp.TypeInvalidField, "email")
		r.problem(change("Alice@Example.com", goodPassword), 422, authhttp.TypeInvalidField, "email")
		r.want(r.do("POST", "/me/email", "", map[string]string{"email": "x@example.com", "current_password": goodPassword}), http.StatusUnauthorized)
		r.mail.None(t)

		view := r.want(change("Alice.New@Example.com", goodPassword), http.StatusOK)
		if view["email"] != "alice.new@example.com" || view["is_verified"] != false || view["email_verified_at"] != nil || view["username"] != "alice" {
			t.Errorf("view after the change: %v", view)
		}
		if _, ok := view["access_token"]; ok {
			t.Errorf("the change answered tokens: %v", view)
		}
		if notice := nextOf(t, r.mail, notify.EmailChanged, "alice@example.com"); notice.Link != "" {
			t.Errorf("the notice to the old address carries a link: %v", notice)
		}
		token := linkToken(t, nextOf(t, r.mail, notify.VerifyEmail, "alice.new@example.com"), verifyURL)

		// The session goes on; the new address logs in, the old one not.
		if me := r.want(r.do("GET", "/me", access, nil), 200); me["email"] != "alice.new@example.com" || me["is_verified"] != false {
			t.Errorf("/me after the change: %v", me)
		}
		if !r.canLogin("alice.new@example.com", goodPassword) || r.canLogin("alice@example.com", goodPassword) {
			t.Error("login by address after the change")
		}
		r.problem(change("alice.new@example.com", goodPassword), 422, authhttp.TypeInvalidField, "email")
		r.want(r.do("POST", "/auth/email/verify", "", map[string]string{"token": token}), http.StatusNoContent)
		if me := r.want(r.do("GET", "/me", access, nil), 200); me["is_verified"] != true {
			t.Errorf("/me after verifying the new address: %v", me)
		}
		r.mail.None(t)
	})
}

// TestRecoveryRoutes: the new routes answer other methods with a 405
// problem naming POST, and without Config.Reset the reset paths do not
// exist.
func TestRecoveryRoutes(t *testing.T) {
	r := newRecovery(t, memBackend(), nil)
	for _, path := range []string{"/auth/password/forgot", "/auth/password/reset", "/auth/email/verify/request",
		"/auth/email/verify", "/me/email"} {
		for _, method := range []string{"GET", "PUT", "DELETE"} {
			res := r.do(method, path, "", nil)
			r.want(res, http.StatusMethodNotAllowed)
			if got := res.header.Get("Allow"); got != "POST" {
				t.Errorf("%s %s: Allow %q", method, path, got)
			}
		}
	}

	a := newAPI(t, memBackend(), nil)
	for _, method := range []string{"POST", "GET"} {
		for _, path := range []string{"/auth/password/forgot", "/auth/password/reset"} {
			res := a.do(method, path, "", map[string]string{"email": "alice@example.com"})
			if p := a.want(res, http.StatusNotFound); p["type"] != "about:blank" || res.header.Get("Allow") != "" {
				t.Errorf("%s %s without Config.Reset: %v %v", method, path, p, res.header)
			}
		}
	}
}

// TestRecoveryLeaksNoSecret runs every recovery flow with every service
// and the handler logging at debug level and recording to an audit trail
// on the same store, then searches the logs, every audit row and every
// response body for the tokens and links the flows used (and the
// passwords): none may appear. The development notifier, on a logger of
// its own, is the one place that prints the links.
func TestRecoveryLeaksNoSecret(t *testing.T) {
	backends(t, func(t *testing.T, b backend) {
		logs, devLogs := &testkit.Buffer{}, &testkit.Buffer{}
		logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		dev := notify.Log(slog.New(slog.NewJSONHandler(devLogs, nil)))
		var trail *audit.Service
		r := newRecovery(t, b, func(r *recovery, c *stackConfig) {
			var err error
			if trail, err = audit.NewService(b.audit, audit.Config{Now: r.clock.Now, Logger: logger}); err != nil {
				t.Fatal(err)
			}
			// Every message is printed by the development notifier, then
			// kept in the mailbox.
			both := notify.Func(func(ctx context.Context, m notify.Message) error {
				if err := dev.Notify(ctx, m); err != nil {
					return err
				}
				return r.mail.Notify(ctx, m)
			})
			sessionDefaults, userDefaults, resetDefaults := c.session, c.user, c.reset
			c.session = func(sc *session.Config) {
				sessionDefaults(sc)
				sc.Logger, sc.Recorder = logger, trail
			}
			c.user = func(uc *user.Config) {
				userDefaults(uc)
				uc.Logger, uc.Recorder, uc.Notifier = logger, trail, both
			}
			c.reset = func(rc *reset.Config) {
				resetDefaults(rc)
				rc.Logger, rc.Recorder, rc.Notifier = logger, trail, both
			}
			c.handler = func(hc *authhttp.Config) { hc.Logger = logger }
		})
		var bodies [][]byte
		do := func(method, path, token string, body any) response {
			t.Helper()
			res := r.do(method, path, token, body)
			bodies = append(bodies, res.body)
			return res
		}
		var links []string // and their tokens
		keep := func(m notify.Message, base string) string {
			t.Helper()
			tok := linkToken(t, m, base)
			links = append(links, m.Link, tok)
			return tok
		}

		do("POST", "/auth/register", "", map[string]string{"username": "alice", "email": "alice@example.com", "password": goodPassword})
		access := r.want(do("POST", "/auth/login", "", map[string]string{"login": "alice", "password": goodPassword}), 200)["access_token"].(string)
		r.accepted(do("POST", "/auth/email/verify/request", access, nil))
		tok := keep(nextOf(t, r.mail, notify.VerifyEmail, "alice@example.com"), verifyURL)
		r.want(do("POST", "/auth/email/verify", "", map[string]string{"token": tok[:40]}), 400)
		r.want(do("POST", "/auth/email/verify", "", map[string]string{"token": tok}), 204)
		r.want(do("POST", "/auth/email/verify", "", map[string]string{"token": tok}), 400)

		r.want(do("POST", "/me/email", access, map[string]string{"email": "alice2@example.com", "current_password": goodPassword}), 200)
		nextOf(t, r.mail, notify.EmailChanged, "alice@example.com")
		keep(nextOf(t, r.mail, notify.VerifyEmail, "alice2@example.com"), verifyURL)

		r.accepted(do("POST", "/auth/password/forgot", "", map[string]string{"email": "nobody@example.com"}))
		r.accepted(do("POST", "/auth/password/forgot", "", map[string]string{"email": "alice2@example.com"}))
		tok = keep(nextOf(t, r.mail, notify.PasswordReset, "alice2@example.com"), resetURL)
		r.want(do("POST", "/auth/password/reset", "", map[string]string{"token": tok, "password": "short"}), 422)
		r.want(do("POST", "/auth/password/reset", "", map[string]string{"token": tok + "x", "password": newPassword}), 400)
		r.want(do("POST", "/auth/password/reset", "", map[string]string{"token": tok, "password": newPassword}), 204)
		nextOf(t, r.mail, notify.PasswordChanged, "alice2@example.com")
		r.want(do("POST", "/auth/password/reset", "", map[string]string{"token": tok, "password": newPassword}), 400)
		r.clock.Advance(31 * time.Minute)
		r.accepted(do("POST", "/auth/password/forgot", "", map[string]string{"email": "alice2@example.com"}))
		tok = keep(nextOf(t, r.mail, notify.PasswordReset, "alice2@example.com"), resetURL)
		r.clock.Advance(31 * time.Minute)
		r.want(do("POST", "/auth/password/reset", "", map[string]string{"token": tok, "password": newPassword}), 400)
		r.want(do("POST", "/auth/login", "", map[string]string{"login": "alice2@example.com", "password": newPassword}), 200)
		r.mail.None(t)

		var rows []byte
		q := audit.Query{Limit: 1000}
		for {
			page, err := trail.Query(context.Background(), q)
			if err != nil {
				t.Fatal(err)
			}
			j, err := json.Marshal(page.Events)
			if err != nil {
				t.Fatal(err)
			}
			rows = append(rows, j...)
			if q.Cursor = page.Next; q.Cursor == "" {
				break
			}
		}
		if !bytes.Contains(rows, []byte("password_reset_completed")) || !bytes.Contains(rows, []byte("email_verified")) {
			t.Fatalf("the trail lacks the flows' events: %s", rows)
		}
		if !strings.Contains(logs.String(), "authhttp: password reset refused") {
			t.Fatalf("the handler did not log: %s", logs)
		}
		places := map[string]string{"logs": logs.String(), "audit rows": string(rows), "response bodies": string(bytes.Join(bodies, nil))}
		for _, s := range append([]string{goodPassword, newPassword}, links...) {
			for place, text := range places {
				if strings.Contains(text, s) {
					t.Errorf("%s contain the secret %q", place, s)
				}
			}
		}
		dl := devLogs.String()
		if len(links) != 8 {
			t.Fatalf("%d links and tokens kept, want 8", len(links))
		}
		for _, s := range links {
			if !strings.Contains(dl, s) {
				t.Errorf("the development notifier did not print %q", s)
			}
		}
	})
}

// FuzzResetPasswordBody posts arbitrary bodies to /auth/password/reset
// on the memory store: never a server error, and a success only with the
// one token issued.
func FuzzResetPasswordBody(f *testing.F) {
	mail := testkit.NewMailbox()
	s := newStack(f, memBackend(), stackConfig{
		user: func(c *user.Config) { c.Queue.Workers = 1 },
		reset: func(c *reset.Config) {
			c.Notifier, c.URL, c.NoRateLimit = mail, resetURL, true
		},
	})
	rec := serve(s.h, "POST", "/auth/register", "", `{"username":"alice","email":"alice@example.com","password":"`+goodPassword+`"}`)
	if rec.Code != http.StatusCreated {
		f.Fatalf("register: %d %s", rec.Code, rec.Body)
	}
	if rec = serve(s.h, "POST", "/auth/password/forgot", "", `{"email":"alice@example.com"}`); rec.Code != http.StatusAccepted {
		f.Fatalf("forgot: %d %s", rec.Code, rec.Body)
	}
	var msg notify.Message
	select {
	case msg = <-mail.C:
	case <-time.After(30 * time.Second):
		f.Fatal("no reset link sent")
	}
	u, err := url.Parse(msg.Link)
	if err != nil {
		f.Fatal(err)
	}
	token := u.Query().Get("token")
	for _, body := range []string{
		`{"token":"` + token + `","password":"` + newPassword + `"}`,
		`{"token":"` + token + `","password":"short"}`,
		`{"token":"` + unknownToken() + `","password":"` + newPassword + `"}`,
		`{"token":"` + token[:42] + `=","password":"` + newPassword + `"}`,
		`{"token":"","password":""}`, `{}`, ``, `null`, `[]`, `"token"`, `{"token":null}`, `{"token":1e400}`,
		`{"token":"` + strings.Repeat("A", 4096) + `"}`, "{\"token\":\"\x00\xff\"}", `{"token":"a","token":"b"}`,
		`{"password":"` + strings.Repeat("p", 1000) + `","token":"` + token + `"}`, `{"token":"\ud800"}`,
	} {
		f.Add(body)
	}
	f.Fuzz(func(t *testing.T, body string) {
		rec := serve(s.h, "POST", "/auth/password/reset", "", body)
		switch {
		case rec.Code >= 500:
			t.Fatalf("%q: %d %s", body, rec.Code, rec.Body)
		case rec.Code == http.StatusNoContent:
			if !strings.Contains(body, token) {
				t.Fatalf("%q reset a password without the token", body)
			}
		case rec.Code < 400:
			t.Fatalf("%q: %d %s", body, rec.Code, rec.Body)
		}
		if rec.Code >= 400 && rec.Header().Get("Content-Type") != "application/problem+json" {
			t.Fatalf("%q: %d with Content-Type %q", body, rec.Code, rec.Header().Get("Content-Type"))
		}
	})
}
