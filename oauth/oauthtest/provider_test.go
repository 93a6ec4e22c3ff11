package oauthtest_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/cedrina/cedrina/oauth/oauthtest"
)

const callbackURL = "http://app.test/auth/callback"

// clock is a settable clock shared by the provider and the client.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// fixture is a provider and an OpenID Connect client of it, built on
// x/oauth2 and go-oidc.
type fixture struct {
	p     *oauthtest.Provider
	clock *clock
	ctx   context.Context // carries the provider's HTTP client
	oidc  *oidc.Provider
	conf  *oauth2.Config
}

func newFixture(t *testing.T, cfg oauthtest.Config) *fixture {
	t.Helper()
	c := newClock()
	if cfg.Now == nil {
		cfg.Now = c.Now
	}
	if cfg.RedirectURLs == nil && !cfg.AllowAnyRedirect {
		cfg.RedirectURLs = []string{callbackURL}
	}
	p := oauthtest.New(t, cfg)
	ctx := oidc.ClientContext(t.Context(), p.Client())
	op, err := oidc.NewProvider(ctx, p.Issuer())
	if err != nil {
		t.Fatalf("NewProvider: %v", err)
	}
	endpoint := op.Endpoint()
	endpoint.AuthStyle = oauth2.AuthStyleInHeader
	return &fixture{
		p:     p,
		clock: c,
		ctx:   ctx,
		oidc:  op,
		conf: &oauth2.Config{
			ClientID:     p.ClientID(),
			ClientSecret: p.ClientSecret(),
			Endpoint:     endpoint,
			RedirectURL:  callbackURL,
			Scopes:       []string{oidc.ScopeOpenID, "email", "profile"},
		},
	}
}

func (f *fixture) verifier() *oidc.IDTokenVerifier {
	return f.oidc.Verifier(&oidc.Config{ClientID: f.p.ClientID(), Now: f.clock.Now})
}

// flow is one sign-in's client-side secrets.
type flow struct {
	state, nonce, verifier string
}

func newFlow() flow {
	return flow{state: oauth2.GenerateVerifier()[:16], nonce: oauth2.GenerateVerifier()[:16], verifier: oauth2.GenerateVerifier()}
}

// authorize runs /authorize for fl and checks that it redirected to the
// callback with the state.
func (f *fixture) authorize(t *testing.T, fl flow) *url.URL {
	t.Helper()
	cb, err := f.p.Authorize(f.conf.AuthCodeURL(fl.state, oauth2.S256ChallengeOption(fl.verifier), oidc.Nonce(fl.nonce)))
	if err != nil {
		t.Fatalf("Authorize: %v", err)
	}
	if got := cb.Scheme + "://" + cb.Host + cb.Path; got != callbackURL {
		t.Fatalf("redirected to %s, want %s", got, callbackURL)
	}
	if got := cb.Query().Get("state"); got != fl.state {
		t.Fatalf("state = %q, want %q", got, fl.state)
	}
	return cb
}

func (f *fixture) exchange(cb *url.URL, verifier string) (*oauth2.Token, error) {
	return f.conf.Exchange(f.ctx, cb.Query().Get("code"), oauth2.VerifierOption(verifier))
}

// signIn runs a whole flow up to the token response.
func (f *fixture) signIn(t *testing.T) (*oauth2.Token, flow) {
	t.Helper()
	fl := newFlow()
	tok, err := f.exchange(f.authorize(t, fl), fl.verifier)
	if err != nil {
		t.Fatalf("Exchange: %v", err)
	}
	return tok, fl
}

func rawIDToken(t *testing.T, tok *oauth2.Token) string {
	t.Helper()
	raw, ok := tok.Extra("id_token").(string)
	if !ok || raw == "" {
		t.Fatal("token response has no id_token")
	}
	return raw
}

// wantOAuthError checks that err is the token endpoint's error code.
func wantOAuthError(t *testing.T, err error, code string) {
	t.Helper()
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		t.Fatalf("err = %v, want a RetrieveError %s", err, code)
	}
	if re.ErrorCode != code {
		t.Fatalf("error = %q (%s), want %q", re.ErrorCode, re.ErrorDescription, code)
	}
}

// get GETs url with the access token in the Authorization header under
// scheme, and decodes the JSON answer into v.
func get(t *testing.T, p *oauthtest.Provider, url, scheme, token string, v any) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", scheme+" "+token)
	}
	resp, err := p.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if v != nil {
		if err := json.Unmarshal(body, v); err != nil {
			t.Fatalf("GET %s: %s: %v: %s", url, resp.Status, err, body)
		}
	}
	return resp
}

// jsonEqual checks that got marshals to the same JSON as want.
func jsonEqual(t *testing.T, got any, want string) {
	t.Helper()
	g, err := json.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	var w any
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatal(err)
	}
	wb, _ := json.Marshal(w)
	if string(g) != string(wb) {
		t.Errorf("got  %s\nwant %s", g, wb)
	}
}

