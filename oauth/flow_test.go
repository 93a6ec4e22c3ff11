package oauth_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/cedrina/cedrina/audit"
	"github.com/cedrina/cedrina/internal/pgtest"
	"github.com/cedrina/cedrina/internal/testkit"
	"github.com/cedrina/cedrina/oauth"
	"github.com/cedrina/cedrina/oauth/oauthtest"
	"github.com/cedrina/cedrina/store"
	"github.com/cedrina/cedrina/store/memory"
	"github.com/cedrina/cedrina/store/postgres"
	"github.com/cedrina/cedrina/user"
)

// backend is one adapter's stores.
type backend struct {
	name  string
	tx    store.Transactor
	users user.Store
	oauth oauth.Store
	// raw reads a column of the user's oauth_profiles row as stored.
	raw func(t *testing.T, userID int64, provider, column string) string
}

// backends runs fn on the memory store and, with
// CEDRINA_TEST_DATABASE_URL set, on PostgreSQL.
func backends(t *testing.T, fn func(t *testing.T, b backend)) {
	t.Helper()
	t.Run("memory", func(t *testing.T) {
		t.Parallel()
		db := memory.New()
		fn(t, backend{name: "memory", tx: db, users: db.Users(), oauth: db.OAuth(),
			raw: func(t *testing.T, userID int64, provider, column string) string {
				ps, err := db.OAuth().ByUser(context.Background(), userID)
				if err != nil {
					t.Fatal(err)
				}
				for _, p := range ps {
					if p.Provider == provider && column == "access_token" {
						return p.AccessToken
					} else if p.Provider == provider && column == "refresh_token" {
						return p.RefreshToken
					}
				}
				t.Fatalf("no %s profile of user %d", provider, userID)
				return ""
			}})
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		x := pgtest.DB(t)
		db, err := postgres.New(x, postgres.Config{})
		if err != nil {
			t.Fatal(err)
		}
		fn(t, backend{name: "postgres", tx: db, users: db.Users(), oauth: db.OAuth(),
			raw: func(t *testing.T, userID int64, provider, column string) string {
				var v *string
				err := x.QueryRow(`SELECT `+column+` FROM oauth_profiles WHERE user_id = $1 AND provider = $2`, userID, provider).Scan(&v)
				if err != nil {
					t.Fatal(err)
				}
				if v == nil {
					return ""
				}
				return *v
			}})
	})
}

// fresh runs fn as the parallel subtest name, on fresh stores of every
// backend.
func fresh(t *testing.T, name string, fn func(t *testing.T, b backend)) {
	t.Run(name, func(t *testing.T) {
		t.Parallel()
		backends(t, fn)
	})
}

// env is an oauth.Service on a backend with three fake providers: an
// OpenID Connect one ("acme"), a GitHub and a Facebook one.
type env struct {
	t      *testing.T
	b      backend
	clock  *testkit.Clock
	oidc   *oauthtest.Provider
	github *oauthtest.Provider
	fb     *oauthtest.Provider
	users  *user.Service
	svc    *oauth.Service
	cipher *oauth.Cipher
	rec    *testkit.Events
	logs   *testkit.Buffer
}

const redirectBase = "https://app.example.com/auth/oauth/"

