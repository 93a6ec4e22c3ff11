package oauthtest

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// User is the account the provider signs in. Which of its fields a client
// sees depends on the endpoint and, for OpenID Connect, on the scopes the
// client asked for (see the package documentation).
type User struct {
	// Subject is the account's stable id: the ID token's and userinfo's
	// "sub", Facebook's "id".
	Subject       string
	Email         string
	EmailVerified bool
	Name          string
	// PreferredUsername is OpenID Connect's preferred_username and
	// GitHub's "login".
	PreferredUsername string
	// Picture is OpenID Connect's picture, GitHub's avatar_url and
	// Facebook's picture.data.url.
	Picture string
	// GitHubID, when non-zero, is the numeric "id" GitHub's /user answers;
	// by default Subject parsed as an integer, or 1 when it is not one.
	GitHubID int64
	// GitHubEmailPrivate hides Email from GitHub's /user ("email": null,
	// as for an account without a public email), so that a client finds
	// it only through /user/emails, where it is listed with visibility
	// "private" (otherwise "public").
	GitHubEmailPrivate bool
}

func (u User) githubID() int64 {
	if u.GitHubID != 0 {
		return u.GitHubID
	}
	if n, err := strconv.ParseInt(u.Subject, 10, 64); err == nil {
		return n
	}
	return 1
}

// defaultUser is who the provider signs in until SetUser is called.
var defaultUser = User{
	Subject:           "1",
	Email:             "alice@example.com",
	EmailVerified:     true,
	Name:              "Alice Example",
	PreferredUsername: "alice",
	Picture:           "https://example.com/alice.png",
}

// Config configures a [Provider]. Its zero value, with RedirectURLs set,
// is a strict provider.
type Config struct {
	// ClientID is the one registered client's id; default "client-id".
	ClientID string
	// ClientSecret is the client's secret; default "client-secret".
	ClientSecret string
	// RedirectURLs are the redirect URIs registered for the client,
	// matched by exact string comparison, as real providers do: a client
	// that adds a trailing slash or a query parameter is refused.
	// Required unless AllowAnyRedirect is set.
	RedirectURLs []string
	// AllowAnyRedirect accepts any absolute http or https redirect_uri
	// without a fragment at /authorize. The code is still bound to the
	// redirect_uri sent there, and /token still requires the same one.
	//
	// It is dangerous in a test meant to check the client: a client
	// that sends the wrong redirect URI passes. Register the URIs in
	// RedirectURLs where they are known.
	AllowAnyRedirect bool
	// Now is the provider's clock, for the ID token's iat, exp and
	// auth_time and the expiry of codes and access tokens; default
	// time.Now. Inject the same clock into the client under test to
	// test expiry without sleeping.
	Now func() time.Time
	// IDTokenTTL is the ID token's lifetime (exp - iat); default 1h.
	IDTokenTTL time.Duration
	// AccessTokenTTL is the access token's lifetime, the expires_in of
	// the token response; default 1h.
	AccessTokenTTL time.Duration
}

