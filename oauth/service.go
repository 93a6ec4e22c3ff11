package oauth

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"golang.org/x/oauth2"

	"github.com/cedrina/cedrina/audit"
	"github.com/cedrina/cedrina/internal/errs"
	"github.com/cedrina/cedrina/store"
	"github.com/cedrina/cedrina/user"
)

// Config configures a [Service]. Providers, Users, Store, Tx and Cipher
// are required.
type Config struct {
	// Providers are the identity providers users may sign in with, each
	// under its own name; several at once. Give each provider to one
	// Service: it checks ID tokens by that Service's clock.
	Providers []*Provider
	// Users creates the accounts of new identities and records their
	// sign-ins.
	Users *user.Service
	// Store keeps linked identities and spent flow states; Tx spans it and
	// the user store (an account and its first identity are created in
	// one transaction).
	Store Store
	Tx    store.Transactor
	// Cipher seals provider tokens at rest.
	Cipher *Cipher
	// StateKey (32 bytes) seals the flow state cookie. Give every
	// instance of a deployment the same key. Default: a random key of
	// this Service, which only it can open: flows do not survive a
	// restart or cross instances.
	StateKey []byte
	// StateTTL is how long a flow may take from Begin to the callback.
	// Default 10 minutes; from 1 minute to 1 hour.
	StateTTL time.Duration
	// ReturnTo is the allowlist of where a flow may send the browser
	// afterwards (return_to): absolute http(s) URLs or paths of the
	// host's own site ("/account"). An entry that ends in "/" allows
	// every path under it; any other entry allows itself only. Anything
	// else is refused: no open redirect.
	ReturnTo []string
	// DefaultReturnTo is the return_to of a flow begun without one;
	// default the first ReturnTo entry, or "/" without any.
	DefaultReturnTo string
	// Now is the clock (state expiry, ID token expiry, stored times).
	// Default time.Now.
	Now func() time.Time
	// Logger receives refusals (with their reasons) and failures.
	// Default: discard.
	Logger *slog.Logger
	// Recorder receives the audit events: oauth_login, oauth_linked,
	// oauth_unlinked, oauth_refused, and user_registered for accounts
	// made from an identity.
	Recorder audit.Recorder
}

// Service runs OAuth 2.0 / OpenID Connect sign-in and account linking.
// It is safe for concurrent use.
type Service struct {
	providers map[string]*Provider
	names     []string
	users     *user.Service
	store     Store
	tx        store.Transactor
	cipher    *Cipher
	sealer    *sealer
	ttl       time.Duration
	rules     []returnRule
	defReturn string
	now       func() time.Time
	log       *slog.Logger
	rec       audit.Recorder
}

