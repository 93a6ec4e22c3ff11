package user

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/cedrina/cedrina/internal/errs"
)

// Password length defaults and bounds, in Unicode code points after NFKC
// normalization.
const (
	// DefaultMinPasswordLength is the minimum length when
	// PasswordPolicy.MinLength is 0 (ASVS 6.2.1, NIST SP 800-63B-4 with a
	// second factor).
	DefaultMinPasswordLength = 8
	// DefaultMaxPasswordLength is the maximum length when
	// PasswordPolicy.MaxLength is 0.
	DefaultMaxPasswordLength = 128
	// LowestMaxPasswordLength is the smallest MaxLength a policy may set:
	// NIST requires accepting at least 64 characters.
	LowestMaxPasswordLength = 64
	// HighestMaxPasswordLength is the largest MaxLength a policy may set,
	// so that no request can make the service normalize and hash megabytes.
	HighestMaxPasswordLength = 4096
)

// PasswordPolicy decides which new passwords are accepted (at registration,
// password change and reset). Its zero value is the default policy: 8 to 128
// code points, common passwords and context words refused. There are no
// composition rules (no "one digit, one symbol"), as NIST SP 800-63B-4 and
// ASVS 6.2.5 require.
type PasswordPolicy struct {
	// MinLength is the minimum length in Unicode code points after NFKC
	// normalization; 0 means 8. Values from 1 to 7 are refused by Validate.
	// Set 15 when a password is the only authentication factor (NIST).
	MinLength int
	// MaxLength is the maximum length in code points after NFKC; 0 means
	// 128. Validate refuses values below 64 (NIST) or above 4096.
	// With bcrypt hashing, note that bcrypt refuses passwords over 72
	// bytes, which 18 four-byte code points already reach.
	MaxLength int
	// DisableBlocklist turns off the common-password and context-word
	// check, which is on by default (ASVS 6.2.4). Leave it on.
	DisableBlocklist bool
	// ServiceName is a context word: a password equal to it is refused.
	ServiceName string
	// Checkers are extra checks run after the built-in ones, in order, for
	// example a breached-password service.
	Checkers []PasswordChecker
}

// PasswordContext holds the words a password must not equal: the account's
// username, its email address and local part, and any Extra words (such as
// the user's display name). Empty fields are ignored.
type PasswordContext struct {
	Username Username
	Email    Email
	Extra    []string
}

// PasswordChecker is an extra password check, such as a query to a
// breached-password service. It receives the NFKC-normalized password.
//
// CheckPassword returns nil to accept the password and an error to refuse
// it; [PasswordPolicy.Check] reports such an error as a [*PasswordError]
// with [ReasonRejected] that wraps it. A checker that cannot decide (its
// service is down) chooses: returning an error refuses the password (fail
// closed), returning nil accepts it (fail open). Its error message must not
// contain the password; PasswordError's message does not include it anyway.
type PasswordChecker interface {
	CheckPassword(ctx context.Context, password string, pc PasswordContext) error
}

// ErrWeakPassword is matched, through errors.Is, by every [*PasswordError]:
// the password was refused by the policy.
var ErrWeakPassword = errors.New("user: password refused by policy")

// PasswordReason says why a password was refused.
type PasswordReason string

// Reasons for refusing a password.
const (
	// ReasonTooShort: fewer code points than the policy's minimum.
	ReasonTooShort PasswordReason = "too short"
	// ReasonTooLong: more code points than the policy's maximum.
	ReasonTooLong PasswordReason = "too long"
	// ReasonInvalid: not valid UTF-8, or contains a control character
	// (Unicode category Cc, including NUL).
	ReasonInvalid PasswordReason = "invalid characters"
	// ReasonCommon: in the list of common passwords ([IsCommonPassword]).
	ReasonCommon PasswordReason = "too common"
	// ReasonContext: equal to a context word (service name, username,
	// email address or its local part, or an extra word).
	ReasonContext PasswordReason = "matches a context word"
	// ReasonRejected: a [PasswordChecker] refused it; the PasswordError
	// wraps the checker's error.
	ReasonRejected PasswordReason = "rejected by a checker"
)

// PasswordError is the error for a refused password. errors.Is(err,
// ErrWeakPassword) holds for it. Its message names the reason and, for
// length, the limits; it never contains the password, nor the message of a
// checker's error (reach that with errors.Unwrap or errors.As).
type PasswordError struct {
	Reason PasswordReason
	// Min and Max are the policy's length limits, set for ReasonTooShort
	// and ReasonTooLong.
	Min, Max int
	// Err is the checker's error for ReasonRejected, nil otherwise.
	Err error
}

// Error returns, for example, "user: password refused by policy: too short
// (minimum 8 characters)".
func (e *PasswordError) Error() string {
	switch e.Reason {
	case ReasonTooShort:
		return fmt.Sprintf("%v: %s (minimum %d characters)", ErrWeakPassword, e.Reason, e.Min)
	case ReasonTooLong:
		if errors.Is(e.Err, ErrPasswordTooLong) {
			return fmt.Sprintf("%v: %s (bcrypt takes at most 72 bytes)", ErrWeakPassword, e.Reason)
		}
		return fmt.Sprintf("%v: %s (maximum %d characters)", ErrWeakPassword, e.Reason, e.Max)
	}
	return fmt.Sprintf("%v: %s", ErrWeakPassword, e.Reason)
}

// Is reports whether target is ErrWeakPassword.
func (e *PasswordError) Is(target error) bool { return target == ErrWeakPassword }

// Unwrap returns the checker's error for ReasonRejected.
func (e *PasswordError) Unwrap() error { return e.Err }

