package session

import (
	"errors"
	"net/netip"
	"time"

	"github.com/cedrina/cedrina/internal/errs"
	"github.com/cedrina/cedrina/store"
	"github.com/cedrina/cedrina/user"
)

// Session is a login: one row of the sessions table. The session token
// and the current refresh token are stored only as SHA-256 hashes.
type Session struct {
	ID     int64 `json:"id"`
	UserID int64 `json:"user_id"`
	// TokenHash is the hex SHA-256 of the opaque session token
	// (sessions.session_token).
	TokenHash string `json:"-"`
	// RefreshHash is the hex SHA-256 of the current refresh token
	// (sessions.refresh_token).
	RefreshHash string    `json:"-"`
	Active      bool      `json:"is_active"`
	CreatedAt   time.Time `json:"created_at"`
	// ExpiresAt is the absolute end of the session.
	ExpiresAt      time.Time  `json:"expires_at"`
	LastActivityAt time.Time  `json:"last_activity_at"`
	ClientIP       netip.Addr `json:"client_ip"`
	UserAgent      string     `json:"user_agent"`
	// DeviceInfo describes the client (set by the host); nil is NULL.
	DeviceInfo map[string]any `json:"device_info"`
	// SecurityContext is what the host knew about the login (MFA used,
	// risk score, ...); nil is stored as {}.
	SecurityContext map[string]any `json:"security_context"`
	// SecurityStamp is the user's security stamp when the session started
	// (sessions.security_stamp). The session is valid only while its
	// user's stamp is the same: a password change or reset, a deactivation
	// or a reactivation moves the user's stamp and so ends it.
	SecurityStamp int64 `json:"-"`
}

// UserState is what a session check needs of its user, read together with
// the session in one lookup.
type UserState struct {
	Role   user.Role
	Tier   user.Tier
	Active bool
	// PasswordChangedAt: sessions created before it are no longer valid.
	PasswordChangedAt time.Time
	// SecurityStamp is the user's current security stamp: sessions that
	// started with another are no longer valid.
	SecurityStamp int64
}

// Errors of the Store, each wrapping the store package's sentinel.
var (
	// ErrNotFound: no session matched.
	ErrNotFound = errs.Kind("session: not found", store.ErrNotFound)
	// ErrRotated: the refresh token presented to Rotate is not the
	// session's current one but one it replaced earlier (reuse).
	ErrRotated = errors.New("session: refresh token already rotated")
)

// Errors of the Service. Every refusal to authenticate or refresh wraps
// ErrUnauthenticated, so an HTTP layer answers them all with 401; the
// precise one is for logs and audit.
var (
	ErrUnauthenticated = errors.New("session: unauthenticated")
	// ErrInvalidToken: malformed, not signed by a known key, wrong type,
	// issuer or audience, or not a token this service issued.
	ErrInvalidToken = errs.Kind("session: invalid token", ErrUnauthenticated)
	// ErrExpired: the token, or the session (absolute or idle limit), has
	// expired.
	ErrExpired = errs.Kind("session: expired", ErrUnauthenticated)
	// ErrRevoked: the session was ended (logout, revocation, eviction,
	// password change, user deactivated).
	ErrRevoked = errs.Kind("session: revoked", ErrUnauthenticated)
	// ErrTokenReuse: an already-rotated refresh token was presented; the
	// session has been revoked.
	ErrTokenReuse = errs.Kind("session: refresh token reused, session revoked", ErrUnauthenticated)
	// ErrUserChanged: Start was given a user whose account has changed
	// since the login read it (its password was changed or reset, it was
	// deactivated, or deactivated and reactivated): no session was
	// started. The login must be done again.
	ErrUserChanged = errs.Kind("session: account changed since the login, no session started", ErrUnauthenticated)
)
