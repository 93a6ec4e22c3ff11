package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/cedrina/cedrina/audit"
	"github.com/cedrina/cedrina/session"
	"github.com/cedrina/cedrina/user"
)

// stores are the storage backends the services run on: store/memory or
// store/postgres.
type stores struct {
	users    user.Store
	sessions session.Store
	// audit keeps the audit trail; nil records nothing.
	audit audit.Store
	// ping checks the database for /healthz; nil when there is nothing to
	// check (the in-memory store).
	ping func(context.Context) error
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
}

// app holds the services and serves the HTTP API; its handlers are
// methods, and [app.routes] wires them.
type app struct {
	log      *slog.Logger
	users    *user.Service
	sessions *session.Service
	keys     *session.KeySet
	// auth is the middleware of the routes that need a signed-in user:
	// a bearer access token, checked against its session on every
	// request.
	auth    func(http.Handler) http.Handler
	events  *audit.Writer // nil without an audit store
	proxies audit.Proxies
	ping    func(context.Context) error
}

// Problem types of the session routes, beside those in http.go.
const (
	// typeInvalidToken (401): a refresh token was refused, whatever the
	// reason.
	typeInvalidToken = problemTypeBase + "invalid-token"
	// typeWrongPassword (403): a password change was refused because
	// the current password is wrong or the account is locked.
	typeWrongPassword = problemTypeBase + "wrong-password"
)

// The iss and aud claims of this app's access tokens.
const (
	tokenIssuer   = "cedrina-example"
	tokenAudience = "cedrina-example"
)

// newApp builds the services. With an audit store, account and session
// events go through a batched audit writer that close flushes.
func newApp(log *slog.Logger, st stores, cfg appConfig) (*app, error) {
	a := &app{log: log, ping: st.ping, proxies: cfg.proxies}
	if st.audit != nil {
		svc, err := audit.NewService(st.audit, cfg.audit)
		if err != nil {
			return nil, err
		}
		if a.events, err = svc.NewWriter(audit.WriterConfig{}); err != nil {
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
	var err error
	if a.sessions, err = session.NewService(st.sessions, sc); err != nil {
		return nil, err
	}
	// The user service ends a user's sessions on password change and
	// deactivation.
	cfg.users.Sessions = a.sessions
	if a.users, err = user.NewService(st.users, cfg.users); err != nil {
		return nil, err
	}
	a.keys = sc.Keys
	a.auth = a.sessions.RequireAuth(session.MiddlewareConfig{})
	return a, nil
}

// close writes every audit event accepted so far and stops the writer;
// what it cannot store before ctx's deadline goes to the writer's
// fallback (the app's log, one "audit: event not stored" line per event,
// which `cedrina audit replay` reads back).
func (a *app) close(ctx context.Context) error {
	if a.events == nil {
		return nil
	}
	return a.events.Close(ctx)
}

// routes returns the handler for the whole API, middleware included.
func (a *app) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", a.healthz)
	mux.HandleFunc("POST /register", a.register)
	mux.HandleFunc("POST /login", a.login)
	mux.HandleFunc("POST /refresh", a.refresh)
	mux.Handle("GET /.well-known/jwks.json", a.keys.JWKSHandler())

	// These need a signed-in user: a.auth answers 401 without a valid
	// access token and otherwise puts the session.Principal in the
	// request's context.
	mux.Handle("POST /logout", a.auth(http.HandlerFunc(a.logout)))
	mux.Handle("GET /me", a.auth(http.HandlerFunc(a.me)))
	mux.Handle("POST /password", a.auth(http.HandlerFunc(a.changePassword)))
	mux.Handle("GET /sessions", a.auth(http.HandlerFunc(a.listSessions)))
	mux.Handle("DELETE /sessions/{id}", a.auth(http.HandlerFunc(a.revokeSession)))
	mux.Handle("POST /sessions/revoke-others", a.auth(http.HandlerFunc(a.revokeOtherSessions)))

	// The patterns above win for their methods; these catch the other
	// methods on the same paths, and every other path, so that 405 and
	// 404 are problem+json too (ServeMux's own are text/plain).
	mux.Handle("/healthz", methodNotAllowed("GET, HEAD"))
	mux.Handle("/register", methodNotAllowed("POST"))
	mux.Handle("/login", methodNotAllowed("POST"))
	mux.Handle("/refresh", methodNotAllowed("POST"))
	mux.Handle("/.well-known/jwks.json", methodNotAllowed("GET, HEAD"))
	mux.Handle("/logout", methodNotAllowed("POST"))
	mux.Handle("/me", methodNotAllowed("GET, HEAD"))
	mux.Handle("/password", methodNotAllowed("POST"))
	mux.Handle("/sessions", methodNotAllowed("GET, HEAD"))
	// One pattern for both: "/sessions/revoke-others" would conflict
	// with "DELETE /sessions/{id}" (neither is more specific).
	mux.HandleFunc("/sessions/{id}", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("id") == "revoke-others" {
			methodNotAllowed("POST").ServeHTTP(w, r)
			return
		}
		methodNotAllowed("DELETE").ServeHTTP(w, r)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, problem{Status: http.StatusNotFound, Detail: "no such resource"})
	})

	// audit.Middleware gives every request's events the client IP (through
	// the trusted proxies only), user agent and a correlation id, echoed in
	// X-Correlation-ID.
	return audit.Middleware(a.proxies)(a.logRequests(a.recoverPanics(securityHeaders(withTimeout(handlerTimeout, mux)))))
}

