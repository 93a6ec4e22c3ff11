package authhttp

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/cedrina/cedrina/session"
	"github.com/cedrina/cedrina/user"
)

// RegisterRequest is the body of POST /auth/register.
type RegisterRequest struct {
	Username string `json:"username"`
	Email    string `json:"email"`
	Password string `json:"password"`
}

// LoginRequest is the body of POST /auth/login.
type LoginRequest struct {
	// Login is a username or an email address.
	Login    string `json:"login"`
	Password string `json:"password"`
}

// RefreshRequest is the body of POST /auth/refresh, and of POST
// /auth/logout without an Authorization header.
type RefreshRequest struct {
	RefreshToken string `json:"refresh_token"`
}

// PasswordChangeRequest is the body of POST /auth/password/change.
type PasswordChangeRequest struct {
	CurrentPassword string `json:"current_password"`
	NewPassword     string `json:"new_password"`
}

// register creates an account: 201 with its view; 409 for a taken
// username or email address, 422 for a field the user package refuses.
//
// Answering 409 tells the caller that the username or address has an
// account: a registration form cannot refuse a taken name without saying
// so, and the rate of such probes is for rate limiting to bound. Role and
// tier are never taken from the request.
func (h *Handler) register(w http.ResponseWriter, r *http.Request) {
	var req RegisterRequest
	if err := DecodeJSON(w, r, &req, h.maxBody); err != nil {
		h.fail(w, r, err)
		return
	}
	u, err := h.users.Register(r.Context(), user.Registration{
		Username: req.Username, Email: req.Email, Password: req.Password,
	})
	if err != nil {
		h.log.InfoContext(r.Context(), "authhttp: registration refused", "error", err)
		h.fail(w, r, err)
		return
	}
	WriteJSON(w, http.StatusCreated, NewUserView(u))
}