// NewService returns the Service for cfg, or an error naming the bad
// field.
func NewService(cfg Config) (*Service, error) {
	switch {
	case len(cfg.Providers) == 0:
		return nil, errs.Configf("oauth", "Config.Providers", "at least one is required")
	case cfg.Users == nil:
		return nil, errs.Configf("oauth", "Config.Users", "required")
	case cfg.Store == nil:
		return nil, errs.Configf("oauth", "Config.Store", "required")
	case cfg.Tx == nil:
		return nil, errs.Configf("oauth", "Config.Tx", "required")
	case cfg.Cipher == nil:
		return nil, errs.Configf("oauth", "Config.Cipher", "required")
	}
	s := &Service{providers: map[string]*Provider{}, users: cfg.Users, store: cfg.Store, tx: cfg.Tx, cipher: cfg.Cipher,
		ttl: cfg.StateTTL, now: cfg.Now, log: cfg.Logger, rec: cfg.Recorder}
	for i, p := range cfg.Providers {
		if p == nil {
			return nil, errs.Configf("oauth", fmt.Sprintf("Config.Providers[%d]", i), "nil")
		}
		if _, dup := s.providers[p.name]; dup {
			return nil, errs.Configf("oauth", fmt.Sprintf("Config.Providers[%d]", i), "a second provider named %q", p.name)
		}
		s.providers[p.name] = p
		s.names = append(s.names, p.name)
	}
	key := cfg.StateKey
	if key == nil {
		key = make([]byte, 32)
		rand.Read(key)
	}
	if len(key) != 32 {
		return nil, errs.Configf("oauth", "Config.StateKey", "%d bytes; want 32", len(key))
	}
	s.sealer, _ = newSealer(key) // 32 bytes: never fails
	switch {
	case s.ttl == 0:
		s.ttl = 10 * time.Minute
	case s.ttl < time.Minute || s.ttl > time.Hour:
		return nil, errs.Configf("oauth", "Config.StateTTL", "%v is outside 1m..1h", s.ttl)
	}
	var err error
	if s.rules, err = parseReturnRules(cfg.ReturnTo); err != nil {
		return nil, err
	}
	s.defReturn = cfg.DefaultReturnTo
	switch {
	case s.defReturn == "" && len(cfg.ReturnTo) > 0:
		s.defReturn = cfg.ReturnTo[0]
	case s.defReturn == "":
		s.defReturn = "/"
	case !allowReturnTo(s.rules, s.defReturn):
		return nil, errs.Configf("oauth", "Config.DefaultReturnTo", "not in Config.ReturnTo")
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	for _, p := range s.providers {
		p.now.Store(&s.now)
	}
	return s, nil
}

func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// Providers returns the names of the configured providers, in
// configuration order.
func (s *Service) Providers() []string { return append([]string(nil), s.names...) }

// Provider returns the provider of that route name.
func (s *Service) Provider(name string) (*Provider, bool) {
	p, ok := s.providers[name]
	return p, ok
}

// Authorization is a begun flow: send the browser to URL, and keep State
// in the [StateCookieName] cookie ([SetStateCookie]) until the callback.
type Authorization struct {
	// URL is the provider's authorization URL, with the state, the PKCE
	// S256 challenge and, for OpenID Connect, the nonce.
	URL string
	// State is the flow, sealed: only this Service (or one with the same
	// StateKey) can open it, and nothing in it can be changed.
	State string
	// ExpiresAt is when the flow expires (Config.StateTTL).
	ExpiresAt time.Time
	// MaxAge is the cookie's lifetime (Config.StateTTL).
	MaxAge time.Duration
}

// Begin starts a sign-in with the provider of that name. returnTo is
// where the browser goes afterwards ("" for Config.DefaultReturnTo); it
// must match the allowlist.
//
// Errors: ErrUnknownProvider; ErrReturnToRefused; ErrProviderUnavailable
// when an OpenID Connect provider's discovery document cannot be
// fetched.
func (s *Service) Begin(ctx context.Context, provider, returnTo string) (*Authorization, error) {
	return s.begin(ctx, provider, returnTo, nil)
}

// BeginLink starts linking an identity of the provider to the signed-in
// user userID. The link is made at the callback only if the account is
// then still active and has the security stamp it has now: a password
// change or reset or a deactivation in between voids the flow.
//
// Errors: as Begin; user.ErrNotFound.
func (s *Service) BeginLink(ctx context.Context, provider string, userID int64, returnTo string) (*Authorization, error) {
	u, err := s.users.Get(ctx, userID)
	if err != nil {
		return nil, err
	}
	return s.begin(ctx, provider, returnTo, u)
}

func (s *Service) begin(ctx context.Context, name, returnTo string, link *user.User) (*Authorization, error) {
	p, ok := s.providers[name]
	if !ok {
		return nil, ErrUnknownProvider
	}
	if returnTo == "" {
		returnTo = s.defReturn
	} else if !allowReturnTo(s.rules, returnTo) {
		return nil, ErrReturnToRefused
	}
	now := s.clock()
	f := &flow{V: 1, State: randomToken(32), Verifier: oauth2.GenerateVerifier(), Provider: p.name, ReturnTo: returnTo,
		Expires: now.Add(s.ttl).Unix()}
	if p.kind == kindOIDC {
		f.Nonce = randomToken(32)
	}
	if link != nil {
		f.LinkUser, f.LinkStamp = link.ID, link.SecurityStamp
	}
	authURL, err := p.authCodeURL(ctx, f)
	if err != nil {
		s.log.WarnContext(ctx, "oauth: provider unavailable", "provider", p.name, "error", err)
		return nil, err
	}
	return &Authorization{URL: authURL, State: s.sealer.seal(f), ExpiresAt: time.Unix(f.Expires, 0).UTC(), MaxAge: s.ttl}, nil
}

// Callback is what the provider's redirect brought back.
type Callback struct {
	// Provider is the route name of the callback's provider.
	Provider string
	// Cookie is the [StateCookieName] cookie's value, "" when absent.
	Cookie string
	// The authorization response's parameters (RFC 6749 4.1.2, RFC 9207).
	State            string
	Code             string
	Error            string
	ErrorDescription string
	Issuer           string // iss, "" when absent
}

// CallbackFromRequest reads a Callback from the provider's redirect to
// the callback URL of provider.
func CallbackFromRequest(r *http.Request, provider string) Callback {
	q := r.URL.Query()
	cb := Callback{Provider: provider, State: q.Get("state"), Code: q.Get("code"), Error: q.Get("error"),
		ErrorDescription: q.Get("error_description"), Issuer: q.Get("iss")}
	if c, err := r.Cookie(StateCookieName); err == nil {
		cb.Cookie = c.Value
	}
	return cb
}

// Outcome says what a completed flow did.
type Outcome string

// The outcomes of a flow.
const (
	// SignedIn: a linked identity signed its account in.
	SignedIn Outcome = "signed_in"
	// SignedUp: a new identity; an account was made for it.
	SignedUp Outcome = "signed_up"
	// LinkedByEmail: a new identity whose verified address is the
	// verified address of an existing account, linked to it and signed in.
	LinkedByEmail Outcome = "linked_by_email"
	// Linked: the identity was linked to the signed-in user who began the
	// flow with BeginLink. No sign-in: the user has a session.
	Linked Outcome = "linked"
)

// Result is a completed flow.
type Result struct {
	Outcome Outcome
	// User is the account: for every outcome but Linked, as the sign-in
	// left it, with the security stamp session.Service.Start needs.
	User *user.User
	// Identity is who the provider said signed in.
	Identity *Identity
	// ReturnTo is where the flow was to send the browser (allowlisted).
	ReturnTo string
}

// Complete finishes a flow at the callback: it checks the state against
// the cookie (sealed, unexpired, begun with this provider, never used
// before: it is spent here, once), refuses a provider error and an iss
// parameter naming another issuer, exchanges the code with the PKCE
// verifier, verifies the ID token (signature against the provider's key
// set with an algorithm allow-list, issuer, audience, expiry, nonce),
// fetches the user info, and then:
//   - a linked identity signs its account in (SignedIn), its stored
//     tokens and user info refreshed;
//   - in a BeginLink flow, the identity is linked to that user (Linked);
//   - a new identity whose address belongs to an account links to it and
//     signs in (LinkedByEmail) only when the provider asserts that it
//     verified the address, the provider may link by address, and the
//     account's address is verified; otherwise it is refused with
//     ReasonLinkRequired (errors.Is ErrLinkRequired): the user signs in
//     to that account and links from there;
//   - any other new identity gets a new account without a password, its
//     username derived from the identity and made unique, created with
//     the identity in one transaction (SignedUp).
//
// Every refusal is a *CallbackError (errors.Is ErrCallbackRefused) and is
// recorded as oauth_refused with its reason; store failures are returned
// as they are.
func (s *Service) Complete(ctx context.Context, cb Callback) (*Result, error) {
	res, err := s.complete(ctx, cb)
	var ce *CallbackError
	if errors.As(err, &ce) {
		if ce.Provider == "" {
			if p, ok := s.providers[cb.Provider]; ok {
				ce.Provider = p.stored
			}
		}
		attrs := []any{"provider", cb.Provider, "reason", string(ce.Reason)}
		if ce.Err != nil {
			attrs = append(attrs, "detail", ce.Err.Error())
		}
		if ce.UserID != 0 {
			attrs = append(attrs, "user_id", ce.UserID)
		}
		s.log.InfoContext(ctx, "oauth: callback refused", attrs...)
		data := map[string]any{"provider": ce.Provider, "reason": string(ce.Reason)}
		if ce.Provider == "" {
			data["provider"] = safeName(cb.Provider)
		}
		s.record(ctx, audit.OAuthRefused, audit.Warning, ce.UserID, data)
	}
	return res, err
}

// safeName is a callback's provider name fit for the audit trail.
func safeName(name string) string {
	if validName(name) {
		return name
	}
	return "(invalid)"
}

func (s *Service) complete(ctx context.Context, cb Callback) (*Result, error) {
	p, ok := s.providers[cb.Provider]
	if !ok {
		return nil, refuse(ReasonProviderMismatch, ErrUnknownProvider)
	}
	f, err := s.checkState(ctx, p, cb)
	if err != nil {
		return nil, err
	}
	if cb.Error != "" {
		return nil, refuse(ReasonProviderError, fmt.Errorf("provider answered error %q", printableOr(cb.Error, 64)))
	}
	if err := p.discover(ctx); err != nil {
		return nil, refuse(ReasonProviderUnavailable, err)
	}
	if err := p.checkIssuerParam(cb.Issuer); err != nil {
		return nil, refuse(ReasonIssuerMismatch, err)
	}
	if cb.Code == "" {
		return nil, refuse(ReasonCodeMissing, nil)
	}
	tok, err := p.exchange(ctx, cb.Code, f.Verifier)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, refuse(ReasonExchangeFailed, errors.New(safeErr(err)))
	}
	id, cerr := p.identity(ctx, tok, f.Nonce)
	if cerr != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, cerr
	}
	res, err := s.resolve(ctx, p, f, id, tok)
	if err != nil {
		return nil, err
	}
	res.Identity, res.ReturnTo = id, f.ReturnTo
	return res, nil
}