func newEnv(t *testing.T, b backend, mutate ...func(*oauth.Config)) *env {
	t.Helper()
	e := &env{t: t, b: b, clock: testkit.NewClock(time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)), rec: &testkit.Events{}, logs: &testkit.Buffer{}}
	fake := func(name string) *oauthtest.Provider {
		return oauthtest.New(t, oauthtest.Config{RedirectURLs: []string{redirectBase + name + "/callback"}, Now: e.clock.Now})
	}
	e.oidc, e.github, e.fb = fake("acme"), fake("github"), fake("facebook")
	hasher, err := user.NewHasher(user.HashConfig{Argon2id: user.Argon2idParams{Memory: 64, Time: 1, Threads: 1}})
	if err != nil {
		t.Fatal(err)
	}
	if e.users, err = user.NewService(b.users, user.Config{Hasher: hasher, Now: e.clock.Now, Recorder: e.rec}); err != nil {
		t.Fatal(err)
	}
	acme, err := oauth.OIDC("acme", oauth.ProviderConfig{Issuer: e.oidc.Issuer(), ClientID: e.oidc.ClientID(), ClientSecret: e.oidc.ClientSecret(),
		RedirectURL: redirectBase + "acme/callback", HTTPClient: e.oidc.Client()})
	if err != nil {
		t.Fatal(err)
	}
	gh, err := oauth.GitHub(oauth.ProviderConfig{ClientID: e.github.ClientID(), ClientSecret: e.github.ClientSecret(),
		RedirectURL: redirectBase + "github/callback", AuthURL: e.github.AuthURL(), Issuer: e.github.Issuer(), TokenURL: e.github.TokenURL(),
		APIURL: e.github.GitHubAPIURL(), HTTPClient: e.github.Client()})
	if err != nil {
		t.Fatal(err)
	}
	fb, err := oauth.Facebook(oauth.ProviderConfig{ClientID: e.fb.ClientID(), ClientSecret: e.fb.ClientSecret(),
		RedirectURL: redirectBase + "facebook/callback", AuthURL: e.fb.AuthURL(), TokenURL: e.fb.TokenURL(),
		APIURL: e.fb.FacebookGraphURL(), HTTPClient: e.fb.Client()})
	if err != nil {
		t.Fatal(err)
	}
	e.cipher, err = oauth.NewCipher(oauth.Key{ID: "k1", Secret: bytes.Repeat([]byte{3}, 32)})
	if err != nil {
		t.Fatal(err)
	}
	cfg := oauth.Config{Providers: []*oauth.Provider{acme, gh, fb}, Users: e.users, Store: b.oauth, Tx: b.tx, Cipher: e.cipher,
		ReturnTo: []string{"https://app.example.com/", "/account"}, Now: e.clock.Now, Recorder: e.rec,
		Logger: slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	for _, m := range mutate {
		m(&cfg)
	}
	if e.svc, err = oauth.NewService(cfg); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *env) fake(provider string) *oauthtest.Provider {
	switch provider {
	case "github":
		return e.github
	case "facebook":
		return e.fb
	}
	return e.oidc
}

// begin starts a flow.
func (e *env) begin(provider string) *oauth.Authorization {
	e.t.Helper()
	a, err := e.svc.Begin(context.Background(), provider, "")
	if err != nil {
		e.t.Fatal(err)
	}
	return a
}

// authorize sends the browser to the provider and returns the callback
// it is sent back with, carrying the flow's cookie.
func (e *env) authorize(provider string, a *oauth.Authorization) oauth.Callback {
	e.t.Helper()
	back, err := e.fake(provider).Authorize(a.URL)
	if err != nil {
		e.t.Fatal(err)
	}
	if !strings.HasPrefix(back.String(), redirectBase+provider+"/callback") {
		e.t.Fatalf("the provider sent the browser to %s", back.Redacted())
	}
	r := httptest.NewRequest(http.MethodGet, back.String(), nil)
	r.AddCookie(&http.Cookie{Name: oauth.StateCookieName, Value: a.State})
	return oauth.CallbackFromRequest(r, provider)
}

// signIn runs a whole flow.
func (e *env) signIn(provider string) (*oauth.Result, error) {
	e.t.Helper()
	return e.svc.Complete(context.Background(), e.authorize(provider, e.begin(provider)))
}

// signUpAlice signs alice up through the OpenID Connect provider.
func (e *env) signUpAlice() *oauth.Result {
	e.t.Helper()
	e.oidc.SetUser(alice)
	res, err := e.signIn("acme")
	if err != nil {
		e.t.Fatal(err)
	}
	return res
}

// refused checks that err is a callback refusal for reason, recorded as
// oauth_refused.
func (e *env) refused(err error, reason oauth.Reason) {
	e.t.Helper()
	var ce *oauth.CallbackError
	if !errors.As(err, &ce) || ce.Reason != reason || !errors.Is(err, oauth.ErrCallbackRefused) {
		e.t.Fatalf("err = %v; want a refusal for %s", err, reason)
	}
	for _, ev := range e.rec.Of(audit.OAuthRefused) {
		if ev.Data["reason"] == string(reason) {
			return
		}
	}
	e.t.Fatalf("no oauth_refused event with reason %s", reason)
}

var alice = oauthtest.User{Subject: "alice-sub", Email: "alice@example.com", EmailVerified: true, Name: "Alice Liddell", PreferredUsername: "alice"}