// Misbehaviour makes the provider break the protocol on purpose, so that
// a test can check the client's defences. Its zero value is a correct
// provider. Each switch names the endpoint it applies to; a string switch
// is off when empty, a status when zero.
type Misbehaviour struct {
	// IDTokenWrongKey signs the ID token with a key that is not in the
	// JWKS, under the kid of the current key.
	IDTokenWrongKey bool
	// IDTokenIssuer, when set, is the ID token's iss instead of the
	// provider's issuer.
	IDTokenIssuer string
	// IDTokenAudience, when set, is the ID token's aud instead of the
	// client id.
	IDTokenAudience string
	// IDTokenExpired makes the ID token expire an hour before the
	// provider's Now.
	IDTokenExpired bool
	// IDTokenNonce, when set, is the ID token's nonce instead of the one
	// the client sent to /authorize.
	IDTokenNonce string
	// IDTokenAlgNone answers an unsigned ID token (alg "none").
	IDTokenAlgNone bool
	// OmitIDToken leaves id_token out of the token response even when
	// the scope has openid.
	OmitIDToken bool

	// AuthorizeError, when set, makes /authorize redirect a valid request
	// back with error=<AuthorizeError>, an error_description, the state
	// and iss, instead of a code ("access_denied" is what a user who
	// refuses consent produces).
	AuthorizeError string
	// AuthorizeIss, when set, is the iss parameter of the authorization
	// response (RFC 9207) instead of the issuer.
	AuthorizeIss string

	// TokenError, when set, makes /token answer {"error": TokenError}
	// with status 400 (or TokenStatus).
	TokenError string
	// TokenStatus, when set, is the status of /token's answer, with an
	// empty JSON object as body (or TokenError's, or TokenMalformedJSON's).
	TokenStatus int
	// TokenMalformedJSON makes /token answer status 200 (or TokenStatus),
	// Content-Type application/json, with a truncated JSON body.
	//
	// While any Token switch is set, /token answers without looking at
	// the request: the code stays unused and the request is still
	// counted by TokenRequests.
	TokenMalformedJSON bool

	// UserInfoStatus, when set, is the status of /userinfo's and the
	// GitHub and Facebook endpoints' answer, with an empty JSON object as
	// body (or UserInfoMalformedJSON's), whatever the access token.
	UserInfoStatus int
	// UserInfoMalformedJSON makes /userinfo and the GitHub and Facebook
	// endpoints answer status 200 (or UserInfoStatus) with a truncated
	// JSON body, whatever the access token.
	UserInfoMalformedJSON bool
	// UserInfoSubject, when set, is /userinfo's sub instead of the ID
	// token's.
	UserInfoSubject string

	// DiscoveryIssuer, when set, is the issuer the discovery document
	// declares instead of the provider's URL.
	DiscoveryIssuer string
}

// Provider is a fake OAuth 2.0 and OpenID Connect provider with one
// registered client, served over plain HTTP on 127.0.0.1. Its methods are
// safe for concurrent use, also while the server answers requests.
type Provider struct {
	srv       *httptest.Server
	cfg       Config
	redirects map[string]bool
	// wrongKey is the key IDTokenWrongKey signs with, made on first use.
	wrongKey func() (*rsa.PrivateKey, error)

	mu            sync.Mutex
	user          User
	mis           Misbehaviour
	keys          []signingKey // the last one signs
	codes         map[string]*grant
	usedCodes     map[string][]string // code -> tokens issued for it
	access        map[string]*issued
	refresh       map[string]*issued
	tokenRequests int
}

type signingKey struct {
	kid string
	key *rsa.PrivateKey
}

// grant is what /authorize hands to /token through a code.
type grant struct {
	clientID    string
	redirectURI string
	challenge   string
	nonce       string
	scope       string
	user        User
	authTime    time.Time
	expires     time.Time
}

// issued is what an access or refresh token stands for.
type issued struct {
	clientID string
	scope    string
	user     User
	expires  time.Time // zero: never (refresh tokens)
}

// codeTTL is how long an authorization code may be exchanged.
const codeTTL = 10 * time.Minute

