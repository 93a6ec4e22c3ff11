package oauthtest

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// tokenResponse is RFC 6749 5.1's successful token response, with OpenID
// Connect's id_token.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	RefreshToken string `json:"refresh_token,omitempty"`
	Scope        string `json:"scope,omitempty"`
	IDToken      string `json:"id_token,omitempty"`
}

// token is the token endpoint.
func (p *Provider) token(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	p.tokenRequests++
	m := p.mis
	p.mu.Unlock()
	if m.TokenError != "" || m.TokenStatus != 0 || m.TokenMalformedJSON {
		status := m.TokenStatus
		switch {
		case status != 0:
		case m.TokenError != "":
			status = http.StatusBadRequest
		default:
			status = http.StatusOK
		}
		body := "{}"
		if m.TokenError != "" {
			b, _ := json.Marshal(map[string]string{"error": m.TokenError})
			body = string(b)
		}
		if m.TokenMalformedJSON {
			body = `{"access_token": `
		}
		writeRaw(w, status, body)
		return
	}

	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct != "application/x-www-form-urlencoded" {
		tokenError(w, http.StatusBadRequest, "invalid_request", "the body must be application/x-www-form-urlencoded")
		return
	}
	if err := r.ParseForm(); err != nil {
		tokenError(w, http.StatusBadRequest, "invalid_request", "malformed body")
		return
	}
	form := r.PostForm
	for name, vs := range form {
		if len(vs) > 1 {
			tokenError(w, http.StatusBadRequest, "invalid_request", name+" is repeated")
			return
		}
	}
	clientID, ok := p.authenticateClient(w, r, form)
	if !ok {
		return
	}
	switch form.Get("grant_type") {
	case "authorization_code":
		p.exchangeCode(w, form, clientID, m)
	case "refresh_token":
		p.refreshToken(w, form, clientID)
	case "":
		tokenError(w, http.StatusBadRequest, "invalid_request", "grant_type is required")
	default:
		tokenError(w, http.StatusBadRequest, "unsupported_grant_type", "grant_type must be authorization_code or refresh_token")
	}
}

// authenticateClient checks the client's credentials, sent by HTTP Basic
// (form-urlencoded, RFC 6749 2.3.1) or in the form, not both. On failure it
// answers and ok is false.
func (p *Provider) authenticateClient(w http.ResponseWriter, r *http.Request, form url.Values) (clientID string, ok bool) {
	user, pass, basic := r.BasicAuth()
	var secret string
	if basic {
		if form.Has("client_secret") {
			tokenError(w, http.StatusBadRequest, "invalid_request", "more than one client authentication method")
			return "", false
		}
		var err1, err2 error
		clientID, err1 = url.QueryUnescape(user)
		secret, err2 = url.QueryUnescape(pass)
		if err1 != nil || err2 != nil || (form.Has("client_id") && form.Get("client_id") != clientID) {
			clientID = ""
		}
	} else {
		clientID, secret = form.Get("client_id"), form.Get("client_secret")
	}
	if clientID != p.cfg.ClientID || subtle.ConstantTimeCompare([]byte(secret), []byte(p.cfg.ClientSecret)) != 1 {
		if basic {
			w.Header().Set("WWW-Authenticate", `Basic realm="oauthtest"`)
		}
		tokenError(w, http.StatusUnauthorized, "invalid_client", "client authentication failed")
		return "", false
	}
	return clientID, true
}

// exchangeCode is the authorization_code grant. The code is spent before
// anything else is checked, so a request that fails spends it too; a
// second use revokes the tokens the first one got (RFC 6749 4.1.2).
func (p *Provider) exchangeCode(w http.ResponseWriter, form url.Values, clientID string, m Misbehaviour) {
	code := form.Get("code")
	if code == "" {
		tokenError(w, http.StatusBadRequest, "invalid_request", "code is required")
		return
	}
	now := p.now()
	p.mu.Lock()
	g, ok := p.codes[code]
	delete(p.codes, code)
	if !ok {
		for _, tok := range p.usedCodes[code] {
			delete(p.access, tok)
			delete(p.refresh, tok)
		}
	} else {
		p.usedCodes[code] = nil
	}
	p.mu.Unlock()
	switch {
	case !ok:
		tokenError(w, http.StatusBadRequest, "invalid_grant", "unknown or spent code")
	case !now.Before(g.expires):
		tokenError(w, http.StatusBadRequest, "invalid_grant", "code expired")
	case g.clientID != clientID:
		tokenError(w, http.StatusBadRequest, "invalid_grant", "code issued to another client")
	case form.Get("redirect_uri") != g.redirectURI:
		tokenError(w, http.StatusBadRequest, "invalid_grant", "redirect_uri differs from the one sent to /authorize")
	case !validVerifier(form.Get("code_verifier")):
		tokenError(w, http.StatusBadRequest, "invalid_grant", "code_verifier missing or malformed")
	case s256(form.Get("code_verifier")) != g.challenge:
		tokenError(w, http.StatusBadRequest, "invalid_grant", "code_verifier does not match code_challenge")
	default:
		resp := tokenResponse{
			AccessToken:  randomString(32),
			TokenType:    "Bearer",
			ExpiresIn:    int64(p.cfg.AccessTokenTTL / time.Second),
			RefreshToken: randomString(32),
			Scope:        g.scope,
		}
		it := &issued{clientID: clientID, scope: g.scope, user: g.user}
		at := *it
		at.expires = now.Add(p.cfg.AccessTokenTTL)
		p.mu.Lock()
		p.access[resp.AccessToken] = &at
		p.refresh[resp.RefreshToken] = it
		p.usedCodes[code] = []string{resp.AccessToken, resp.RefreshToken}
		key := p.keys[len(p.keys)-1]
		p.mu.Unlock()
		if hasScope(g.scope, "openid") && !m.OmitIDToken {
			idToken, err := p.idToken(key, g, clientID, resp.AccessToken, now, m)
			if err != nil {
				tokenError(w, http.StatusInternalServerError, "server_error", err.Error())
				return
			}
			resp.IDToken = idToken
		}
		writeToken(w, resp)
	}
}

