package oauth

import (
	"errors"

	"github.com/cedrina/cedrina/internal/errs"
)

// Reason says why a callback was refused. It goes to the audit trail and
// the log; show the user one message for all reasons but
// [ReasonLinkRequired].
type Reason string

// The reasons a callback is refused.
const (
	// The flow's state: no state cookie or no state parameter; a cookie
	// that does not open (forged, or sealed under another key); a
	// parameter that is not the cookie's; expired; used before.
	ReasonStateMissing  Reason = "state_missing"
	ReasonStateInvalid  Reason = "state_invalid"
	ReasonStateMismatch Reason = "state_mismatch"
	ReasonStateExpired  Reason = "state_expired"
	ReasonStateReplayed Reason = "state_replayed"
	// ReasonProviderMismatch: the flow began with another provider than
	// the callback's (mix-up).
	ReasonProviderMismatch Reason = "provider_mismatch"
	// ReasonIssuerMismatch: the authorization response's iss parameter
	// (RFC 9207) names another issuer than the provider's (mix-up).
	ReasonIssuerMismatch Reason = "issuer_mismatch"
	// ReasonProviderError: the provider answered with an error
	// (access_denied when the user declined, ...).
	ReasonProviderError Reason = "provider_error"
	// ReasonCodeMissing: no code in the callback.
	ReasonCodeMissing Reason = "code_missing"
	// ReasonExchangeFailed: the token endpoint refused the code (a wrong
	// PKCE verifier, a code used before) or answered something that is
	// no token response.
	ReasonExchangeFailed Reason = "exchange_failed"
	// The ID token: absent; bad signature or algorithm; another issuer;
	// another audience; expired; its nonce not the flow's; otherwise
	// invalid.
	ReasonIDTokenMissing   Reason = "id_token_missing"
	ReasonIDTokenSignature Reason = "id_token_signature"
	ReasonIDTokenIssuer    Reason = "id_token_issuer"
	ReasonIDTokenAudience  Reason = "id_token_audience"
	ReasonIDTokenExpired   Reason = "id_token_expired"
	ReasonNonceMismatch    Reason = "nonce_mismatch"
	ReasonIDTokenInvalid   Reason = "id_token_invalid"
	// ReasonUserInfoFailed: the user info or account API failed, answered
	// malformed JSON, or named another subject than the ID token.
	ReasonUserInfoFailed Reason = "userinfo_failed"
	// ReasonProviderUnavailable: the provider's discovery document could
	// not be fetched.
	ReasonProviderUnavailable Reason = "provider_unavailable"
	// ReasonEmailMissing: a new identity without a usable email address;
	// no account can be made for it.
	ReasonEmailMissing Reason = "email_missing"
	// ReasonLinkRequired: the identity is new, but its address belongs to
	// an existing account, and the provider did not verify it or the
	// account did not: sign in to that account and link the identity
	// from there. (errors.Is ErrLinkRequired)
	ReasonLinkRequired Reason = "link_required"
	// ReasonIdentityTaken: linking an identity that belongs to another
	// account. ReasonProviderLinked: the account has another identity of
	// this provider.
	ReasonIdentityTaken  Reason = "identity_taken"
	ReasonProviderLinked Reason = "provider_linked"
	// ReasonAccountInactive: the identity's account is deactivated.
	// ReasonAccountChanged: it changed (password reset, deactivation)
	// while the flow ran.
	ReasonAccountInactive Reason = "account_inactive"
	ReasonAccountChanged  Reason = "account_changed"
)

// Errors of the flow.
var (
	// ErrCallbackRefused is matched by every *CallbackError.
	ErrCallbackRefused = errors.New("oauth: callback refused")
	// ErrLinkRequired is matched by a *CallbackError with
	// ReasonLinkRequired.
	ErrLinkRequired = errs.Kind("oauth: an account has this address; sign in to it and link the identity", ErrCallbackRefused)
	// ErrUnknownProvider: no provider has that name.
	ErrUnknownProvider = errors.New("oauth: unknown provider")
	// ErrReturnToRefused: return_to is not in the allowlist.
	ErrReturnToRefused = errors.New("oauth: return_to not allowed")
	// ErrProviderUnavailable: the provider's discovery document cannot be
	// fetched now.
	ErrProviderUnavailable = errUnavailable
)

// CallbackError is a refused callback. Its message names the reason, and
// never a code, a token or a provider's response body.
type CallbackError struct {
	Reason Reason
	// Provider is the provider's stored name, when known.
	Provider string
	// UserID is the account concerned, when known.
	UserID int64
	// Err is the detail behind the reason, free of secrets.
	Err error
}

func (e *CallbackError) Error() string {
	if e.Reason == ReasonLinkRequired {
		return ErrLinkRequired.Error()
	}
	s := "oauth: callback refused: " + string(e.Reason)
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap makes errors.Is match ErrCallbackRefused (and ErrLinkRequired for
// ReasonLinkRequired) and Err.
func (e *CallbackError) Unwrap() []error {
	out := []error{ErrCallbackRefused}
	if e.Reason == ReasonLinkRequired {
		out = append(out, ErrLinkRequired)
	}
	if e.Err != nil {
		out = append(out, e.Err)
	}
	return out
}

func refuse(r Reason, err error) *CallbackError { return &CallbackError{Reason: r, Err: err} }