func TestSignUpAndSignInOIDC(t *testing.T) {
	backends(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		res := e.signUpAlice()
		u := res.User
		if res.Outcome != oauth.SignedUp || u.Username != "alice" || u.Email != "alice@example.com" || !u.IsVerified || u.HasPassword() {
			t.Fatalf("signed up %+v (%s); want alice, verified, without a password", u, res.Outcome)
		}
		if u.LastLoginAt == nil || res.ReturnTo != "https://app.example.com/" || res.Identity.Subject != "alice-sub" || res.Identity.Provider != "ACME" {
			t.Fatalf("result %+v, identity %+v", res, res.Identity)
		}
		ps, err := e.svc.Identities(context.Background(), u.ID)
		if err != nil || len(ps) != 1 || ps[0].Provider != "ACME" || ps[0].ProviderUserID != "alice-sub" || ps[0].UserInfo["email"] != "alice@example.com" {
			t.Fatalf("identities %+v, %v", ps, err)
		}
		for _, k := range []string{"nonce", "aud", "iss", "exp"} {
			if _, ok := ps[0].UserInfo[k]; ok {
				t.Errorf("user_info keeps the ID token's %s", k)
			}
		}
		if ps[0].TokenExpiresAt == nil || !ps[0].TokenExpiresAt.After(e.clock.Now()) {
			t.Errorf("token_expires_at %v", ps[0].TokenExpiresAt)
		}

		e.clock.Advance(time.Minute)
		again, err := e.signIn("acme")
		if err != nil {
			t.Fatal(err)
		}
		if again.Outcome != oauth.SignedIn || again.User.ID != u.ID {
			t.Fatalf("second sign-in: %s user %d; want signed_in %d", again.Outcome, again.User.ID, u.ID)
		}
		if n := len(e.rec.Of(audit.OAuthLogin)); n != 2 {
			t.Errorf("%d oauth_login events; want 2", n)
		}
		if ev := e.rec.Of(audit.OAuthLinked); len(ev) != 1 || ev[0].Data["how"] != "sign_up" || ev[0].Data["provider"] != "ACME" {
			t.Errorf("oauth_linked events %+v", ev)
		}
		if ev := e.rec.Of(audit.UserRegistered); len(ev) != 1 || ev[0].Data["method"] != "oauth" {
			t.Errorf("user_registered events %+v", ev)
		}
	})
}

func TestSignUpGitHubAndFacebook(t *testing.T) {
	backends(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		e.github.SetUser(oauthtest.User{Subject: "583231", Email: "octo@example.com", EmailVerified: true, PreferredUsername: "octocat", Name: "The Octocat"})
		res, err := e.signIn("github")
		if err != nil {
			t.Fatal(err)
		}
		if res.Outcome != oauth.SignedUp || res.Identity.Subject != "583231" || res.User.Username != "octocat" || !res.User.IsVerified {
			t.Fatalf("GitHub sign-up: %+v %+v", res.Identity, res.User)
		}
		e.fb.SetUser(oauthtest.User{Subject: "10150", Email: "zoe@example.com", Name: "Zoë Müller"})
		res, err = e.signIn("facebook")
		if err != nil {
			t.Fatal(err)
		}
		if res.Outcome != oauth.SignedUp || res.Identity.Provider != "FACEBOOK" || res.User.Username != "zoe" || res.User.IsVerified {
			t.Fatalf("Facebook sign-up: %+v %+v", res.Identity, res.User)
		}
	})
}

func TestUsernameMadeUnique(t *testing.T) {
	backends(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		if _, err := e.users.Register(context.Background(), user.Registration{Username: "alice", Email: "other@example.com", Password: "a long enough passphrase"}); err != nil {
			t.Fatal(err)
		}
		res := e.signUpAlice()
		if name := string(res.User.Username); !strings.HasPrefix(name, "alice-") || len(name) != len("alice-")+6 {
			t.Fatalf("username %q; want alice-NNNNNN", name)
		}
	})
}

