package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/cedrina/cedrina/audit"
	"github.com/cedrina/cedrina/authhttp"
	"github.com/cedrina/cedrina/notify"
	"github.com/cedrina/cedrina/oauth"
	"github.com/cedrina/cedrina/ratelimit"
	"github.com/cedrina/cedrina/rbac"
	"github.com/cedrina/cedrina/reset"
	"github.com/cedrina/cedrina/schema"
	"github.com/cedrina/cedrina/session"
	"github.com/cedrina/cedrina/store"
	"github.com/cedrina/cedrina/store/postgres"
	"github.com/cedrina/cedrina/user"
)

// stores are the storage backends the services run on: store/memory or
// store/postgres.
type stores struct {
	// tx runs the reset service's transactions: the database that holds
	// the stores.
	tx       store.Transactor
	users    user.Store
	sessions session.Store
	resets   reset.Store
	// audit keeps the audit trail; nil records nothing.
	audit audit.Store
	// rateLimits keeps the counters of every rate limit, the API's and
	// the reset service's; nil means a memory store of the app's own.
	rateLimits ratelimit.Store
	// ping checks the database for /healthz; nil when there is nothing to
	// check (the in-memory store).
	ping func(context.Context) error
	// oauth keeps the linked external identities and the spent sign-in
	// flow states (with appConfig.oauth): the database that tx spans.
	oauth oauth.Store
	// rules keeps the authorization policy; nil means an
	// rbac.MemoryStore of the app's own.
	rules rbac.Store
	// policyWatcher reports the policy changes of other instances (on
	// PostgreSQL, store/postgres's PolicyWatcher); nil when the rules
	// store is its own watcher or there are no other instances.
	policyWatcher rbac.Watcher
	// adopted is the record of the database's adoption from the original
	// system (schema.Adopted); nil when it was not adopted.
	adopted *schema.Adoption
}

// appConfig configures the services. The zero value is the SDK's defaults.
type appConfig struct {
	users user.Config
	audit audit.Config
	// sessions configures the session service. Without Keys, the app
	// signs with a fresh EdDSA key; an empty Issuer and Audience become
	// tokenIssuer and tokenAudience. Logger and Recorder are the app's.
	sessions session.Config
	// proxies are the trusted reverse proxies for client IPs.
	proxies audit.Proxies
	// timeout is each request's deadline; zero means handlerTimeout.
	timeout time.Duration
	// publicURL is the base URL of the front end that password reset and
	// email verification links point at (publicURL/reset-password,
	// publicURL/verify-email). Required.
	publicURL string
	// notifier sends the links and notices; nil means notify.Log on the
	// app's logger, which writes them to the log instead.
	notifier notify.Notifier
	// rateLimit configures the API's rate limits (login, registration,
	// verification requests); its Store and Recorder are the app's.
	// Disabled also turns off the reset service's limits.
	rateLimit authhttp.RateLimitConfig
	// noSeedPolicy leaves the policy alone at start; by default, a policy
	// without any active p rule the model can use gets
	// authhttp.AdminRules.
	noSeedPolicy bool
	// oauth, when set, serves sign-in with external identities
	// (authhttp.Config.OAuth) on stores.oauth. In its redirect mode the
	// API also accepts the session cookie, whose unsafe requests must
	// come from publicURL's origin.
	oauth *oauthSettings
}

// app is the program's HTTP side: the SDK's API (package authhttp) on
// services built here, its own /healthz, and the middleware around both.
type app struct {
	log     *slog.Logger
	api     *authhttp.Handler
	users   *user.Service  // closed at shutdown: it sends messages
	resets  *reset.Service // likewise
	events  *audit.Writer  // nil without an audit store
	trail   *audit.Service // likewise
	authz   *rbac.Authorizer
	oauth   *oauth.Service // nil without appConfig.oauth
	proxies audit.Proxies
	timeout time.Duration
	ping    func(context.Context) error
}

// The iss and aud claims of this app's access tokens.
const (
	tokenIssuer   = "cedrina-example"
	tokenAudience = "cedrina-example"
)