func TestOIDCSignIn(t *testing.T) {
	f := newFixture(t, oauthtest.Config{})
	fl := newFlow()
	cb := f.authorize(t, fl)
	if got := cb.Query().Get("iss"); got != f.p.Issuer() {
		t.Errorf("iss = %q, want %q", got, f.p.Issuer())
	}
	tok, err := f.exchange(cb, fl.verifier)
	if err != nil {
		t.Fatalf("Exchange: %v", err)
	}
	if tok.TokenType != "Bearer" || tok.RefreshToken == "" || tok.Extra("scope") != "openid email profile" {
		t.Errorf("token = %+v, scope %v", tok, tok.Extra("scope"))
	}
	if got := tok.Extra("expires_in"); got != float64(3600) {
		t.Errorf("expires_in = %v, want 3600", got)
	}

	idt, err := f.verifier().Verify(f.ctx, rawIDToken(t, tok))
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if idt.Nonce != fl.nonce {
		t.Errorf("nonce = %q, want %q", idt.Nonce, fl.nonce)
	}
	if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
		t.Errorf("at_hash: %v", err)
	}
	if !idt.IssuedAt.Equal(f.clock.Now()) || !idt.Expiry.Equal(f.clock.Now().Add(time.Hour)) {
		t.Errorf("iat, exp = %v, %v; want the provider's clock and an hour later", idt.IssuedAt, idt.Expiry)
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]any{
		"sub": "1", "aud": f.p.ClientID(), "iss": f.p.Issuer(),
		"email": "alice@example.com", "email_verified": true, "name": "Alice Example",
		"preferred_username": "alice", "picture": "https://example.com/alice.png",
		"auth_time": float64(f.clock.Now().Unix()),
	} {
		if claims[k] != want {
			t.Errorf("claim %s = %v, want %v", k, claims[k], want)
		}
	}

	ui, err := f.oidc.UserInfo(f.ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		t.Fatalf("UserInfo: %v", err)
	}
	var uiClaims map[string]any
	if err := ui.Claims(&uiClaims); err != nil {
		t.Fatal(err)
	}
	jsonEqual(t, uiClaims, `{"sub": "1", "email": "alice@example.com", "email_verified": true,
		"name": "Alice Example", "preferred_username": "alice", "picture": "https://example.com/alice.png"}`)
	if n := f.p.TokenRequests(); n != 1 {
		t.Errorf("TokenRequests = %d, want 1", n)
	}
}

func TestDiscovery(t *testing.T) {
	f := newFixture(t, oauthtest.Config{})
	var doc map[string]any
	if err := f.oidc.Claims(&doc); err != nil {
		t.Fatal(err)
	}
	u := f.p.URL()
	for k, want := range map[string]string{
		"issuer":                                         u,
		"authorization_endpoint":                         u + "/authorize",
		"token_endpoint":                                 u + "/token",
		"userinfo_endpoint":                              u + "/userinfo",
		"jwks_uri":                                       u + "/jwks",
		"response_types_supported":                       `["code"]`,
		"subject_types_supported":                        `["public"]`,
		"id_token_signing_alg_values_supported":          `["RS256"]`,
		"code_challenge_methods_supported":               `["S256"]`,
		"token_endpoint_auth_methods_supported":          `["client_secret_basic","client_secret_post"]`,
		"authorization_response_iss_parameter_supported": "true",
	} {
		got, _ := json.Marshal(doc[k])
		if s, ok := doc[k].(string); ok {
			got = []byte(s)
		}
		if string(got) != want {
			t.Errorf("%s = %s, want %s", k, got, want)
		}
	}
	if f.p.AuthURL() != u+"/authorize" || f.p.TokenURL() != u+"/token" || f.p.UserInfoURL() != u+"/userinfo" {
		t.Error("endpoint URLs differ from the discovery document")
	}

	var jwks struct {
		Keys []map[string]string `json:"keys"`
	}
	get(t, f.p, f.p.JWKSURL(), "", "", &jwks)
	if len(jwks.Keys) != 1 {
		t.Fatalf("JWKS has %d keys, want 1", len(jwks.Keys))
	}
	k := jwks.Keys[0]
	n, _ := base64.RawURLEncoding.DecodeString(k["n"])
	if k["kty"] != "RSA" || k["use"] != "sig" || k["alg"] != "RS256" || k["kid"] == "" || k["e"] != "AQAB" || len(n) != 256 {
		t.Errorf("JWK = %v (%d-byte modulus), want an RS256 signing key of 2048 bits", k, len(n))
	}
}

func TestScopesLimitClaims(t *testing.T) {
	f := newFixture(t, oauthtest.Config{})
	f.conf.Scopes = []string{oidc.ScopeOpenID}
	tok, _ := f.signIn(t)
	idt, err := f.verifier().Verify(f.ctx, rawIDToken(t, tok))
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	idt.Claims(&claims)
	for _, k := range []string{"email", "email_verified", "name", "preferred_username", "picture"} {
		if v, ok := claims[k]; ok {
			t.Errorf("claim %s = %v without its scope", k, v)
		}
	}
	var ui map[string]any
	get(t, f.p, f.p.UserInfoURL(), "Bearer", tok.AccessToken, &ui)
	jsonEqual(t, ui, `{"sub": "1"}`)

	f.conf.Scopes = []string{"email"} // plain OAuth 2.0: no ID token
	tok, _ = f.signIn(t)
	if tok.Extra("id_token") != nil {
		t.Errorf("id_token without the openid scope")
	}
}

