package authhttp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/cedrina/cedrina/audit"
	"github.com/cedrina/cedrina/internal/errs"
	"github.com/cedrina/cedrina/oauth"
	"github.com/cedrina/cedrina/rbac"
	"github.com/cedrina/cedrina/reset"
	"github.com/cedrina/cedrina/session"
	"github.com/cedrina/cedrina/user"
)

// Config configures a [Handler]. Users and Sessions are required; every
// other field has a safe zero value.
type Config struct {
	// Users checks passwords and keeps accounts. Build it with
	// user.Config.Sessions set to Sessions, so that a password change
	// or a deactivation ends the user's sessions at once.
	Users *user.Service
	// Sessions starts, checks, refreshes and ends sessions; its key set
	// is published at /.well-known/jwks.json.
	Sessions *session.Service
	// Reset, when set, serves POST /auth/password/forgot and POST
	// /auth/password/reset. Without it those paths answer 404.
	Reset *reset.Service
	// Authorizer, when set, serves the administration routes under
	// /admin/ (see "Administration" in the package documentation): each
	// behind the bearer check, then allowed only to the users its policy
	// lets do the route's method on the route's pattern
	// ("/admin/users/:id/role"), and 403 for everyone else. AdminRules is
	// the default policy: the role ADMIN may do all of it. The routes
	// check without attributes: use the default model, rbac.RBAC (or
	// Attributes, whose missing attributes are "*"). Without an
	// Authorizer, /admin/ paths answer 404 like any unknown path.
	Authorizer *rbac.Authorizer
	// Audit, when set with Authorizer, serves GET /admin/audit (the
	// audit trail, paged) and GET /admin/audit/verify (its hash chain
	// checked). Give it the audit.Service the services' recorder writes
	// through, with the same Key. Without it those two paths answer 404.
	Audit *audit.Service
	// OAuth, when set, serves sign-in with external identities: GET
	// /auth/oauth/{provider}/start, GET /auth/oauth/{provider}/callback, GET
	// /me/identities, POST /me/identities/{provider}/link and DELETE
	// /me/identities/{provider} (see "Sign-in with external identities" in
	// the package documentation). Without it those paths answer 404.
	OAuth *oauth.Service
	// OAuthCallback is how the callback ends a sign-in: OAuthTokenResponse
	// (default) answers 200 with the TokenResponse of POST /auth/login;
	// OAuthRedirect sets the session cookie (session.SetCookie) and answers
	// 303 See Other to the flow's return_to (allowlisted by the oauth
	// service); use it with Auth.AllowCookie, or nothing reads the cookie.
	OAuthCallback OAuthCallbackMode
	// TrustedProxies are the reverse proxies whose X-Forwarded-For is
	// believed for the client IP that sessions and audit events record
	// and the rate limits count by.
	// Default none: the connection's address. A request whose context
	// already carries an audit.RequestInfo (the host applied
	// audit.Middleware in front) keeps it.
	TrustedProxies audit.Proxies
	// Auth configures the bearer-token check of the routes that need a
	// signed-in user and of [Handler.RequireAuth] (cookies, realm).
	// Default: bearer tokens only. Without an Auth.ErrorFunc of its own,
	// the check's refusals go through ErrorFunc like every other error.
	Auth session.MiddlewareConfig
	// RateLimit configures the limits on login, registration, external
	// sign-in and verification requests (see [RateLimitConfig]): by default
	// 30 logins, 20 registrations and 30 external sign-in requests a minute
	// per client IP, 3 verification links an hour per user, counted in this
	// handler's memory.
	RateLimit RateLimitConfig
	// MaxBodyBytes bounds request bodies. Default [DefaultMaxBodyBytes].
	MaxBodyBytes int64
	// Logger receives one line per refusal (with its precise reason, which
	// the client never sees) and per server error. Default: discard.
	Logger *slog.Logger
	// ErrorFunc writes every error response of the handler: p is the
	// problem it would send (from [ProblemFor] or a malformed request),
	// err the error behind it. Default: WriteProblem(w, p). A host sets it
	// to shape error bodies its own way; it must write a response.
	ErrorFunc func(w http.ResponseWriter, r *http.Request, p Problem, err error)
}

// Handler serves the authentication API. Mount it at "/" of the host's
// mux (more specific patterns of the host win) or with [Handler.Mount].
// It is safe for concurrent use.
type Handler struct {
	users    *user.Service
	sessions *session.Service
	reset    *reset.Service
	authz    *rbac.Authorizer
	audit    *audit.Service
	oauth    *oauth.Service
	redirect bool // Config.OAuthCallback == OAuthRedirect
	log      *slog.Logger
	maxBody  int64
	onError  func(http.ResponseWriter, *http.Request, Problem, error)
	proxies  audit.Proxies
	auth     func(http.Handler) http.Handler
	limits   limits
	root     http.Handler
}

