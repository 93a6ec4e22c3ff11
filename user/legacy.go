package user

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cedrina/cedrina/internal/errs"
	"github.com/cedrina/cedrina/legacy"
)

// LegacyConfig turns on the verification of password hashes written by
// the system the accounts were carried over from. Turn it on when the
// store holds such accounts; hashes the SDK wrote keep the strict rules
// whatever it says.
type LegacyConfig struct {
	// Enabled verifies bcrypt hashes with the $2b$ or $2y$ prefix (other
	// systems' bcrypt libraries; the SDK writes $2a$) as their maker did:
	// a password that does not match in its normalized form (NFKC, see
	// [NormalizePassword]) is tried once more as the raw UTF-8 bytes the
	// user typed, truncated at 72 bytes as those libraries did. On success
	// the password is rehashed at once with the current hasher, so the
	// legacy rule never applies twice to one account and legacy hashes
	// disappear as their users sign in. As in the original system, a
	// password that agrees with the stored one on its first 72 bytes
	// matches a legacy hash; the rehash stores the password as typed,
	// every byte of it. A password the strict rules cannot
	// take (a control character such as a tab, invalid UTF-8) keeps its
	// legacy hash, signs in, and the login says
	// [LoginResult.PasswordChangeRequired] until the password is changed.
	//
	// It also makes every refused login as slow as a failed legacy
	// verification, so timing does not tell which accounts still hold a
	// legacy hash: [NewService] measures one bcrypt verification at
	// BcryptCost (about 190 ms at cost 12 on a 2-core machine).
	Enabled bool
	// BcryptCost is the cost of the legacy bcrypt hashes, for the timing
	// above. Default 12 (the original system's).
	BcryptCost int
	// Keys are the original system's Fernet keys (its PGCRYPTO_KEY
	// setting, read with legacy.ParseKeys), for the hashes it stored
	// encrypted: "enc_v1:" values whose plaintext is a bcrypt hash. With
	// Enabled and Keys, such a hash is opened and its bcrypt hash
	// verified by the rule above, and a match is rehashed at once like a
	// $2b$ hash (the swap is conditional on the stored "enc_v1:" value,
	// so a concurrent password change wins). Without them, or when the
	// keys do not open the value (another key, or an altered value), the
	// account cannot sign in: the login is refused ([AuthUnreadableHash],
	// the one generic refusal to the caller, padded like any other),
	// nothing is rewritten, and an Error line naming the user's id tells
	// the operator which of the two it is. Default none. Setting Keys
	// without Enabled is a configuration error.
	Keys *legacy.Keys
}

// errNoLegacyKey: an "enc_v1:" hash, and no key configured to open it.
var errNoLegacyKey = errors.New("user: no legacy key configured")

// openLegacy returns the bcrypt hash inside an "enc_v1:" hash. Errors:
// errNoLegacyKey, legacy.ErrWrongKey, legacy.ErrMalformed.
func (s *Service) openLegacy(encoded string) (string, error) {
	if !s.legacy.Enabled || s.legacy.Keys.Len() == 0 {
		return "", errNoLegacyKey
	}
	return s.legacy.Keys.OpenHash(encoded)
}

// refuseUnreadable logs why the hash of u, as its admission read it,
// could not be checked (never the hash or a key) and returns the refusal.
// The attempt stays counted as its admission counted it, like a wrong
// password: the lockout treats the account as it treats any other.
func (s *Service) refuseUnreadable(ctx context.Context, u *User, err error) *AuthError {
	if errors.Is(err, errNoLegacyKey) {
		s.log.ErrorContext(ctx, "user: password hash is encrypted by the original system and no legacy key is configured (user.LegacyConfig.Keys)",
			"user_id", u.ID)
	} else {
		s.log.ErrorContext(ctx, "user: the legacy key does not open this password hash (wrong key, or the value was altered)",
			"user_id", u.ID, "error", err)
	}
	return &AuthError{Reason: AuthUnreadableHash, UserID: u.ID, Attempts: u.FailedLoginAttempts, LockedUntil: u.LockedUntil}
}

// validateKeys checks the Keys setting.
func (c LegacyConfig) validateKeys() error {
	switch {
	case c.Keys == nil:
		return nil
	case !c.Enabled:
		return errs.Configf("user", "Config.Legacy.Keys", "set without Config.Legacy.Enabled")
	case c.Keys.Len() == 0:
		return errs.Configf("user", "Config.Legacy.Keys", "holds no key")
	}
	return nil
}

