// Package user manages accounts: registration, password hashing, login
// with lockout, profile, role and tier, activation, password change and
// deletion.
//
//	db := memory.New() // or postgres.Open(...)
//	users, err := user.NewService(db.Users(), user.Config{})
//	u, err := users.Register(ctx, user.Registration{Username: "alice", Email: "alice@example.com", Password: pw})
//	u, err = users.Authenticate(ctx, "alice", pw)
//	if errors.Is(err, user.ErrInvalidCredentials) { /* one generic 401 */ }
//
// The [Service] works on any [Store]; store/memory and store/postgres
// implement it and store/storetest checks them alike.
//
// # Names and addresses
//
// [ParseUsername] applies the PRECIS UsernameCaseMapped profile (width
// mapping, case folding, NFC), then allows 3 to 50 code points of letters
// and marks of one script, ASCII digits, '.', '_' and '-'. Mixing scripts
// is refused, which stops look-alikes such as a Cyrillic "а" in "admin".
// [ParseEmail] accepts dot-atom addresses and compares them by one rule:
// the whole address, lower-cased after NFC. That canonical form is what is
// stored, so the database's unique constraint on users.email decides
// duplicates and lookups use its index.
//
// # Passwords
//
// [PasswordPolicy] counts length in code points after NFKC (default 8 to
// 128), refuses the common passwords of a breach-derived list and the
// context words (service name, username, email and its local part), and
// has no composition rules. Passwords are hashed in their NFKC form with
// argon2id (m=19456 KiB, t=2, p=1, 16-byte salt, PHC string) by default, or
// bcrypt (cost 12) when chosen; both are always verified. A login whose
// stored hash uses another algorithm or other parameters than the current
// policy rehashes the password (compare-and-swap, so a concurrent password
// change wins). bcrypt's 72-byte limit never truncates silently. The
// [PasswordHasher] bounds how many hashes run at once (default GOMAXPROCS),
// so a flood of logins queues instead of exhausting memory; each argon2id
// run holds 19 MiB.
//
// # Login and lockout
//
// [Service.Authenticate] refuses with an [*AuthError] that matches
// [ErrInvalidCredentials] and has the same message for every reason:
// unknown user, wrong password, locked, deactivated. Each refusal verifies
// one hash (a dummy hash for unknown users), so timing does not tell the
// reasons apart either. The precise reason is for the host's logs and audit
// trail, reached with errors.As.
//
// Failed logins count in the store in one atomic step; by default five
// consecutive failures lock the account for 15 minutes, during which even
// the right password is refused and failures are not counted. A successful
// login, a password change or a reset clears the lock. Counting is per
// account; rate limiting per client belongs to package ratelimit.
//
// # Errors
//
// Every method names its errors. Sentinels ([ErrNotFound],
// [ErrUsernameTaken], [ErrEmailTaken]) wrap those of package store; input
// errors wrap [ErrInvalidUsername], [ErrInvalidEmail], [ErrInvalidRole],
// [ErrInvalidTier]; a refused password is a [*PasswordError] matching
// [ErrWeakPassword]. No error message contains a password or a hash.
//
// # Time
//
// The service reads Config.Now, truncates to microseconds (what
// PostgreSQL keeps) and hands the time to the store, so both stores agree
// and tests move the clock instead of sleeping.
package user