func TestWrongVerifier(t *testing.T) {
	f := newFixture(t, oauthtest.Config{})
	fl := newFlow()
	cb := f.authorize(t, fl)
	_, err := f.exchange(cb, oauth2.GenerateVerifier())
	wantOAuthError(t, err, "invalid_grant")
	// The failed request spent the code.
	_, err = f.exchange(cb, fl.verifier)
	wantOAuthError(t, err, "invalid_grant")

	// A verifier that is not one at all, and none.
	for _, v := range []string{"short", ""} {
		fl := newFlow()
		cb := f.authorize(t, fl)
		_, err := f.conf.Exchange(f.ctx, cb.Query().Get("code"), oauth2.SetAuthURLParam("code_verifier", v))
		wantOAuthError(t, err, "invalid_grant")
	}
}

func TestCodeReplay(t *testing.T) {
	f := newFixture(t, oauthtest.Config{})
	fl := newFlow()
	cb := f.authorize(t, fl)
	tok, err := f.exchange(cb, fl.verifier)
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.exchange(cb, fl.verifier)
	wantOAuthError(t, err, "invalid_grant")
	// The replay revoked what the first exchange got.
	if resp := get(t, f.p, f.p.UserInfoURL(), "Bearer", tok.AccessToken, nil); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("userinfo with a token of a replayed code: %s, want 401", resp.Status)
	}
	if _, err := f.conf.TokenSource(f.ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); err == nil {
		t.Error("refresh token of a replayed code still works")
	}
	if n := f.p.TokenRequests(); n != 3 {
		t.Errorf("TokenRequests = %d, want 3", n)
	}
}

func TestCodeExpires(t *testing.T) {
	f := newFixture(t, oauthtest.Config{})
	fl := newFlow()
	cb := f.authorize(t, fl)
	f.clock.Advance(10 * time.Minute)
	_, err := f.exchange(cb, fl.verifier)
	wantOAuthError(t, err, "invalid_grant")
}

