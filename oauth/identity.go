package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// Identity is who the provider says signed in.
type Identity struct {
	// Provider is the provider's stored name ("GOOGLE").
	Provider string
	// Subject is the account's stable id at the provider
	// (oauth_profiles.provider_user_id).
	Subject string
	// Email is the address the provider gave, "" when none.
	Email string
	// EmailVerified: the provider asserts it verified Email.
	EmailVerified bool
	// Name, Username (preferred_username, GitHub's login) and Picture
	// are profile hints.
	Name     string
	Username string
	Picture  string
	// Info is the provider's user info as stored (user_info): the
	// userinfo answer (OIDC, merged over the ID token's profile claims),
	// or the API's account document (GitHub, Facebook).
	Info map[string]any
}

// identity learns who signed in from the token response: the ID token,
// verified (OpenID Connect), and the user info or account API.
func (p *Provider) identity(ctx context.Context, tok *oauth2.Token, nonce string) (*Identity, *CallbackError) {
	var id *Identity
	var cerr *CallbackError
	switch p.kind {
	case kindOIDC:
		id, cerr = p.oidcIdentity(ctx, tok, nonce)
	case kindGitHub:
		id, cerr = p.githubIdentity(ctx, tok)
	case kindFacebook:
		id, cerr = p.facebookIdentity(ctx, tok)
	}
	if cerr != nil {
		return nil, cerr
	}
	if id.Subject == "" || utf8.RuneCountInString(id.Subject) > MaxSubjectLength || !printable(id.Subject) {
		return nil, refuse(ReasonUserInfoFailed, errors.New("the account id is missing, too long or not printable"))
	}
	id.Provider = p.stored
	id.Info, _ = storable(id.Info).(map[string]any)
	id.Name, id.Username, id.Picture = storableString(id.Name), storableString(id.Username), storableString(id.Picture)
	return id, nil
}

// storable returns the JSON value v with every string (and key) made
// storable in a PostgreSQL JSONB column: NUL characters and invalid UTF-8
// replaced by U+FFFD. Providers' documents are not trusted to be clean.
func storable(v any) any {
	switch v := v.(type) {
	case string:
		return storableString(v)
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			out[storableString(k)] = storable(x)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = storable(x)
		}
		return out
	}
	return v
}

func storableString(s string) string {
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

// jwtClaims are the ID token's mechanics, not facts about the user: they
// are not stored as user info.
var jwtClaims = []string{"iss", "aud", "exp", "iat", "nbf", "nonce", "at_hash", "c_hash", "auth_time", "azp", "sid", "jti", "acr", "amr", "uti", "rh", "aio", "xms_tcdt"}

func (p *Provider) oidcIdentity(ctx context.Context, tok *oauth2.Token, nonce string) (*Identity, *CallbackError) {
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return nil, refuse(ReasonIDTokenMissing, errors.New("the token response has no id_token"))
	}
	p.mu.Lock()
	verifier, op := p.verifier, p.op
	p.mu.Unlock()
	idt, err := verifier.Verify(ctx, raw)
	if err != nil {
		return nil, refuse(idTokenReason(err), errors.New(safeErr(err)))
	}
	if p.multiTenant != "" {
		var c struct {
			TID string `json:"tid"`
		}
		if err := idt.Claims(&c); err != nil || !microsoftIssuerOK(p.multiTenant, idt.Issuer, c.TID) {
			return nil, refuse(ReasonIDTokenIssuer, errors.New("the ID token's issuer does not match its tenant"))
		}
	}
	if nonce == "" || !sameString(idt.Nonce, nonce) {
		return nil, refuse(ReasonNonceMismatch, errors.New("the ID token's nonce is not the flow's"))
	}
	if idt.AccessTokenHash != "" {
		if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
			return nil, refuse(ReasonIDTokenInvalid, errors.New("at_hash does not match the access token"))
		}
	}
	claims := map[string]any{}
	if err := idt.Claims(&claims); err != nil {
		return nil, refuse(ReasonIDTokenInvalid, errors.New("claims are not a JSON object"))
	}
	for _, k := range jwtClaims {
		delete(claims, k)
	}
	if op.UserInfoEndpoint() != "" {
		ui, err := op.UserInfo(ctx, oauth2.StaticTokenSource(tok))
		if err != nil {
			return nil, refuse(ReasonUserInfoFailed, errors.New("userinfo: "+safeErr(err)))
		}
		if ui.Subject != idt.Subject {
			return nil, refuse(ReasonUserInfoFailed, errors.New("userinfo names another subject than the ID token"))
		}
		extra := map[string]any{}
		if err := ui.Claims(&extra); err != nil {
			return nil, refuse(ReasonUserInfoFailed, errors.New("userinfo is not a JSON object"))
		}
		for k, v := range extra {
			claims[k] = v
		}
	}
	claims["sub"] = idt.Subject
	id := &Identity{Subject: idt.Subject, Info: claims,
		Email: str(claims["email"]), EmailVerified: truthy(claims["email_verified"]),
		Name: str(claims["name"]), Username: str(claims["preferred_username"]), Picture: str(claims["picture"])}
	return id, nil
}