// isLegacyBcrypt reports whether encoded is a bcrypt hash another system
// wrote: $2b$ (OpenBSD, pyca/bcrypt, most libraries) or $2y$ (PHP).
func isLegacyBcrypt(encoded string) bool {
	return isBcryptPrefix(encoded) && encoded[2] != 'a'
}

// legacyProbe is a well-formed bcrypt hash of nobody's password with its
// cost digits left for calibrate to fill in: verifying it costs exactly
// one bcrypt run at that cost.
const legacyProbe = "$2b$%02d$" + "abcdefghijklmnopqrstuu" + "abcdefghijklmnopqrstuvwxyz01234"

// calibrateLegacy measures one verification of a bcrypt hash at cost.
func calibrateLegacy(ctx context.Context, h Hasher, cost int) (time.Duration, error) {
	start := time.Now()
	if _, _, err := h.Verify(ctx, fmt.Sprintf(legacyProbe, cost), "calibration"); err != nil {
		return 0, errs.ConfigErr("user", "Config.Legacy", fmt.Errorf("measuring a bcrypt verification at cost %d: %w", cost, err))
	}
	return time.Since(start), nil
}

// verdict is the outcome of checking a password against a stored hash.
type verdict struct {
	match bool
	// rehash: store a fresh hash of normalized (another algorithm or
	// parameters, or a legacy hash that matched).
	rehash bool
	// changeRequired: the password matched by the legacy rule only and
	// cannot be stored in the current format.
	changeRequired bool
	normalized     string
	// unreadable: the stored hash is an "enc_v1:" value that could not
	// be opened (errNoLegacyKey, legacy.ErrWrongKey, legacy.ErrMalformed);
	// the password was not checked and match is false.
	unreadable error
}

// checkPassword checks the password raw, as the caller sent it, against
// the stored hash encoded, by the strict rule (NFKC, no control
// characters, at most maxLoginPassword bytes) and, with the legacy rule
// on, the legacy one; an "enc_v1:" hash is opened first with the legacy
// keys (see [LegacyConfig.Keys]), and when it cannot be, the verdict says
// so (unreadable) and nothing is verified. It records the verification's
// duration for the refusal padding. Errors: a hash that cannot be
// verified (ErrMalformedHash), the context's error.
func (s *Service) checkPassword(ctx context.Context, encoded, raw string) (verdict, error) {
	var v verdict
	if encoded == NoPassword {
		// No password to match: verify the dummy hash instead, so the
		// refusal costs what any other refusal costs, and match nothing.
		if _, err := s.checkPassword(ctx, s.dummy, raw); err != nil {
			return verdict{}, err
		}
		return verdict{}, nil
	}
	start := time.Now()
	// foreign: a hash the original system made, verified by the legacy
	// rule and retired on a match.
	foreign := s.legacy.Enabled && isLegacyBcrypt(encoded)
	if legacy.IsEncryptedHash(encoded) {
		h, err := s.openLegacy(encoded)
		if err != nil {
			v.unreadable = err
			return v, nil // the refusal is padded like any other
		}
		encoded, foreign = h, true
	}
	if len(raw) > maxLoginPassword {
		return v, nil // cannot be a password; refusals are padded anyway
	}
	pw, nerr := NormalizePassword(raw)
	class := hashClass(encoded)
	verified := false // only verifications are timed: a skipped one would drag the estimate down
	var err error
	if nerr == nil {
		v.normalized = pw
		v.match, v.rehash, err = s.hasher.Verify(ctx, encoded, pw)
		if err != nil {
			return verdict{}, err
		}
		verified = true
	}
	if !v.match && foreign {
		b := raw
		if len(b) > bcryptMaxPassword {
			b = b[:bcryptMaxPassword]
		}
		if nerr != nil || b != pw {
			if nerr == nil {
				class += " x2"
			}
			match, _, err := s.hasher.Verify(ctx, encoded, b)
			if err != nil {
				return verdict{}, err
			}
			verified = true
			if match {
				v.match = true
				v.changeRequired = nerr != nil
			}
		}
	}
	if verified {
		s.pad.observe(class, time.Since(start))
	}
	if v.match && foreign {
		// Retire the foreign format whichever rule matched, unless the
		// strict rules cannot take the password.
		v.rehash = !v.changeRequired
	}
	if !v.match {
		v.rehash = false
	}
	return v, nil
}
