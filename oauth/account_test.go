package oauth_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cedrina/cedrina/audit"
	"github.com/cedrina/cedrina/oauth"
	"github.com/cedrina/cedrina/oauth/oauthtest"
	"github.com/cedrina/cedrina/user"
)

const password = "a long enough passphrase"

func TestLinkFromSession(t *testing.T) {
	backends(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		e := newEnv(t, b)
		u, err := e.users.Register(ctx, user.Registration{Username: "bob", Email: "bob@example.com", Password: password})
		if err != nil {
			t.Fatal(err)
		}
		// The identity's address is another one, unverified: linking from
		// a session needs neither.
		e.github.SetUser(oauthtest.User{Subject: "42", Email: "bob@work.example", PreferredUsername: "bobby"})
		a, err := e.svc.BeginLink(ctx, "github", u.ID, "/account")
		if err != nil {
			t.Fatal(err)
		}
		res, err := e.svc.Complete(ctx, e.authorize("github", a))
		if err != nil {
			t.Fatal(err)
		}
		if res.Outcome != oauth.Linked || res.User.ID != u.ID || res.ReturnTo != "/account" {
			t.Fatalf("result %+v", res)
		}
		if ev := e.rec.Of(audit.OAuthLinked); len(ev) != 1 || ev[0].Data["how"] != "from_session" || *ev[0].UserID != u.ID {
			t.Fatalf("oauth_linked %+v", ev)
		}
		// The identity now signs bob in.
		again, err := e.signIn("github")
		if err != nil || again.Outcome != oauth.SignedIn || again.User.ID != u.ID {
			t.Fatalf("sign-in through the linked identity: %+v, %v", again, err)
		}

		// Another account cannot take it.
		carol, err := e.users.Register(ctx, user.Registration{Username: "carol", Email: "carol@example.com", Password: password})
		if err != nil {
			t.Fatal(err)
		}
		a, err = e.svc.BeginLink(ctx, "github", carol.ID, "")
		if err != nil {
			t.Fatal(err)
		}
		_, err = e.svc.Complete(ctx, e.authorize("github", a))
		e.refused(err, oauth.ReasonIdentityTaken)

		// Bob cannot link a second GitHub account.
		e.github.SetUser(oauthtest.User{Subject: "43", Email: "bob2@example.com"})
		a, _ = e.svc.BeginLink(ctx, "github", u.ID, "")
		_, err = e.svc.Complete(ctx, e.authorize("github", a))
		e.refused(err, oauth.ReasonProviderLinked)
	})
}

// A link flow that straddles a password change links nothing: the stamp
// read at BeginLink is the link's condition.
func TestLinkVoidedByPasswordChange(t *testing.T) {
	backends(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		e := newEnv(t, b)
		u, err := e.users.Register(ctx, user.Registration{Username: "bob", Email: "bob@example.com", Password: password})
		if err != nil {
			t.Fatal(err)
		}
		e.oidc.SetUser(oauthtest.User{Subject: "mallory", Email: "mallory@example.com"})
		a, err := e.svc.BeginLink(ctx, "acme", u.ID, "")
		if err != nil {
			t.Fatal(err)
		}
		cb := e.authorize("acme", a)
		if err := e.users.ChangePassword(ctx, u.ID, password, "another long passphrase"); err != nil {
			t.Fatal(err)
		}
		_, err = e.svc.Complete(ctx, cb)
		e.refused(err, oauth.ReasonAccountChanged)
		if ps, _ := e.svc.Identities(ctx, u.ID); len(ps) != 0 {
			t.Fatalf("linked %+v", ps)
		}
	})
}

func TestDeactivatedAccountCannotSignIn(t *testing.T) {
	backends(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		e := newEnv(t, b)
		res := e.signUpAlice()
		if _, err := e.users.Deactivate(ctx, res.User.ID); err != nil {
			t.Fatal(err)
		}
		_, err := e.signIn("acme")
		e.refused(err, oauth.ReasonAccountInactive)
	})
}

