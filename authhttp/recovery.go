package authhttp

import (
	"errors"
	"net/http"

	"github.com/cedrina/cedrina/ratelimit"
	"github.com/cedrina/cedrina/reset"
	"github.com/cedrina/cedrina/user"
)

// ForgotPasswordRequest is the body of POST /auth/password/forgot.
type ForgotPasswordRequest struct {
	Email string `json:"email"`
}

// ResetPasswordRequest is the body of POST /auth/password/reset: the
// token from the reset link and the new password.
type ResetPasswordRequest struct {
	Token    string `json:"token"`
	Password string `json:"password"`
}

// VerifyEmailRequest is the body of POST /auth/email/verify: the token
// from the verification link.
type VerifyEmailRequest struct {
	Token string `json:"token"`
}

// ChangeEmailRequest is the body of POST /me/email.
type ChangeEmailRequest struct {
	Email           string `json:"email"`
	CurrentPassword string `json:"current_password"`
}

// forgotPassword asks for a reset link: 202 for every address, known or
// not, active or not, in the same time (reset.Service.Request handles the
// request off the request path). 422 for input that is no address, 429
// over the rate limits (per address and per client), 503 when too many
// requests wait.
func (h *Handler) forgotPassword(w http.ResponseWriter, r *http.Request) {
	var req ForgotPasswordRequest
	if err := DecodeJSON(w, r, &req, h.maxBody); err != nil {
		h.fail(w, r, err)
		return
	}
	if err := h.reset.Request(r.Context(), req.Email, reset.Meta{}); err != nil {
		var le *ratelimit.LimitedError
		if errors.As(err, &le) {
			// The policy says which limit (per address or per client); the
			// address itself is never logged.
			h.log.InfoContext(r.Context(), "authhttp: password reset request limited", "policy", le.Policy.Name)
			ratelimit.SetHeaders(w.Header(), le.Policy, le.Result)
		}
		h.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

// resetPassword sets a new password with a reset token: 204. Every
// refused token (unknown, used, expired, superseded, its account
// inactive) gets one 400 problem; the reason goes to the log. A password
// the policy refuses gets 422 naming "password", and leaves the token
// usable. The client is not signed in: it logs in with the new password.
func (h *Handler) resetPassword(w http.ResponseWriter, r *http.Request) {
	var req ResetPasswordRequest
	if err := DecodeJSON(w, r, &req, h.maxBody); err != nil {
		h.fail(w, r, err)
		return
	}
	err := h.reset.Confirm(r.Context(), req.Token, req.Password, reset.Meta{})
	var te *reset.TokenError
	if errors.As(err, &te) {
		h.log.InfoContext(r.Context(), "authhttp: password reset refused", "reason", string(te.Reason), "user_id", te.UserID)
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// requestVerification sends a verification link to the signed-in user's
// address: 202; 409 when it is verified already.
func (h *Handler) requestVerification(w http.ResponseWriter, r *http.Request) {
	if err := h.users.RequestVerification(r.Context(), principal(r).UserID); err != nil {
		h.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

// verifyEmail verifies an address with the token of its link: 204. It
// needs no session (the link may be opened on another device). Every
// refused token gets one 400 problem; the reason goes to the log.
func (h *Handler) verifyEmail(w http.ResponseWriter, r *http.Request) {
	var req VerifyEmailRequest
	if err := DecodeJSON(w, r, &req, h.maxBody); err != nil {
		h.fail(w, r, err)
		return
	}
	_, err := h.users.VerifyEmail(r.Context(), req.Token)
	var ve *user.VerificationError
	if errors.As(err, &ve) {
		h.log.InfoContext(r.Context(), "authhttp: email verification refused", "reason", string(ve.Reason), "user_id", ve.UserID)
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// changeEmail changes the signed-in user's address after checking the
// current password: 200 with the user view (the new address
// unverified; a verification link goes to it and a notice to the old
// one). A wrong current password, or a locked account, answers 403 as a
// password change does; a taken address 409; an invalid one (or the
// current one) 422 naming "email".
func (h *Handler) changeEmail(w http.ResponseWriter, r *http.Request) {
	p := principal(r)
	var req ChangeEmailRequest
	if err := DecodeJSON(w, r, &req, h.maxBody); err != nil {
		h.fail(w, r, err)
		return
	}
	u, err := h.users.ChangeEmail(r.Context(), p.UserID, req.Email, req.CurrentPassword)
	switch {
	case errors.Is(err, user.ErrInvalidCredentials):
		h.log.InfoContext(r.Context(), "authhttp: email change refused", "user_id", p.UserID, "error", err.Error())
		h.failWith(w, r, wrongPassword, err)
		return
	case err != nil:
		h.fail(w, r, err)
		return
	}
	WriteJSON(w, http.StatusOK, NewUserView(u))
}