func TestRedirectURI(t *testing.T) {
	other := "http://app.test/other/callback"
	f := newFixture(t, oauthtest.Config{RedirectURLs: []string{callbackURL, other}})

	for _, uri := range []string{callbackURL + "/", callbackURL + "?x=1", "http://evil.test/auth/callback", strings.ToUpper(callbackURL)} {
		conf := *f.conf
		conf.RedirectURL = uri
		_, err := f.p.Authorize(conf.AuthCodeURL("state", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
		if err == nil || !strings.Contains(err.Error(), "400") || !strings.Contains(err.Error(), "redirect_uri") {
			t.Errorf("redirect_uri %s: err = %v, want a 400 refusal", uri, err)
		}
	}

	// The code is bound to the redirect URI sent to /authorize.
	fl := newFlow()
	cb := f.authorize(t, fl)
	conf := *f.conf
	conf.RedirectURL = other
	_, err := conf.Exchange(f.ctx, cb.Query().Get("code"), oauth2.VerifierOption(fl.verifier))
	wantOAuthError(t, err, "invalid_grant")

	// The second registered URI works too.
	conf = *f.conf
	conf.RedirectURL = other
	cb, err = f.p.Authorize(conf.AuthCodeURL(fl.state, oauth2.S256ChallengeOption(fl.verifier)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conf.Exchange(f.ctx, cb.Query().Get("code"), oauth2.VerifierOption(fl.verifier)); err != nil {
		t.Fatal(err)
	}
}

func TestAllowAnyRedirect(t *testing.T) {
	f := newFixture(t, oauthtest.Config{AllowAnyRedirect: true})
	f.conf.RedirectURL = "https://anything.test/cb?keep=1"
	fl := newFlow()
	cb, err := f.p.Authorize(f.conf.AuthCodeURL(fl.state, oauth2.S256ChallengeOption(fl.verifier)))
	if err != nil {
		t.Fatal(err)
	}
	if cb.Host != "anything.test" || cb.Query().Get("keep") != "1" || cb.Query().Get("code") == "" {
		t.Fatalf("callback = %s", cb)
	}
	if _, err := f.exchange(cb, fl.verifier); err != nil {
		t.Fatal(err)
	}
	f.conf.RedirectURL = "ftp://anything.test/cb"
	if _, err := f.p.Authorize(f.conf.AuthCodeURL(fl.state, oauth2.S256ChallengeOption(fl.verifier))); err == nil {
		t.Error("an ftp redirect_uri was accepted")
	}
}

func TestPKCERequired(t *testing.T) {
	f := newFixture(t, oauthtest.Config{})
	v := oauth2.GenerateVerifier()
	for name, opts := range map[string][]oauth2.AuthCodeOption{
		"plain":     {oauth2.SetAuthURLParam("code_challenge", v), oauth2.SetAuthURLParam("code_challenge_method", "plain")},
		"no method": {oauth2.SetAuthURLParam("code_challenge", oauth2.S256ChallengeFromVerifier(v))},
		"missing":   nil,
	} {
		t.Run(name, func(t *testing.T) {
			_, err := f.p.Authorize(f.conf.AuthCodeURL("state", opts...))
			if err == nil || !strings.Contains(err.Error(), "400") {
				t.Errorf("err = %v, want a 400 refusal", err)
			}
		})
	}
	t.Run("malformed challenge", func(t *testing.T) {
		cb, err := f.p.Authorize(f.conf.AuthCodeURL("state",
			oauth2.SetAuthURLParam("code_challenge", "too-short"), oauth2.SetAuthURLParam("code_challenge_method", "S256")))
		if err != nil {
			t.Fatal(err)
		}
		if q := cb.Query(); q.Get("error") != "invalid_request" || q.Get("state") != "state" || q.Get("code") != "" {
			t.Errorf("callback = %s, want error=invalid_request", cb)
		}
	})
}

func TestAuthorizeRefusals(t *testing.T) {
	f := newFixture(t, oauthtest.Config{})
	challenge := oauth2.S256ChallengeOption(oauth2.GenerateVerifier())

	conf := *f.conf
	conf.ClientID = "someone-else"
	if _, err := f.p.Authorize(conf.AuthCodeURL("state", challenge)); err == nil || !strings.Contains(err.Error(), "client_id") {
		t.Errorf("unknown client: err = %v", err)
	}
	if _, err := f.p.Authorize("http://127.0.0.1:1/authorize?client_id=x"); err == nil {
		t.Error("Authorize accepted a URL of another server")
	}

	for name, tc := range map[string]struct {
		url, want string
	}{
		"no state":      {f.conf.AuthCodeURL("", challenge), "invalid_request"},
		"token flow":    {f.conf.AuthCodeURL("state", challenge, oauth2.SetAuthURLParam("response_type", "token")), "unsupported_response_type"},
		"repeated":      {f.conf.AuthCodeURL("state", challenge) + "&scope=openid", "invalid_request"},
		"repeated code": {f.conf.AuthCodeURL("state", challenge) + "&response_type=code", "invalid_request"},
	} {
		t.Run(name, func(t *testing.T) {
			cb, err := f.p.Authorize(tc.url)
			if err != nil {
				t.Fatal(err)
			}
			if q := cb.Query(); q.Get("error") != tc.want || q.Get("code") != "" || q.Get("iss") != f.p.Issuer() {
				t.Errorf("callback = %s, want error=%s", cb, tc.want)
			}
		})
	}
}

func TestClientAuthentication(t *testing.T) {
	secret := "s3cr3t/+&= :%é"
	f := newFixture(t, oauthtest.Config{ClientID: "app:1", ClientSecret: secret})
	for _, style := range []oauth2.AuthStyle{oauth2.AuthStyleInHeader, oauth2.AuthStyleInParams, oauth2.AuthStyleAutoDetect} {
		f.conf.Endpoint.AuthStyle = style
		f.signIn(t)
	}

	for _, style := range []oauth2.AuthStyle{oauth2.AuthStyleInHeader, oauth2.AuthStyleInParams} {
		f.conf.Endpoint.AuthStyle = style
		fl := newFlow()
		cb := f.authorize(t, fl)
		f.conf.ClientSecret = "wrong"
		_, err := f.exchange(cb, fl.verifier)
		wantOAuthError(t, err, "invalid_client")
		var re *oauth2.RetrieveError
		errors.As(err, &re)
		if re.Response.StatusCode != http.StatusUnauthorized {
			t.Errorf("status = %d, want 401", re.Response.StatusCode)
		}
		if got := re.Response.Header.Get("WWW-Authenticate"); (style == oauth2.AuthStyleInHeader) != (got != "") {
			t.Errorf("style %d: WWW-Authenticate = %q", style, got)
		}
		// A client that failed to authenticate did not spend the code.
		f.conf.ClientSecret = secret
		if _, err := f.exchange(cb, fl.verifier); err != nil {
			t.Errorf("style %d: exchange after a failed authentication: %v", style, err)
		}
	}

	// Both methods at once.
	f.conf.Endpoint.AuthStyle = oauth2.AuthStyleInHeader
	fl := newFlow()
	cb := f.authorize(t, fl)
	_, err := f.exchange(cb, fl.verifier)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, f.p.TokenURL(), strings.NewReader(url.Values{
		"grant_type": {"authorization_code"}, "code": {"x"}, "client_secret": {secret},
	}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape("app:1"), url.QueryEscape(secret))
	resp, err := f.p.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]string
	json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || body["error"] != "invalid_request" {
		t.Errorf("two authentication methods: %s %v, want 400 invalid_request", resp.Status, body)
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control = %q", cc)
	}
}

func TestIDTokenMisbehaviour(t *testing.T) {
	for name, tc := range map[string]struct {
		m       oauthtest.Misbehaviour
		wantErr string // in Verify's error; "" when Verify must pass
		check   func(t *testing.T, idt *oidc.IDToken, fl flow)
	}{
		"wrong key": {m: oauthtest.Misbehaviour{IDTokenWrongKey: true}, wantErr: "failed to verify"},
		"issuer":    {m: oauthtest.Misbehaviour{IDTokenIssuer: "https://evil.test"}, wantErr: "issued by a different provider"},
		"audience":  {m: oauthtest.Misbehaviour{IDTokenAudience: "another-client"}, wantErr: "expected audience"},
		"expired":   {m: oauthtest.Misbehaviour{IDTokenExpired: true}, wantErr: "token is expired"},
		"alg none":  {m: oauthtest.Misbehaviour{IDTokenAlgNone: true}, wantErr: `signature algorithm "none"`},
		"nonce": {m: oauthtest.Misbehaviour{IDTokenNonce: "replayed"}, check: func(t *testing.T, idt *oidc.IDToken, fl flow) {
			if idt.Nonce != "replayed" {
				t.Errorf("nonce = %q, want the misbehaving one", idt.Nonce)
			}
		}},
	} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, oauthtest.Config{})
			f.p.Misbehave(tc.m)
			tok, fl := f.signIn(t)
			idt, err := f.verifier().Verify(f.ctx, rawIDToken(t, tok))
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				tc.check(t, idt, fl)
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Verify: err = %v, want %q", err, tc.wantErr)
			}
			if tc.m.IDTokenExpired {
				var expired *oidc.TokenExpiredError
				if !errors.As(err, &expired) || !expired.Expiry.Equal(f.clock.Now().Add(-time.Hour)) {
					t.Errorf("err = %v, want a TokenExpiredError an hour ago", err)
				}
			}
			// Back to correct, the same verifier accepts the next token.
			f.p.Misbehave(oauthtest.Misbehaviour{})
			tok, _ = f.signIn(t)
			if _, err := f.verifier().Verify(f.ctx, rawIDToken(t, tok)); err != nil {
				t.Errorf("after Misbehave({}): %v", err)
			}
		})
	}

	t.Run("omit", func(t *testing.T) {
		f := newFixture(t, oauthtest.Config{})
		f.p.Misbehave(oauthtest.Misbehaviour{OmitIDToken: true})
		tok, _ := f.signIn(t)
		if tok.Extra("id_token") != nil {
			t.Error("id_token present")
		}
	})
}