// refreshToken is the refresh_token grant: a new access token for the
// same user and scope (or a narrower scope), no new refresh token and no
// ID token.
func (p *Provider) refreshToken(w http.ResponseWriter, form url.Values, clientID string) {
	now := p.now()
	p.mu.Lock()
	it, ok := p.refresh[form.Get("refresh_token")]
	p.mu.Unlock()
	if !ok || it.clientID != clientID {
		tokenError(w, http.StatusBadRequest, "invalid_grant", "unknown refresh_token")
		return
	}
	scope := it.scope
	if form.Has("scope") {
		for s := range strings.FieldsSeq(form.Get("scope")) {
			if !hasScope(it.scope, s) {
				tokenError(w, http.StatusBadRequest, "invalid_scope", "scope "+s+" was not granted")
				return
			}
		}
		scope = form.Get("scope")
	}
	resp := tokenResponse{
		AccessToken: randomString(32),
		TokenType:   "Bearer",
		ExpiresIn:   int64(p.cfg.AccessTokenTTL / time.Second),
		Scope:       scope,
	}
	at := *it
	at.scope = scope
	at.expires = now.Add(p.cfg.AccessTokenTTL)
	p.mu.Lock()
	p.access[resp.AccessToken] = &at
	p.mu.Unlock()
	writeToken(w, resp)
}

// idToken signs the ID token for g, bent by m.
func (p *Provider) idToken(key signingKey, g *grant, clientID, accessToken string, now time.Time, m Misbehaviour) (string, error) {
	iss, aud, nonce := p.Issuer(), clientID, g.nonce
	if m.IDTokenIssuer != "" {
		iss = m.IDTokenIssuer
	}
	if m.IDTokenAudience != "" {
		aud = m.IDTokenAudience
	}
	if m.IDTokenNonce != "" {
		nonce = m.IDTokenNonce
	}
	iat, exp := now, now.Add(p.cfg.IDTokenTTL)
	if m.IDTokenExpired {
		exp = now.Add(-time.Hour)
		iat = exp.Add(-p.cfg.IDTokenTTL)
	}
	claims := jwt.MapClaims{
		"iss":       iss,
		"sub":       g.user.Subject,
		"aud":       aud,
		"iat":       iat.Unix(),
		"exp":       exp.Unix(),
		"auth_time": g.authTime.Unix(),
		"at_hash":   atHash(accessToken),
	}
	if nonce != "" {
		claims["nonce"] = nonce
	}
	for k, v := range scopedClaims(g.user, g.scope) {
		claims[k] = v
	}
	if m.IDTokenAlgNone {
		return jwt.NewWithClaims(jwt.SigningMethodNone, claims).SignedString(jwt.UnsafeAllowNoneSignatureType)
	}
	signer := key.key
	if m.IDTokenWrongKey {
		var err error
		if signer, err = p.wrongKey(); err != nil {
			return "", err
		}
	}
	t := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	t.Header["kid"] = key.kid
	return t.SignedString(signer)
}

// scopedClaims are the user's claims that scope grants (OpenID Connect
// Core 5.4): email and email_verified for "email"; name,
// preferred_username and picture for "profile". Empty ones are left out.
func scopedClaims(u User, scope string) map[string]any {
	c := make(map[string]any)
	if hasScope(scope, "email") && u.Email != "" {
		c["email"] = u.Email
		c["email_verified"] = u.EmailVerified
	}
	if hasScope(scope, "profile") {
		for k, v := range map[string]string{"name": u.Name, "preferred_username": u.PreferredUsername, "picture": u.Picture} {
			if v != "" {
				c[k] = v
			}
		}
	}
	return c
}

func hasScope(scope, s string) bool {
	return slices.Contains(strings.Fields(scope), s)
}

// s256 is PKCE's S256 transformation of a code verifier.
func s256(verifier string) string {
	h := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(h[:])
}

// atHash is the ID token's at_hash for an RS256-signed token.
func atHash(accessToken string) string {
	h := sha256.Sum256([]byte(accessToken))
	return base64.RawURLEncoding.EncodeToString(h[:len(h)/2])
}

func writeToken(w http.ResponseWriter, resp tokenResponse) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	writeJSON(w, http.StatusOK, resp)
}

// tokenError answers an error of RFC 6749 5.2.
func tokenError(w http.ResponseWriter, status int, code, description string) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	writeJSON(w, status, map[string]string{"error": code, "error_description": description})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	writeRaw(w, status, string(b))
}

func writeRaw(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write([]byte(body))
}