// New starts a [Provider] for the test t, and closes it when t and its
// subtests are done. It fails t when cfg is invalid.
func New(t testing.TB, cfg Config) *Provider {
	t.Helper()
	p, err := Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

// Start starts a [Provider] outside of a test (in TestMain, or an example);
// the caller must Close it. Errors name the invalid field of cfg.
func Start(cfg Config) (*Provider, error) {
	if cfg.ClientID == "" {
		cfg.ClientID = "client-id"
	}
	if cfg.ClientSecret == "" {
		cfg.ClientSecret = "client-secret"
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.IDTokenTTL < 0 {
		return nil, errors.New("oauthtest: Config.IDTokenTTL is negative")
	}
	if cfg.IDTokenTTL == 0 {
		cfg.IDTokenTTL = time.Hour
	}
	if cfg.AccessTokenTTL < 0 {
		return nil, errors.New("oauthtest: Config.AccessTokenTTL is negative")
	}
	if cfg.AccessTokenTTL == 0 {
		cfg.AccessTokenTTL = time.Hour
	}
	if len(cfg.RedirectURLs) == 0 && !cfg.AllowAnyRedirect {
		return nil, errors.New("oauthtest: Config.RedirectURLs is empty (register the client's redirect URIs, or set AllowAnyRedirect)")
	}
	redirects := make(map[string]bool, len(cfg.RedirectURLs))
	for i, r := range cfg.RedirectURLs {
		u, err := url.Parse(r)
		if err != nil || !u.IsAbs() || u.Fragment != "" || strings.Contains(r, "#") {
			return nil, fmt.Errorf("oauthtest: Config.RedirectURLs[%d] %q is not an absolute URI without a fragment", i, r)
		}
		redirects[r] = true
	}
	cfg.RedirectURLs = append([]string(nil), cfg.RedirectURLs...)

	key, err := newSigningKey()
	if err != nil {
		return nil, err
	}
	p := &Provider{
		cfg:       cfg,
		redirects: redirects,
		wrongKey: sync.OnceValues(func() (*rsa.PrivateKey, error) {
			return rsa.GenerateKey(rand.Reader, 2048)
		}),
		user:      defaultUser,
		keys:      []signingKey{key},
		codes:     make(map[string]*grant),
		usedCodes: make(map[string][]string),
		access:    make(map[string]*issued),
		refresh:   make(map[string]*issued),
	}
	p.srv = httptest.NewServer(p.routes())
	return p, nil
}

func newSigningKey() (signingKey, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return signingKey{}, fmt.Errorf("oauthtest: generate RSA key: %w", err)
	}
	return signingKey{kid: randomString(8), key: key}, nil
}

// randomString returns n random bytes from crypto/rand, base64url-encoded.
func randomString(n int) string {
	b := make([]byte, n)
	rand.Read(b) // never fails (crypto/rand crashes the program instead)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Close shuts the server down. [New] does it when the test is done.
func (p *Provider) Close() { p.srv.Close() }

// URL is the server's base URL, such as http://127.0.0.1:41234, with no
// trailing slash. It is also the OpenID Connect issuer.
func (p *Provider) URL() string { return p.srv.URL }

// Issuer is the OpenID Connect issuer, the same as URL: pass it to
// go-oidc's NewProvider, which fetches {Issuer}/.well-known/openid-configuration.
func (p *Provider) Issuer() string { return p.srv.URL }

// ClientID is the registered client's id.
func (p *Provider) ClientID() string { return p.cfg.ClientID }

// ClientSecret is the registered client's secret.
func (p *Provider) ClientSecret() string { return p.cfg.ClientSecret }

// AuthURL is the authorization endpoint, {URL}/authorize.
func (p *Provider) AuthURL() string { return p.srv.URL + "/authorize" }

// TokenURL is the token endpoint, {URL}/token.
func (p *Provider) TokenURL() string { return p.srv.URL + "/token" }

// UserInfoURL is the OpenID Connect userinfo endpoint, {URL}/userinfo.
func (p *Provider) UserInfoURL() string { return p.srv.URL + "/userinfo" }

// JWKSURL is the JSON Web Key Set, {URL}/jwks.
func (p *Provider) JWKSURL() string { return p.srv.URL + "/jwks" }

// GitHubAPIURL is the base of the GitHub-flavoured API, {URL}/github, in
// place of https://api.github.com. It serves /user, answering
// {"id", "login", "name", "email", "avatar_url"} (name and email null when
// empty or, for email, when [User].GitHubEmailPrivate), and /user/emails,
// answering [{"email", "primary": true, "verified", "visibility"}], or []
// for a user without Email. Both take an access token issued by /token in
// the Authorization header, as "Bearer <token>" or "token <token>", and
// answer 401 {"message": "Bad credentials"} otherwise.
func (p *Provider) GitHubAPIURL() string { return p.srv.URL + "/github" }

// FacebookGraphURL is the base of the Facebook-flavoured Graph API,
// {URL}/facebook, in place of https://graph.facebook.com. It serves
// /me?fields=..., answering the fields asked for among id (Subject),
// name, email and picture ({"data": {"url"}}), empty ones left out: id
// and name when fields is absent, and id always, as the Graph API does.
// An unknown field is a 400 OAuthException (code 100). The access token
// goes in the Authorization header ("Bearer <token>") or the access_token
// query parameter; a missing or unknown one is a 400 OAuthException (code
// 190).
func (p *Provider) FacebookGraphURL() string { return p.srv.URL + "/facebook" }

// Client returns an HTTP client for the server. The client under test may
// use any client that reaches 127.0.0.1 over plain HTTP; this one is the
// httptest server's, closed with it. Hand it to x/oauth2 with
// context.WithValue(ctx, oauth2.HTTPClient, p.Client()) and to go-oidc
// with oidc.ClientContext(ctx, p.Client()).
func (p *Provider) Client() *http.Client { return p.srv.Client() }

// SetUser sets the user that the next requests to /authorize sign in.
// Codes already issued keep the user they were issued for, and so do the
// tokens issued for them. Until SetUser is called the user is Alice:
// Subject "1", Email "alice@example.com" (verified), Name "Alice
// Example", PreferredUsername "alice", Picture
// "https://example.com/alice.png".
func (p *Provider) SetUser(u User) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.user = u
}

// Misbehave replaces the misbehaviour switches; Misbehave(Misbehaviour{})
// makes the provider correct again. Each request reads the switches once,
// when it arrives.
func (p *Provider) Misbehave(m Misbehaviour) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mis = m
}