// healthz answers 200 {"status":"ok"}, or 503 when the database does not
// answer a ping within two seconds.
func (a *app) healthz(w http.ResponseWriter, r *http.Request) {
	if a.ping != nil {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := a.ping(ctx); err != nil {
			a.log.ErrorContext(r.Context(), "health check: database ping failed", "error", err)
			writeProblem(w, problem{Status: http.StatusServiceUnavailable, Detail: "the database is unavailable"})
			return
		}
	}
	a.writeJSON(w, r, http.StatusOK, map[string]string{"status": "ok"})
}

type registerRequest struct {
	Username string `json:"username"`
	Email    string `json:"email"`
	Password string `json:"password"`
}

// register creates an account: 201 with the user, 400 naming the field
// that was refused, 409 when the username or email is taken.
//
// Answering 409 tells the caller that the username or email address
// already has an account. That is accepted here: a registration form
// cannot refuse a taken username without saying so, and the rate of
// such probes is for rate limiting to bound. A host that must not reveal
// which email addresses have accounts answers every well-formed
// registration alike ("check your inbox") and sends the email address a
// verification message, or a "you already have an account" message when
// it is taken.
func (a *app) register(w http.ResponseWriter, r *http.Request) {
	var req registerRequest
	if p := decodeJSON(w, r, &req); p != nil {
		writeProblem(w, *p)
		return
	}
	// Role and tier are not taken from the request: new accounts get the
	// service's defaults.
	u, err := a.users.Register(r.Context(), user.Registration{
		Username: req.Username,
		Email:    req.Email,
		Password: req.Password,
	})
	if err != nil {
		a.registerError(w, r, err)
		return
	}
	a.log.InfoContext(r.Context(), "user registered", "user_id", u.ID)
	a.writeJSON(w, r, http.StatusCreated, newAccount(u))
}

func (a *app) registerError(w http.ResponseWriter, r *http.Request, err error) {
	var p problem
	var pe *user.PasswordError
	switch {
	case errors.Is(err, user.ErrInvalidUsername):
		// The user package's messages name the reason and never quote
		// the input: "user: invalid username: too short".
		p = invalidField("username", err)
	case errors.Is(err, user.ErrInvalidEmail):
		p = invalidField("email", err)
	case errors.As(err, &pe):
		// Built from the reason alone: a checker's wrapped error is not
		// shown, and the password never is.
		p = problem{Type: typeInvalidField, Title: "Invalid field", Status: http.StatusBadRequest,
			Field: "password", Detail: passwordDetail(pe)}
	case errors.Is(err, user.ErrUsernameTaken):
		p = problem{Type: typeTaken, Title: "Already taken", Status: http.StatusConflict,
			Field: "username", Detail: "the username is taken"}
	case errors.Is(err, user.ErrEmailTaken):
		p = problem{Type: typeTaken, Title: "Already taken", Status: http.StatusConflict,
			Field: "email", Detail: "the email address already has an account"}
	default:
		a.serverError(w, r, err)
		return
	}
	a.log.InfoContext(r.Context(), "registration refused", "field", p.Field, "detail", p.Detail)
	writeProblem(w, p)
}