// newApp builds the services and the API on them. With an audit store,
// account and session events go through a batched audit writer that
// close flushes. The user and reset services send their messages through
// cfg.notifier. The Authorizer loads the policy with ctx (and seeds it,
// unless cfg.noSeedPolicy) and serves the API's /admin/ routes.
func newApp(ctx context.Context, log *slog.Logger, st stores, cfg appConfig) (*app, error) {
	a := &app{log: log, ping: st.ping, proxies: cfg.proxies, timeout: cfg.timeout}
	if a.timeout == 0 {
		a.timeout = handlerTimeout
	}
	resetURL, err := url.JoinPath(cfg.publicURL, "reset-password")
	if err != nil {
		return nil, err
	}
	verifyURL, err := url.JoinPath(cfg.publicURL, "verify-email")
	if err != nil {
		return nil, err
	}
	if cfg.notifier == nil {
		cfg.notifier = notify.Log(log)
		log.Warn("development notifier: password reset and verification links are written to this log, not mailed",
			"reset_url", resetURL, "verify_url", verifyURL)
	}
	if st.audit != nil {
		if a.trail, err = audit.NewService(st.audit, cfg.audit); err != nil {
			return nil, err
		}
		if a.events, err = a.trail.NewWriter(audit.WriterConfig{}); err != nil {
			return nil, err
		}
		cfg.users.Recorder = a.events
		cfg.sessions.Recorder = a.events
	}
	sc := cfg.sessions
	if sc.Keys == nil {
		k, err := session.GenerateKey(session.EdDSA, "")
		if err != nil {
			return nil, err
		}
		if sc.Keys, err = session.NewKeySet(k); err != nil {
			return nil, err
		}
		log.Warn("ephemeral key: tokens die with the process", "alg", string(k.Algorithm()), "kid", k.ID())
	}
	if sc.Issuer == "" {
		sc.Issuer = tokenIssuer
	}
	if len(sc.Audience) == 0 {
		sc.Audience = []string{tokenAudience}
	}
	sc.Logger = log
	// Sessions first, then users with Sessions set: a password change or
	// a deactivation then ends the user's sessions at once.
	sessions, err := session.NewService(st.sessions, sc)
	if err != nil {
		return nil, err
	}
	cfg.users.Sessions = sessions
	cfg.users.Notifier = cfg.notifier
	cfg.users.Verification.URL = verifyURL
	if a.users, err = user.NewService(st.users, cfg.users); err != nil {
		return nil, err
	}
	// One store for every rate limit: the API's and the reset service's
	// (their policies have their own names, so their counters stay
	// apart). On PostgreSQL it is shared by every instance.
	limits := st.rateLimits
	if limits == nil {
		if limits, err = ratelimit.NewMemoryStore(ratelimit.MemoryConfig{}); err != nil {
			a.users.Close(context.Background())
			return nil, err
		}
	}
	rl := cfg.rateLimit
	rl.Store = limits
	rc := reset.Config{Users: a.users, Sessions: sessions, Notifier: cfg.notifier, URL: resetURL, Logger: log,
		RateLimits: limits, NoRateLimit: rl.Disabled}
	if a.events != nil {
		rc.Recorder = a.events
		rl.Recorder = a.events
	}
	if a.resets, err = reset.NewService(st.resets, st.tx, rc); err != nil {
		a.users.Close(context.Background()) // nothing was queued
		return nil, err
	}
	if a.authz, err = newAuthorizer(ctx, log, st, a.events, !cfg.noSeedPolicy); err != nil {
		a.resets.Close(context.Background())
		a.users.Close(context.Background())
		return nil, err
	}
	api := authhttp.Config{Users: a.users, Sessions: sessions, Reset: a.resets,
		Authorizer: a.authz, Audit: a.trail, TrustedProxies: cfg.proxies, RateLimit: rl, Logger: log}
	if cfg.oauth != nil {
		err = a.setupOAuth(st, cfg, &api)
	}
	if err == nil {
		a.api, err = authhttp.New(api)
	}
	if err != nil {
		a.authz.Close(context.Background())
		a.resets.Close(context.Background())
		a.users.Close(context.Background())
		return nil, err
	}
	return a, nil
}

// setupOAuth builds the oauth service of cfg.oauth on st.oauth, and sets
// it in api with its callback mode. Sign-ins, links and refusals are
// recorded through the app's audit writer. In redirect mode the API and
// RequireAuth accept the session cookie the callback sets; its unsafe
// requests must come from the front end's origin (cfg.publicURL), or
// from the same origin (Sec-Fetch-Site).
func (a *app) setupOAuth(st stores, cfg appConfig, api *authhttp.Config) error {
	if st.oauth == nil {
		return errors.New("--oauth-config: the store keeps no linked identities")
	}
	oc := oauth.Config{Providers: cfg.oauth.providers, Users: a.users, Store: st.oauth, Tx: st.tx,
		Cipher: cfg.oauth.cipher, StateKey: cfg.oauth.stateKey, ReturnTo: cfg.oauth.returnTo,
		DefaultReturnTo: cfg.oauth.defaultReturnTo, Logger: a.log}
	if a.events != nil {
		oc.Recorder = a.events
	}
	var err error
	if a.oauth, err = oauth.NewService(oc); err != nil {
		return fmt.Errorf("--oauth-config: %w", err)
	}
	api.OAuth, api.OAuthCallback = a.oauth, cfg.oauth.callback
	if cfg.oauth.callback == authhttp.OAuthRedirect {
		u, err := url.Parse(cfg.publicURL)
		if err != nil {
			return err
		}
		api.Auth = session.MiddlewareConfig{AllowCookie: true, AllowedOrigins: []string{u.Scheme + "://" + u.Host}}
	}
	return nil
}

