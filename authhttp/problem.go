package authhttp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/cedrina/cedrina/internal/errs"
	"github.com/cedrina/cedrina/oauth"
	"github.com/cedrina/cedrina/ratelimit"
	"github.com/cedrina/cedrina/rbac"
	"github.com/cedrina/cedrina/reset"
	"github.com/cedrina/cedrina/session"
	"github.com/cedrina/cedrina/store"
	"github.com/cedrina/cedrina/user"
)

// Problem types of this package's responses (RFC 9457 section 3.1.1).
// Each is the URL of its own documentation (the constant's entry in this
// package's documentation); a problem with no more meaning than its
// status code has the type "about:blank".
const (
	typeBase = "https://pkg.go.dev/github.com/cedrina/cedrina/authhttp#"

	// TypeInvalidCredentials (401): a login was refused. Every refusal
	// (unknown account, wrong password, locked or deactivated account, an
	// account that changed during the login) gets the same problem.
	TypeInvalidCredentials = typeBase + "TypeInvalidCredentials"
	// TypeInvalidToken (401): an access or refresh token was refused.
	TypeInvalidToken = typeBase + "TypeInvalidToken"
	// TypeInvalidField (422): a field of the request failed validation;
	// the problem's field member names it.
	TypeInvalidField = typeBase + "TypeInvalidField"
	// TypeTaken (409): the username or email address has an account; the
	// field member names which.
	TypeTaken = typeBase + "TypeTaken"
	// TypeWrongPassword (403): a password or address change was refused
	// because the current password is wrong or the account is locked.
	TypeWrongPassword = typeBase + "TypeWrongPassword"
	// TypeConflict (409): the account changed while the request was being
	// served (a password change or reset, a deactivation); nothing was
	// written. Sign in again.
	TypeConflict = typeBase + "TypeConflict"
	// TypeInvalidResetToken (400): a password reset token was refused:
	// unknown, used, expired, or no longer valid for its account. Every
	// refusal gets the same problem.
	TypeInvalidResetToken = typeBase + "TypeInvalidResetToken"
	// TypeInvalidVerificationToken (400): an email verification token was
	// refused: unknown, used, expired, or for an address the account no
	// longer has. Every refusal gets the same problem.
	TypeInvalidVerificationToken = typeBase + "TypeInvalidVerificationToken"
	// TypeAlreadyVerified (409): the account's address is verified
	// already; no verification link was sent.
	TypeAlreadyVerified = typeBase + "TypeAlreadyVerified"
	// TypeRateLimited (429): too many requests of this kind; the
	// Retry-After header says when to try again.
	TypeRateLimited = typeBase + "TypeRateLimited"
	// TypeMalformedRequest (400, 413, 415): the body is not the single
	// JSON object the route takes.
	TypeMalformedRequest = typeBase + "TypeMalformedRequest"
	// TypeInvalidParameter (400): a query or path parameter is unknown,
	// repeated or malformed; the problem's parameter member names it.
	TypeInvalidParameter = typeBase + "TypeInvalidParameter"
	// TypeInvalidRule (422): a policy rule does not fit the policy table
	// (type, number and length of values, characters) or the access
	// control model (how many values its rules have, a valid object
	// pattern); nothing was changed.
	TypeInvalidRule = typeBase + "TypeInvalidRule"
	// TypeExternalSignInFailed (400): a sign-in or link with an external
	// identity provider was refused at the callback: a missing, forged,
	// expired or replayed state, a provider error (the user declined), a
	// code or ID token that did not check out, a provider that could not
	// be reached... Every such refusal gets the same problem; the reason
	// is logged and recorded (oauth_refused). Start again.
	TypeExternalSignInFailed = typeBase + "TypeExternalSignInFailed"
	// TypeLinkRequired (409): the provider's identity is new, but its
	// email address belongs to an account here, and either the provider
	// or the account did not verify it: an address alone never signs
	// anyone in. Sign in to that account and link the identity from it
	// (POST /me/identities/{provider}/link).
	TypeLinkRequired = typeBase + "TypeLinkRequired"
	// TypeIdentityConflict (409): linking an identity that is linked to
	// another account, or to an account that has an identity of that
	// provider already (unlink it first).
	TypeIdentityConflict = typeBase + "TypeIdentityConflict"
	// TypeLastSignInMethod (409): the identity is the account's only way
	// to sign in (the account has no password); it stays linked until a
	// password is set through a password reset.
	TypeLastSignInMethod = typeBase + "TypeLastSignInMethod"
	// TypeReturnToRefused (400): the return_to of an external sign-in or
	// link is not in the allowlist (oauth.Config.ReturnTo); no flow was
	// begun. The parameter member (start) or the field member (link)
	// names it.
	TypeReturnToRefused = typeBase + "TypeReturnToRefused"
)

