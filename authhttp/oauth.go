package authhttp

import (
	"errors"
	"net/http"

	"github.com/cedrina/cedrina/oauth"
	"github.com/cedrina/cedrina/session"
)

// OAuthCallbackMode is how GET /auth/oauth/{provider}/callback ends a
// sign-in (Config.OAuthCallback).
type OAuthCallbackMode int

// The callback modes.
const (
	// OAuthTokenResponse answers 200 with a [TokenResponse], as POST
	// /auth/login does (and 200 [LinkedResponse] for a link), for a
	// client that reads the callback's answer itself: a native or
	// single-page application that follows the redirect with its own
	// HTTP client.
	OAuthTokenResponse OAuthCallbackMode = iota
	// OAuthRedirect sets the session cookie (session.SetCookie) and
	// answers 303 See Other to the flow's return_to (for a link, without a
	// new session), for a browser that lands on the callback: it then
	// carries the cookie to the host's pages. Use it with
	// Config.Auth.AllowCookie, or nothing reads the cookie.
	OAuthRedirect
)

// LinkRequest is the optional body of POST /me/identities/{provider}/link.
type LinkRequest struct {
	// ReturnTo is where the callback sends the browser afterwards in
	// OAuthRedirect mode; it must be in the oauth service's allowlist
	// (oauth.Config.ReturnTo). Default oauth.Config.DefaultReturnTo.
	ReturnTo string `json:"return_to"`
}

// oauthRoutes wires the external sign-in routes on mux, with Config.OAuth
// only: without it their paths fall to the 404 of unknown paths.
func (h *Handler) oauthRoutes(mux *http.ServeMux, authed func(http.HandlerFunc) http.Handler) {
	if h.oauth == nil {
		return
	}
	mux.Handle("GET /auth/oauth/{provider}/start", h.limits.oauth(http.HandlerFunc(h.oauthStart)))
	mux.Handle("GET /auth/oauth/{provider}/callback", h.limits.oauth(http.HandlerFunc(h.oauthCallback)))
	mux.Handle("GET /me/identities", authed(h.listIdentities))
	mux.Handle("POST /me/identities/{provider}/link", h.limits.oauth(authed(h.beginLink)))
	mux.Handle("DELETE /me/identities/{provider}", authed(h.unlinkIdentity))
	for path, allow := range map[string]string{
		"/auth/oauth/{provider}/start": "GET, HEAD", "/auth/oauth/{provider}/callback": "GET, HEAD",
		"/me/identities": "GET, HEAD", "/me/identities/{provider}/link": "POST", "/me/identities/{provider}": "DELETE",
	} {
		mux.Handle(path, h.methodNotAllowed(allow))
	}
}

// oauthStart begins a sign-in with the provider: 302 Found to its
// authorization URL, with the flow's state in the state cookie
// (oauth.SetStateCookie). The query may hold return_to, which must be in
// the allowlist: 400 otherwise, and no redirect. An unknown provider is
// 404; one whose discovery document cannot be fetched 503.
func (h *Handler) oauthStart(w http.ResponseWriter, r *http.Request) {
	q, err := queryParams(r, []string{"return_to"}, nil)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	a, err := h.oauth.Begin(r.Context(), r.PathValue("provider"), q.Get("return_to"))
	if errors.Is(err, oauth.ErrReturnToRefused) {
		// A query parameter: named as one.
		p := ProblemFor(err)
		p.Field, p.Parameter = "", "return_to"
		h.failWith(w, r, p, err)
		return
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	oauth.SetStateCookie(w, a)
	w.Header().Set("Location", a.URL)
	w.WriteHeader(http.StatusFound)
}

// oauthCallback completes a flow at the provider's redirect. The state
// cookie is cleared whatever happens: a state is used once. A refusal is
// one generic 400 [TypeExternalSignInFailed] whatever its reason (which
// the oauth service logs and records as oauth_refused), but for 409
// [TypeLinkRequired], 409 [TypeIdentityConflict], and the 401 of a
// refused login for an account that is deactivated or changed.
//
// A sign-in starts a session: 200 TokenResponse, or, in OAuthRedirect
// mode, the session cookie and 303 to the flow's return_to. A link
// (begun with POST /me/identities/{provider}/link) starts none: 200
// LinkedResponse, or 303 to return_to.
func (h *Handler) oauthCallback(w http.ResponseWriter, r *http.Request) {
	provider := r.PathValue("provider")
	cb := oauth.CallbackFromRequest(r, provider)
	oauth.ClearStateCookie(w)
	ctx := r.Context()
	res, err := h.oauth.Complete(ctx, cb)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if res.Outcome == oauth.Linked {
		if h.redirect {
			seeOther(w, res.ReturnTo)
			return
		}
		WriteJSON(w, http.StatusOK, LinkedResponse{Linked: true, Provider: provider})
		return
	}
	// Start refuses (ErrUserChanged) when the account changed since the
	// sign-in was admitted: the same 401 as any refused login.
	tok, err := h.sessions.Start(ctx, res.User, session.Client{})
	if errors.Is(err, session.ErrUserChanged) {
		h.log.InfoContext(ctx, "authhttp: external sign-in refused", "reason", "account_changed", "user_id", res.User.ID)
		h.failWith(w, r, invalidCredentials, err)
		return
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if h.redirect {
		session.SetCookie(w, tok)
		seeOther(w, res.ReturnTo)
		return
	}
	WriteJSON(w, http.StatusOK, NewTokenResponse(tok))
}

// seeOther answers 303 See Other to target, an allowlisted return_to,
// without a body.
func seeOther(w http.ResponseWriter, target string) {
	w.Header().Set("Location", target)
	w.WriteHeader(http.StatusSeeOther)
}

// listIdentities answers the signed-in user's linked identities, ordered
// by provider: 200 IdentitiesResponse.
func (h *Handler) listIdentities(w http.ResponseWriter, r *http.Request) {
	list, err := h.oauth.Identities(r.Context(), principal(r).UserID)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	views := make([]IdentityView, 0, len(list))
	for _, p := range list {
		views = append(views, NewIdentityView(p))
	}
	WriteJSON(w, http.StatusOK, IdentitiesResponse{Identities: views})
}

// beginLink begins linking an identity of the provider to the signed-in
// user: 200 LinkResponse with the authorization URL to send the browser
// to, and the flow's state in the state cookie. The body is optional (no
// body, or {return_to}). Errors as GET /auth/oauth/{provider}/start,
// with return_to named as a field.
func (h *Handler) beginLink(w http.ResponseWriter, r *http.Request) {
	var req LinkRequest
	if r.ContentLength != 0 {
		if err := DecodeJSON(w, r, &req, h.maxBody); err != nil {
			h.fail(w, r, err)
			return
		}
	}
	a, err := h.oauth.BeginLink(r.Context(), r.PathValue("provider"), principal(r).UserID, req.ReturnTo)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	oauth.SetStateCookie(w, a)
	WriteJSON(w, http.StatusOK, LinkResponse{AuthorizationURL: a.URL})
}

// unlinkIdentity removes the signed-in user's identity of the provider:
// 204; 404 when there is none; 409 [TypeLastSignInMethod] when it is the
// account's only way to sign in.
func (h *Handler) unlinkIdentity(w http.ResponseWriter, r *http.Request) {
	if err := h.oauth.Unlink(r.Context(), principal(r).UserID, r.PathValue("provider")); err != nil {
		h.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
