package oauth

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/cedrina/cedrina/internal/errs"
	"github.com/cedrina/cedrina/store"
)

// Profile is a linked external identity, one row of the oauth_profiles
// table: the account ProviderUserID at Provider belongs to the user
// UserID. A user links at most one account per provider, and an account
// at a provider belongs to at most one user.
//
// Profile is the stored shape, not a wire shape: AccessToken and
// RefreshToken hold the tokens sealed ([Cipher]), and UserInfo is what
// the provider said about the account. Show a user their identities
// through a view of your own (authhttp's IdentityView).
type Profile struct {
	ID     int64
	UserID int64
	// Provider is the provider's stored name, upper-case ("GOOGLE",
	// "GITHUB", an OIDC provider's configured name upper-cased).
	Provider string
	// ProviderUserID is the account's stable id at the provider: the
	// ID token's sub, GitHub's or Facebook's numeric id.
	ProviderUserID string
	// AccessToken and RefreshToken are sealed by a [Cipher] ("" is stored
	// as NULL): never the provider's token itself.
	AccessToken  string
	RefreshToken string
	// TokenExpiresAt is when the access token expires, when the provider
	// said.
	TokenExpiresAt *time.Time
	// UserInfo is the provider's user info (user_info, JSONB); nil is NULL.
	UserInfo  map[string]any
	CreatedAt time.Time
	UpdatedAt time.Time
}

// TokenUpdate is what a sign-in through a linked identity refreshes.
type TokenUpdate struct {
	AccessToken    string // sealed; "" is NULL
	RefreshToken   string // sealed; "" is NULL
	TokenExpiresAt *time.Time
	UserInfo       map[string]any
}

// Store is the storage the [Service] needs. store/memory and
// store/postgres implement it, and store/storetest's RunOAuthStore checks
// any implementation against the behaviour written here. Times are given
// by the caller and kept in UTC at microsecond precision. Each method is
// atomic.
type Store interface {
	// Link inserts p (its ID is set; CreatedAt and UpdatedAt are set to
	// p.CreatedAt, or the current time when zero), only if the user
	// p.UserID is active and its security stamp is still stamp, the value
	// the caller read before its slow steps (the provider round trip); the
	// user's row is locked against a concurrent change of the stamp until
	// the insert is done. Errors: ErrIdentityTaken when (Provider,
	// ProviderUserID) is linked already (to anyone); ErrProviderLinked when
	// the user has a profile of Provider already; ErrUnknownUser when no
	// user has that id; ErrUserChanged when the user is inactive or the
	// stamp moved. Nothing is stored on error.
	Link(ctx context.Context, p *Profile, stamp int64) error
	// ByIdentity returns the profile of the account subject at provider.
	// Errors: ErrNotFound.
	ByIdentity(ctx context.Context, provider, subject string) (*Profile, error)
	// ByUser returns the user's profiles, ordered by provider; none (and
	// no error) for a user without any, or no such user.
	ByUser(ctx context.Context, userID int64) ([]*Profile, error)
	// UpdateTokens replaces the tokens, their expiry and the user info of
	// the profile with that id, sets updated_at to at and returns the
	// profile as stored. Errors: ErrNotFound.
	UpdateTokens(ctx context.Context, id int64, t TokenUpdate, at time.Time) (*Profile, error)
	// Unlink deletes the user's profile of provider and returns it, unless
	// it is the user's last way to sign in: when the user's
	// hashed_password is user.NoPassword and the user has no other profile,
	// nothing changes and the error is ErrLastSignInMethod. The check and
	// the delete are one atomic step (the user's row is locked), so
	// concurrent Unlinks of a passwordless user's identities always leave
	// one, and a password set meanwhile counts. Errors: ErrNotFound when
	// the user has no profile of provider.
	Unlink(ctx context.Context, userID int64, provider string) (*Profile, error)

	// SpendState records that the flow state whose hash is given was
	// used, until expiresAt (after which the state is refused as expired
	// anyway, and the record may go). Of concurrent calls with one hash
	// exactly one succeeds; the others, and every later call, get
	// ErrStateSpent.
	SpendState(ctx context.Context, hash string, expiresAt time.Time) error
	// DeleteExpiredStates deletes at most batch (> 0) spent-state records
	// whose expiresAt is not after at and returns how many it deleted.
	// Callers loop until it returns less than batch.
	DeleteExpiredStates(ctx context.Context, at time.Time, batch int) (int, error)
}