// Problem is a problem details object (RFC 9457), the body of every
// error response of this package, sent as application/problem+json. It
// is also an error, so that code building a response can return one.
type Problem struct {
	// Type is a URI naming the problem: one of the Type constants, or
	// "about:blank" for a problem that means no more than its status.
	Type string `json:"type"`
	// Title is a short summary of the problem type, the same for every
	// occurrence.
	Title string `json:"title"`
	// Status is the HTTP status code.
	Status int `json:"status"`
	// Detail explains this occurrence. It never quotes a password, a
	// token or other request values.
	Detail string `json:"detail,omitempty"`
	// Field (an extension member) is the request's JSON field that the
	// problem is about, for 409 and 422: "username", "email", "password",
	// "new_password"; and "return_to" for a 400 [TypeReturnToRefused].
	Field string `json:"field,omitempty"`
	// Parameter (an extension member) is the query or path parameter
	// that a 400 [TypeInvalidParameter] problem is about: "limit",
	// "cursor", "id"; and "return_to" for a 400 [TypeReturnToRefused]
	// at GET /auth/oauth/{provider}/start.
	Parameter string `json:"parameter,omitempty"`
	// RetryAfter, when positive, is sent as the Retry-After header (whole
	// seconds, at least 1).
	RetryAfter time.Duration `json:"-"`
}

// Error returns "authhttp: <status> <title>: <detail>".
func (p *Problem) Error() string {
	return fmt.Sprintf("authhttp: %d %s: %s", p.Status, p.Title, p.Detail)
}

// WriteProblem sends p as application/problem+json with its status,
// Cache-Control: no-store and, with RetryAfter, the Retry-After header. A
// p with an empty Type is sent as "about:blank" with the status text as
// its title; a zero Status becomes 500.
func WriteProblem(w http.ResponseWriter, p Problem) {
	if p.Status < 400 || p.Status > 599 {
		p.Status = http.StatusInternalServerError
	}
	if p.Type == "" {
		p.Type = "about:blank"
	}
	if p.Title == "" {
		p.Title = http.StatusText(p.Status)
	}
	body, _ := json.Marshal(p) // strings and an int: cannot fail
	h := w.Header()
	h.Set("Content-Type", "application/problem+json")
	h.Set("Cache-Control", "no-store")
	if p.RetryAfter > 0 {
		h.Set("Retry-After", strconv.FormatInt(max(1, int64((p.RetryAfter+time.Second-1)/time.Second)), 10))
	}
	w.WriteHeader(p.Status)
	w.Write(append(body, '\n'))
}

// The problems of refusals that must all look alike.
var (
	invalidCredentials = Problem{Type: TypeInvalidCredentials, Title: "Invalid credentials",
		Status: http.StatusUnauthorized, Detail: "invalid credentials"}
	invalidToken = Problem{Type: TypeInvalidToken, Title: "Invalid token",
		Status: http.StatusUnauthorized, Detail: "the token is invalid or expired"}
	internalError = Problem{Status: http.StatusInternalServerError, Detail: "internal server error"}
	wrongPassword = Problem{Type: TypeWrongPassword, Title: "Wrong password", Status: http.StatusForbidden,
		Detail: "the current password is wrong, or the account is locked"}
	invalidResetToken = Problem{Type: TypeInvalidResetToken, Title: "Invalid reset token",
		Status: http.StatusBadRequest, Detail: "the reset link is invalid or expired; ask for a new one"}
	invalidVerificationToken = Problem{Type: TypeInvalidVerificationToken, Title: "Invalid verification token",
		Status: http.StatusBadRequest, Detail: "the verification link is invalid or expired; ask for a new one"}
	externalSignInFailed = Problem{Type: TypeExternalSignInFailed, Title: "External sign-in failed",
		Status: http.StatusBadRequest, Detail: "sign-in with the provider failed; start again"}
)