// The must-show refusals: state, PKCE, ID token, provider errors.
func TestCallbackRefusals(t *testing.T) {
	ctx := context.Background()
	fresh(t, "missing cookie", func(t *testing.T, b backend) {
		e := newEnv(t, b)
		cb := e.authorize("acme", e.begin("acme"))
		cb.Cookie = ""
		_, err := e.svc.Complete(ctx, cb)
		e.refused(err, oauth.ReasonStateMissing)
	})
	fresh(t, "missing state", func(t *testing.T, b backend) {
		e := newEnv(t, b)
		cb := e.authorize("acme", e.begin("acme"))
		cb.State = ""
		_, err := e.svc.Complete(ctx, cb)
		e.refused(err, oauth.ReasonStateMissing)
	})
	fresh(t, "wrong state", func(t *testing.T, b backend) {
		e := newEnv(t, b)
		cb := e.authorize("acme", e.begin("acme"))
		cb.Cookie = e.begin("acme").State // another flow of the same browser
		_, err := e.svc.Complete(ctx, cb)
		e.refused(err, oauth.ReasonStateMismatch)
	})
	fresh(t, "forged cookie", func(t *testing.T, b backend) {
		e := newEnv(t, b)
		other := newEnv(t, b) // another service: another state key
		cb := e.authorize("acme", e.begin("acme"))
		a := other.begin("acme")
		cb.Cookie = a.State
		_, err := e.svc.Complete(ctx, cb)
		e.refused(err, oauth.ReasonStateInvalid)
		cb.Cookie = strings.Repeat("A", 100)
		_, err = e.svc.Complete(ctx, cb)
		e.refused(err, oauth.ReasonStateInvalid)
	})
	fresh(t, "replayed state", func(t *testing.T, b backend) {
		e := newEnv(t, b)
		e.oidc.SetUser(alice)
		cb := e.authorize("acme", e.begin("acme"))
		if _, err := e.svc.Complete(ctx, cb); err != nil {
			t.Fatal(err)
		}
		before := e.oidc.TokenRequests()
		_, err := e.svc.Complete(ctx, cb)
		e.refused(err, oauth.ReasonStateReplayed)
		if e.oidc.TokenRequests() != before {
			t.Fatal("a replayed state reached the token endpoint")
		}
	})
	fresh(t, "expired state", func(t *testing.T, b backend) {
		e := newEnv(t, b)
		cb := e.authorize("acme", e.begin("acme"))
		e.clock.Advance(10*time.Minute + time.Second)
		_, err := e.svc.Complete(ctx, cb)
		e.refused(err, oauth.ReasonStateExpired)
	})
	fresh(t, "flow of another provider", func(t *testing.T, b backend) {
		e := newEnv(t, b)
		cb := e.authorize("acme", e.begin("acme"))
		cb.Provider = "github" // the acme flow's answer at GitHub's callback
		_, err := e.svc.Complete(ctx, cb)
		e.refused(err, oauth.ReasonProviderMismatch)
	})
	fresh(t, "wrong PKCE verifier", func(t *testing.T, b backend) {
		e := newEnv(t, b)
		e.oidc.SetUser(alice)
		first := e.authorize("acme", e.begin("acme"))
		second := e.authorize("acme", e.begin("acme"))
		// The first flow's code with the second flow's state and
		// cookie: the verifier is not the one the code was issued to.
		second.Code = first.Code
		_, err := e.svc.Complete(ctx, second)
		e.refused(err, oauth.ReasonExchangeFailed)
		if n := len(e.rec.Of(audit.OAuthLogin)); n != 0 {
			t.Fatalf("%d logins", n)
		}
	})
	fresh(t, "issuer parameter of another provider", func(t *testing.T, b backend) {
		e := newEnv(t, b)
		e.oidc.Misbehave(oauthtest.Misbehaviour{AuthorizeIss: "https://attacker.example"})
		_, err := e.signIn("acme")
		e.refused(err, oauth.ReasonIssuerMismatch)
	})
	fresh(t, "no issuer parameter where the provider promises one", func(t *testing.T, b backend) {
		e := newEnv(t, b)
		cb := e.authorize("acme", e.begin("acme"))
		cb.Issuer = ""
		_, err := e.svc.Complete(ctx, cb)
		e.refused(err, oauth.ReasonIssuerMismatch)
	})
	fresh(t, "issuer parameter of another provider at GitHub", func(t *testing.T, b backend) {
		e := newEnv(t, b)
		e.github.Misbehave(oauthtest.Misbehaviour{AuthorizeIss: "https://attacker.example"})
		_, err := e.signIn("github")
		e.refused(err, oauth.ReasonIssuerMismatch)
	})
	fresh(t, "no code", func(t *testing.T, b backend) {
		e := newEnv(t, b)
		cb := e.authorize("acme", e.begin("acme"))
		cb.Code = ""
		_, err := e.svc.Complete(ctx, cb)
		e.refused(err, oauth.ReasonCodeMissing)
	})
	for name, tc := range map[string]struct {
		m      oauthtest.Misbehaviour
		reason oauth.Reason
	}{
		"ID token bad signature":   {oauthtest.Misbehaviour{IDTokenWrongKey: true}, oauth.ReasonIDTokenSignature},
		"ID token unsigned":        {oauthtest.Misbehaviour{IDTokenAlgNone: true}, oauth.ReasonIDTokenSignature},
		"ID token wrong issuer":    {oauthtest.Misbehaviour{IDTokenIssuer: "https://attacker.example"}, oauth.ReasonIDTokenIssuer},
		"ID token wrong audience":  {oauthtest.Misbehaviour{IDTokenAudience: "another-client"}, oauth.ReasonIDTokenAudience},
		"ID token expired":         {oauthtest.Misbehaviour{IDTokenExpired: true}, oauth.ReasonIDTokenExpired},
		"ID token wrong nonce":     {oauthtest.Misbehaviour{IDTokenNonce: "another-nonce"}, oauth.ReasonNonceMismatch},
		"ID token missing":         {oauthtest.Misbehaviour{OmitIDToken: true}, oauth.ReasonIDTokenMissing},
		"provider error":           {oauthtest.Misbehaviour{AuthorizeError: "access_denied"}, oauth.ReasonProviderError},
		"token endpoint error":     {oauthtest.Misbehaviour{TokenError: "invalid_grant"}, oauth.ReasonExchangeFailed},
		"token endpoint 500":       {oauthtest.Misbehaviour{TokenStatus: 500}, oauth.ReasonExchangeFailed},
		"token malformed JSON":     {oauthtest.Misbehaviour{TokenMalformedJSON: true}, oauth.ReasonExchangeFailed},
		"userinfo 500":             {oauthtest.Misbehaviour{UserInfoStatus: 500}, oauth.ReasonUserInfoFailed},
		"userinfo malformed JSON":  {oauthtest.Misbehaviour{UserInfoMalformedJSON: true}, oauth.ReasonUserInfoFailed},
		"userinfo another subject": {oauthtest.Misbehaviour{UserInfoSubject: "mallory"}, oauth.ReasonUserInfoFailed},
	} {
		fresh(t, name, func(t *testing.T, b backend) {
			e := newEnv(t, b)
			e.oidc.SetUser(alice)
			e.oidc.Misbehave(tc.m)
			_, err := e.signIn("acme")
			e.refused(err, tc.reason)
			if n := len(e.rec.Of(audit.OAuthLogin)) + len(e.rec.Of(audit.UserRegistered)); n != 0 {
				t.Fatalf("%d logins or registrations", n)
			}
		})
	}
	for name, m := range map[string]oauthtest.Misbehaviour{
		"GitHub API 500":            {UserInfoStatus: 500},
		"GitHub API malformed JSON": {UserInfoMalformedJSON: true},
		"GitHub token error":        {TokenError: "bad_verification_code"},
	} {
		fresh(t, name, func(t *testing.T, b backend) {
			e := newEnv(t, b)
			e.github.Misbehave(m)
			_, err := e.signIn("github")
			var ce *oauth.CallbackError
			if !errors.As(err, &ce) || (ce.Reason != oauth.ReasonUserInfoFailed && ce.Reason != oauth.ReasonExchangeFailed) {
				t.Fatalf("err = %v", err)
			}
		})
	}
	fresh(t, "discovery names another issuer", func(t *testing.T, b backend) {
		e := newEnv(t, b)
		e.oidc.Misbehave(oauthtest.Misbehaviour{DiscoveryIssuer: "https://attacker.example"})
		if _, err := e.svc.Begin(ctx, "acme", ""); !errors.Is(err, oauth.ErrProviderUnavailable) {
			t.Fatalf("Begin: %v; want ErrProviderUnavailable", err)
		}
	})
}