func TestAuthorizeMisbehaviour(t *testing.T) {
	f := newFixture(t, oauthtest.Config{})
	fl := newFlow()
	f.p.Misbehave(oauthtest.Misbehaviour{AuthorizeError: "access_denied"})
	cb := f.authorize(t, fl)
	if q := cb.Query(); q.Get("error") != "access_denied" || q.Get("error_description") == "" || q.Get("code") != "" || q.Get("iss") != f.p.Issuer() {
		t.Errorf("callback = %s, want error=access_denied", cb)
	}

	f.p.Misbehave(oauthtest.Misbehaviour{AuthorizeIss: "https://mix-up.test"})
	cb = f.authorize(t, fl)
	if q := cb.Query(); q.Get("iss") != "https://mix-up.test" || q.Get("code") == "" {
		t.Errorf("callback = %s, want the wrong iss and a code", cb)
	}
}

func TestTokenMisbehaviour(t *testing.T) {
	f := newFixture(t, oauthtest.Config{})
	fl := newFlow()
	cb := f.authorize(t, fl)

	f.p.Misbehave(oauthtest.Misbehaviour{TokenError: "temporarily_unavailable"})
	_, err := f.exchange(cb, fl.verifier)
	wantOAuthError(t, err, "temporarily_unavailable")

	f.p.Misbehave(oauthtest.Misbehaviour{TokenStatus: http.StatusInternalServerError})
	_, err = f.exchange(cb, fl.verifier)
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.Response.StatusCode != http.StatusInternalServerError || string(re.Body) != "{}" {
		t.Errorf("err = %v, want a 500 with {}", err)
	}

	f.p.Misbehave(oauthtest.Misbehaviour{TokenMalformedJSON: true})
	if _, err = f.exchange(cb, fl.verifier); err == nil {
		t.Error("truncated JSON accepted")
	}

	// The misbehaving answers left the code unspent.
	f.p.Misbehave(oauthtest.Misbehaviour{})
	if _, err := f.exchange(cb, fl.verifier); err != nil {
		t.Errorf("exchange after the misbehaviour: %v", err)
	}
	if n := f.p.TokenRequests(); n != 4 {
		t.Errorf("TokenRequests = %d, want 4", n)
	}
}

