package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/cedrina/cedrina/internal/errs"
)

// ProviderConfig configures one provider. ClientID, ClientSecret and
// RedirectURL are required; the endpoints default to the provider's
// public ones and are there to be overridden for tests, proxies or
// enterprise installations.
type ProviderConfig struct {
	// ClientID and ClientSecret are the credentials the provider issued.
	ClientID     string
	ClientSecret string
	// RedirectURL is the callback URL registered with the provider, sent
	// and matched exactly, for instance
	// "https://app.example.com/auth/oauth/google/callback". Give each
	// provider its own: the callback then knows which provider it came
	// from (RFC 9700 4.4.2, mix-up defence).
	RedirectURL string
	// Scopes requested; default the provider's (for OpenID Connect
	// providers openid, email and profile).
	Scopes []string
	// Issuer is the OpenID Connect issuer URL (Google, Microsoft, OIDC):
	// its discovery document and key set are fetched on first use and
	// cached. Required for OIDC; Google defaults to
	// https://accounts.google.com, Microsoft to its tenant's issuer. For
	// an OAuth 2.0 provider (GitHub, Facebook) it is optional: the issuer
	// identifier the provider sends as the authorization response's iss
	// parameter (RFC 9207), which is then required to match.
	Issuer string
	// Tenant is Microsoft's tenant: a tenant id or domain (a single
	// tenant), or "common" (default), "organizations" or "consumers"
	// (several tenants: the ID token's issuer is checked against its tid
	// claim).
	Tenant string
	// AuthURL, TokenURL and APIURL override GitHub's and Facebook's
	// endpoints: the authorization endpoint, the token endpoint, and the
	// API base (https://api.github.com, https://graph.facebook.com/v19.0).
	AuthURL  string
	TokenURL string
	APIURL   string
	// Algorithms is the allow-list of ID token signature algorithms.
	// Default: the asymmetric ones (RS256, RS384, RS512, ES256, ES384,
	// ES512, PS256, PS384, PS512, EdDSA); "none" and HMAC are never
	// accepted.
	Algorithms []string
	// NoEmailLinking stops this provider's email addresses from linking
	// to existing accounts even when it says they are verified (for a
	// provider whose users can claim any address).
	NoEmailLinking bool
	// HTTPClient makes the calls to the provider. Default: a client with
	// a 10-second timeout. Responses are read up to 1 MiB.
	HTTPClient *http.Client
}

type providerKind int

const (
	kindOIDC providerKind = iota
	kindGitHub
	kindFacebook
)

// Provider is one configured identity provider. Make it with [Google],
// [Microsoft], [Facebook], [GitHub] or [OIDC] and give it to
// [Config.Providers]; it is safe for concurrent use.
type Provider struct {
	name    string // route name, lower-case
	stored  string // oauth_profiles.provider, upper-case
	kind    providerKind
	conf    oauth2.Config
	client  *http.Client
	apiURL  string
	algs    []string
	linking bool // its verified addresses may link to existing accounts
	issuer  string
	// multiTenant: Microsoft's common, organizations or consumers; the
	// issuer depends on the token's tid.
	multiTenant string

	// now is the clock ID tokens are checked by: the Service's.
	now atomic.Pointer[func() time.Time]

	mu       sync.Mutex
	issParam bool // the discovery document promises the iss parameter (RFC 9207)
	op       *oidc.Provider
	verifier *oidc.IDTokenVerifier
	failedAt time.Time
	lastErr  error
}