// login checks a username or email address and a password and starts a
// session: 200 with a TokenResponse, or 401 with one body for every
// refusal, locked accounts included (a different answer would tell an
// attacker that the account exists and what its state is). The user
// service pads every refusal to the same time; the precise reason goes to
// the log only.
func (h *Handler) login(w http.ResponseWriter, r *http.Request) {
	var req LoginRequest
	if err := DecodeJSON(w, r, &req, h.maxBody); err != nil {
		h.fail(w, r, err)
		return
	}
	ctx := r.Context()
	res, err := h.users.Login(ctx, req.Login, req.Password)
	if errors.Is(err, user.ErrInvalidCredentials) {
		// The attempted login name is not logged: people type their
		// password into the name field often enough.
		attrs := []any{}
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
		h.log.InfoContext(ctx, "authhttp: login refused", attrs...)
		h.failWith(w, r, invalidCredentials, err)
		return
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	// Start refuses (ErrUserChanged) when the account changed while the
	// password was being checked: the same 401 as any refusal.
	tok, err := h.sessions.Start(ctx, res.User, session.Client{})
	if errors.Is(err, session.ErrUserChanged) {
		h.log.InfoContext(ctx, "authhttp: login refused", "reason", "account_changed", "user_id", res.User.ID)
		h.failWith(w, r, invalidCredentials, err)
		return
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	resp := NewTokenResponse(tok)
	resp.PasswordChangeRequired = res.PasswordChangeRequired
	WriteJSON(w, http.StatusOK, resp)
}

// refresh exchanges a refresh token for a new pair: 200, or 401 with one
// body for every refusal. A refresh token that was already exchanged
// ends its session: a thief or its owner holds a copy, and the server
// cannot tell which, so both must sign in again.
func (h *Handler) refresh(w http.ResponseWriter, r *http.Request) {
	var req RefreshRequest
	if err := DecodeJSON(w, r, &req, h.maxBody); err != nil {
		h.fail(w, r, err)
		return
	}
	tok, err := h.sessions.Refresh(r.Context(), req.RefreshToken)
	if err != nil {
		if errors.Is(err, session.ErrUnauthenticated) {
			// The session package's messages name the reason, never the token.
			h.log.InfoContext(r.Context(), "authhttp: refresh refused", "reason", err.Error())
		}
		h.fail(w, r, err)
		return
	}
	WriteJSON(w, http.StatusOK, NewTokenResponse(tok))
}

// logout ends a session: the bearer token's when the request has an
// Authorization header (or, with cookies allowed, the session cookie),
// otherwise the one whose refresh token is in the body, so that a client
// whose access token expired can still log out. 204 either way.
//
// As token revocation does (RFC 7009 section 2.2), a refresh token that
// opens no session gets 204 too: there is nothing left to end. A bad
// bearer token gets the 401 of every protected route.
func (h *Handler) logout(w http.ResponseWriter, r *http.Request) {
	// No body, or an Authorization header: the request's own session
	// (without credentials, the 401 of every protected route).
	if len(r.Header.Values("Authorization")) > 0 || r.Header.Get("Content-Type") == "" {
		h.auth(http.HandlerFunc(h.logoutPrincipal)).ServeHTTP(w, r)
		return
	}
	var req RefreshRequest
	if err := DecodeJSON(w, r, &req, h.maxBody); err != nil {
		h.fail(w, r, err)
		return
	}
	if req.RefreshToken == "" {
		h.fail(w, r, &Problem{Type: TypeInvalidField, Title: "Invalid field", Status: http.StatusUnprocessableEntity,
			Field: "refresh_token", Detail: "required without an Authorization header"})
		return
	}
	err := h.sessions.LogoutRefreshToken(r.Context(), req.RefreshToken)
	if err != nil && !errors.Is(err, session.ErrUnauthenticated) {
		h.fail(w, r, err)
		return
	}
	if err != nil {
		h.log.InfoContext(r.Context(), "authhttp: logout by an unusable refresh token", "reason", err.Error())
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *Handler) logoutPrincipal(w http.ResponseWriter, r *http.Request) {
	// ErrNotFound: the session was deleted meanwhile; it is over either way.
	if err := h.sessions.Logout(r.Context(), principal(r)); err != nil && !errors.Is(err, session.ErrNotFound) {
		h.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// logoutAll ends every session of the signed-in user, this one included.
func (h *Handler) logoutAll(w http.ResponseWriter, r *http.Request) {
	if _, err := h.sessions.RevokeAll(r.Context(), principal(r).UserID, 0); err != nil {
		h.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// me answers the signed-in user's account.
func (h *Handler) me(w http.ResponseWriter, r *http.Request) {
	u, err := h.users.Get(r.Context(), principal(r).UserID)
	if err != nil {
		h.fail(w, r, err) // ErrNotFound: deleted since the session was checked
		return
	}
	WriteJSON(w, http.StatusOK, NewUserView(u))
}

// listSessions answers the user's active sessions, most recently active
// first, as a JSON array of SessionView.
func (h *Handler) listSessions(w http.ResponseWriter, r *http.Request) {
	p := principal(r)
	list, err := h.sessions.List(r.Context(), p.UserID)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	views := make([]SessionView, 0, len(list))
	for i := range list {
		views = append(views, NewSessionView(&list[i], p.SessionID))
	}
	WriteJSON(w, http.StatusOK, views)
}

// revokeSession ends one of the user's sessions (the current one too, if
// named): 204, or 404 when the user has no such session. Another user's
// session is "no such session", not 403, so ids cannot be probed.
func (h *Handler) revokeSession(w http.ResponseWriter, r *http.Request) {
	p := principal(r)
	notFound := &Problem{Status: http.StatusNotFound, Detail: "no such session"}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		h.fail(w, r, notFound)
		return
	}
	err = h.sessions.Revoke(r.Context(), p.UserID, id)
	if errors.Is(err, session.ErrNotFound) {
		h.failWith(w, r, *notFound, err)
		return
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// revokeOthers ends every session of the user but the current one.
func (h *Handler) revokeOthers(w http.ResponseWriter, r *http.Request) {
	p := principal(r)
	if _, err := h.sessions.RevokeAll(r.Context(), p.UserID, p.SessionID); err != nil {
		h.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// changePassword replaces the password after checking the current one,
// which ends every session of the user (the account's security stamp
// moves), and starts a fresh session for this client: 200 with its
// tokens. A wrong current password counts towards the lockout like a
// failed login and answers 403; a refused new password 422 naming
// new_password; a concurrent change or reset 409.
func (h *Handler) changePassword(w http.ResponseWriter, r *http.Request) {
	p := principal(r)
	var req PasswordChangeRequest
	if err := DecodeJSON(w, r, &req, h.maxBody); err != nil {
		h.fail(w, r, err)
		return
	}
	ctx := r.Context()
	err := h.users.ChangePassword(ctx, p.UserID, req.CurrentPassword, req.NewPassword)
	var pe *user.PasswordError
	switch {
	case errors.Is(err, user.ErrInvalidCredentials):
		h.log.InfoContext(ctx, "authhttp: password change refused", "user_id", p.UserID, "error", err.Error())
		h.failWith(w, r, wrongPassword, err)
		return
	case errors.As(err, &pe):
		pr := ProblemFor(err)
		pr.Field = "new_password"
		h.failWith(w, r, pr, err)
		return
	case err != nil:
		h.fail(w, r, err)
		return
	}
	u, err := h.users.Get(ctx, p.UserID)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	tok, err := h.sessions.Start(ctx, u, session.Client{})
	if errors.Is(err, session.ErrUserChanged) {
		// Changed again (or deactivated) since: the password is changed,
		// but this client must sign in again.
		h.failWith(w, r, ProblemFor(user.ErrStale), err)
		return
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	WriteJSON(w, http.StatusOK, NewTokenResponse(tok))
}