func TestUserInfo(t *testing.T) {
	f := newFixture(t, oauthtest.Config{})
	tok, _ := f.signIn(t)

	for name, token := range map[string]string{"no token": "", "unknown token": "nope"} {
		resp := get(t, f.p, f.p.UserInfoURL(), "Bearer", token, nil)
		if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("%s: %s, WWW-Authenticate %q; want 401 with a Bearer challenge", name, resp.Status, resp.Header.Get("WWW-Authenticate"))
		}
	}

	f.p.Misbehave(oauthtest.Misbehaviour{UserInfoSubject: "2"})
	ui, err := f.oidc.UserInfo(f.ctx, oauth2.StaticTokenSource(tok))
	if err != nil || ui.Subject != "2" {
		t.Errorf("UserInfoSubject: %v, %v", ui, err)
	}
	f.p.Misbehave(oauthtest.Misbehaviour{UserInfoStatus: http.StatusServiceUnavailable})
	if _, err := f.oidc.UserInfo(f.ctx, oauth2.StaticTokenSource(tok)); err == nil || !strings.Contains(err.Error(), "503") {
		t.Errorf("UserInfoStatus: err = %v, want 503", err)
	}
	f.p.Misbehave(oauthtest.Misbehaviour{UserInfoMalformedJSON: true})
	if _, err := f.oidc.UserInfo(f.ctx, oauth2.StaticTokenSource(tok)); err == nil {
		t.Error("UserInfoMalformedJSON: no error")
	}
	f.p.Misbehave(oauthtest.Misbehaviour{})

	f.clock.Advance(time.Hour)
	if resp := get(t, f.p, f.p.UserInfoURL(), "Bearer", tok.AccessToken, nil); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("expired access token: %s, want 401", resp.Status)
	}
}

func TestRefreshToken(t *testing.T) {
	f := newFixture(t, oauthtest.Config{})
	tok, _ := f.signIn(t)
	f.clock.Advance(time.Hour) // the access token has expired at the provider
	expired := *tok
	expired.Expiry = time.Now().Add(-time.Minute) // and at the client, which uses the real clock
	fresh, err := f.conf.TokenSource(f.ctx, &expired).Token()
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if fresh.AccessToken == tok.AccessToken || fresh.RefreshToken != tok.RefreshToken {
		t.Errorf("refreshed token = %+v", fresh)
	}
	var ui map[string]any
	if resp := get(t, f.p, f.p.UserInfoURL(), "Bearer", fresh.AccessToken, &ui); resp.StatusCode != http.StatusOK || ui["sub"] != "1" {
		t.Errorf("userinfo with the refreshed token: %s %v", resp.Status, ui)
	}

	_, err = f.conf.TokenSource(f.ctx, &oauth2.Token{RefreshToken: "unknown"}).Token()
	wantOAuthError(t, err, "invalid_grant")
}

func TestSetUserAppliesToNextAuthorization(t *testing.T) {
	f := newFixture(t, oauthtest.Config{})
	fl := newFlow()
	cb := f.authorize(t, fl)
	bob := oauthtest.User{Subject: "bob-sub", Email: "bob@example.com", Name: "Bob"}
	f.p.SetUser(bob)
	tok, err := f.exchange(cb, fl.verifier)
	if err != nil {
		t.Fatal(err)
	}
	idt, err := f.verifier().Verify(f.ctx, rawIDToken(t, tok))
	if err != nil || idt.Subject != "1" {
		t.Fatalf("code issued before SetUser: sub %v, %v; want 1", idt, err)
	}
	tok, _ = f.signIn(t)
	idt, err = f.verifier().Verify(f.ctx, rawIDToken(t, tok))
	if err != nil {
		t.Fatal(err)
	}
	var claims struct {
		Email         string `json:"email"`
		EmailVerified *bool  `json:"email_verified"`
		Username      string `json:"preferred_username"`
	}
	idt.Claims(&claims)
	if idt.Subject != "bob-sub" || claims.Email != "bob@example.com" || claims.EmailVerified == nil || *claims.EmailVerified || claims.Username != "" {
		t.Errorf("sub %q, claims %+v; want Bob's, email unverified, no username", idt.Subject, claims)
	}
}

func TestDiscoveryIssuerMisbehaviour(t *testing.T) {
	p := oauthtest.New(t, oauthtest.Config{RedirectURLs: []string{callbackURL}})
	p.Misbehave(oauthtest.Misbehaviour{DiscoveryIssuer: "https://evil.test"})
	_, err := oidc.NewProvider(oidc.ClientContext(t.Context(), p.Client()), p.Issuer())
	if err == nil || !strings.Contains(err.Error(), "did not match") {
		t.Errorf("NewProvider: err = %v, want an issuer mismatch", err)
	}
}

func TestRotateKey(t *testing.T) {
	f := newFixture(t, oauthtest.Config{})
	v := f.verifier()
	old, _ := f.signIn(t)
	if _, err := v.Verify(f.ctx, rawIDToken(t, old)); err != nil {
		t.Fatal(err)
	}
	f.p.RotateKey()
	tok, _ := f.signIn(t)
	if kid(t, rawIDToken(t, tok)) == kid(t, rawIDToken(t, old)) {
		t.Error("the kid did not change")
	}
	for _, tok := range []*oauth2.Token{tok, old} {
		if _, err := v.Verify(f.ctx, rawIDToken(t, tok)); err != nil {
			t.Errorf("Verify after RotateKey: %v", err)
		}
	}
	var jwks struct{ Keys []any }
	get(t, f.p, f.p.JWKSURL(), "", "", &jwks)
	if len(jwks.Keys) != 2 {
		t.Errorf("JWKS has %d keys, want 2", len(jwks.Keys))
	}
}

