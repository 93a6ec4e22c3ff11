package session

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

type principalKey struct{}

// ContextWithPrincipal returns ctx carrying p. [Service.RequireAuth] uses it; tests
// and hosts with their own authentication may too.
func ContextWithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFromContext returns the [Principal] that [ContextWithPrincipal] put in ctx: in a
// handler behind [Service.RequireAuth], the request's authenticated
// identity. It reports false when there is none.
func PrincipalFromContext(ctx context.Context) (*Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(*Principal)
	return p, ok && p != nil
}

// CookieName is the session cookie's name. The __Host- prefix makes
// browsers refuse the cookie unless it is Secure, has Path=/ and no
// Domain: a sibling subdomain or a plain-HTTP page cannot plant or
// overwrite it.
const CookieName = "__Host-session"

// SetCookie writes t's opaque session token as the [CookieName] cookie:
// Secure, HttpOnly, SameSite=Lax, Path=/, no Domain, expiring with the
// session (Expires and Max-Age at t.ExpiresAt). The cookie carries
// neither the access token nor the refresh token: a cookie is sent with
// every request to the site, and the session token is the one secret
// that [Service.Logout] and [Service.Revoke] end at once.
//
// It writes nothing when t has no session token: [Service.Refresh] does
// not change the session token, so the cookie set at [Service.Start]
// stays valid.
//
// Secure cookies are not sent over plain HTTP (browsers make an exception
// for http://localhost only): serve the site over HTTPS.
func SetCookie(w http.ResponseWriter, t *Tokens) {
	if t == nil || t.SessionToken == "" {
		return
	}
	maxAge := int(time.Until(t.ExpiresAt) / time.Second)
	if maxAge <= 0 {
		ClearCookie(w)
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name:     CookieName,
		Value:    t.SessionToken,
		Path:     "/",
		Expires:  t.ExpiresAt.UTC(),
		MaxAge:   maxAge,
		Secure:   true,
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
	})
}

// ClearCookie tells the browser to delete the [CookieName] cookie (at
// logout, say). The attributes the __Host- prefix requires are repeated,
// or the browser would ignore it.
func ClearCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{
		Name:     CookieName,
		Value:    "",
		Path:     "/",
		Expires:  time.Unix(0, 0).UTC(),
		MaxAge:   -1, // Max-Age=0
		Secure:   true,
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
	})
}

// MiddlewareConfig configures [Service.RequireAuth]. The zero value
// accepts bearer tokens only.
type MiddlewareConfig struct {
	// AllowCookie also accepts the session cookie ([CookieName], checked
	// with [Service.AuthenticateSession]) on requests without an
	// Authorization header. Default false.
	//
	// A browser attaches cookies to requests that other sites make, so
	// cookie authentication needs a defence against cross-site request
	// forgery. SameSite=Lax stops cross-site POSTs from carrying the
	// cookie, but not requests from sibling subdomains (same site), nor
	// browsers that ignore SameSite. So a cookie-authenticated request
	// with an unsafe method (any but GET, HEAD and OPTIONS) is refused
	// with 403, before the cookie is even looked up, unless one of these
	// holds:
	//
	//   - Sec-Fetch-Site is "same-origin": the browser says the request
	//     comes from a page of this very origin (page scripts cannot set
	//     Sec- headers).
	//   - Origin is one of AllowedOrigins.
	//   - There is no Origin header, no Sec-Fetch-Site header, and the
	//     request carries a non-empty X-Requested-With header. Modern
	//     browsers send Origin with every cross-origin and every unsafe
	//     request, and a page cannot add a custom header to a
	//     cross-origin request without a CORS preflight.
	//
	// Once the browser names an origin, the origin alone decides:
	// X-Requested-With does not rescue a request from an origin that is
	// not allowed, because a permissive CORS policy (one that reflects
	// any Origin with credentials) would let any site send that header.
	//
	// Safe methods are not checked: handlers must not change state on
	// GET, HEAD or OPTIONS.
	AllowCookie bool
	// AllowedOrigins are the origins ("https://app.example.com": scheme,
	// host and port if not the default, no path) whose unsafe requests
	// are accepted with the cookie. List the site's own origin here too
	// for browsers that send no Sec-Fetch-Site. Compared exactly, ignoring
	// case. Default none.
	AllowedOrigins []string
	// Realm is the realm of the WWW-Authenticate challenge. Default
	// "cedrina". It must be printable ASCII; RequireAuth panics
	// otherwise.
	Realm string
	// ErrorFunc, when set, writes the body of every refusal (401, 403)
	// and failure (500) instead of the built-in problem+json, so that a
	// host's error bodies all look alike. status is the code to send;
	// err says why (a 401's matches ErrUnauthenticated, a 403's is
	// ErrCrossOrigin, a 500's is the store's error) and is for logs only:
	// the body must not tell a client which check failed. The
	// WWW-Authenticate, Vary and Cache-Control: no-store headers are set
	// before it is called. Default: the built-in bodies.
	ErrorFunc func(w http.ResponseWriter, r *http.Request, status int, err error)
}