// newAuthorizer loads the policy from st.rules (a memory store of its
// own when nil), following the changes st.policyWatcher reports, and
// records policy changes and denials through rec (nil: none). With seed,
// a policy that has no active rule gets the default admin policy,
// authhttp.AdminRules: the role ADMIN may use every /admin/ route; so
// does a policy whose p rules the model cannot use (grantsAnything).
// Several instances starting at once on an empty table may each seed it;
// adding a rule that is already active changes nothing.
func newAuthorizer(ctx context.Context, log *slog.Logger, st stores, rec *audit.Writer, seed bool) (*rbac.Authorizer, error) {
	rules := st.rules
	if rules == nil {
		rules = rbac.NewMemoryStore()
	}
	cfg := rbac.Config{Store: rules, Watcher: st.policyWatcher, Logger: log}
	if rec != nil {
		cfg.Recorder = rec
	}
	az, err := rbac.New(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if !seed {
		return az, nil
	}
	active, err := az.Rules(ctx, rbac.Filter{})
	if err == nil && !grantsAnything(az.Model(), active) {
		var n int
		n, err = az.AddRules(audit.ContextWithActor(ctx, audit.Actor{Name: "bootstrap"}), authhttp.AdminRules()...)
		if n > 0 {
			log.Info("seeded the admin policy: the role ADMIN may use every /admin/ route", "rule", "p, admin, /admin/*, *")
		}
	}
	if err != nil {
		az.Close(context.Background())
		return nil, err
	}
	return az, nil
}

// grantsAnything reports whether rules hold a p rule the model can use.
// A database adopted from the original system holds that system's
// attribute rules (six values), which the RBAC model skips: it gets the
// admin policy too, and the attribute rules stay for an Authorizer with
// rbac.Attributes.
func grantsAnything(m rbac.Model, rules []rbac.Rule) bool {
	for _, r := range rules {
		if r.Type == "p" && m.CheckRule(r) == nil {
			return true
		}
	}
	return false
}

// close stops the services once the server takes no more requests: the
// reset service handles the requests it queued and sends their messages,
// the user service sends its own, then the audit writer stores every
// event accepted so far (those of the reset requests included). What is
// left when ctx ends is handed over, as each service documents: a message
// not sent is logged without its link ("notify: message not sent"), an
// event not stored goes to the writer's fallback (the app's log, one
// "audit: event not stored" line per event, which `cedrina audit replay`
// reads back).
func (a *app) close(ctx context.Context) error {
	err := a.resets.Close(ctx)
	err = errors.Join(err, a.users.Close(ctx))
	// The Authorizer stops following changes (waiting, until ctx ends,
	// for a reload in progress) before the audit writer it records to
	// closes.
	err = errors.Join(err, a.authz.Close(ctx))
	if a.events != nil {
		err = errors.Join(err, a.events.Close(ctx))
	}
	return err
}

// routes returns the program's handler: the API at "/" (its routes, and
// a problem+json 404 for any other path), /healthz beside it, and the
// middleware around both.
func (a *app) routes() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/", a.api)
	mux.Handle("GET /healthz", authhttp.SecurityHeaders(http.HandlerFunc(a.healthz)))
	mux.Handle("/healthz", authhttp.SecurityHeaders(methodNotAllowed("GET, HEAD")))

	// audit.Middleware comes first, so that the request log, the API and
	// the audit events see one client IP (through the trusted proxies
	// only) and one correlation id, echoed in X-Correlation-ID; the API
	// keeps what it finds.
	return audit.Middleware(a.proxies)(a.logRequests(a.recoverPanics(withTimeout(a.timeout, mux))))
}

// healthz answers 200 {"status":"ok"}, or 503 when the database does not
// answer a ping within two seconds.
func (a *app) healthz(w http.ResponseWriter, r *http.Request) {
	if a.ping != nil {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := a.ping(ctx); err != nil {
			a.log.ErrorContext(r.Context(), "health check: database ping failed", "error", err)
			authhttp.WriteProblem(w, authhttp.Problem{Status: http.StatusServiceUnavailable,
				Detail: "the database is unavailable", RetryAfter: time.Second})
			return
		}
	}
	authhttp.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// postgresRateLimits returns the rate-limit store on db: its
// rate_limit_records table, which every instance on the database shares,
// so that a limit holds across all of them.
func postgresRateLimits(db *postgres.DB) (ratelimit.Store, error) {
	return db.RateLimits(postgres.RateLimitConfig{}), nil
}
