package user

import (
	"fmt"
	"log/slog"
)

// redacted replaces the password hash wherever a User is printed.
const redacted = "[REDACTED]"

// printedUser has User's fields and no methods, so that fmt prints it
// field by field.
type printedUser User

// shown returns u as it may be printed: the hash replaced.
func (u User) shown() printedUser {
	p := printedUser(u)
	if p.HashedPassword != "" {
		p.HashedPassword = redacted
	}
	return p
}

// String returns a short description of the account, without the hash:
// "user 42 (alice)".
func (u User) String() string {
	return fmt.Sprintf("user %d (%s)", u.ID, u.Username)
}

// Format prints u with any verb and flag as fmt would print the struct
// (%v, %+v, %#v, ...), with the password hash replaced by [REDACTED], so
// that no format verb shows it. %s prints [User.String].
func (u User) Format(f fmt.State, verb rune) {
	if verb == 's' {
		fmt.Fprint(f, u.String())
		return
	}
	fmt.Fprintf(f, fmt.FormatString(f, verb), u.shown())
}

// LogValue makes log/slog print a User as a group of its id, username,
// role, tier and active flag: never the hash, the email address or the
// JSON documents.
func (u User) LogValue() slog.Value {
	return slog.GroupValue(
		slog.Int64("id", u.ID),
		slog.String("username", string(u.Username)),
		slog.String("role", string(u.Role)),
		slog.String("tier", string(u.Tier)),
		slog.Bool("is_active", u.IsActive),
	)
}