func kid(t *testing.T, jwt string) string {
	t.Helper()
	h, _, _ := strings.Cut(jwt, ".")
	b, err := base64.RawURLEncoding.DecodeString(h)
	if err != nil {
		t.Fatal(err)
	}
	var header struct {
		Alg, Kid string
	}
	if err := json.Unmarshal(b, &header); err != nil || header.Alg != "RS256" || header.Kid == "" {
		t.Fatalf("header %s: %v", b, err)
	}
	return header.Kid
}

// plainFixture is a client of the provider as plain OAuth 2.0, as for
// GitHub and Facebook.
func plainFixture(t *testing.T, scopes ...string) (*oauthtest.Provider, *oauth2.Config, context.Context) {
	t.Helper()
	p := oauthtest.New(t, oauthtest.Config{RedirectURLs: []string{callbackURL}})
	conf := &oauth2.Config{
		ClientID:     p.ClientID(),
		ClientSecret: p.ClientSecret(),
		Endpoint:     oauth2.Endpoint{AuthURL: p.AuthURL(), TokenURL: p.TokenURL(), AuthStyle: oauth2.AuthStyleInParams},
		RedirectURL:  callbackURL,
		Scopes:       scopes,
	}
	return p, conf, context.WithValue(t.Context(), oauth2.HTTPClient, p.Client())
}

func plainSignIn(t *testing.T, p *oauthtest.Provider, conf *oauth2.Config, ctx context.Context) *oauth2.Token {
	t.Helper()
	v := oauth2.GenerateVerifier()
	cb, err := p.Authorize(conf.AuthCodeURL("state", oauth2.S256ChallengeOption(v)))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := conf.Exchange(ctx, cb.Query().Get("code"), oauth2.VerifierOption(v))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestGitHub(t *testing.T) {
	p, conf, ctx := plainFixture(t, "read:user", "user:email")
	tok := plainSignIn(t, p, conf, ctx)
	api := p.GitHubAPIURL()

	var user, emails any
	for _, scheme := range []string{"Bearer", "token"} {
		if resp := get(t, p, api+"/user", scheme, tok.AccessToken, &user); resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %s", scheme, resp.Status)
		}
		jsonEqual(t, user, `{"id": 1, "login": "alice", "name": "Alice Example", "email": "alice@example.com",
			"avatar_url": "https://example.com/alice.png"}`)
	}
	get(t, p, api+"/user/emails", "token", tok.AccessToken, &emails)
	jsonEqual(t, emails, `[{"email": "alice@example.com", "primary": true, "verified": true, "visibility": "public"}]`)

	// x/oauth2's own client reaches it too.
	resp, err := conf.Client(ctx, tok).Get(api + "/user")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("oauth2 client: %v %v", resp, err)
	}
	resp.Body.Close()

	var bad map[string]string
	if resp := get(t, p, api+"/user", "token", "nope", &bad); resp.StatusCode != http.StatusUnauthorized || bad["message"] != "Bad credentials" {
		t.Errorf("bad token: %s %v", resp.Status, bad)
	}

	p.SetUser(oauthtest.User{Subject: "octo", GitHubID: 583231, PreferredUsername: "octocat", Email: "octo@example.com", GitHubEmailPrivate: true})
	tok = plainSignIn(t, p, conf, ctx)
	get(t, p, api+"/user", "Bearer", tok.AccessToken, &user)
	jsonEqual(t, user, `{"id": 583231, "login": "octocat", "name": null, "email": null, "avatar_url": ""}`)
	get(t, p, api+"/user/emails", "Bearer", tok.AccessToken, &emails)
	jsonEqual(t, emails, `[{"email": "octo@example.com", "primary": true, "verified": false, "visibility": "private"}]`)

	p.SetUser(oauthtest.User{Subject: "42", PreferredUsername: "noemail"})
	tok = plainSignIn(t, p, conf, ctx)
	get(t, p, api+"/user", "Bearer", tok.AccessToken, &user)
	jsonEqual(t, user, `{"id": 42, "login": "noemail", "name": null, "email": null, "avatar_url": ""}`)
	get(t, p, api+"/user/emails", "Bearer", tok.AccessToken, &emails)
	jsonEqual(t, emails, `[]`)

	p.Misbehave(oauthtest.Misbehaviour{UserInfoStatus: http.StatusBadGateway})
	for _, path := range []string{"/user", "/user/emails"} {
		if resp := get(t, p, api+path, "Bearer", tok.AccessToken, nil); resp.StatusCode != http.StatusBadGateway {
			t.Errorf("%s with UserInfoStatus: %s", path, resp.Status)
		}
	}
	p.Misbehave(oauthtest.Misbehaviour{UserInfoMalformedJSON: true})
	if resp := get(t, p, api+"/user", "Bearer", tok.AccessToken, nil); resp.StatusCode != http.StatusOK {
		t.Errorf("/user with UserInfoMalformedJSON: %s", resp.Status)
	}
	if err := json.NewDecoder(mustGet(t, p, api+"/user/emails", tok.AccessToken)).Decode(&emails); err == nil {
		t.Error("UserInfoMalformedJSON: /user/emails decoded")
	}
}