// ErrCrossOrigin is the error [MiddlewareConfig.ErrorFunc] gets for a
// cookie-authenticated request refused by the CSRF rule of
// [MiddlewareConfig.AllowCookie].
var ErrCrossOrigin = errors.New("session: cross-origin request refused")

// The responses of RequireAuth. Every refusal gets the same body,
// whatever the reason: the client learns that it is not authenticated,
// never which check failed.
var (
	unauthorizedBody = problemBody(http.StatusUnauthorized, "valid credentials are required")
	forbiddenBody    = problemBody(http.StatusForbidden, "cross-origin request refused")
	serverErrorBody  = problemBody(http.StatusInternalServerError, "internal server error")
)

func problemBody(status int, detail string) []byte {
	b, _ := json.Marshal(struct {
		Type   string `json:"type"`
		Title  string `json:"title"`
		Status int    `json:"status"`
		Detail string `json:"detail"`
	}{"about:blank", http.StatusText(status), status, detail})
	return append(b, '\n')
}

// RequireAuth returns middleware that authenticates every request and
// passes only authenticated ones to the next handler, with the
// [Principal] in the request's context ([PrincipalFromContext]).
//
// Credentials are taken from the Authorization header: the scheme Bearer
// (any case), one or more spaces, and one token of RFC 6750's b64token
// characters, at most [MaxTokenSize] bytes, checked with
// [Service.Authenticate]. A request with several Authorization headers is
// refused. Tokens are never
// read from the URL (query strings end up in logs, proxies and browser
// history) nor from a form body. Without an Authorization header, and
// with cfg.AllowCookie, the session cookie is checked instead (see
// [MiddlewareConfig.AllowCookie] for its CSRF rule). An Authorization
// header, valid or not, always wins over the cookie.
//
// A refusal answers 401 with Cache-Control: no-store, a problem+json body
// (RFC 9457) that is the same for every reason, and the challenge
// `WWW-Authenticate: Bearer realm="cedrina", error="invalid_token"`
// (RFC 6750). The error attribute is left out when the request carried no
// credentials, or credentials of another scheme (Basic, say), as RFC 6750
// section 3.1 asks. A malformed Authorization header gets the same 401 as
// a bad token, not RFC 6750's suggested 400 invalid_request, so that
// probing learns nothing. A cookie request refused by the CSRF rule gets
// 403. A store failure gets 500 and is logged to Config.Logger; the
// reason for a refusal is logged at debug level. Tokens are never logged
// nor echoed.
//
// Every response through the middleware gets Vary: Authorization (and
// Cookie with AllowCookie), so shared caches never serve one user's
// response to another.
func (s *Service) RequireAuth(cfg MiddlewareConfig) func(http.Handler) http.Handler {
	realm := cfg.Realm
	if realm == "" {
		realm = "cedrina"
	}
	for i := 0; i < len(realm); i++ {
		if realm[i] < 0x20 || realm[i] > 0x7e {
			panic("session: MiddlewareConfig.Realm must be printable ASCII")
		}
	}
	realm = strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(realm)
	challenge := `Bearer realm="` + realm + `"`
	refused := challenge + `, error="invalid_token"`
	origins := make(map[string]bool, len(cfg.AllowedOrigins))
	for _, o := range cfg.AllowedOrigins {
		origins[strings.ToLower(o)] = true
	}
	vary := "Authorization"
	if cfg.AllowCookie {
		vary = "Authorization, Cookie"
	}

	answer := func(w http.ResponseWriter, r *http.Request, status int, body []byte, err error) {
		w.Header().Set("Cache-Control", "no-store")
		if cfg.ErrorFunc != nil {
			cfg.ErrorFunc(w, r, status, err)
			return
		}
		writeProblem(w, status, body)
	}
	// refuse answers 401 with the challenge; why goes to the debug log
	// and to ErrorFunc.
	refuse := func(w http.ResponseWriter, r *http.Request, challenge string, why error) {
		s.log.DebugContext(r.Context(), "session: request not authenticated", "method", r.Method, "path", r.URL.Path, "reason", why.Error())
		w.Header().Set("WWW-Authenticate", challenge)
		answer(w, r, http.StatusUnauthorized, unauthorizedBody, why)
	}

	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Add("Vary", vary)
			ctx := r.Context()
			var (
				p   *Principal
				err error
			)
			headers := r.Header.Values("Authorization")
			switch {
			case len(headers) > 0:
				token, ok := bearer(headers)
				if !ok {
					refuse(w, r, challengeFor(headers, challenge, refused), fmt.Errorf("%w: malformed Authorization header", ErrUnauthenticated))
					return
				}
				p, err = s.Authenticate(ctx, token)
			case cfg.AllowCookie && len(r.CookiesNamed(CookieName)) > 0:
				if !sameOrigin(r, origins) {
					s.log.DebugContext(ctx, "session: cookie request refused: no proof of same origin",
						"method", r.Method, "origin", cleanAgent(r.Header.Get("Origin")))
					answer(w, r, http.StatusForbidden, forbiddenBody, ErrCrossOrigin)
					return
				}
				cookies := r.CookiesNamed(CookieName)
				if len(cookies) != 1 {
					refuse(w, r, refused, fmt.Errorf("%w: several session cookies", ErrUnauthenticated))
					return
				}
				p, err = s.AuthenticateSession(ctx, cookies[0].Value)
			default:
				refuse(w, r, challenge, fmt.Errorf("%w: no credentials", ErrUnauthenticated))
				return
			}
			switch {
			case errors.Is(err, ErrUnauthenticated):
				refuse(w, r, refused, err)
				return
			case err != nil:
				s.log.ErrorContext(ctx, "session: authenticating a request failed", "method", r.Method, "path", r.URL.Path, "error", err)
				answer(w, r, http.StatusInternalServerError, serverErrorBody, err)
				return
			}
			next.ServeHTTP(w, r.WithContext(ContextWithPrincipal(ctx, p)))
		})
	}
}