// idTokenReason classifies go-oidc's refusal of an ID token.
func idTokenReason(err error) Reason {
	var exp *oidc.TokenExpiredError
	msg := err.Error()
	switch {
	case errors.As(err, &exp):
		return ReasonIDTokenExpired
	case strings.Contains(msg, "issued by a different provider"):
		return ReasonIDTokenIssuer
	case strings.Contains(msg, "expected audience"):
		return ReasonIDTokenAudience
	case strings.Contains(msg, "signature"), strings.Contains(msg, "signing"), strings.Contains(msg, "malformed jwt"):
		return ReasonIDTokenSignature
	}
	return ReasonIDTokenInvalid
}

func (p *Provider) githubIdentity(ctx context.Context, tok *oauth2.Token) (*Identity, *CallbackError) {
	var u struct {
		ID        int64  `json:"id"`
		Login     string `json:"login"`
		Name      string `json:"name"`
		Email     string `json:"email"`
		AvatarURL string `json:"avatar_url"`
	}
	info := map[string]any{}
	if err := p.getJSON(ctx, p.apiURL+"/user", tok, &info); err != nil {
		return nil, refuse(ReasonUserInfoFailed, fmt.Errorf("GitHub /user %w", err))
	}
	if err := remarshal(info, &u); err != nil || u.ID == 0 {
		return nil, refuse(ReasonUserInfoFailed, errors.New("GitHub /user has no numeric id"))
	}
	var emails []struct {
		Email    string `json:"email"`
		Primary  bool   `json:"primary"`
		Verified bool   `json:"verified"`
	}
	if err := p.getJSON(ctx, p.apiURL+"/user/emails", tok, &emails); err != nil {
		return nil, refuse(ReasonUserInfoFailed, fmt.Errorf("GitHub /user/emails %w", err))
	}
	id := &Identity{Subject: strconv.FormatInt(u.ID, 10), Name: u.Name, Username: u.Login, Picture: u.AvatarURL, Info: info,
		Email: u.Email}
	for _, e := range emails {
		if e.Primary {
			id.Email, id.EmailVerified = e.Email, e.Verified
		}
	}
	return id, nil
}

func (p *Provider) facebookIdentity(ctx context.Context, tok *oauth2.Token) (*Identity, *CallbackError) {
	info := map[string]any{}
	if err := p.getJSON(ctx, p.apiURL+"/me?fields=id,name,email", tok, &info); err != nil {
		return nil, refuse(ReasonUserInfoFailed, fmt.Errorf("Facebook /me %w", err))
	}
	// Facebook says nothing of verification: its addresses never link.
	return &Identity{Subject: str(info["id"]), Name: str(info["name"]), Email: str(info["email"]), Info: info}, nil
}

// remarshal decodes the document m into v.
func remarshal(m map[string]any, v any) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// printable reports whether s is valid UTF-8 without control characters.
func printable(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r == '\uFFFD' {
			return false
		}
	}
	return true
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

// truthy reads email_verified, a boolean that some providers send as a
// string.
func truthy(v any) bool {
	switch v := v.(type) {
	case bool:
		return v
	case string:
		return v == "true"
	}
	return false
}
