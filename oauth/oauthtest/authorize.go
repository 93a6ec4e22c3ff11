package oauthtest

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
)

func (p *Provider) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", p.discovery)
	mux.HandleFunc("GET /jwks", p.jwks)
	mux.HandleFunc("GET /authorize", p.authorize)
	mux.HandleFunc("POST /token", p.token)
	mux.HandleFunc("GET /userinfo", p.userinfo)
	mux.HandleFunc("POST /userinfo", p.userinfo)
	mux.HandleFunc("GET /github/user", p.githubUser)
	mux.HandleFunc("GET /github/user/emails", p.githubEmails)
	mux.HandleFunc("GET /facebook/me", p.facebookMe)
	return mux
}

// authorize is the authorization endpoint. A request that names an
// unknown client or an unregistered redirect URI, or that lacks S256 PKCE,
// gets a 400 page; other errors are redirected to the client.
func (p *Provider) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	clientID, ok := single(q, "client_id")
	if !ok || clientID != p.cfg.ClientID {
		http.Error(w, "oauthtest: unknown client_id", http.StatusBadRequest)
		return
	}
	redirectURI, ok := single(q, "redirect_uri")
	if !ok || !p.redirectAllowed(redirectURI) {
		http.Error(w, "oauthtest: redirect_uri is not registered for the client", http.StatusBadRequest)
		return
	}
	challenge, _ := single(q, "code_challenge")
	if challenge == "" {
		http.Error(w, "oauthtest: code_challenge is required (PKCE)", http.StatusBadRequest)
		return
	}
	if method, _ := single(q, "code_challenge_method"); method != "S256" {
		http.Error(w, "oauthtest: code_challenge_method must be S256", http.StatusBadRequest)
		return
	}
	m := p.misbehaviour()
	iss := p.Issuer()
	if m.AuthorizeIss != "" {
		iss = m.AuthorizeIss
	}
	state := q.Get("state")
	fail := func(code, description string) {
		redirect(w, redirectURI, url.Values{
			"error":             {code},
			"error_description": {description},
			"state":             {state},
			"iss":               {iss},
		})
	}
	for name, vs := range q {
		if len(vs) > 1 {
			fail("invalid_request", name+" is repeated")
			return
		}
	}
	if q.Get("response_type") != "code" {
		fail("unsupported_response_type", "response_type must be code")
		return
	}
	if state == "" {
		fail("invalid_request", "state is required")
		return
	}
	if !validChallenge(challenge) {
		fail("invalid_request", "code_challenge must be 43 base64url characters")
		return
	}
	if m.AuthorizeError != "" {
		fail(m.AuthorizeError, "oauthtest: Misbehaviour.AuthorizeError")
		return
	}

	now := p.now()
	code := randomString(32)
	p.mu.Lock()
	p.codes[code] = &grant{
		clientID:    clientID,
		redirectURI: redirectURI,
		challenge:   challenge,
		nonce:       q.Get("nonce"),
		scope:       q.Get("scope"),
		user:        p.user,
		authTime:    now,
		expires:     now.Add(codeTTL),
	}
	p.mu.Unlock()
	redirect(w, redirectURI, url.Values{"code": {code}, "state": {state}, "iss": {iss}})
}

// redirect answers 302 to target with params added to its query.
func redirect(w http.ResponseWriter, target string, params url.Values) {
	u, _ := url.Parse(target) // checked by redirectAllowed
	q := u.Query()
	for k, vs := range params {
		if vs[0] != "" {
			q[k] = vs
		}
	}
	u.RawQuery = q.Encode()
	w.Header().Set("Location", u.String())
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusFound)
}

func (p *Provider) redirectAllowed(uri string) bool {
	if p.redirects[uri] {
		return true
	}
	if !p.cfg.AllowAnyRedirect {
		return false
	}
	u, err := url.Parse(uri)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" &&
		!strings.Contains(uri, "#")
}

// single returns the only value of name in vs; ok is false when name is
// missing or repeated.
func single(vs url.Values, name string) (v string, ok bool) {
	if len(vs[name]) != 1 {
		return "", false
	}
	return vs[name][0], true
}

// validChallenge reports whether c is an S256 code challenge: a SHA-256
// hash, base64url-encoded without padding (RFC 7636 4.2).
func validChallenge(c string) bool {
	b, err := base64.RawURLEncoding.DecodeString(c)
	return err == nil && len(c) == 43 && len(b) == 32
}

// validVerifier reports whether v is a code verifier: 43 to 128 unreserved
// characters (RFC 7636 4.1).
func validVerifier(v string) bool {
	if len(v) < 43 || len(v) > 128 {
		return false
	}
	for _, c := range []byte(v) {
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9',
			c == '-', c == '.', c == '_', c == '~':
		default:
			return false
		}
	}
	return true
}