// withDefaults returns p with zero limits replaced by the defaults.
func (p PasswordPolicy) withDefaults() PasswordPolicy {
	if p.MinLength == 0 {
		p.MinLength = DefaultMinPasswordLength
	}
	if p.MaxLength == 0 {
		p.MaxLength = DefaultMaxPasswordLength
	}
	return p
}

// Validate reports whether p is a usable policy, naming the bad field:
// MinLength from 8 (or 0) up to MaxLength; MaxLength from 64 (or 0) up to
// 4096; no nil Checkers.
func (p PasswordPolicy) Validate() error {
	d := p.withDefaults()
	switch {
	case p.MinLength < 0 || (p.MinLength > 0 && p.MinLength < DefaultMinPasswordLength):
		return errs.Configf("user", "PasswordPolicy.MinLength", "%d is below %d", p.MinLength, DefaultMinPasswordLength)
	case p.MaxLength < 0 || (p.MaxLength > 0 && p.MaxLength < LowestMaxPasswordLength):
		return errs.Configf("user", "PasswordPolicy.MaxLength", "%d is below %d", p.MaxLength, LowestMaxPasswordLength)
	case d.MaxLength > HighestMaxPasswordLength:
		return errs.Configf("user", "PasswordPolicy.MaxLength", "%d is above %d", p.MaxLength, HighestMaxPasswordLength)
	case d.MinLength > d.MaxLength:
		return errs.Configf("user", "PasswordPolicy.MinLength", "%d is above MaxLength %d", d.MinLength, d.MaxLength)
	}
	for i, c := range p.Checkers {
		if c == nil {
			return errs.Configf("user", fmt.Sprintf("PasswordPolicy.Checkers[%d]", i), "nil")
		}
	}
	return nil
}

// NormalizePassword returns s normalized to Unicode NFKC, the form in which
// passwords are measured, checked and hashed, so that a password typed on
// different keyboards or platforms (full-width letters, precomposed or
// decomposed accents) verifies the same (NIST SP 800-63B-4, RFC 8265).
// It refuses s with a [*PasswordError] of [ReasonInvalid] when s is not
// valid UTF-8 or contains a control character (category Cc, which includes
// NUL, tab and newline). Spaces and all other printable characters are
// kept.
func NormalizePassword(s string) (string, error) {
	if !validPasswordText(s) {
		return "", &PasswordError{Reason: ReasonInvalid}
	}
	n := norm.NFKC.String(s)
	if !validPasswordText(n) {
		return "", &PasswordError{Reason: ReasonInvalid}
	}
	return n, nil
}

func validPasswordText(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.Is(unicode.Cc, r) {
			return false
		}
	}
	return true
}

// Check reports whether password is acceptable as a new password under p.
// It returns an error from Validate if p is not a valid policy, and a
// [*PasswordError] (matching [ErrWeakPassword]) when the password is
// refused. In order:
//   - the password is normalized with [NormalizePassword] (ReasonInvalid);
//   - its length in code points must be within MinLength and MaxLength
//     (ReasonTooShort, ReasonTooLong);
//   - unless DisableBlocklist is set, it must not equal, ignoring case, a
//     common password (ReasonCommon, see [IsCommonPassword]) nor a context
//     word (ReasonContext): ServiceName, pc.Username, pc.Email, the local
//     part of pc.Email, or any of pc.Extra. Comparison is of whole
//     strings, after NFKC and lower-casing both sides;
//   - each of p.Checkers must accept the normalized password
//     (ReasonRejected).
//
// When ctx is done before or during a checker, Check returns an error
// wrapping ctx.Err() rather than a PasswordError.
func (p PasswordPolicy) Check(ctx context.Context, password string, pc PasswordContext) error {
	if err := p.Validate(); err != nil {
		return err
	}
	p = p.withDefaults()
	// Cheap bound before normalizing: NFKC composes at most a few code
	// points into one, so input this large cannot end up short enough.
	if len(password) > 32*p.MaxLength {
		return &PasswordError{Reason: ReasonTooLong, Min: p.MinLength, Max: p.MaxLength}
	}
	pw, err := NormalizePassword(password)
	if err != nil {
		return err
	}
	switch n := utf8.RuneCountInString(pw); {
	case n < p.MinLength:
		return &PasswordError{Reason: ReasonTooShort, Min: p.MinLength, Max: p.MaxLength}
	case n > p.MaxLength:
		return &PasswordError{Reason: ReasonTooLong, Min: p.MinLength, Max: p.MaxLength}
	}
	if !p.DisableBlocklist {
		folded := foldPassword(pw)
		if isCommonFolded(folded) {
			return &PasswordError{Reason: ReasonCommon}
		}
		for _, w := range contextWords(p.ServiceName, pc) {
			if w != "" && foldPassword(w) == folded {
				return &PasswordError{Reason: ReasonContext}
			}
		}
	}
	for _, c := range p.Checkers {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("user: password check: %w", err)
		}
		if err := c.CheckPassword(ctx, pw, pc); err != nil {
			if ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
				return fmt.Errorf("user: password check: %w", err)
			}
			return &PasswordError{Reason: ReasonRejected, Err: err}
		}
	}
	return nil
}

// contextWords lists the words a password must not equal.
func contextWords(service string, pc PasswordContext) []string {
	words := make([]string, 0, 4+len(pc.Extra))
	words = append(words, service, string(pc.Username), string(pc.Email), pc.Email.LocalPart())
	return append(words, pc.Extra...)
}

// foldPassword returns the form in which passwords and words are compared:
// NFKC, then lower case.
func foldPassword(s string) string {
	return strings.ToLower(norm.NFKC.String(s))
}