// callbackProblem is the problem of a refused callback: one for every
// reason but those the user can act on.
func callbackProblem(ce *oauth.CallbackError) Problem {
	switch ce.Reason {
	case oauth.ReasonLinkRequired:
		return Problem{Type: TypeLinkRequired, Title: "Link required", Status: http.StatusConflict,
			Detail: "an account with this email address exists: sign in to it and link this identity from the account"}
	case oauth.ReasonIdentityTaken:
		return Problem{Type: TypeIdentityConflict, Title: "Identity conflict", Status: http.StatusConflict,
			Detail: "this identity is linked to another account"}
	case oauth.ReasonProviderLinked:
		return Problem{Type: TypeIdentityConflict, Title: "Identity conflict", Status: http.StatusConflict,
			Detail: "the account has an identity of this provider already; unlink it first"}
	case oauth.ReasonAccountInactive, oauth.ReasonAccountChanged:
		return invalidCredentials
	}
	return externalSignInFailed
}

// ProblemFor maps an error of the SDK's services to the problem a client
// gets, without revealing more than the status needs:
//
//   - a *Problem (directly or wrapped): itself;
//   - user.ErrInvalidCredentials: 401 [TypeInvalidCredentials], one body
//     for every refusal;
//   - session.ErrUnauthenticated (invalid, expired, revoked or reused
//     token): 401 [TypeInvalidToken];
//   - user.ErrUsernameTaken, user.ErrEmailTaken: 409 [TypeTaken] naming
//     the field;
//   - user.ErrStale: 409 [TypeConflict];
//   - reset.ErrInvalidToken: 400 [TypeInvalidResetToken], and
//     user.ErrInvalidVerification: 400 [TypeInvalidVerificationToken],
//     one body for every reason;
//   - user.ErrAlreadyVerified: 409 [TypeAlreadyVerified];
//   - ratelimit.ErrLimited: 429 [TypeRateLimited] with Retry-After, the
//     time a *ratelimit.LimitedError says to wait (at least a second);
//   - user.ErrNoNotifier: 501;
//   - an invalid username, email address, role or tier, and a password
//     the policy refuses (*user.PasswordError): 422 [TypeInvalidField]
//     naming the field ("username", "email", "role", "tier",
//     "password") and the reason, never the value;
//   - rbac.ErrInvalidRule: 422 [TypeInvalidRule]; the detail does not
//     quote the rule (the error, logged, says what is wrong with it);
//   - rbac.ErrNotFound: 404, "no such rule";
//   - a refused OAuth callback (*oauth.CallbackError): 409
//     [TypeLinkRequired] (oauth.ErrLinkRequired), 409
//     [TypeIdentityConflict] (the identity is another account's, or the
//     account has one of the provider), 401 [TypeInvalidCredentials] (a
//     deactivated account, or one that changed during the flow), and 400
//     [TypeExternalSignInFailed], one body, for every other reason;
//   - oauth.ErrReturnToRefused: 400 [TypeReturnToRefused] naming the
//     field "return_to";
//   - oauth.ErrUnknownProvider: 404, "no such provider";
//     oauth.ErrNotFound: 404, "no such identity";
//   - oauth.ErrLastSignInMethod: 409 [TypeLastSignInMethod];
//   - oauth.ErrProviderUnavailable: 503 with Retry-After: 5;
//   - user.ErrNotFound, session.ErrNotFound, store.ErrNotFound: 404;
//   - store.ErrUnavailable (a rate-limit store's failure and
//     ratelimit.ErrFull among them), and a request whose context ran out
//     (context.DeadlineExceeded): 503 with Retry-After: 1;
//   - context.Canceled (the client went away): 503;
//   - anything else: 500, "internal server error".
//
// Handlers that take the password under another name rename the field
// ("new_password").
func ProblemFor(err error) Problem {
	var p *Problem
	var pe *user.PasswordError
	var ce *oauth.CallbackError
	switch {
	case err == nil:
		return internalError
	case errors.As(err, &p):
		return *p
	case errors.As(err, &ce):
		// Before the sentinels: a refusal wraps the error behind it
		// (oauth.ErrUnknownProvider, oauth.ErrIdentityTaken, ...).
		return callbackProblem(ce)
	case errors.Is(err, oauth.ErrReturnToRefused):
		return Problem{Type: TypeReturnToRefused, Title: "return_to refused", Status: http.StatusBadRequest,
			Field: "return_to", Detail: "return_to is not an allowed address"}
	case errors.Is(err, oauth.ErrUnknownProvider):
		return Problem{Status: http.StatusNotFound, Detail: "no such provider"}
	case errors.Is(err, oauth.ErrNotFound):
		return Problem{Status: http.StatusNotFound, Detail: "no such identity"}
	case errors.Is(err, oauth.ErrLastSignInMethod):
		return Problem{Type: TypeLastSignInMethod, Title: "Last sign-in method", Status: http.StatusConflict,
			Detail: "this identity is the account's only way to sign in; set a password first (password reset)"}
	case errors.Is(err, oauth.ErrProviderUnavailable):
		return Problem{Status: http.StatusServiceUnavailable, Detail: "the identity provider cannot be reached; try again later",
			RetryAfter: 5 * time.Second}
	case errors.Is(err, user.ErrInvalidCredentials):
		return invalidCredentials
	case errors.Is(err, session.ErrUnauthenticated):
		return invalidToken
	case errors.Is(err, user.ErrUsernameTaken):
		return Problem{Type: TypeTaken, Title: "Already taken", Status: http.StatusConflict,
			Field: "username", Detail: "the username is taken"}
	case errors.Is(err, user.ErrEmailTaken):
		return Problem{Type: TypeTaken, Title: "Already taken", Status: http.StatusConflict,
			Field: "email", Detail: "the email address already has an account"}
	case errors.Is(err, reset.ErrInvalidToken):
		return invalidResetToken
	case errors.Is(err, user.ErrInvalidVerification):
		return invalidVerificationToken
	case errors.Is(err, user.ErrAlreadyVerified):
		return Problem{Type: TypeAlreadyVerified, Title: "Already verified", Status: http.StatusConflict,
			Detail: "the account's email address is verified already"}
	case errors.Is(err, ratelimit.ErrLimited):
		p := Problem{Type: TypeRateLimited, Title: "Too many requests", Status: http.StatusTooManyRequests,
			Detail: "too many requests; try again later", RetryAfter: time.Second}
		var le *ratelimit.LimitedError
		if errors.As(err, &le) && le.Result.RetryAfter > 0 {
			p.RetryAfter = le.Result.RetryAfter
		}
		return p
	case errors.Is(err, user.ErrNoNotifier):
		return Problem{Status: http.StatusNotImplemented, Detail: "email verification is not configured"}
	case errors.Is(err, user.ErrStale):
		return Problem{Type: TypeConflict, Title: "Account changed", Status: http.StatusConflict,
			Detail: "the account changed meanwhile; sign in again"}
	case errors.Is(err, user.ErrInvalidUsername):
		return invalidField("username", errs.Trim("user", err))
	case errors.Is(err, user.ErrInvalidEmail):
		return invalidField("email", errs.Trim("user", err))
	case errors.Is(err, user.ErrInvalidRole):
		return invalidField("role", "invalid role")
	case errors.Is(err, user.ErrInvalidTier):
		return invalidField("tier", "invalid tier")
	case errors.As(err, &pe):
		return invalidField("password", passwordDetail(pe))
	case errors.Is(err, rbac.ErrInvalidRule):
		return Problem{Type: TypeInvalidRule, Title: "Invalid rule", Status: http.StatusUnprocessableEntity,
			Detail: "the rule does not fit the policy table or the access control model"}
	case errors.Is(err, rbac.ErrNotFound):
		return Problem{Status: http.StatusNotFound, Detail: "no such rule"}
	case errors.Is(err, store.ErrNotFound):
		return Problem{Status: http.StatusNotFound, Detail: "no such resource"}
	case errors.Is(err, store.ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		return Problem{Status: http.StatusServiceUnavailable, Detail: "the service is busy or unavailable; try again later",
			RetryAfter: time.Second}
	case errors.Is(err, context.Canceled):
		return Problem{Status: http.StatusServiceUnavailable, Detail: "the request was cancelled"}
	}
	return internalError
}

// StatusFor is ProblemFor(err).Status.
func StatusFor(err error) int { return ProblemFor(err).Status }

func invalidField(field, detail string) Problem {
	return Problem{Type: TypeInvalidField, Title: "Invalid field", Status: http.StatusUnprocessableEntity,
		Field: field, Detail: detail}
}

// passwordDetail explains a refused password from its reason and limits
// alone: a checker's own error is not shown, and the password never is.
func passwordDetail(pe *user.PasswordError) string {
	switch pe.Reason {
	case user.ReasonTooShort:
		return fmt.Sprintf("password refused: too short (minimum %d characters)", pe.Min)
	case user.ReasonTooLong:
		if errors.Is(pe, user.ErrPasswordTooLong) {
			return "password refused: too long (at most 72 bytes)"
		}
		return fmt.Sprintf("password refused: too long (maximum %d characters)", pe.Max)
	}
	return "password refused: " + string(pe.Reason)
}