func (p *Provider) misbehaviour() Misbehaviour {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.mis
}

// RotateKey makes a new RSA signing key with a new kid. ID tokens are
// signed with it from now on; the JWKS serves it and every earlier key,
// so that tokens signed before still verify.
func (p *Provider) RotateKey() {
	key, err := newSigningKey()
	if err != nil {
		panic(err) // crypto/rand never fails
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.keys = append(p.keys, key)
}

// TokenRequests reports how many POST requests the token endpoint
// received, answered with success or not.
func (p *Provider) TokenRequests() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.tokenRequests
}

// Authorize plays the browser and the user who consents: it GETs authURL,
// the authorization URL the client under test built, which must be on this
// provider's /authorize, without following the redirect, and returns the
// redirect's target: the client's redirect URI with code, state and iss,
// or with error and error_description. Hand it to the client's callback.
//
// When the provider refuses to redirect (unknown client, unregistered
// redirect URI, missing or plain PKCE), the error holds its status and
// message.
func (p *Provider) Authorize(authURL string) (*url.URL, error) {
	u, err := url.Parse(authURL)
	if err != nil {
		return nil, fmt.Errorf("oauthtest: authorize: %w", err)
	}
	if u.Scheme+"://"+u.Host != p.srv.URL || u.Path != "/authorize" {
		return nil, fmt.Errorf("oauthtest: authorize: %q is not %s", authURL, p.AuthURL())
	}
	c := *p.srv.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Get(authURL)
	if err != nil {
		return nil, fmt.Errorf("oauthtest: authorize: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	if resp.StatusCode != http.StatusFound {
		return nil, fmt.Errorf("oauthtest: authorize: %s: %s", resp.Status, strings.TrimSpace(string(body)))
	}
	loc, err := resp.Location()
	if err != nil {
		return nil, fmt.Errorf("oauthtest: authorize: %w", err)
	}
	return loc, nil
}

func (p *Provider) now() time.Time { return p.cfg.Now() }
