package user

import (
	"strings"

	"github.com/cedrina/cedrina/legacy"
)

// The formats of stored password hashes, as [PasswordFormat] names them.
// The legacy ones move to the current format as their users sign in (see
// [LegacyConfig]); counting them (store/postgres's and store/memory's
// UserStore.PasswordFormats, the command "cedrina legacy status") tells
// how many accounts still hold one.
const (
	// FormatArgon2id: an argon2id PHC string, "$argon2id$...": the
	// SDK's default.
	FormatArgon2id = "argon2id"
	// FormatBcrypt: bcrypt with the "$2a$" prefix, as the SDK writes it.
	FormatBcrypt = "bcrypt"
	// FormatLegacyBcrypt: bcrypt with the "$2b$" or "$2y$" prefix, as
	// other systems wrote it; verified with LegacyConfig.Enabled.
	FormatLegacyBcrypt = "legacy-bcrypt"
	// FormatLegacyEncrypted: "enc_v1:", a bcrypt hash the original
	// system encrypted; verified with LegacyConfig.Enabled and Keys, and
	// no account holding one signs in without them.
	FormatLegacyEncrypted = "legacy-encrypted"
	// FormatNone: [NoPassword], an account without a password.
	FormatNone = "none"
	// FormatUnknown: anything else (the service refuses to verify it).
	FormatUnknown = "unknown"
)

// PasswordFormat names the format of a stored password hash by its
// prefix alone, exactly and case-sensitively: "$argon2id$" is
// FormatArgon2id, "$2a$" FormatBcrypt, "$2b$" and "$2y$"
// FormatLegacyBcrypt, "enc_v1:" FormatLegacyEncrypted, NoPassword
// FormatNone, anything else (the empty string, "$argon2i$") FormatUnknown.
// It does not check the rest: a truncated hash is classified by its
// prefix and refused when verified. The stores' PasswordFormats count by
// the same rule.
func PasswordFormat(stored string) string {
	switch {
	case strings.HasPrefix(stored, "$argon2id$"):
		return FormatArgon2id
	case strings.HasPrefix(stored, "$2a$"):
		return FormatBcrypt
	case strings.HasPrefix(stored, "$2b$"), strings.HasPrefix(stored, "$2y$"):
		return FormatLegacyBcrypt
	case legacy.IsEncryptedHash(stored):
		return FormatLegacyEncrypted
	case stored == NoPassword:
		return FormatNone
	}
	return FormatUnknown
}