// printableOr returns s, cut to n bytes, when it is printable ASCII.
func printableOr(s string, n int) string {
	if len(s) > n {
		s = s[:n]
	}
	for _, r := range s {
		if r < 0x20 || r > 0x7e {
			return "(unprintable)"
		}
	}
	return s
}

// checkState opens the cookie and checks the flow against the callback,
// then spends the state.
func (s *Service) checkState(ctx context.Context, p *Provider, cb Callback) (*flow, error) {
	if cb.Cookie == "" || cb.State == "" {
		return nil, refuse(ReasonStateMissing, nil)
	}
	f, err := s.sealer.open(cb.Cookie)
	if err != nil {
		return nil, refuse(ReasonStateInvalid, err)
	}
	if !sameString(f.State, cb.State) {
		return nil, refuse(ReasonStateMismatch, nil)
	}
	if f.Provider != p.name {
		return nil, refuse(ReasonProviderMismatch, fmt.Errorf("the flow began with %s", f.Provider))
	}
	now := s.clock()
	exp := time.Unix(f.Expires, 0)
	if !exp.After(now) {
		return nil, &CallbackError{Reason: ReasonStateExpired, UserID: f.LinkUser}
	}
	switch err := s.store.SpendState(ctx, stateHash(f.State), exp); {
	case errors.Is(err, ErrStateSpent):
		return nil, &CallbackError{Reason: ReasonStateReplayed, UserID: f.LinkUser}
	case err != nil:
		return nil, fmt.Errorf("oauth: spending the flow state: %w", err)
	}
	return f, nil
}