// An account made through OAuth has no password: a password login is
// refused as a wrong password (never a server error) until a password is
// set, which a reset does.
func TestPasswordlessAccount(t *testing.T) {
	backends(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		e := newEnv(t, b)
		res := e.signUpAlice()
		for _, pw := range []string{"", user.NoPassword, "anything at all", strings.Repeat("x", 100)} {
			_, err := e.users.Login(ctx, "alice", pw)
			var ae *user.AuthError
			if !errors.As(err, &ae) || ae.Reason != user.AuthWrongPassword {
				t.Fatalf("login with %q: %v; want a wrong password", pw, err)
			}
		}
		if err := e.users.ChangePassword(ctx, res.User.ID, user.NoPassword, "a brand new passphrase"); !errors.Is(err, user.ErrInvalidCredentials) {
			t.Fatalf("change password without one: %v", err)
		}
		// Its only identity cannot go.
		if err := e.svc.Unlink(ctx, res.User.ID, "acme"); !errors.Is(err, oauth.ErrLastSignInMethod) {
			t.Fatalf("Unlink of the last identity: %v", err)
		}
		// A second identity can, then the first cannot.
		e.github.SetUser(oauthtest.User{Subject: "7", Email: "alice@example.com"})
		a, _ := e.svc.BeginLink(ctx, "github", res.User.ID, "")
		if _, err := e.svc.Complete(ctx, e.authorize("github", a)); err != nil {
			t.Fatal(err)
		}
		if err := e.svc.Unlink(ctx, res.User.ID, "acme"); err != nil {
			t.Fatal(err)
		}
		if err := e.svc.Unlink(ctx, res.User.ID, "github"); !errors.Is(err, oauth.ErrLastSignInMethod) {
			t.Fatalf("Unlink of the last identity: %v", err)
		}
		if err := e.svc.Unlink(ctx, res.User.ID, "acme"); !errors.Is(err, oauth.ErrNotFound) {
			t.Fatalf("Unlink of an identity not linked: %v", err)
		}
		if ev := e.rec.Of(audit.OAuthUnlinked); len(ev) != 1 || ev[0].Data["provider"] != "ACME" {
			t.Fatalf("oauth_unlinked %+v", ev)
		}
		// A password set (as a reset does) makes the last identity removable.
		u, _ := e.users.Get(ctx, res.User.ID)
		hash, err := e.users.PreparePassword(ctx, u, "a brand new passphrase")
		if err != nil {
			t.Fatal(err)
		}
		if err := e.users.SetPasswordHash(ctx, u.ID, hash, u.SecurityStamp); err != nil {
			t.Fatal(err)
		}
		if _, err := e.users.Login(ctx, "alice", "a brand new passphrase"); err != nil {
			t.Fatalf("login after the password was set: %v", err)
		}
		if err := e.svc.Unlink(ctx, res.User.ID, "github"); err != nil {
			t.Fatalf("Unlink with a password: %v", err)
		}
		if err := e.svc.Unlink(ctx, res.User.ID, "no such!"); !errors.Is(err, oauth.ErrUnknownProvider) {
			t.Fatalf("Unlink of an invalid provider name: %v", err)
		}
	})
}

// Stored provider tokens are sealed: the raw row holds neither token,
// and only the key opens it.
func TestStoredTokensSealed(t *testing.T) {
	backends(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		e := newEnv(t, b)
		res := e.signUpAlice()
		tok, err := e.svc.ProviderToken(ctx, res.User.ID, "acme")
		if err != nil {
			t.Fatal(err)
		}
		if len(tok.AccessToken) < 20 || len(tok.RefreshToken) < 20 {
			t.Fatalf("tokens %d and %d bytes", len(tok.AccessToken), len(tok.RefreshToken))
		}
		for column, plain := range map[string]string{"access_token": tok.AccessToken, "refresh_token": tok.RefreshToken} {
			raw := b.raw(t, res.User.ID, "ACME", column)
			if !strings.HasPrefix(raw, "v1:k1:") || strings.Contains(raw, plain) {
				t.Fatalf("%s stored as %q", column, raw)
			}
			other, _ := oauth.NewCipher(oauth.Key{ID: "k1", Secret: make([]byte, 32)})
			if _, err := other.Open(raw, res.User.ID, "ACME"); !errors.Is(err, oauth.ErrTokenUnreadable) {
				t.Fatalf("another key opened %s: %v", column, err)
			}
			if got, err := e.cipher.Open(raw, res.User.ID, "ACME"); err != nil || got != plain {
				t.Fatalf("the key does not open %s: %v", column, err)
			}
		}
		// Secrets never reach the log or the audit trail.
		e.oidc.Misbehave(oauthtest.Misbehaviour{IDTokenNonce: "x"})
		a := e.begin("acme")
		cb := e.authorize("acme", a)
		_, _ = e.svc.Complete(ctx, cb)
		var all strings.Builder
		all.WriteString(e.logs.String())
		for _, ev := range e.rec.All() {
			all.WriteString(string(ev.Type))
			for k, v := range ev.Data {
				all.WriteString(k)
				if s, ok := v.(string); ok {
					all.WriteString(s)
				}
			}
		}
		for _, secret := range []string{tok.AccessToken, tok.RefreshToken, cb.Code, cb.State, a.State, e.oidc.ClientSecret()} {
			if strings.Contains(all.String(), secret) {
				t.Fatalf("a secret reached the log or the audit trail")
			}
		}
	})
}

// Spent states are kept until a minute after they expire, then Cleanup
// deletes them.
func TestCleanup(t *testing.T) {
	backends(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		e := newEnv(t, b)
		e.oidc.SetUser(alice)
		for range 3 {
			if _, err := e.signIn("acme"); err != nil {
				t.Fatal(err)
			}
		}
		e.clock.Advance(10 * time.Minute)
		if n, err := e.svc.Cleanup(ctx, 2); err != nil || n != 0 {
			t.Fatalf("Cleanup at expiry: %d, %v; want 0 (grace)", n, err)
		}
		e.clock.Advance(oauth.StateGrace)
		if n, err := e.svc.Cleanup(ctx, 2); err != nil || n != 3 {
			t.Fatalf("Cleanup after the grace: %d, %v; want 3", n, err)
		}
	})
}