func mustGet(t *testing.T, p *oauthtest.Provider, url, token string) io.Reader {
	t.Helper()
	var body strings.Builder
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := p.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	io.Copy(&body, resp.Body)
	return strings.NewReader(body.String())
}

func TestFacebook(t *testing.T) {
	p, conf, ctx := plainFixture(t, "email", "public_profile")
	tok := plainSignIn(t, p, conf, ctx)
	me := p.FacebookGraphURL() + "/me"

	var got any
	get(t, p, me+"?fields=id,name,email", "Bearer", tok.AccessToken, &got)
	jsonEqual(t, got, `{"id": "1", "name": "Alice Example", "email": "alice@example.com"}`)
	get(t, p, me+"?fields=id,name,email&access_token="+url.QueryEscape(tok.AccessToken), "", "", &got)
	jsonEqual(t, got, `{"id": "1", "name": "Alice Example", "email": "alice@example.com"}`)
	get(t, p, me+"?fields=email", "Bearer", tok.AccessToken, &got)
	jsonEqual(t, got, `{"id": "1", "email": "alice@example.com"}`)
	get(t, p, me, "Bearer", tok.AccessToken, &got)
	jsonEqual(t, got, `{"id": "1", "name": "Alice Example"}`)
	get(t, p, me+"?fields=id,picture", "Bearer", tok.AccessToken, &got)
	jsonEqual(t, got, `{"id": "1", "picture": {"data": {"url": "https://example.com/alice.png"}}}`)

	var fbErr struct {
		Error struct {
			Type string
			Code int
		}
	}
	if resp := get(t, p, me+"?fields=id,birthday", "Bearer", tok.AccessToken, &fbErr); resp.StatusCode != http.StatusBadRequest || fbErr.Error.Code != 100 {
		t.Errorf("unknown field: %s %+v", resp.Status, fbErr)
	}
	if resp := get(t, p, me, "Bearer", "nope", &fbErr); resp.StatusCode != http.StatusBadRequest || fbErr.Error.Type != "OAuthException" || fbErr.Error.Code != 190 {
		t.Errorf("bad token: %s %+v", resp.Status, fbErr)
	}

	p.SetUser(oauthtest.User{Subject: "10220000000000001", Name: "No Email"})
	tok = plainSignIn(t, p, conf, ctx)
	get(t, p, me+"?fields=id,name,email", "Bearer", tok.AccessToken, &got)
	jsonEqual(t, got, `{"id": "10220000000000001", "name": "No Email"}`)

	p.Misbehave(oauthtest.Misbehaviour{UserInfoStatus: http.StatusInternalServerError})
	if resp := get(t, p, me, "Bearer", tok.AccessToken, nil); resp.StatusCode != http.StatusInternalServerError {
		t.Errorf("UserInfoStatus: %s", resp.Status)
	}
}

func TestConcurrentSignIns(t *testing.T) {
	f := newFixture(t, oauthtest.Config{})
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			fl := newFlow()
			cb, err := f.p.Authorize(f.conf.AuthCodeURL(fl.state, oauth2.S256ChallengeOption(fl.verifier), oidc.Nonce(fl.nonce)))
			if err != nil {
				t.Error(err)
				return
			}
			tok, err := f.exchange(cb, fl.verifier)
			if err != nil {
				t.Error(err)
				return
			}
			idt, err := f.verifier().Verify(f.ctx, tok.Extra("id_token").(string))
			if err != nil || idt.Nonce != fl.nonce {
				t.Errorf("Verify: %v, %v", idt, err)
			}
		})
		wg.Go(func() { f.p.SetUser(oauthtest.User{Subject: "1"}) })
	}
	wg.Wait()
	if n := f.p.TokenRequests(); n != 8 {
		t.Errorf("TokenRequests = %d, want 8", n)
	}
}

func TestStartValidatesConfig(t *testing.T) {
	for name, tc := range map[string]struct {
		cfg  oauthtest.Config
		want string
	}{
		"no redirect":       {oauthtest.Config{}, "RedirectURLs"},
		"relative redirect": {oauthtest.Config{RedirectURLs: []string{"/callback"}}, "RedirectURLs[0]"},
		"fragment":          {oauthtest.Config{RedirectURLs: []string{callbackURL, callbackURL + "#x"}}, "RedirectURLs[1]"},
		"negative TTL":      {oauthtest.Config{AllowAnyRedirect: true, IDTokenTTL: -time.Second}, "IDTokenTTL"},
	} {
		t.Run(name, func(t *testing.T) {
			p, err := oauthtest.Start(tc.cfg)
			if err == nil {
				p.Close()
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want it to name %s", err, tc.want)
			}
		})
	}
}