// New returns the Handler for cfg, or an error naming the missing or bad
// field.
func New(cfg Config) (*Handler, error) {
	switch {
	case cfg.Users == nil:
		return nil, errs.Configf("authhttp", "Config.Users", "required")
	case cfg.Sessions == nil:
		return nil, errs.Configf("authhttp", "Config.Sessions", "required")
	case cfg.MaxBodyBytes < 0:
		return nil, errs.Configf("authhttp", "Config.MaxBodyBytes", "%d is negative", cfg.MaxBodyBytes)
	case cfg.OAuthCallback != OAuthTokenResponse && cfg.OAuthCallback != OAuthRedirect:
		return nil, errs.Configf("authhttp", "Config.OAuthCallback", "unknown mode %d", int(cfg.OAuthCallback))
	}
	h := &Handler{users: cfg.Users, sessions: cfg.Sessions, reset: cfg.Reset, authz: cfg.Authorizer, audit: cfg.Audit,
		oauth: cfg.OAuth, redirect: cfg.OAuthCallback == OAuthRedirect, log: cfg.Logger, maxBody: cfg.MaxBodyBytes,
		onError: cfg.ErrorFunc, proxies: append(audit.Proxies(nil), cfg.TrustedProxies...)}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.maxBody == 0 {
		h.maxBody = DefaultMaxBodyBytes
	}
	if h.onError == nil {
		h.onError = func(w http.ResponseWriter, _ *http.Request, p Problem, _ error) { WriteProblem(w, p) }
	}
	auth := cfg.Auth
	if auth.ErrorFunc == nil {
		// The bearer check's refusals go through ErrorFunc too, with the
		// bodies session.RequireAuth would send. (It logs its own
		// failures.)
		auth.ErrorFunc = func(w http.ResponseWriter, r *http.Request, status int, err error) {
			h.onError(w, r, authProblem(status), err)
		}
	}
	h.auth = cfg.Sessions.RequireAuth(auth)
	var err error
	if h.limits, err = h.newLimits(cfg.RateLimit); err != nil {
		return nil, err
	}
	h.root = h.withRequestInfo(SecurityHeaders(h.routes()))
	return h, nil
}

// authProblem is the problem of a refusal by the bearer check: the body
// session.RequireAuth sends by default.
func authProblem(status int) Problem {
	switch status {
	case http.StatusUnauthorized:
		return Problem{Status: status, Detail: "valid credentials are required"}
	case http.StatusForbidden:
		return Problem{Status: status, Detail: "cross-origin request refused"}
	}
	return internalError
}

// ServeHTTP serves the API's routes; any other path gets a 404 problem.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.root.ServeHTTP(w, r) }

// Mount registers the handler on mux for its paths only (/auth/, /me,
// /me/ and /.well-known/jwks.json, and /admin/ with Config.Authorizer),
// for a host whose mux has its own catch-all "/".
func (h *Handler) Mount(mux *http.ServeMux) {
	paths := []string{"/auth/", "/me", "/me/", "/.well-known/jwks.json"}
	if h.authz != nil {
		paths = append(paths, "/admin/")
	}
	for _, p := range paths {
		mux.Handle(p, h)
	}
}

// RequireAuth protects a host's own handler as the API's routes are: a
// bearer access token (and, with Config.Auth.AllowCookie, the session
// cookie) checked against its session on every request; the next handler
// finds the session.Principal with session.PrincipalFromContext. Refusals
// are the same 401 problem as the API's.
func (h *Handler) RequireAuth(next http.Handler) http.Handler {
	return h.withRequestInfo(h.auth(next))
}

// SecurityHeaders sets, on every response of next: Cache-Control:
// no-store (these are authentication responses), X-Content-Type-Options:
// nosniff, a Content-Security-Policy that allows no content and no
// framing (an API, never a page), and Referrer-Policy: no-referrer.
// A handler may override Cache-Control (the JWKS document is cacheable).
// Strict-Transport-Security belongs to whatever terminates TLS.
func SecurityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Cache-Control", "no-store")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
		hd.Set("Referrer-Policy", "no-referrer")
		next.ServeHTTP(w, r)
	})
}

// withRequestInfo gives the request an audit.RequestInfo (client IP
// through the trusted proxies, user agent, correlation id echoed in
// X-Correlation-ID) unless the host's middleware already did.
func (h *Handler) withRequestInfo(next http.Handler) http.Handler {
	mw := audit.Middleware(h.proxies)(next)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := audit.RequestInfoFromContext(r.Context()); ok {
			next.ServeHTTP(w, r)
			return
		}
		mw.ServeHTTP(w, r)
	})
}