var defaultAlgorithms = []string{"RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "PS384", "PS512", "EdDSA"}

// Google returns the Google provider (OpenID Connect), stored as GOOGLE.
func Google(c ProviderConfig) (*Provider, error) {
	if c.Issuer == "" {
		c.Issuer = "https://accounts.google.com"
	}
	return newOIDC("google", c)
}

// Microsoft returns the Microsoft identity platform provider (OpenID
// Connect, v2.0 endpoints), stored as MICROSOFT. Its email claim is not
// verified by Microsoft, so it never links to an existing account by
// email.
func Microsoft(c ProviderConfig) (*Provider, error) {
	tenant := c.Tenant
	if tenant == "" {
		tenant = "common"
	}
	c.NoEmailLinking = true
	if c.Issuer != "" {
		return newOIDC("microsoft", c)
	}
	switch tenant {
	case "common", "organizations", "consumers":
		p, err := newProvider("microsoft", kindOIDC, c)
		if err != nil {
			return nil, err
		}
		p.multiTenant = tenant
		base := "https://login.microsoftonline.com/" + tenant
		p.issuer = "https://login.microsoftonline.com/{tenantid}/v2.0"
		p.op = (&oidc.ProviderConfig{
			IssuerURL: p.issuer, AuthURL: base + "/oauth2/v2.0/authorize", TokenURL: base + "/oauth2/v2.0/token",
			UserInfoURL: "https://graph.microsoft.com/oidc/userinfo", JWKSURL: base + "/discovery/v2.0/keys",
			Algorithms: p.algs,
		}).NewProvider(oidc.ClientContext(context.Background(), p.client))
		p.verifier = p.op.Verifier(&oidc.Config{ClientID: c.ClientID, SupportedSigningAlgs: p.algs, SkipIssuerCheck: true, Now: p.clock})
		p.conf.Endpoint = p.op.Endpoint()
		return p, nil
	}
	c.Issuer = "https://login.microsoftonline.com/" + url.PathEscape(tenant) + "/v2.0"
	return newOIDC("microsoft", c)
}

// microsoftConsumers is the tenant id of personal Microsoft accounts.
const microsoftConsumers = "9188040d-6c67-4c5b-b112-36a304b66dad"

// microsoftIssuerOK checks a multi-tenant ID token's issuer against its
// tenant id, and the tenant against the configured audience.
func microsoftIssuerOK(tenant, iss, tid string) bool {
	if tid == "" || strings.ContainsAny(tid, "/?#") || iss != "https://login.microsoftonline.com/"+tid+"/v2.0" {
		return false
	}
	switch tenant {
	case "consumers":
		return tid == microsoftConsumers
	case "organizations":
		return tid != microsoftConsumers
	}
	return true
}

// Facebook returns the Facebook Login provider (OAuth 2.0 and the Graph
// API), stored as FACEBOOK. Facebook does not say whether an address is
// verified, so it never links to an existing account by email.
func Facebook(c ProviderConfig) (*Provider, error) {
	if len(c.Scopes) == 0 {
		c.Scopes = []string{"email", "public_profile"}
	}
	c.AuthURL = or(c.AuthURL, "https://www.facebook.com/v19.0/dialog/oauth")
	c.TokenURL = or(c.TokenURL, "https://graph.facebook.com/v19.0/oauth/access_token")
	c.APIURL = or(c.APIURL, "https://graph.facebook.com/v19.0")
	p, err := newProvider("facebook", kindFacebook, c)
	if err != nil {
		return nil, err
	}
	p.linking = false
	return p, nil
}

// GitHub returns the GitHub provider (OAuth 2.0 and the REST API),
// stored as GITHUB. The address is the account's primary one, verified
// when GitHub says so.
func GitHub(c ProviderConfig) (*Provider, error) {
	if len(c.Scopes) == 0 {
		c.Scopes = []string{"read:user", "user:email"}
	}
	c.AuthURL = or(c.AuthURL, "https://github.com/login/oauth/authorize")
	c.TokenURL = or(c.TokenURL, "https://github.com/login/oauth/access_token")
	c.APIURL = or(c.APIURL, "https://api.github.com")
	return newProvider("github", kindGitHub, c)
}

// OIDC returns an OpenID Connect provider found from its issuer URL
// (c.Issuer, required), under name: its route name
// (/auth/oauth/{name}/...), lower-case letters, digits, '-' and '_', 1
// to 50 long; it is stored upper-cased.
func OIDC(name string, c ProviderConfig) (*Provider, error) {
	if c.Issuer == "" {
		return nil, errs.Configf("oauth", "ProviderConfig.Issuer", "required for an OpenID Connect provider")
	}
	return newOIDC(name, c)
}

func newOIDC(name string, c ProviderConfig) (*Provider, error) {
	if len(c.Scopes) == 0 {
		c.Scopes = []string{oidc.ScopeOpenID, "email", "profile"}
	}
	if !contains(c.Scopes, oidc.ScopeOpenID) {
		return nil, errs.Configf("oauth", "ProviderConfig.Scopes", "an OpenID Connect provider needs the openid scope")
	}
	if u, err := url.Parse(c.Issuer); err != nil || u.Scheme == "" || u.Host == "" {
		return nil, errs.Configf("oauth", "ProviderConfig.Issuer", "not an absolute URL")
	}
	p, err := newProvider(name, kindOIDC, c)
	if err != nil {
		return nil, err
	}
	p.issuer = c.Issuer
	return p, nil
}

func newProvider(name string, kind providerKind, c ProviderConfig) (*Provider, error) {
	if !validName(name) {
		return nil, errs.Configf("oauth", "name", "must be 1 to 50 of a-z, 0-9, '-' and '_'")
	}
	switch {
	case c.ClientID == "":
		return nil, errs.Configf("oauth", "ProviderConfig.ClientID", "required")
	case c.ClientSecret == "":
		return nil, errs.Configf("oauth", "ProviderConfig.ClientSecret", "required")
	}
	if u, err := url.Parse(c.RedirectURL); err != nil || u.Scheme == "" || u.Host == "" || u.Fragment != "" {
		return nil, errs.Configf("oauth", "ProviderConfig.RedirectURL", "must be an absolute URL without a fragment")
	}
	algs := c.Algorithms
	if len(algs) == 0 {
		algs = defaultAlgorithms
	}
	for _, a := range algs {
		if !contains(defaultAlgorithms, a) {
			return nil, errs.Configf("oauth", "ProviderConfig.Algorithms", "%q is not an asymmetric JWS algorithm", a)
		}
	}
	client := c.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	limited := *client
	limited.Transport = limitBodies{next: client.Transport}
	p := &Provider{
		issuer: c.Issuer,
		name:   name, stored: strings.ToUpper(name), kind: kind, client: &limited, apiURL: strings.TrimSuffix(c.APIURL, "/"),
		algs: append([]string(nil), algs...), linking: !c.NoEmailLinking,
		conf: oauth2.Config{
			ClientID: c.ClientID, ClientSecret: c.ClientSecret, RedirectURL: c.RedirectURL,
			Scopes:   append([]string(nil), c.Scopes...),
			Endpoint: oauth2.Endpoint{AuthURL: c.AuthURL, TokenURL: c.TokenURL},
		},
	}
	if kind != kindOIDC {
		for field, v := range map[string]string{"AuthURL": c.AuthURL, "TokenURL": c.TokenURL, "APIURL": c.APIURL} {
			if u, err := url.Parse(v); err != nil || u.Scheme == "" || u.Host == "" {
				return nil, errs.Configf("oauth", "ProviderConfig."+field, "not an absolute URL")
			}
		}
	}
	return p, nil
}

// clock is the time ID tokens are checked at.
func (p *Provider) clock() time.Time {
	if f := p.now.Load(); f != nil {
		return (*f)()
	}
	return time.Now()
}

// Name returns the provider's route name ("google").
func (p *Provider) Name() string { return p.name }

// StoredName returns the name stored in oauth_profiles.provider
// ("GOOGLE").
func (p *Provider) StoredName() string { return p.stored }

// Issuer returns the provider's issuer identifier: the OpenID Connect
// issuer, or the one configured for an OAuth 2.0 provider ("" when none).
func (p *Provider) Issuer() string { return p.issuer }

func validName(s string) bool {
	if s == "" || len(s) > 50 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

// errUnavailable: the provider's discovery document or key set could
// not be fetched.
var errUnavailable = errors.New("oauth: provider unavailable")

// discoveryRetry is how long a failed discovery is remembered before the
// next request tries again.
const discoveryRetry = 5 * time.Second

// discover fetches the OpenID Connect discovery document once, checking
// that it names the configured issuer, and keeps it. A failure is
// retried by a later call, after discoveryRetry.
func (p *Provider) discover(ctx context.Context) error {
	if p.kind != kindOIDC {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.op != nil {
		return nil
	}
	if p.lastErr != nil && time.Since(p.failedAt) < discoveryRetry {
		return p.lastErr
	}
	// The provider keeps the context for its key set's later fetches:
	// give it one that is not cancelled with this request.
	dctx := oidc.ClientContext(context.WithoutCancel(ctx), p.client)
	dctx, cancel := context.WithTimeout(dctx, 10*time.Second)
	defer cancel()
	op, err := oidc.NewProvider(dctx, p.issuer)
	if err != nil {
		p.failedAt, p.lastErr = time.Now(), fmt.Errorf("%w: %s discovery: %s", errUnavailable, p.name, safeErr(err))
		return p.lastErr
	}
	var meta struct {
		ISS bool `json:"authorization_response_iss_parameter_supported"`
	}
	_ = op.Claims(&meta) // the document was decoded once already
	p.op, p.issParam = op, meta.ISS
	p.verifier = op.VerifierContext(oidc.ClientContext(context.Background(), p.client),
		&oidc.Config{ClientID: p.conf.ClientID, SupportedSigningAlgs: p.algs, Now: p.clock})
	p.conf.Endpoint = op.Endpoint()
	p.lastErr = nil
	return nil
}

// safeErr describes err without what a provider's response body said.
func safeErr(err error) string {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		s := "token endpoint answered " + strconv.Itoa(re.Response.StatusCode)
		if re.ErrorCode != "" {
			s += " " + strconv.Quote(re.ErrorCode)
		}
		return s
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return "request failed: " + ue.Err.Error()
	}
	var me *oidc.IssuerMismatchError
	if errors.As(err, &me) {
		return "discovery document names another issuer"
	}
	msg := err.Error()
	if i := strings.IndexAny(msg, "\n{"); i >= 0 { // response bodies follow
		msg = msg[:i]
	}
	if len(msg) > 200 {
		msg = msg[:200]
	}
	return msg
}

// checkIssuerParam checks the authorization response's iss parameter
// (RFC 9207): when present it must name the provider's issuer (if one is
// known), and a provider whose discovery document promises it must send
// it.
func (p *Provider) checkIssuerParam(iss string) error {
	p.mu.Lock()
	required := p.issParam
	p.mu.Unlock()
	switch {
	case p.multiTenant != "":
		return nil // the issuer depends on the tenant; the ID token's is checked
	case iss == "" && required:
		return errors.New("the authorization response has no iss parameter, which the provider promises")
	case iss != "" && p.issuer != "" && iss != p.issuer:
		return errors.New("the authorization response names another issuer")
	}
	return nil
}

// authCodeURL returns the authorization request URL.
func (p *Provider) authCodeURL(ctx context.Context, f *flow) (string, error) {
	if err := p.discover(ctx); err != nil {
		return "", err
	}
	opts := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(f.Verifier)}
	if f.Nonce != "" {
		opts = append(opts, oidc.Nonce(f.Nonce))
	}
	return p.config().AuthCodeURL(f.State, opts...), nil
}

func (p *Provider) config() *oauth2.Config {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := p.conf
	return &c
}

// exchange trades the code for tokens, proving the flow with its PKCE
// verifier.
func (p *Provider) exchange(ctx context.Context, code, verifier string) (*oauth2.Token, error) {
	ctx = context.WithValue(ctx, oauth2.HTTPClient, p.client)
	return p.config().Exchange(ctx, code, oauth2.VerifierOption(verifier))
}

// limitBodies caps every response body the provider sends at 1 MiB.
type limitBodies struct{ next http.RoundTripper }

const maxResponse = 1 << 20

func (l limitBodies) RoundTrip(r *http.Request) (*http.Response, error) {
	next := l.next
	if next == nil {
		next = http.DefaultTransport
	}
	resp, err := next.RoundTrip(r)
	if err == nil {
		resp.Body = struct {
			io.Reader
			io.Closer
		}{io.LimitReader(resp.Body, maxResponse), resp.Body}
	}
	return resp, err
}

// getJSON fetches url with the access token and decodes the JSON answer.
func (p *Provider) getJSON(ctx context.Context, u string, tok *oauth2.Token, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	tok.SetAuthHeader(req)
	resp, err := p.client.Do(req)
	if err != nil {
		return fmt.Errorf("request failed: %s", safeErr(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("answered %d", resp.StatusCode)
	}
	dec := json.NewDecoder(resp.Body)
	dec.UseNumber() // account ids beyond 2^53 stay exact
	if err := dec.Decode(v); err != nil {
		return errors.New("answered malformed JSON")
	}
	return nil
}

func or(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