// An address that matches an existing account logs in or links only when
// the provider verified it and so did the account.
func TestEmailMatch(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name                  string
		providerSays, account bool
		want                  oauth.Outcome
	}{
		{"unverified by the provider", false, true, ""},
		{"unverified by the account", true, false, ""},
		{"unverified by both", false, false, ""},
		{"verified by both", true, true, oauth.LinkedByEmail},
	} {
		fresh(t, tc.name, func(t *testing.T, b backend) {
			e := newEnv(t, b)
			local, err := e.users.Register(ctx, user.Registration{Username: "alice_local", Email: "alice@example.com", Password: "a long enough passphrase"})
			if err != nil {
				t.Fatal(err)
			}
			if tc.account {
				e.verify(local.ID)
			}
			a := alice
			a.EmailVerified = tc.providerSays
			e.oidc.SetUser(a)
			res, err := e.signIn("acme")
			if tc.want == "" {
				if !errors.Is(err, oauth.ErrLinkRequired) {
					t.Fatalf("err = %v; want ErrLinkRequired", err)
				}
				e.refused(err, oauth.ReasonLinkRequired)
				if ps, _ := e.svc.Identities(ctx, local.ID); len(ps) != 0 {
					t.Fatalf("linked: %+v", ps)
				}
				if n := len(e.rec.Of(audit.OAuthLogin)); n != 0 {
					t.Fatalf("%d logins", n)
				}
				return
			}
			if err != nil || res.Outcome != tc.want || res.User.ID != local.ID {
				t.Fatalf("res %+v, %v", res, err)
			}
			if ev := e.rec.Of(audit.OAuthLinked); len(ev) != 1 || ev[0].Data["how"] != "email_match" {
				t.Fatalf("oauth_linked %+v", ev)
			}
		})
	}
	fresh(t, "Facebook never links by address", func(t *testing.T, b backend) {
		e := newEnv(t, b)
		local, err := e.users.Register(ctx, user.Registration{Username: "zoe", Email: "zoe@example.com", Password: "a long enough passphrase"})
		if err != nil {
			t.Fatal(err)
		}
		e.verify(local.ID)
		e.fb.SetUser(oauthtest.User{Subject: "1", Email: "zoe@example.com", EmailVerified: true})
		_, err = e.signIn("facebook")
		e.refused(err, oauth.ReasonLinkRequired)
	})
}