func passwordDetail(pe *user.PasswordError) string {
	switch pe.Reason {
	case user.ReasonTooShort:
		return fmt.Sprintf("password refused: too short (minimum %d characters)", pe.Min)
	case user.ReasonTooLong:
		if errors.Is(pe, user.ErrPasswordTooLong) {
			return "password refused: too long (at most 72 bytes)"
		}
		return fmt.Sprintf("password refused: too long (maximum %d characters)", pe.Max)
	}
	return "password refused: " + string(pe.Reason)
}

type loginRequest struct {
	// Login is a username or an email address.
	Login    string `json:"login"`
	Password string `json:"password"`
}

// login checks a username or email address and password, and starts a
// session: 200 with the user and the session's tokens, or 401.
//
// Every refusal gives the same 401 body, whether the account does not
// exist, the password is wrong, or the account is locked or deactivated
// (ASVS 6.3.8), and the service spends the same hashing work on each. The
// precise reason goes to the log only.
func (a *app) login(w http.ResponseWriter, r *http.Request) {
	var req loginRequest
	if p := decodeJSON(w, r, &req); p != nil {
		writeProblem(w, *p)
		return
	}
	res, err := a.users.Login(r.Context(), req.Login, req.Password)
	if errors.Is(err, user.ErrInvalidCredentials) {
		// The attempted login name is not logged: people type their
		// password into the name field often enough.
		attrs := []any{"remote_addr", r.RemoteAddr}
		var ae *user.AuthError
		if errors.As(err, &ae) {
			attrs = append(attrs, "reason", string(ae.Reason), "user_id", ae.UserID)
			if ae.Reason == user.AuthWrongPassword {
				attrs = append(attrs, "attempts", ae.Attempts)
			}
			if ae.LockedUntil != nil {
				attrs = append(attrs, "locked_until", *ae.LockedUntil)
			}
		}
		a.log.InfoContext(r.Context(), "login refused", attrs...)
		// RFC 9110 asks a 401 to carry WWW-Authenticate; credentials here
		// travel in the body, not in an HTTP authentication scheme, so
		// there is no challenge to send (and "Basic" would make browsers
		// show a password dialog).
		writeProblem(w, problem{Type: typeInvalidCredentials, Title: "Invalid credentials",
			Status: http.StatusUnauthorized, Detail: "invalid credentials"})
		return
	}
	if err != nil {
		a.serverError(w, r, err)
		return
	}
	// The client IP and user agent of the session come from the request
	// context, where audit.Middleware put them (through the trusted
	// proxies only). Start refuses (ErrUserChanged) when the account
	// changed while the password was being checked: the same 401.
	u := res.User
	tok, err := a.sessions.Start(r.Context(), u, session.Client{})
	if errors.Is(err, session.ErrUserChanged) {
		a.log.InfoContext(r.Context(), "login refused", "remote_addr", r.RemoteAddr, "reason", "account_changed", "user_id", u.ID)
		writeProblem(w, problem{Type: typeInvalidCredentials, Title: "Invalid credentials",
			Status: http.StatusUnauthorized, Detail: "invalid credentials"})
		return
	}
	if err != nil {
		a.serverError(w, r, err)
		return
	}
	a.log.InfoContext(r.Context(), "user logged in", "user_id", u.ID, "session_id", tok.SessionID, "remote_addr", r.RemoteAddr)
	a.writeJSON(w, r, http.StatusOK, loginResponse{User: newAccount(u), Tokens: newTokenResponse(tok),
		PasswordChangeRequired: res.PasswordChangeRequired})
}

type loginResponse struct {
	User   account       `json:"user"`
	Tokens tokenResponse `json:"tokens"`
	// PasswordChangeRequired: the password was accepted by the legacy
	// rule only and must be changed (POST /password).
	PasswordChangeRequired bool `json:"password_change_required,omitempty"`
}

// tokenResponse is what a client gets at login, refresh and password
// change, in the shape of an OAuth 2.0 token response (RFC 6749 5.1),
// plus the session's id. The session token (for cookie transport) is not
// sent: this API uses bearer tokens only.
type tokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	// ExpiresIn is the access token's lifetime in seconds.
	ExpiresIn    int64  `json:"expires_in"`
	RefreshToken string `json:"refresh_token"`
	SessionID    int64  `json:"session_id"`
}

func newTokenResponse(t *session.Tokens) tokenResponse {
	return tokenResponse{
		AccessToken: t.AccessToken, TokenType: "Bearer",
		ExpiresIn:    int64(time.Until(t.AccessExpiresAt).Round(time.Second) / time.Second),
		RefreshToken: t.RefreshToken, SessionID: t.SessionID,
	}
}

