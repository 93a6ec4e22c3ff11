package authhttp

import (
	"time"

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
