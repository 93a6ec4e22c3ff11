package authhttp_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cedrina/cedrina/audit"
	"github.com/cedrina/cedrina/authhttp"
	"github.com/cedrina/cedrina/internal/testkit"
	"github.com/cedrina/cedrina/oauth"
	"github.com/cedrina/cedrina/oauth/oauthtest"
	"github.com/cedrina/cedrina/ratelimit"
	"github.com/cedrina/cedrina/session"
	"github.com/cedrina/cedrina/user"
)

// The tests below run the API over TLS (httptest.NewUnstartedServer,
// then StartTLS) with a client that has a cookie jar and follows no
// redirects: the state cookie and the session cookie are Secure
// __Host- cookies, which a jar keeps and sends back over HTTPS only, as a
// browser does. The jar then carries the state cookie from start to the
// callback by itself, and drops it when the callback clears it; a test
// that replays a callback sets the cookie by hand.

// has reports whether an event of type typ was recorded whose data holds
// every pair of kv.
func has(l *testkit.Events, typ audit.EventType, kv ...string) bool {
	for _, e := range l.Of(typ) {
		ok := true
		for i := 0; i+1 < len(kv); i += 2 {
			ok = ok && e.Data[kv[i]] == kv[i+1]
		}
		if ok {
			return true
		}
	}
	return false
}

// oauthAPI is the handler with an oauth.Service over two fake
// providers, "acme" (OpenID Connect) and "github", served over TLS.
type oauthAPI struct {
	*api
	st     *stack
	svc    *oauth.Service
	acme   *oauthtest.Provider
	github *oauthtest.Provider
	clock  *testkit.Clock
	events *testkit.Events
	logs   *testkit.Buffer
}

// oauthConfig adjusts newOAuthAPI's configuration.
type oauthConfig struct {
	oauth   func(*oauth.Config)
	handler func(*authhttp.Config)
}

const appOrigin = "https://app.example.com"