// Errors of the store. Each matches the store sentinel of its class.
var (
	// ErrNotFound: no such linked identity.
	ErrNotFound = errs.Kind("oauth: identity not linked", store.ErrNotFound)
	// ErrUnknownUser: the profile names no user.
	ErrUnknownUser = errs.Kind("oauth: unknown user", store.ErrNotFound)
	// ErrIdentityTaken: the provider account is linked to an account
	// already (perhaps another one).
	ErrIdentityTaken = errs.Kind("oauth: identity already linked", store.ErrConflict)
	// ErrProviderLinked: the account has an identity of this provider
	// linked already; unlink it first.
	ErrProviderLinked = errs.Kind("oauth: account already linked to this provider", store.ErrConflict)
	// ErrUserChanged: the account changed (deactivated, its password
	// changed or reset) since the flow read it; nothing was linked.
	ErrUserChanged = errs.Kind("oauth: account changed meanwhile", store.ErrConflict)
	// ErrLastSignInMethod: the identity is the account's only way to sign
	// in (it has no password); set a password (through reset) first.
	ErrLastSignInMethod = errs.Kind("oauth: last way to sign in", store.ErrConflict)
	// ErrStateSpent: the flow state was used before.
	ErrStateSpent = errs.Kind("oauth: state already used", store.ErrConflict)
)

// The lengths of oauth_profiles.provider (VARCHAR(50)) and
// provider_user_id (VARCHAR(255)), in characters.
const (
	MaxProviderLength = 50
	MaxSubjectLength  = 255
)

// ErrUnstorable: a value no oauth_profiles column can hold (text with a
// NUL byte or invalid UTF-8, a provider or provider_user_id longer than
// its column). Stores refuse such values before they write anything.
var ErrUnstorable = errors.New("oauth: value cannot be stored")

// CheckStorable reports whether the text of p fits its columns: Provider
// and ProviderUserID within their lengths, and no text with a NUL byte or
// invalid UTF-8 (PostgreSQL's text columns refuse both). Every store
// checks it, so that all refuse the same values. The user info is the
// store's to check: how JSON is kept differs.
func (p *Profile) CheckStorable() error {
	if err := checkText("provider", p.Provider, MaxProviderLength); err != nil {
		return err
	}
	if err := checkText("provider_user_id", p.ProviderUserID, MaxSubjectLength); err != nil {
		return err
	}
	return TokenUpdate{AccessToken: p.AccessToken, RefreshToken: p.RefreshToken}.CheckStorable()
}

// CheckStorable reports whether the tokens of t fit their columns (see
// [Profile.CheckStorable]).
func (t TokenUpdate) CheckStorable() error {
	if err := checkText("access_token", t.AccessToken, 0); err != nil {
		return err
	}
	return checkText("refresh_token", t.RefreshToken, 0)
}

// checkText refuses a value that a text column cannot hold, or one longer
// than max characters (max > 0). PostgreSQL would refuse all of these but
// one: it stores a value too long by trailing spaces only, cut to the
// column's length.
func checkText(column, s string, max int) error {
	switch {
	case !utf8.ValidString(s):
		return fmt.Errorf("%w: %s is not valid UTF-8", ErrUnstorable, column)
	case strings.ContainsRune(s, 0):
		return fmt.Errorf("%w: %s contains a NUL byte", ErrUnstorable, column)
	case max > 0 && utf8.RuneCountInString(s) > max:
		return fmt.Errorf("%w: %s is longer than %d characters", ErrUnstorable, column, max)
	}
	return nil
}
