// Package user manages accounts: registration, password hashing, login
// with lockout, email verification and address change, profile, role and
// tier, activation, password change and deletion.
//
//	db := memory.New() // or postgres.Open(...)
//	users, err := user.NewService(db.Users(), user.Config{})
//	u, err := users.Register(ctx, user.Registration{Username: "alice", Email: "alice@example.com", Password: pw})
//	res, err := users.Login(ctx, "alice", pw)
//	if errors.Is(err, user.ErrInvalidCredentials) { /* one generic 401 */ }
//	tok, err := sessions.Start(ctx, res.User, session.Client{}) // package session
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
// change wins). bcrypt's 72-byte limit never truncates silently (only the
// opt-in legacy rule below reads old hashes as their maker did). The
// [PasswordHasher] bounds how many hashes run at once (default GOMAXPROCS),
// so a flood of logins queues instead of exhausting memory; each argon2id
// run holds 19 MiB.
//
// # Login and lockout
//
// [Service.Login] refuses with an [*AuthError] that matches
// [ErrInvalidCredentials] and has the same message for every reason:
// unknown user, wrong password, locked, deactivated, an account that
// changed during the login, or a legacy hash the service cannot open. The precise reason is for the host's logs and
// audit trail, reached with errors.As.
//
// An attempt is admitted before the password is verified, by one atomic
// store step that counts it as a failure in advance
// ([Store.AdmitLogin]); a success clears the count. By default five
// counted attempts lock the account for 15 minutes, during which no
// attempt is admitted: even the right password is refused and nothing
// more is counted. So of 40 simultaneous guesses at an unlocked account,
// exactly five are verified and counted; the others are refused as locked
// without the account's hash being checked. A side effect worth knowing:
// attempts still being verified count as failures, so five logins of one
// account within the same few milliseconds can lock it briefly (the one
// that locked it clears the lock when it succeeds). A successful login,
// a password change or a reset clears the lock. Counting is per account;
// rate limiting per client belongs to a rate limiter in front.
//
// # Writes conditional on what was read
//
// Verifying a password is slow (about 20 ms with argon2id, 190 ms with
// bcrypt at cost 12), and the account can change meanwhile. The rule of
// this package and of session: a state change that depends on a read made
// before a slow step is a conditional write on what was read, one
// statement on PostgreSQL, the same outcome on the memory store. Every
// account carries a security stamp ([User.SecurityStamp]) that moves
// forward with each password change or reset, deactivation and
// reactivation. A login's success is recorded only while the stamp and the
// lock are as its admission read them ([Store.RecordLoginSuccess]);
// session.Service.Start creates a session only while the account still has
// the stamp the login read; a session is valid only while its stamp is
// its user's; [Service.ChangePassword] stores the new hash only while the
// stamp is the one its check of the current password read
// ([Store.SetPassword], else [ErrStale]). So a login that straddles a
// password change, a reset, a deactivation (even one undone by a
// reactivation) or a lock set by concurrent attempts leaves no session
// behind and clears no lock it did not see. Times alone
// (password_changed_at, is_active) cannot see a deactivation undone while
// the password was hashed; a stamp that only moves forward can.
//
// # Refusal timing
//
// Every refusal takes the same time, whatever the reason. An unknown user
// is checked against a dummy hash; locked and deactivated accounts verify
// nothing; and every refusal then waits until as long as the slowest
// verification the service has measured has passed since the login began.
// The service keeps a moving estimate per kind of hash (argon2id with its
// parameters, bcrypt at its cost, two bcrypt runs for the legacy rule),
// seeded at start by verifying the dummy hash and, with the legacy rule
// on, a bcrypt hash at the legacy cost, and pads to the highest one (or
// to Config.MinRefusalTime). While legacy bcrypt-12 hashes remain, every
// refusal therefore takes about 190 ms: an unknown user, a wrong password
// on an argon2id account and on a legacy account answer alike, and
// timing does not tell which accounts exist, are locked or still hold a
// legacy hash. Successful logins are not padded.
//
// Every path that verifies a caller's password (login, the current
// password of a password change) caps it at 64 KiB: longer input is a
// wrong password, never hashed.
//
// # Legacy hashes
//
// Accounts carried over from another system keep their bcrypt hashes.
// With [LegacyConfig].Enabled, $2b$ and $2y$ hashes (other libraries';
// the SDK writes $2a$) that do not match the normalized password are
// tried once more with the password as their maker hashed it, raw UTF-8
// truncated at 72 bytes, and are replaced by a hash in the current format
// at the first successful login. A password the strict rules cannot take
// (a tab, say) keeps its legacy hash and signs in with
// [LoginResult].PasswordChangeRequired set until it is changed. Hashes
// the SDK wrote keep the strict rules.
//
// The original system also stored hashes encrypted: "enc_v1:" and the
// standard base64 of a Fernet token (AES-128-CBC with HMAC-SHA256; see
// package legacy) whose plaintext is the bcrypt hash, under the Fernet
// key of its PGCRYPTO_KEY setting. With Enabled and [LegacyConfig].Keys
// (legacy.ParseKeys of that setting; several keys if it was rotating
// them), such a hash is opened, in microseconds, and its bcrypt hash is
// verified by the same legacy rule and replaced at the first successful
// login like a $2b$ hash. The replacement is a compare-and-swap on the
// stored "enc_v1:" value, so a password change or reset that lands
// meanwhile wins. [PasswordFormat] names the format of a stored hash;
// the stores count accounts by format, and the command "cedrina legacy
// status" prints how many still hold a legacy hash and checks that a
// key opens every encrypted one.
//
// Without the key an encrypted account cannot sign in at all. Its login,
// and the check of its current password in a change, is refused with
// [AuthUnreadableHash] (to the caller, the one [ErrInvalidCredentials],
// padded like every refusal) without the password being checked; nothing
// is rewritten, and the attempt stays counted toward the lockout as a
// wrong password's is, so the account behaves like any other to whoever
// tries it. The service logs one line at Error level, with the user's
// id, when no key is configured (or the legacy rule is off):
//
//	user: password hash is encrypted by the original system and no legacy key is configured (user.LegacyConfig.Keys)
//
// and, when the keys do not open the value (another key, an altered
// value, or no Fernet token of a bcrypt hash; its "error" attribute says
// which):
//
//	user: the legacy key does not open this password hash (wrong key, or the value was altered)
//
// Neither line holds a key, the hash or the password. Once the right key
// is configured, the account signs in again.
//
// # Email verification and address change
//
// With Config.Notifier and Config.Verification.URL set,
// [Service.RequestVerification] issues a token for the account's current
// address and sends its link (Verification.URL with a "token" query
// parameter) through the Notifier, from the service's own goroutines;
// [Service.Close] stops them at shutdown and hands over what was not
// sent. [Service.VerifyEmail] spends the token and sets is_verified and
// email_verified_at. A token is 32 random bytes (256 bits) of which only
// the SHA-256 is stored, with the address it was sent to; it verifies
// once, for 24 hours by default, and never once the account's address is
// another. Asking for a new token spends the older ones.
//
// The tokens are rows of their own table (email_verification_tokens,
// migration 6), not signed tokens. A signed, purpose-bound token needs no
// table, but it cannot be spent: it would verify again and again until
// it expired, for instance after the address was changed and changed
// back, and it would need one more signing key for the host to keep and
// rotate. A row is spent by one conditional UPDATE that also checks the
// address and verifies it, so of concurrent uses exactly one succeeds,
// and changing the address spends every outstanding token in the same
// statement.
//
// [Service.ChangeEmail] requires the current password, checked like a
// login attempt (admitted and counted, refused while locked); the new
// address is normalized and must be free, as at registration. The change
// is written only if the account is as the check read it, resets
// verification, records email_changed, sends a notice to the previous
// address and a verification link to the new one. Sessions go on.
//
// A refused token is a [*VerificationError] matching
// [ErrInvalidVerification], with the reason (malformed, unknown, used,
// expired, address changed, inactive) for the host's logs; callers see one
// message.
//
// # Errors
//
// Every method names its errors. Sentinels ([ErrNotFound],
// [ErrUsernameTaken], [ErrEmailTaken], [ErrStale]) wrap those of package
// store; input
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
