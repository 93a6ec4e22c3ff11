package audit

import (
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// Event is one audit record, one row of the audit_logs table.
type Event struct {
	// ID is assigned by the store.
	ID int64 `json:"id"`
	// UserID is the user the event is about or who acted. The database
	// sets it to NULL when that user is deleted, and a store records NULL
	// when the user no longer exists at write time.
	UserID *int64 `json:"user_id"`
	// ActorID is UserID as it was recorded, kept when the user is deleted:
	// the tamper-evidence chain covers it. Set by the store.
	ActorID *int64 `json:"actor_id,omitempty"`
	// Type names what happened; see the constants.
	Type EventType `json:"event_type"`
	// Data is the event's structured detail. Keys that look like secrets
	// are redacted before the event is stored.
	Data map[string]any `json:"event_data"`
	// ClientIP is the client's address; the zero Addr is stored as NULL.
	ClientIP netip.Addr `json:"client_ip"`
	// UserAgent is the client's User-Agent header; "" is stored as NULL.
	UserAgent string `json:"user_agent"`
	// CorrelationID ties the events of one request or flow together.
	CorrelationID string `json:"correlation_id"`
	// Time is when it happened, UTC at microsecond precision (created_at).
	Time time.Time `json:"created_at"`
	// Severity defaults to INFO.
	Severity Severity `json:"severity"`
	// Source names the component that recorded the event (e.g. "user").
	Source string `json:"source"`
	// Metadata is free-form data for the host; redacted like Data.
	Metadata map[string]any `json:"metadata"`

	// Seq is the event's position in the tamper-evidence chain; 0 for rows
	// written outside the chain (by another system). Set by the store.
	Seq int64 `json:"seq,omitempty"`
	// PrevHash and Hash link the event into the chain (hex SHA-256 or
	// HMAC-SHA-256). Set by the store.
	PrevHash string `json:"prev_hash,omitempty"`
	Hash     string `json:"hash,omitempty"`
}

// EventType names what happened. Types are lower-case snake_case words, at
// most 100 bytes (audit_logs.event_type is VARCHAR(100)). Hosts may define
// their own beside the constants.
type EventType string

// The catalogue of event types the SDK records. Each package records the
// ones of its flows (see SECURITY.md at the repository root).
const (
	// user
	UserRegistered  EventType = "user_registered"
	LoginSucceeded  EventType = "login_success"
	LoginFailed     EventType = "login_failure"  // Data: reason, attempts
	AccountLocked   EventType = "account_locked" // Data: locked_until, attempts
	PasswordChanged EventType = "password_changed"
	ProfileUpdated  EventType = "profile_updated"
	RoleChanged     EventType = "role_changed" // Data: from, to
	TierChanged     EventType = "tier_changed" // Data: from, to
	UserDeactivated EventType = "user_deactivated"
	UserReactivated EventType = "user_reactivated"
	UserDeleted     EventType = "user_deleted"
	EmailVerified   EventType = "email_verified"
	// EmailVerificationRequested: a verification link was issued for the
	// account's address.
	EmailVerificationRequested EventType = "email_verification_requested"
	// EmailChanged: the account's address changed (Data: none; the
	// addresses are not recorded).
	EmailChanged EventType = "email_changed"

	// session
	Logout           EventType = "logout"
	SessionCreated   EventType = "session_created"
	SessionRefreshed EventType = "session_refreshed"
	SessionRevoked   EventType = "session_revoked"
	SessionExpired   EventType = "session_expired"
	TokenReuse       EventType = "token_reuse" // a rotated refresh token presented again

	// reset
	PasswordResetRequested EventType = "password_reset_requested" // Data: outcome
	PasswordResetCompleted EventType = "password_reset_completed" // Data: sessions_ended

	// oauth
	OAuthLinked   EventType = "oauth_linked"   // Data: provider, how (sign_up, email_match, from_session)
	OAuthUnlinked EventType = "oauth_unlinked" // Data: provider
	OAuthLogin    EventType = "oauth_login"    // Data: provider, outcome
	// OAuthRefused: a callback from a provider was refused (Data:
	// provider, reason).
	OAuthRefused EventType = "oauth_refused"

	// rbac
	PolicyChanged       EventType = "policy_changed"
	AuthorizationDenied EventType = "authorization_denied"

	// ratelimit
	RateLimitExceeded EventType = "rate_limit_exceeded"
)

// ErrInvalidEvent reports an event that cannot be stored.
var ErrInvalidEvent = errors.New("audit: invalid event")

// Validate reports whether t is a well-formed event type: 1 to 100 bytes of
// a-z, 0-9, '_', '.' and '-', starting with a letter.
func (t EventType) Validate() error {
	if len(t) == 0 || len(t) > 100 || t[0] < 'a' || t[0] > 'z' {
		return fmt.Errorf("%w: event type %q", ErrInvalidEvent, t)
	}
	for i := 1; i < len(t); i++ {
		c := t[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_' || c == '.' || c == '-') {
			return fmt.Errorf("%w: event type %q", ErrInvalidEvent, t)
		}
	}
	return nil
}

// Severity is how much an event matters (audit_logs.severity).
type Severity string

// Severities, from least to most severe.
const (
	Info     Severity = "INFO"
	Warning  Severity = "WARNING"
	Error    Severity = "ERROR"
	Critical Severity = "CRITICAL"
)

// Validate reports whether s is one of the four severities.
func (s Severity) Validate() error {
	switch s {
	case Info, Warning, Error, Critical:
		return nil
	}
	return fmt.Errorf("%w: severity %q", ErrInvalidEvent, s)
}