func newOAuthAPI(t *testing.T, b backend, c oauthConfig) *oauthAPI {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	base := "https://" + srv.Listener.Addr().String() // srv.URL once started
	o := &oauthAPI{clock: testkit.NewClock(time.Now().UTC()), events: &testkit.Events{}, logs: &testkit.Buffer{}}
	logger := slog.New(slog.NewJSONHandler(o.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	fake := func(name string) *oauthtest.Provider {
		return oauthtest.New(t, oauthtest.Config{RedirectURLs: []string{base + "/auth/oauth/" + name + "/callback"}, Now: o.clock.Now})
	}
	o.acme, o.github = fake("acme"), fake("github")
	o.st = newStack(t, b, stackConfig{
		session: func(sc *session.Config) { sc.Recorder, sc.Logger = o.events, logger },
		user:    func(uc *user.Config) { uc.Recorder, uc.Logger = o.events, logger },
		handler: func(hc *authhttp.Config) {
			acme, err := oauth.OIDC("acme", oauth.ProviderConfig{Issuer: o.acme.Issuer(), ClientID: o.acme.ClientID(),
				ClientSecret: o.acme.ClientSecret(), RedirectURL: base + "/auth/oauth/acme/callback", HTTPClient: o.acme.Client()})
			if err != nil {
				t.Fatal(err)
			}
			gh, err := oauth.GitHub(oauth.ProviderConfig{AuthURL: o.github.AuthURL(), TokenURL: o.github.TokenURL(),
				APIURL: o.github.GitHubAPIURL(), ClientID: o.github.ClientID(), ClientSecret: o.github.ClientSecret(),
				RedirectURL: base + "/auth/oauth/github/callback", HTTPClient: o.github.Client()})
			if err != nil {
				t.Fatal(err)
			}
			cipher, err := oauth.NewCipher(oauth.Key{ID: "k1", Secret: bytes.Repeat([]byte{7}, 32)})
			if err != nil {
				t.Fatal(err)
			}
			oc := oauth.Config{Providers: []*oauth.Provider{acme, gh}, Users: hc.Users, Store: b.oauth, Tx: b.tx, Cipher: cipher,
				ReturnTo: []string{appOrigin + "/", "/account"}, Now: o.clock.Now, Recorder: o.events, Logger: logger}
			if c.oauth != nil {
				c.oauth(&oc)
			}
			if o.svc, err = oauth.NewService(oc); err != nil {
				t.Fatal(err)
			}
			hc.OAuth, hc.Logger = o.svc, logger
			hc.RateLimit.Disabled = true
			if c.handler != nil {
				c.handler(hc)
			}
		},
	})
	srv.Config.Handler = o.st.h
	srv.StartTLS()
	t.Cleanup(srv.Close)
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	cl := srv.Client()
	cl.Jar = jar
	cl.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	o.api = &api{t: t, srv: srv, h: o.st.h}
	return o
}

// get sends GET to an absolute URL of the API (a callback URL the
// provider redirected to) with the jar's cookies and, when given, a
// state cookie set by hand.
func (o *oauthAPI) get(rawURL string, stateCookie string) response {
	o.t.Helper()
	req, err := http.NewRequest(http.MethodGet, rawURL, nil)
	if err != nil {
		o.t.Fatal(err)
	}
	if stateCookie != "" {
		req.AddCookie(&http.Cookie{Name: oauth.StateCookieName, Value: stateCookie})
	}
	return o.send(o.srv.Client(), req)
}

func (o *oauthAPI) send(c *http.Client, req *http.Request) response {
	o.t.Helper()
	res, err := c.Do(req)
	if err != nil {
		o.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		o.t.Fatal(err)
	}
	return response{res.StatusCode, res.Header, b}
}

// cookie returns the Set-Cookie of name in r, or nil.
func setCookie(r response, name string) *http.Cookie {
	for _, c := range (&http.Response{Header: r.header}).Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// start begins a sign-in: GET start, which must answer 302 to the fake's
// authorization endpoint with the state cookie. It returns the
// authorization URL and the state cookie's value.
func (o *oauthAPI) start(provider, query string) (authURL, state string) {
	o.t.Helper()
	r := o.do("GET", "/auth/oauth/"+provider+"/start"+query, "", nil)
	if r.status != http.StatusFound {
		o.t.Fatalf("start: %d %s", r.status, r.body)
	}
	authURL = r.header.Get("Location")
	if fake := o.fake(provider); !strings.HasPrefix(authURL, fake.AuthURL()+"?") {
		o.t.Fatalf("start redirects to %s, not to %s", authURL, fake.AuthURL())
	}
	c := setCookie(r, oauth.StateCookieName)
	if c == nil || c.Value == "" || !c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.Domain != "" || c.MaxAge <= 0 {
		o.t.Fatalf("state cookie %+v", c)
	}
	if len(r.body) != 0 || r.header.Get("Cache-Control") != "no-store" {
		o.t.Errorf("start: body %q, Cache-Control %q", r.body, r.header.Get("Cache-Control"))
	}
	return authURL, c.Value
}

func (o *oauthAPI) fake(provider string) *oauthtest.Provider {
	if provider == "github" {
		return o.github
	}
	return o.acme
}

// authorize plays the user at the provider and returns the callback URL
// the provider sends the browser back to.
func (o *oauthAPI) authorize(provider, authURL string) string {
	o.t.Helper()
	back, err := o.fake(provider).Authorize(authURL)
	if err != nil {
		o.t.Fatal(err)
	}
	if want := o.srv.URL + "/auth/oauth/" + provider + "/callback?"; !strings.HasPrefix(back.String(), want) {
		o.t.Fatalf("the provider sent the browser to %s, want %s...", back.Redacted(), want)
	}
	return back.String()
}

// callback GETs the callback URL with the jar's cookies; the response
// must clear the state cookie.
func (o *oauthAPI) callback(cbURL string) response {
	o.t.Helper()
	r := o.get(cbURL, "")
	o.clearsState(r)
	return r
}

func (o *oauthAPI) clearsState(r response) {
	o.t.Helper()
	if c := setCookie(r, oauth.StateCookieName); c == nil || c.MaxAge >= 0 || c.Value != "" || !c.Secure || c.Path != "/" {
		o.t.Errorf("the callback (%d) does not clear the state cookie: %+v", r.status, c)
	}
}

// signIn runs a whole sign-in with provider and returns the access token
// of the callback's token response.
func (o *oauthAPI) signIn(provider string) string {
	o.t.Helper()
	authURL, _ := o.start(provider, "")
	m := o.want(o.callback(o.authorize(provider, authURL)), http.StatusOK)
	access, _ := m["access_token"].(string)
	if access == "" || m["token_type"] != "Bearer" || m["refresh_token"] == "" {
		o.t.Fatalf("callback token response %v", m)
	}
	return access
}

// me returns GET /me.
func (o *oauthAPI) me(access string) map[string]any {
	o.t.Helper()
	return o.want(o.do("GET", "/me", access, nil), http.StatusOK)
}

// identities returns GET /me/identities.
func (o *oauthAPI) identities(access string) []map[string]any {
	o.t.Helper()
	m := o.want(o.do("GET", "/me/identities", access, nil), http.StatusOK)
	var out []map[string]any
	for _, v := range m["identities"].([]any) {
		out = append(out, v.(map[string]any))
	}
	return out
}

// link begins linking provider from the session of access: 200 with the
// authorization URL, and the state cookie.
func (o *oauthAPI) link(provider, access string, body any) string {
	o.t.Helper()
	r := o.do("POST", "/me/identities/"+provider+"/link", access, body)
	m := o.want(r, http.StatusOK)
	if got := slices.Sorted(maps.Keys(m)); !slices.Equal(got, []string{"authorization_url"}) {
		o.t.Errorf("link response members %v", got)
	}
	if c := setCookie(r, oauth.StateCookieName); c == nil || !c.Secure || !c.HttpOnly {
		o.t.Fatalf("link: state cookie %+v", c)
	}
	return m["authorization_url"].(string)
}

var (
	acmeAlice = oauthtest.User{Subject: "alice-sub", Email: "alice@example.com", EmailVerified: true, Name: "Alice Liddell",
		PreferredUsername: "alice"}
	githubBob = oauthtest.User{Subject: "4242", Email: "bob.gh@example.com", EmailVerified: true, Name: "Bob",
		PreferredUsername: "bobgh"}
)

// TestOAuthSignIn: start redirects to the provider with the state
// cookie; the callback signs the identity up (a new account) and answers
// the token response of a login, whose access token works; the next
// sign-in of the same identity signs the same account in.
func TestOAuthSignIn(t *testing.T) {
	backends(t, func(t *testing.T, b backend) {
		o := newOAuthAPI(t, b, oauthConfig{})
		o.acme.SetUser(acmeAlice)

		authURL, _ := o.start("acme", "")
		q, _ := url.ParseQuery(authURL[strings.IndexByte(authURL, '?')+1:])
		if q.Get("code_challenge_method") != "S256" || q.Get("state") == "" || q.Get("nonce") == "" ||
			q.Get("redirect_uri") != o.srv.URL+"/auth/oauth/acme/callback" {
			t.Errorf("authorization request %v", q)
		}
		r := o.callback(o.authorize("acme", authURL))
		m := o.want(r, http.StatusOK)
		if got := slices.Sorted(maps.Keys(m)); !slices.Equal(got, []string{"access_token", "expires_in", "refresh_token", "token_type"}) {
			t.Errorf("token response members %v", got)
		}
		if setCookie(r, session.CookieName) != nil {
			t.Error("token mode sets the session cookie")
		}
		access := m["access_token"].(string)
		me := o.me(access)
		if me["username"] != "alice" || me["email"] != "alice@example.com" || me["is_verified"] != true {
			t.Errorf("/me %v", me)
		}
		// The refresh token works as a login's.
		o.want(o.do("POST", "/auth/refresh", "", map[string]string{"refresh_token": m["refresh_token"].(string)}), http.StatusOK)

		ids := o.identities(access)
		if len(ids) != 1 || ids[0]["provider"] != "acme" || ids[0]["email"] != "alice@example.com" {
			t.Fatalf("identities %v", ids)
		}
		if got := slices.Sorted(maps.Keys(ids[0])); !slices.Equal(got, []string{"email", "linked_at", "provider", "updated_at"}) {
			t.Errorf("identity members %v", got)
		}

		// Again: the same account.
		access2 := o.signIn("acme")
		if again := o.me(access2); again["id"] != me["id"] {
			t.Errorf("second sign-in: user %v, first %v", again["id"], me["id"])
		}
		uid := int64(me["id"].(float64))
		for _, c := range []struct {
			typ audit.EventType
			kv  []string
		}{
			{audit.UserRegistered, []string{"method", "oauth", "provider", "ACME"}},
			{audit.OAuthLinked, []string{"provider", "ACME", "how", "sign_up"}},
			{audit.OAuthLogin, []string{"provider", "ACME", "outcome", "signed_up"}},
			{audit.OAuthLogin, []string{"provider", "ACME", "outcome", "signed_in"}},
		} {
			if !has(o.events, c.typ, c.kv...) {
				t.Errorf("no %s event with %v", c.typ, c.kv)
			}
		}
		for _, e := range o.events.Of(audit.OAuthLogin) {
			if e.UserID == nil || *e.UserID != uid {
				t.Errorf("oauth_login of user %v, want %d", e.UserID, uid)
			}
		}
		if n := len(o.events.Of(audit.SessionCreated)); n != 2 {
			t.Errorf("%d session_created events, want 2", n)
		}
	})
}

// TestOAuthRedirectMode: with OAuthRedirect the callback sets the
// session cookie and answers 303 to the flow's return_to, and the
// cookie signs the API's requests in; a link answers 303 without a new
// session.
func TestOAuthRedirectMode(t *testing.T) {
	o := newOAuthAPI(t, memBackend(), oauthConfig{handler: func(c *authhttp.Config) {
		c.OAuthCallback = authhttp.OAuthRedirect
		c.Auth.AllowCookie = true
	}})
	o.acme.SetUser(acmeAlice)
	authURL, _ := o.start("acme", "?return_to="+url.QueryEscape(appOrigin+"/welcome?tab=1"))
	r := o.callback(o.authorize("acme", authURL))
	if r.status != http.StatusSeeOther || r.header.Get("Location") != appOrigin+"/welcome?tab=1" || len(r.body) != 0 {
		t.Fatalf("callback: %d Location %q body %q", r.status, r.header.Get("Location"), r.body)
	}
	c := setCookie(r, session.CookieName)
	if c == nil || c.Value == "" || !c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" {
		t.Fatalf("session cookie %+v", c)
	}
	// The jar sends the cookie: GET /me needs no bearer token.
	me := o.me("")
	if me["username"] != "alice" {
		t.Errorf("/me by cookie: %v", me)
	}

	// Without return_to: the default, the allowlist's first entry.
	authURL, _ = o.start("acme", "")
	if r := o.callback(o.authorize("acme", authURL)); r.status != http.StatusSeeOther || r.header.Get("Location") != appOrigin+"/" {
		t.Errorf("default return_to: %d %q", r.status, r.header.Get("Location"))
	}

	// A link from the cookie's session (an unsafe request: same-origin).
	o.github.SetUser(githubBob)
	req, _ := http.NewRequest("POST", o.srv.URL+"/me/identities/github/link", strings.NewReader(`{"return_to":"/account"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	lr := o.send(o.srv.Client(), req)
	m := o.want(lr, http.StatusOK)
	r = o.callback(o.authorize("github", m["authorization_url"].(string)))
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/account" || setCookie(r, session.CookieName) != nil {
		t.Fatalf("link callback: %d %q %v", r.status, r.header.Get("Location"), r.header)
	}
	var got []string
	for _, id := range o.identities("") {
		got = append(got, id["provider"].(string))
	}
	if !slices.Equal(got, []string{"acme", "github"}) {
		t.Errorf("identities %v", got)
	}
}

// TestOAuthReturnToRefused: a return_to outside the allowlist is 400
// before any flow begins: no redirect, no state cookie.
func TestOAuthReturnToRefused(t *testing.T) {
	o := newOAuthAPI(t, memBackend(), oauthConfig{})
	for _, rt := range []string{
		"https://evil.example", "//evil.example", `/\evil.example`, "https://app.example.com@evil.example",
		"https://app.example.com.evil.example/", "http://app.example.com/", "javascript:alert(1)", "/account/../admin",
		"/accountx", "https://app.example.com/%2e%2e/x", "/%0d%0aSet-Cookie:x=y",
	} {
		r := o.do("GET", "/auth/oauth/acme/start?return_to="+url.QueryEscape(rt), "", nil)
		p := o.want(r, http.StatusBadRequest)
		if p["type"] != authhttp.TypeReturnToRefused || p["parameter"] != "return_to" || p["detail"] != "return_to is not an allowed address" {
			t.Errorf("%s: problem %v", rt, p)
		}
		if r.header.Get("Location") != "" || setCookie(r, oauth.StateCookieName) != nil {
			t.Errorf("%s: Location %q, cookies %v", rt, r.header.Get("Location"), r.header["Set-Cookie"])
		}
		if strings.Contains(string(r.body), "evil") {
			t.Errorf("%s: the problem quotes the value: %s", rt, r.body)
		}
	}
	for _, rt := range []string{appOrigin + "/", appOrigin + "/deep/page?x=1", "/account"} {
		o.start("acme", "?return_to="+url.QueryEscape(rt))
	}
	// A repeated or unknown parameter.
	for _, q := range []string{"?return_to=/account&return_to=/account", "?next=/account"} {
		if p := o.want(o.do("GET", "/auth/oauth/acme/start"+q, "", nil), http.StatusBadRequest); p["type"] != authhttp.TypeInvalidParameter {
			t.Errorf("%s: %v", q, p)
		}
	}
	// The link's return_to is a field of its body.
	o.acme.SetUser(acmeAlice)
	access := o.signIn("acme")
	p := o.want(o.do("POST", "/me/identities/github/link", access, map[string]string{"return_to": "https://evil.example"}), http.StatusBadRequest)
	if p["type"] != authhttp.TypeReturnToRefused || p["field"] != "return_to" {
		t.Errorf("link: %v", p)
	}
}

// TestOAuthCallbackRefused: a replayed callback, one without the state
// cookie, with another flow's cookie, with a forged cookie, after the
// flow expired, or after the user declined at the provider: the same 400
// body, no session; each reason in the audit trail; nothing secret in
// the logs or the events.
func TestOAuthCallbackRefused(t *testing.T) {
	backends(t, func(t *testing.T, b backend) {
		o := newOAuthAPI(t, b, oauthConfig{})
		o.acme.SetUser(acmeAlice)
		var secrets []string
		keep := func(cbURL, state string) {
			u, _ := url.Parse(cbURL)
			secrets = append(secrets, u.Query().Get("code"), u.Query().Get("state"), state)
		}
		var refusals []response
		refused := func(r response) {
			t.Helper()
			p := o.want(r, http.StatusBadRequest)
			if p["type"] != authhttp.TypeExternalSignInFailed || p["detail"] != "sign-in with the provider failed; start again" {
				t.Errorf("problem %v", p)
			}
			o.clearsState(r)
			refusals = append(refusals, r)
		}

		// Replayed: the same URL with the same cookie.
		authURL, state := o.start("acme", "")
		cb := o.authorize("acme", authURL)
		keep(cb, state)
		access := o.want(o.callback(cb), http.StatusOK)["access_token"].(string)
		secrets = append(secrets, access)
		refused(o.get(cb, state))

		// No cookie: a client without the jar.
		authURL, state = o.start("acme", "")
		cb = o.authorize("acme", authURL)
		keep(cb, state)
		bare := *o.srv.Client()
		bare.Jar = nil
		req, _ := http.NewRequest("GET", cb, nil)
		refused(o.send(&bare, req))
		// That flow's state is unspent: with its cookie it still works.
		o.want(o.get(cb, state), http.StatusOK)

		// Another flow's cookie (the jar holds the second's).
		authURL1, state1 := o.start("acme", "")
		_, state2 := o.start("acme", "")
		cb = o.authorize("acme", authURL1)
		keep(cb, state1)
		secrets = append(secrets, state2)
		refused(o.callback(cb))

		// A forged cookie.
		authURL, _ = o.start("acme", "")
		cb = o.authorize("acme", authURL)
		refused(o.get(cb, "forged"+strings.Repeat("A", 60)))

		// Expired.
		authURL, state = o.start("acme", "")
		cb = o.authorize("acme", authURL)
		keep(cb, state)
		o.clock.Advance(11 * time.Minute)
		refused(o.callback(cb))

		// Declined at the provider.
		o.acme.Misbehave(oauthtest.Misbehaviour{AuthorizeError: "access_denied"})
		authURL, _ = o.start("acme", "")
		refused(o.callback(o.authorize("acme", authURL)))
		o.acme.Misbehave(oauthtest.Misbehaviour{})

		// Another provider's callback (mix-up): the acme flow at github's.
		authURL, state = o.start("acme", "")
		cb = o.authorize("acme", authURL)
		keep(cb, state)
		refused(o.callback(strings.Replace(cb, "/auth/oauth/acme/", "/auth/oauth/github/", 1)))

		for i, r := range refusals[1:] {
			if !bytes.Equal(r.body, refusals[0].body) {
				t.Errorf("refusal %d: %s, refusal 0: %s", i+1, r.body, refusals[0].body)
			}
		}
		for _, reason := range []oauth.Reason{oauth.ReasonStateReplayed, oauth.ReasonStateMissing, oauth.ReasonStateMismatch,
			oauth.ReasonStateInvalid, oauth.ReasonStateExpired, oauth.ReasonProviderError, oauth.ReasonProviderMismatch} {
			if !has(o.events, audit.OAuthRefused, "reason", string(reason)) {
				t.Errorf("no oauth_refused event for %s", reason)
			}
		}
		if n := len(o.events.Of(audit.SessionCreated)); n != 2 {
			t.Errorf("%d sessions created, want 2 (the two flows that succeeded)", n)
		}
		events, err := json.Marshal(o.events.All())
		if err != nil {
			t.Fatal(err)
		}
		logs := o.logs.String()
		for _, s := range secrets {
			if s == "" {
				t.Fatal("a secret of the flows is empty")
			}
			if strings.Contains(logs, s) || strings.Contains(string(events), s) {
				t.Errorf("a code, state or token appears in the logs or the audit events: %s", s)
			}
		}
		if !strings.Contains(logs, "state_replayed") {
			t.Errorf("the reason is not logged:\n%s", logs)
		}
	})
}

// TestOAuthLinkAndUnlink: a user signed in with a password links a
// GitHub identity from the session, sees it, signs in with it, and
// unlinks it.
func TestOAuthLinkAndUnlink(t *testing.T) {
	backends(t, func(t *testing.T, b backend) {
		o := newOAuthAPI(t, b, oauthConfig{})
		o.register("bob")
		access, _ := o.login("bob", goodPassword)
		uid := o.me(access)["id"]
		o.github.SetUser(githubBob)

		o.want(o.do("POST", "/me/identities/github/link", "", nil), http.StatusUnauthorized)
		if p := o.want(o.do("POST", "/me/identities/nope/link", access, nil), http.StatusNotFound); p["detail"] != "no such provider" {
			t.Errorf("unknown provider: %v", p)
		}
		o.want(o.do("POST", "/me/identities/github/link", access, `{"return_to":`), http.StatusBadRequest)

		authURL := o.link("github", access, nil)
		r := o.callback(o.authorize("github", authURL))
		m := o.want(r, http.StatusOK)
		if m["linked"] != true || m["provider"] != "github" || len(m) != 2 {
			t.Errorf("link callback %v", m)
		}
		ids := o.identities(access)
		if len(ids) != 1 || ids[0]["provider"] != "github" {
			t.Fatalf("identities %v", ids)
		}
		if !has(o.events, audit.OAuthLinked, "provider", "GITHUB", "how", "from_session") {
			t.Error("no oauth_linked event from_session")
		}

		// The identity now signs bob in.
		if me := o.me(o.signIn("github")); me["id"] != uid {
			t.Errorf("github signs in %v, want bob %v", me["id"], uid)
		}
		// Linking it again (a second flow of the same identity) refreshes
		// it; an empty JSON object is a body too.
		o.want(o.callback(o.authorize("github", o.link("github", access, map[string]string{}))), http.StatusOK)

		o.want(o.do("DELETE", "/me/identities/github", access, nil), http.StatusNoContent)
		if !has(o.events, audit.OAuthUnlinked, "provider", "GITHUB") {
			t.Error("no oauth_unlinked event")
		}
		if ids := o.identities(access); len(ids) != 0 {
			t.Errorf("identities after unlink %v", ids)
		}
		for _, p := range []string{"github", "acme", "nope", "NOT%20VALID"} {
			if pr := o.want(o.do("DELETE", "/me/identities/"+p, access, nil), http.StatusNotFound); pr["detail"] != "no such identity" && pr["detail"] != "no such provider" {
				t.Errorf("%s: %v", p, pr)
			}
		}
		o.want(o.do("DELETE", "/me/identities/github", "", nil), http.StatusUnauthorized)
	})
}

// TestOAuthIdentityConflict: an identity linked to one account cannot be
// linked to another (409), nor a second identity of one provider to an
// account.
func TestOAuthIdentityConflict(t *testing.T) {
	o := newOAuthAPI(t, memBackend(), oauthConfig{})
	o.github.SetUser(githubBob)
	o.signIn("github") // bobgh's account
	o.register("carol")
	access, _ := o.login("carol", goodPassword)
	p := o.want(o.callback(o.authorize("github", o.link("github", access, nil))), http.StatusConflict)
	if p["type"] != authhttp.TypeIdentityConflict || p["detail"] != "this identity is linked to another account" {
		t.Errorf("identity taken: %v", p)
	}
	o.github.SetUser(oauthtest.User{Subject: "77", Email: "carol.gh@example.com", EmailVerified: true, PreferredUsername: "carolgh"})
	o.want(o.callback(o.authorize("github", o.link("github", access, nil))), http.StatusOK)
	o.github.SetUser(oauthtest.User{Subject: "78", Email: "carol.gh2@example.com", EmailVerified: true, PreferredUsername: "carolgh2"})
	p = o.want(o.callback(o.authorize("github", o.link("github", access, nil))), http.StatusConflict)
	if p["type"] != authhttp.TypeIdentityConflict || !strings.Contains(p["detail"].(string), "unlink it first") {
		t.Errorf("provider linked: %v", p)
	}
}

// TestOAuthLastSignInMethod: an account made from an identity has no
// password; its last identity cannot be unlinked.
func TestOAuthLastSignInMethod(t *testing.T) {
	backends(t, func(t *testing.T, b backend) {
		o := newOAuthAPI(t, b, oauthConfig{})
		o.acme.SetUser(acmeAlice)
		access := o.signIn("acme")
		p := o.want(o.do("DELETE", "/me/identities/acme", access, nil), http.StatusConflict)
		if p["type"] != authhttp.TypeLastSignInMethod ||
			p["detail"] != "this identity is the account's only way to sign in; set a password first (password reset)" {
			t.Errorf("problem %v", p)
		}
		// With a second identity, either may go, but not both.
		o.github.SetUser(githubBob)
		o.want(o.callback(o.authorize("github", o.link("github", access, nil))), http.StatusOK)
		o.want(o.do("DELETE", "/me/identities/acme", access, nil), http.StatusNoContent)
		o.want(o.do("DELETE", "/me/identities/github", access, nil), http.StatusConflict)
		// And no password signs the account in.
		o.want(o.do("POST", "/auth/login", "", map[string]string{"login": "alice", "password": ""}), http.StatusUnauthorized)
	})
}

// TestOAuthLinkRequired: a new identity whose address is an account's
// that has not verified it signs nobody in and links nothing: 409, no
// session; the account's owner links it from their session, and the
// identity then signs them in.
func TestOAuthLinkRequired(t *testing.T) {
	backends(t, func(t *testing.T, b backend) {
		o := newOAuthAPI(t, b, oauthConfig{})
		reg := o.register("dana") // dana@example.com, unverified
		uid := int64(reg["id"].(float64))
		o.acme.SetUser(oauthtest.User{Subject: "dana-sub", Email: "dana@example.com", EmailVerified: true, PreferredUsername: "dana"})

		authURL, _ := o.start("acme", "")
		r := o.callback(o.authorize("acme", authURL))
		p := o.want(r, http.StatusConflict)
		if p["type"] != authhttp.TypeLinkRequired ||
			p["detail"] != "an account with this email address exists: sign in to it and link this identity from the account" {
			t.Errorf("problem %v", p)
		}
		if bytes.Contains(r.body, []byte("token")) || setCookie(r, session.CookieName) != nil {
			t.Errorf("a refused sign-in gave a session: %v %s", r.header, r.body)
		}
		if ps, err := o.svc.Identities(context.Background(), uid); err != nil || len(ps) != 0 {
			t.Errorf("identities of dana: %v, %v", ps, err)
		}
		if len(o.events.Of(audit.SessionCreated)) != 0 || !has(o.events, audit.OAuthRefused, "reason", "link_required") {
			t.Errorf("events %v", o.events.All())
		}

		access, _ := o.login("dana", goodPassword)
		o.want(o.callback(o.authorize("acme", o.link("acme", access, nil))), http.StatusOK)
		if me := o.me(o.signIn("acme")); int64(me["id"].(float64)) != uid {
			t.Errorf("acme signs in %v, want dana %d", me["id"], uid)
		}
	})
}

// TestOAuthDeactivated: a deactivated account's identity gets the 401 of
// a refused login.
func TestOAuthDeactivated(t *testing.T) {
	backends(t, func(t *testing.T, b backend) {
		o := newOAuthAPI(t, b, oauthConfig{})
		o.acme.SetUser(acmeAlice)
		uid := int64(o.me(o.signIn("acme"))["id"].(float64))
		if _, err := o.st.users.Deactivate(context.Background(), uid); err != nil {
			t.Fatal(err)
		}
		authURL, _ := o.start("acme", "")
		r := o.callback(o.authorize("acme", authURL))
		if p := o.want(r, http.StatusUnauthorized); p["type"] != authhttp.TypeInvalidCredentials || p["detail"] != "invalid credentials" {
			t.Errorf("problem %v", p)
		}
		if !has(o.events, audit.OAuthRefused, "reason", "account_inactive") {
			t.Error("no oauth_refused event for account_inactive")
		}
	})
}

// TestOAuthRoutes: the routes exist only with Config.OAuth; other
// methods get 405 problems; an unknown provider is 404, one that cannot
// be reached 503.
func TestOAuthRoutes(t *testing.T) {
	a := newAPI(t, memBackend(), nil)
	for _, c := range []struct{ method, path string }{
		{"GET", "/auth/oauth/acme/start"}, {"GET", "/auth/oauth/acme/callback"}, {"GET", "/me/identities"},
		{"POST", "/me/identities/acme/link"}, {"DELETE", "/me/identities/acme"}, {"POST", "/auth/oauth/acme/start"},
	} {
		r := a.do(c.method, c.path, "", nil)
		if p := a.want(r, http.StatusNotFound); p["detail"] != "no such resource" || r.header.Get("Allow") != "" {
			t.Errorf("%s %s without Config.OAuth: %v", c.method, c.path, p)
		}
	}

	down := httptest.NewServer(http.NotFoundHandler()) // no discovery document
	t.Cleanup(down.Close)
	o := newOAuthAPI(t, memBackend(), oauthConfig{oauth: func(c *oauth.Config) {
		p, err := oauth.OIDC("down", oauth.ProviderConfig{Issuer: down.URL, ClientID: "id", ClientSecret: "secret",
			RedirectURL: "https://app.example.com/auth/oauth/down/callback"})
		if err != nil {
			t.Fatal(err)
		}
		c.Providers = append(c.Providers, p)
	}})
	for _, c := range []struct{ method, path, allow string }{
		{"POST", "/auth/oauth/acme/start", "GET, HEAD"}, {"DELETE", "/auth/oauth/github/callback", "GET, HEAD"},
		{"PUT", "/me/identities", "GET, HEAD"}, {"GET", "/me/identities/acme/link", "POST"},
		{"GET", "/me/identities/acme", "DELETE"}, {"POST", "/me/identities/acme", "DELETE"},
	} {
		r := o.do(c.method, c.path, "", nil)
		o.want(r, http.StatusMethodNotAllowed)
		if r.header.Get("Allow") != c.allow {
			t.Errorf("%s %s: Allow %q, want %q", c.method, c.path, r.header.Get("Allow"), c.allow)
		}
	}
	if p := o.want(o.do("GET", "/auth/oauth/nope/start", "", nil), http.StatusNotFound); p["detail"] != "no such provider" {
		t.Errorf("unknown provider: %v", p)
	}
	o.want(o.do("GET", "/me/identities", "", nil), http.StatusUnauthorized)
	r := o.do("GET", "/auth/oauth/down/start", "", nil)
	o.want(r, http.StatusServiceUnavailable)
	if r.header.Get("Retry-After") != "5" || setCookie(r, oauth.StateCookieName) != nil {
		t.Errorf("provider down: %v", r.header)
	}
	// A callback of an unknown provider is a refused callback like any.
	if p := o.want(o.do("GET", "/auth/oauth/nope/callback?code=x&state=y", "", nil), http.StatusBadRequest); p["type"] != authhttp.TypeExternalSignInFailed {
		t.Errorf("unknown provider's callback: %v", p)
	}
}

// TestOAuthRateLimit: start, callback and link count against one limit
// per client IP, Config.RateLimit.OAuth.
func TestOAuthRateLimit(t *testing.T) {
	clock := testkit.NewClock(t0) // the window does not move
	o := newOAuthAPI(t, memBackend(), oauthConfig{handler: func(c *authhttp.Config) {
		c.RateLimit = authhttp.RateLimitConfig{OAuth: ratelimit.PerMinute("oauth", 3), Now: clock.Now}
	}})
	o.acme.SetUser(acmeAlice)
	authURL, _ := o.start("acme", "")
	access := o.want(o.callback(o.authorize("acme", authURL)), http.StatusOK)["access_token"].(string)
	r := o.do("POST", "/me/identities/github/link", access, nil) // the third request
	if o.want(r, http.StatusOK); r.header.Get("RateLimit-Policy") != `"oauth";q=3;w=60` {
		t.Errorf("RateLimit-Policy %q", r.header.Get("RateLimit-Policy"))
	}
	for _, path := range []string{"/auth/oauth/acme/start", "/auth/oauth/acme/callback"} {
		r := o.do("GET", path, "", nil)
		if p := o.want(r, http.StatusTooManyRequests); p["type"] != authhttp.TypeRateLimited || r.header.Get("Retry-After") == "" {
			t.Errorf("%s: %v %v", path, p, r.header)
		}
	}
	if _, err := authhttp.New(authhttp.Config{Users: o.st.users, Sessions: o.st.sessions,
		RateLimit: authhttp.RateLimitConfig{OAuth: ratelimit.Policy{Name: "oauth"}}}); err == nil ||
		!strings.Contains(err.Error(), "Config.RateLimit.OAuth") {
		t.Errorf("invalid OAuth policy: %v", err)
	}
}

func TestNewRefusesUnknownCallbackMode(t *testing.T) {
	st := newStack(t, memBackend(), stackConfig{})
	_, err := authhttp.New(authhttp.Config{Users: st.users, Sessions: st.sessions, OAuthCallback: 2})
	if err == nil || err.Error() != "authhttp: Config.OAuthCallback: unknown mode 2" {
		t.Errorf("err = %v", err)
	}
}