// routes wires the API.
func (h *Handler) routes() http.Handler {
	mux := http.NewServeMux()
	authed := func(f http.HandlerFunc) http.Handler { return h.auth(f) }

	mux.Handle("POST /auth/register", h.limits.register(http.HandlerFunc(h.register)))
	mux.Handle("POST /auth/login", h.limits.login(http.HandlerFunc(h.login)))
	mux.HandleFunc("POST /auth/refresh", h.refresh)
	mux.HandleFunc("POST /auth/logout", h.logout)
	mux.Handle("POST /auth/logout-all", authed(h.logoutAll))
	mux.Handle("POST /auth/password/change", authed(h.changePassword))
	mux.Handle("GET /me", authed(h.me))
	mux.Handle("GET /me/sessions", authed(h.listSessions))
	mux.Handle("DELETE /me/sessions/{id}", authed(h.revokeSession))
	mux.Handle("POST /me/sessions/revoke-others", authed(h.revokeOthers))
	mux.Handle("POST /me/email", authed(h.changeEmail))
	// The verification limit counts by user: behind the bearer check.
	mux.Handle("POST /auth/email/verify/request", h.auth(h.limits.verification(http.HandlerFunc(h.requestVerification))))
	mux.HandleFunc("POST /auth/email/verify", h.verifyEmail)
	if h.reset != nil {
		mux.HandleFunc("POST /auth/password/forgot", h.forgotPassword)
		mux.HandleFunc("POST /auth/password/reset", h.resetPassword)
	}
	mux.Handle("GET /.well-known/jwks.json", h.sessions.Keys().JWKSHandler())

	// The patterns above win for their methods; these catch the other
	// methods on the same paths, and every other path, so that 405 and
	// 404 are problem+json too (ServeMux's own are text/plain).
	for path, allow := range map[string]string{
		"/auth/register": "POST", "/auth/login": "POST", "/auth/refresh": "POST",
		"/auth/logout": "POST", "/auth/logout-all": "POST", "/auth/password/change": "POST",
		"/me": "GET, HEAD", "/me/sessions": "GET, HEAD", "/.well-known/jwks.json": "GET, HEAD",
		"/me/email": "POST", "/auth/email/verify/request": "POST", "/auth/email/verify": "POST",
	} {
		mux.Handle(path, h.methodNotAllowed(allow))
	}
	if h.reset != nil {
		mux.Handle("/auth/password/forgot", h.methodNotAllowed("POST"))
		mux.Handle("/auth/password/reset", h.methodNotAllowed("POST"))
	}
	// One pattern for both: "/me/sessions/revoke-others" would conflict
	// with "DELETE /me/sessions/{id}" (neither is more specific).
	mux.HandleFunc("/me/sessions/{id}", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("id") == "revoke-others" {
			h.methodNotAllowed("POST").ServeHTTP(w, r)
			return
		}
		h.methodNotAllowed("DELETE").ServeHTTP(w, r)
	})
	h.oauthRoutes(mux, authed)
	h.adminRoutes(mux)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		h.fail(w, r, &Problem{Status: http.StatusNotFound, Detail: "no such resource"})
	})
	return mux
}

func (h *Handler) methodNotAllowed(allow string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", allow)
		h.fail(w, r, &Problem{Status: http.StatusMethodNotAllowed,
			Detail: fmt.Sprintf("method %s is not allowed here; allowed: %s", r.Method, allow)})
	})
}

// fail answers err with its problem (ProblemFor). Server-side failures
// are logged; the client learns nothing about them.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	h.failWith(w, r, ProblemFor(err), err)
}

// failWith answers p, which err caused.
func (h *Handler) failWith(w http.ResponseWriter, r *http.Request, p Problem, err error) {
	ctx := r.Context()
	switch {
	case p.Status < 500:
	case errors.Is(err, context.Canceled) && ctx.Err() != nil:
		h.log.InfoContext(ctx, "authhttp: request cancelled by the client", "method", r.Method, "path", r.URL.Path)
	default:
		h.log.ErrorContext(ctx, "authhttp: request failed", "method", r.Method, "path", r.URL.Path,
			"status", p.Status, "error", err)
	}
	h.onError(w, r, p, err)
}

// principal returns the request's signed-in user, which h.auth put in
// the context.
func principal(r *http.Request) *session.Principal {
	p, ok := session.PrincipalFromContext(r.Context())
	if !ok {
		panic("authhttp: route not behind RequireAuth")
	}
	return p
}