type refreshRequest struct {
	RefreshToken string `json:"refresh_token"`
}

// refresh exchanges a refresh token for new tokens: 200, or 401 with one
// body for every refusal (unknown, expired, revoked, or already used).
// Presenting a refresh token that was already exchanged ends the session:
// either a thief or its owner holds a copy, and the server cannot tell
// which, so both must log in again. The token never reaches the log.
func (a *app) refresh(w http.ResponseWriter, r *http.Request) {
	var req refreshRequest
	if p := decodeJSON(w, r, &req); p != nil {
		writeProblem(w, *p)
		return
	}
	tok, err := a.sessions.Refresh(r.Context(), req.RefreshToken)
	if errors.Is(err, session.ErrUnauthenticated) {
		// The session package's messages name the reason, never the token.
		a.log.InfoContext(r.Context(), "refresh refused", "reason", err.Error(), "remote_addr", r.RemoteAddr)
		writeProblem(w, problem{Type: typeInvalidToken, Title: "Invalid token",
			Status: http.StatusUnauthorized, Detail: "the refresh token is invalid or expired"})
		return
	}
	if err != nil {
		a.serverError(w, r, err)
		return
	}
	a.writeJSON(w, r, http.StatusOK, newTokenResponse(tok))
}

// principal returns the request's signed-in user, which a.auth put in
// the context.
func principal(r *http.Request) *session.Principal {
	p, ok := session.PrincipalFromContext(r.Context())
	if !ok {
		panic("principal: route not behind a.auth") // recoverPanics: 500
	}
	return p
}

// logout ends the request's session: 204. Its access and refresh tokens
// stop working at once.
func (a *app) logout(w http.ResponseWriter, r *http.Request) {
	p := principal(r)
	// ErrNotFound: the session was deleted meanwhile; it is over either way.
	if err := a.sessions.Logout(r.Context(), p); err != nil && !errors.Is(err, session.ErrNotFound) {
		a.serverError(w, r, err)
		return
	}
	a.log.InfoContext(r.Context(), "user logged out", "user_id", p.UserID, "session_id", p.SessionID)
	w.WriteHeader(http.StatusNoContent)
}

// me answers the signed-in user's account.
func (a *app) me(w http.ResponseWriter, r *http.Request) {
	u, err := a.users.Get(r.Context(), principal(r).UserID)
	if errors.Is(err, user.ErrNotFound) {
		// Deleted since the session was checked.
		writeProblem(w, problem{Status: http.StatusNotFound, Detail: "no such account"})
		return
	}
	if err != nil {
		a.serverError(w, r, err)
		return
	}
	a.writeJSON(w, r, http.StatusOK, newAccount(u))
}

// sessionView is how the API shows one session to its user.
type sessionView struct {
	ID             int64     `json:"id"`
	ClientIP       string    `json:"client_ip"` // empty when unknown
	UserAgent      string    `json:"user_agent"`
	CreatedAt      time.Time `json:"created_at"`
	LastActivityAt time.Time `json:"last_activity_at"`
	// Current marks the session of the request.
	Current bool `json:"current"`
}

// listSessions answers the user's live sessions, most recently active
// first: {"sessions":[...]}.
func (a *app) listSessions(w http.ResponseWriter, r *http.Request) {
	p := principal(r)
	list, err := a.sessions.List(r.Context(), p.UserID)
	if err != nil {
		a.serverError(w, r, err)
		return
	}
	views := make([]sessionView, 0, len(list))
	for _, s := range list {
		v := sessionView{ID: s.ID, UserAgent: s.UserAgent, CreatedAt: s.CreatedAt,
			LastActivityAt: s.LastActivityAt, Current: s.ID == p.SessionID}
		if s.ClientIP.IsValid() {
			v.ClientIP = s.ClientIP.String()
		}
		views = append(views, v)
	}
	a.writeJSON(w, r, http.StatusOK, map[string][]sessionView{"sessions": views})
}

// revokeSession ends one of the user's sessions (the current one too, if
// named): 204, or 404 when the user has no such session. Another user's
// session is "no such session", not 403, so ids cannot be probed.
func (a *app) revokeSession(w http.ResponseWriter, r *http.Request) {
	p := principal(r)
	notFound := problem{Status: http.StatusNotFound, Detail: "no such session"}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		writeProblem(w, notFound)
		return
	}
	err = a.sessions.Revoke(r.Context(), p.UserID, id)
	if errors.Is(err, session.ErrNotFound) {
		writeProblem(w, notFound)
		return
	}
	if err != nil {
		a.serverError(w, r, err)
		return
	}
	a.log.InfoContext(r.Context(), "session revoked", "user_id", p.UserID, "session_id", id)
	w.WriteHeader(http.StatusNoContent)
}