// verify marks the user's address verified, as the verification flow
// does.
func (e *env) verify(id int64) {
	e.t.Helper()
	mb := testkit.NewMailbox()
	hasher, _ := user.NewHasher(user.HashConfig{Argon2id: user.Argon2idParams{Memory: 64, Time: 1, Threads: 1}})
	us, err := user.NewService(e.b.users, user.Config{Hasher: hasher, Now: e.clock.Now, Notifier: mb,
		Verification: user.VerificationConfig{URL: "https://app.example.com/verify"}})
	if err != nil {
		e.t.Fatal(err)
	}
	defer us.Close(context.Background())
	if err := us.RequestVerification(context.Background(), id); err != nil {
		e.t.Fatal(err)
	}
	link, _ := url.Parse(mb.Next(e.t).Link)
	if _, err := us.VerifyEmail(context.Background(), link.Query().Get("token")); err != nil {
		e.t.Fatal(err)
	}
}

// What a provider says is not trusted to be storable or safe: NUL
// characters, SQL metacharacters, look-alike letters, huge values.
func TestUntrustedProviderText(t *testing.T) {
	backends(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		e := newEnv(t, b)
		e.oidc.SetUser(oauthtest.User{Subject: "'; DROP TABLE users; --", Email: "nul@example.com", EmailVerified: true,
			Name: "Nul\x00Name", PreferredUsername: "аdmin", Picture: strings.Repeat("p", 10_000)})
		res, err := e.signIn("acme")
		if err != nil {
			t.Fatal(err)
		}
		if res.User.Username == "admin" || res.Identity.Subject != "'; DROP TABLE users; --" {
			t.Fatalf("user %q, subject %q", res.User.Username, res.Identity.Subject)
		}
		ps, err := e.svc.Identities(ctx, res.User.ID)
		if err != nil || len(ps) != 1 || ps[0].UserInfo["name"] != "Nul\uFFFDName" {
			t.Fatalf("identities %+v, %v", ps, err)
		}
		if res.User.ProfileData["name"] != "Nul\uFFFDName" {
			t.Fatalf("profile %v", res.User.ProfileData)
		}
		// A subject that cannot be stored is refused, not a server error.
		e.oidc.SetUser(oauthtest.User{Subject: strings.Repeat("s", 256), Email: "long@example.com"})
		_, err = e.signIn("acme")
		e.refused(err, oauth.ReasonUserInfoFailed)
	})
}
