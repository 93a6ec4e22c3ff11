package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/cedrina/cedrina/audit"
	"github.com/cedrina/cedrina/user"
)

// stores are the storage backends the services run on: store/memory or
// store/postgres.
type stores struct {
	users user.Store
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
	// proxies are the trusted reverse proxies for client IPs.
	proxies audit.Proxies
}

// app holds the services and serves the HTTP API; its handlers are
// methods, and [app.routes] wires them.
type app struct {
	log     *slog.Logger
	users   *user.Service
	events  *audit.Writer // nil without an audit store
	proxies audit.Proxies
	ping    func(context.Context) error
}

// newApp builds the services. With an audit store, account events go
// through a batched audit writer that close flushes.
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
	}
	users, err := user.NewService(st.users, cfg.users)
	if err != nil {
		return nil, err
	}
	a.users = users
	return a, nil
}

// close writes every audit event accepted so far and stops the writer.
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

	// The patterns above win for their methods; these catch the other
	// methods on the same paths, and every other path, so that 405 and
	// 404 are problem+json too (ServeMux's own are text/plain).
	mux.Handle("/healthz", methodNotAllowed("GET, HEAD"))
	mux.Handle("/register", methodNotAllowed("POST"))
	mux.Handle("/login", methodNotAllowed("POST"))
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

// login checks a username or email address and password: 200 with the
// user (sessions come in a later version), or 401.
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
	u, err := a.users.Authenticate(r.Context(), req.Login, req.Password)
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
	a.log.InfoContext(r.Context(), "user logged in", "user_id", u.ID, "remote_addr", r.RemoteAddr)
	a.writeJSON(w, r, http.StatusOK, newAccount(u))
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
