package authhttp

import (
	"strings"
	"time"

	"github.com/cedrina/cedrina/oauth"
	"github.com/cedrina/cedrina/session"
	"github.com/cedrina/cedrina/user"
)

// TokenResponse is the body of a successful login, refresh or password
// change: an OAuth 2.0 token response (RFC 6749 section 5.1). The session
// token (for cookie transport) is never in it.
type TokenResponse struct {
	AccessToken string `json:"access_token"`
	// TokenType is always "Bearer".
	TokenType string `json:"token_type"`
	// ExpiresIn is the access token's lifetime in seconds.
	ExpiresIn    int64  `json:"expires_in"`
	RefreshToken string `json:"refresh_token"`
	// PasswordChangeRequired is set at login when the password was
	// accepted by the legacy rule only (user.LoginResult) and must be
	// changed (POST /auth/password/change).
	PasswordChangeRequired bool `json:"password_change_required,omitempty"`
}

// NewTokenResponse returns the response for t.
func NewTokenResponse(t *session.Tokens) TokenResponse {
	ttl := t.AccessExpiresAt.Sub(t.IssuedAt)
	if t.IssuedAt.IsZero() {
		ttl = time.Until(t.AccessExpiresAt)
	}
	return TokenResponse{
		AccessToken:  t.AccessToken,
		TokenType:    "Bearer",
		ExpiresIn:    max(0, int64(ttl.Round(time.Second)/time.Second)),
		RefreshToken: t.RefreshToken,
	}
}

// UserView is what a client sees of its own account: the users columns a
// user may read, under the columns' names. The password hash, the
// lockout state, the security stamp and the host's metadata are not in
// it.
type UserView struct {
	ID                int64      `json:"id"`
	Username          string     `json:"username"`
	Email             string     `json:"email"`
	IsActive          bool       `json:"is_active"`
	IsVerified        bool       `json:"is_verified"`
	EmailVerifiedAt   *time.Time `json:"email_verified_at"`
	Role              user.Role  `json:"role"`
	Tier              user.Tier  `json:"tier"`
	CreatedAt         time.Time  `json:"created_at"`
	LastLoginAt       *time.Time `json:"last_login_at"`
	PasswordChangedAt time.Time  `json:"password_changed_at"`
}

// NewUserView returns u's view.
func NewUserView(u *user.User) UserView {
	return UserView{
		ID: u.ID, Username: string(u.Username), Email: string(u.Email), IsActive: u.IsActive,
		IsVerified: u.IsVerified, EmailVerifiedAt: u.EmailVerifiedAt, Role: u.Role, Tier: u.Tier,
		CreatedAt: u.CreatedAt, LastLoginAt: u.LastLoginAt, PasswordChangedAt: u.PasswordChangedAt,
	}
}

// SessionView is how a user sees one of their sessions (GET
// /me/sessions): the sessions columns a user may read, and whether it is
// the session of the request.
type SessionView struct {
	ID             int64     `json:"id"`
	CreatedAt      time.Time `json:"created_at"`
	LastActivityAt time.Time `json:"last_activity_at"`
	ExpiresAt      time.Time `json:"expires_at"`
	// ClientIP is empty when unknown.
	ClientIP  string `json:"client_ip"`
	UserAgent string `json:"user_agent"`
	// Current marks the session the request was authenticated with.
	Current bool `json:"current"`
}

// NewSessionView returns s's view; current is the id of the request's
// session.
func NewSessionView(s *session.Session, current int64) SessionView {
	v := SessionView{ID: s.ID, CreatedAt: s.CreatedAt, LastActivityAt: s.LastActivityAt, ExpiresAt: s.ExpiresAt,
		UserAgent: s.UserAgent, Current: s.ID == current}
	if s.ClientIP.IsValid() {
		v.ClientIP = s.ClientIP.String()
	}
	return v
}

// IdentityView is how a user sees one of their linked external
// identities (GET /me/identities): which provider, the address the
// provider gave, and when it was linked and last refreshed by a sign-in.
// The provider's tokens and the rest of its user info are not in it.
type IdentityView struct {
	// Provider is the provider's route name ("google", "github"), as in
	// /auth/oauth/{provider}/start.
	Provider string `json:"provider"`
	// Email is the address in the provider's user info, when it gave one.
	Email     string    `json:"email,omitempty"`
	LinkedAt  time.Time `json:"linked_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// NewIdentityView returns p's view.
func NewIdentityView(p *oauth.Profile) IdentityView {
	v := IdentityView{Provider: strings.ToLower(p.Provider), LinkedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt}
	if email, ok := p.UserInfo["email"].(string); ok {
		v.Email = email
	}
	return v
}

// IdentitiesResponse is the body of GET /me/identities.
type IdentitiesResponse struct {
	Identities []IdentityView `json:"identities"`
}

// LinkResponse is the body of POST /me/identities/{provider}/link: send
// the browser to AuthorizationURL (a top-level navigation, so that the
// state cookie set with this response goes back with the provider's
// redirect to the callback).
type LinkResponse struct {
	AuthorizationURL string `json:"authorization_url"`
}

// LinkedResponse is the body of the callback of a link flow in
// OAuthTokenResponse mode: the identity is linked to the user who began
// it.
type LinkedResponse struct {
	Linked bool `json:"linked"`
	// Provider is the provider's route name.
	Provider string `json:"provider"`
}