// writeProblem sends one of the prepared problem+json bodies.
func writeProblem(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	w.Write(body)
}

// challengeFor picks the challenge for a header that bearer refused:
// without the error attribute when it is a single header of another
// scheme (no Bearer credentials were sent), with it otherwise, including
// any header that starts with "bearer" in any case.
func challengeFor(headers []string, plain, refused string) string {
	if len(headers) != 1 {
		return refused
	}
	if h := headers[0]; len(h) >= 6 && strings.EqualFold(h[:6], "Bearer") {
		return refused
	}
	return plain
}

// bearer returns the token of a single "Bearer <b64token>" header.
func bearer(headers []string) (string, bool) {
	if len(headers) != 1 {
		return "", false
	}
	scheme, token, ok := strings.Cut(headers[0], " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimLeft(token, " ")
	if token == "" || len(token) > MaxTokenSize || !b64token(token) {
		return "", false
	}
	return token, true
}

// b64token reports whether t matches RFC 6750's
// 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
func b64token(t string) bool {
	body := strings.TrimRight(t, "=")
	if body == "" {
		return false
	}
	for i := 0; i < len(body); i++ {
		c := body[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/') {
			return false
		}
	}
	return true
}

// sameOrigin applies the CSRF rule of [MiddlewareConfig.AllowCookie].
func sameOrigin(r *http.Request, allowed map[string]bool) bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return true
	}
	site := r.Header.Values("Sec-Fetch-Site")
	if len(site) == 1 && site[0] == "same-origin" {
		return true
	}
	origin := r.Header.Values("Origin")
	switch {
	case len(origin) > 1:
		return false
	case len(origin) == 1:
		return allowed[strings.ToLower(origin[0])]
	}
	return len(site) == 0 && r.Header.Get("X-Requested-With") != ""
}