// revokeOtherSessions ends every session of the user but the current
// one: 200 {"revoked": n}.
func (a *app) revokeOtherSessions(w http.ResponseWriter, r *http.Request) {
	p := principal(r)
	n, err := a.sessions.RevokeAll(r.Context(), p.UserID, p.SessionID)
	if err != nil {
		a.serverError(w, r, err)
		return
	}
	a.log.InfoContext(r.Context(), "other sessions revoked", "user_id", p.UserID, "count", n)
	a.writeJSON(w, r, http.StatusOK, map[string]int{"revoked": n})
}

type passwordRequest struct {
	CurrentPassword string `json:"current_password"`
	NewPassword     string `json:"new_password"`
}

// changePassword replaces the password after checking the current one,
// ends every session of the user (the current one included: a session
// started before a password change no longer authenticates), and starts
// a fresh session for this client: 200 with its tokens. A wrong current
// password counts towards the lockout like a failed login and answers
// 403; a refused new password answers 400 naming new_password.
func (a *app) changePassword(w http.ResponseWriter, r *http.Request) {
	p := principal(r)
	var req passwordRequest
	if pr := decodeJSON(w, r, &req); pr != nil {
		writeProblem(w, *pr)
		return
	}
	ctx := r.Context()
	err := a.users.ChangePassword(ctx, p.UserID, req.CurrentPassword, req.NewPassword)
	var pe *user.PasswordError
	switch {
	case errors.Is(err, user.ErrInvalidCredentials):
		// Wrong current password, or the account is locked: one answer.
		a.log.InfoContext(ctx, "password change refused", "user_id", p.UserID, "error", err.Error())
		writeProblem(w, problem{Type: typeWrongPassword, Title: "Wrong password", Status: http.StatusForbidden,
			Detail: "the current password is wrong, or the account is locked"})
		return
	case errors.As(err, &pe):
		writeProblem(w, problem{Type: typeInvalidField, Title: "Invalid field", Status: http.StatusBadRequest,
			Field: "new_password", Detail: passwordDetail(pe)})
		return
	case errors.Is(err, user.ErrStale):
		// Another change or a reset won the race; this one changed nothing.
		writeProblem(w, problem{Status: http.StatusConflict, Detail: "the account changed meanwhile; sign in again"})
		return
	case err != nil:
		a.serverError(w, r, err)
		return
	}
	// ChangePassword ended every session of the user (user.Config.Sessions);
	// this client gets a fresh one.
	u, err := a.users.Get(ctx, p.UserID)
	if err != nil {
		a.serverError(w, r, err)
		return
	}
	tok, err := a.sessions.Start(ctx, u, session.Client{})
	if errors.Is(err, session.ErrUserChanged) {
		// Changed again (or deactivated) since: the password is changed,
		// but this client must sign in again.
		writeProblem(w, problem{Status: http.StatusConflict, Detail: "the account changed meanwhile; sign in again"})
		return
	}
	if err != nil {
		a.serverError(w, r, err)
		return
	}
	a.log.InfoContext(ctx, "password changed", "user_id", p.UserID, "session_id", tok.SessionID)
	a.writeJSON(w, r, http.StatusOK, newTokenResponse(tok))
}

// account is what the API shows a user of their own account. user.User
// marshals every column (the host's Metadata, the lockout counter, ...)
// for the host's own use; a client sees only this.
type account struct {
	ID            int64      `json:"id"`
	Username      string     `json:"username"`
	Email         string     `json:"email"`
	EmailVerified bool       `json:"email_verified"`
	Role          user.Role  `json:"role"`
	Tier          user.Tier  `json:"tier"`
	CreatedAt     time.Time  `json:"created_at"`
	LastLoginAt   *time.Time `json:"last_login_at,omitempty"`
}

func newAccount(u *user.User) account {
	return account{
		ID: u.ID, Username: string(u.Username), Email: string(u.Email), EmailVerified: u.IsVerified,
		Role: u.Role, Tier: u.Tier, CreatedAt: u.CreatedAt, LastLoginAt: u.LastLoginAt,
	}
}
