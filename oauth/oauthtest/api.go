package oauthtest

import (
	"encoding/base64"
	"math/big"
	"net/http"
	"strings"
)

// discovery is the OpenID Provider Metadata.
func (p *Provider) discovery(w http.ResponseWriter, r *http.Request) {
	issuer := p.Issuer()
	if m := p.misbehaviour(); m.DiscoveryIssuer != "" {
		issuer = m.DiscoveryIssuer
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                issuer,
		"authorization_endpoint":                p.AuthURL(),
		"token_endpoint":                        p.TokenURL(),
		"userinfo_endpoint":                     p.UserInfoURL(),
		"jwks_uri":                              p.JWKSURL(),
		"response_types_supported":              []string{"code"},
		"response_modes_supported":              []string{"query"},
		"grant_types_supported":                 []string{"authorization_code", "refresh_token"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"code_challenge_methods_supported":      []string{"S256"},
		"scopes_supported":                      []string{"openid", "email", "profile"},
		"token_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post"},
		"claims_supported": []string{
			"iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "at_hash",
			"email", "email_verified", "name", "preferred_username", "picture",
		},
		"authorization_response_iss_parameter_supported": true,
	})
}

type jwk struct {
	Kty string `json:"kty"`
	Use string `json:"use"`
	Alg string `json:"alg"`
	Kid string `json:"kid"`
	N   string `json:"n"`
	E   string `json:"e"`
}

// jwks is the JSON Web Key Set: every signing key the provider has had.
func (p *Provider) jwks(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	keys := make([]jwk, len(p.keys))
	for i, k := range p.keys {
		pub := k.key.PublicKey
		keys[i] = jwk{
			Kty: "RSA",
			Use: "sig",
			Alg: "RS256",
			Kid: k.kid,
			N:   base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
			E:   base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes()),
		}
	}
	p.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string][]jwk{"keys": keys})
}

// bearer finds the live access token of r: in the Authorization header
// under one of schemes (case-insensitive), or, when query is set, in the
// access_token query parameter.
func (p *Provider) bearer(r *http.Request, query bool, schemes ...string) (*issued, bool) {
	var tok string
	if scheme, t, ok := strings.Cut(r.Header.Get("Authorization"), " "); ok {
		for _, s := range schemes {
			if strings.EqualFold(scheme, s) {
				tok = strings.TrimSpace(t)
			}
		}
	} else if query {
		tok = r.URL.Query().Get("access_token")
	}
	if tok == "" {
		return nil, false
	}
	now := p.now()
	p.mu.Lock()
	defer p.mu.Unlock()
	it, ok := p.access[tok]
	if !ok || !now.Before(it.expires) {
		return nil, false
	}
	return it, true
}

// misbehaveAPI answers for the UserInfo switches, with truncated as the
// malformed body; it reports whether it answered.
func (p *Provider) misbehaveAPI(w http.ResponseWriter, truncated string) bool {
	m := p.misbehaviour()
	if m.UserInfoStatus == 0 && !m.UserInfoMalformedJSON {
		return false
	}
	status, body := m.UserInfoStatus, "{}"
	if status == 0 {
		status = http.StatusOK
	}
	if m.UserInfoMalformedJSON {
		body = truncated
	}
	writeRaw(w, status, body)
	return true
}

// userinfo is OpenID Connect's UserInfo endpoint: sub and the claims the
// token's scope grants.
func (p *Provider) userinfo(w http.ResponseWriter, r *http.Request) {
	if p.misbehaveAPI(w, `{"sub": `) {
		return
	}
	it, ok := p.bearer(r, false, "Bearer")
	if !ok {
		challenge := `Bearer realm="oauthtest"`
		if r.Header.Get("Authorization") != "" {
			challenge += `, error="invalid_token"`
		}
		w.Header().Set("WWW-Authenticate", challenge)
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_token"})
		return
	}
	claims := scopedClaims(it.user, it.scope)
	claims["sub"] = it.user.Subject
	if m := p.misbehaviour(); m.UserInfoSubject != "" {
		claims["sub"] = m.UserInfoSubject
	}
	writeJSON(w, http.StatusOK, claims)
}

// nullable is s, or JSON null when s is empty.
func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func (p *Provider) githubToken(w http.ResponseWriter, r *http.Request) (*issued, bool) {
	it, ok := p.bearer(r, false, "Bearer", "token")
	if !ok {
		writeJSON(w, http.StatusUnauthorized, map[string]string{
			"message":           "Bad credentials",
			"documentation_url": "https://docs.github.com/rest",
		})
	}
	return it, ok
}

// githubUser is GitHub's GET /user.
func (p *Provider) githubUser(w http.ResponseWriter, r *http.Request) {
	if p.misbehaveAPI(w, `{"id": `) {
		return
	}
	it, ok := p.githubToken(w, r)
	if !ok {
		return
	}
	u := it.user
	email := u.Email
	if u.GitHubEmailPrivate {
		email = ""
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"id":         u.githubID(),
		"login":      u.PreferredUsername,
		"name":       nullable(u.Name),
		"email":      nullable(email),
		"avatar_url": u.Picture,
	})
}

type githubEmail struct {
	Email      string `json:"email"`
	Primary    bool   `json:"primary"`
	Verified   bool   `json:"verified"`
	Visibility string `json:"visibility"`
}

// githubEmails is GitHub's GET /user/emails.
func (p *Provider) githubEmails(w http.ResponseWriter, r *http.Request) {
	if p.misbehaveAPI(w, `[{"email": `) {
		return
	}
	it, ok := p.githubToken(w, r)
	if !ok {
		return
	}
	u := it.user
	emails := []githubEmail{}
	if u.Email != "" {
		visibility := "public"
		if u.GitHubEmailPrivate {
			visibility = "private"
		}
		emails = append(emails, githubEmail{Email: u.Email, Primary: true, Verified: u.EmailVerified, Visibility: visibility})
	}
	writeJSON(w, http.StatusOK, emails)
}

// facebookMe is the Graph API's GET /me?fields=...: the fields asked for
// among id, name, email and picture (default id and name).
func (p *Provider) facebookMe(w http.ResponseWriter, r *http.Request) {
	if p.misbehaveAPI(w, `{"id": `) {
		return
	}
	it, ok := p.bearer(r, true, "Bearer", "OAuth")
	if !ok {
		facebookError(w, 190, "Invalid OAuth access token.")
		return
	}
	u := it.user
	fields := "id,name"
	if f := r.URL.Query().Get("fields"); f != "" {
		fields = f
	}
	out := make(map[string]any)
	for f := range strings.SplitSeq(fields, ",") {
		switch f = strings.TrimSpace(f); f {
		case "id":
			out["id"] = u.Subject
		case "name":
			if u.Name != "" {
				out["name"] = u.Name
			}
		case "email":
			if u.Email != "" {
				out["email"] = u.Email
			}
		case "picture":
			if u.Picture != "" {
				out["picture"] = map[string]any{"data": map[string]any{"url": u.Picture}}
			}
		default:
			facebookError(w, 100, "(#100) Tried accessing nonexisting field ("+f+") on node type (User)")
			return
		}
	}
	out["id"] = u.Subject // the Graph API always answers the id
	writeJSON(w, http.StatusOK, out)
}

func facebookError(w http.ResponseWriter, code int, message string) {
	writeJSON(w, http.StatusBadRequest, map[string]any{
		"error": map[string]any{"message": message, "type": "OAuthException", "code": code},
	})
}
