// Command cedrina is the operator tool for a Cedrina deployment: it
// manages the PostgreSQL schema from outside the application.
//
// Usage:
//
//	cedrina <command> [arguments]
//	cedrina help [command]
//
// # migrate
//
//	cedrina migrate [--database-url URL] up|down|reset|status
//	cedrina migrate [--database-url URL] adopt [--legacy-key-file FILE] [--oauth-token-keys-file FILE] [--batch N]
//
//	up      apply every pending migration
//	down    roll back the most recent migration
//	reset   roll back every migration: drops all Cedrina tables and their data
//	status  list the migrations: version, applied or pending, when, file
//	adopt   take over a database the original system created
//
// The connection comes from --database-url or, when the flag is not given,
// from the DATABASE_URL environment variable; the flag may appear before
// or after the action. Both postgres:// URLs and key=value connection
// strings work, and lib/pq's PG* environment variables fill in what the
// URL leaves out. The migrations apply to the first schema of the
// connection's search_path ("public" by default; add
// ?search_path=name to the URL to pick another).
//
//	DATABASE_URL=postgres://app@db:5432/app?sslmode=require cedrina migrate up
//	go run ./cmd/cedrina migrate status --database-url postgres://root@127.0.0.1:5432/test?sslmode=disable
//
// Before any change the server is pinged with a 10 second timeout, so a
// wrong host or a closed port fails fast. up takes the same advisory lock
// as schema.Migrate in the applications, so running it while instances
// start is safe. Errors print as one line, "cedrina: <command>: <reason>",
// and never contain the URL's password.
//
// adopt is for a database the original system created: its tables
// exist, so up fails there (relation "users" already exists). It runs
// schema.Adopt, which compares the tables with what migration 1 creates
// (columns, types, nullability, defaults, named constraints) and prints a
// report on stdout: each table OK or its differences, named precisely
// ("users.email: type character varying(100), want character varying(254)"),
// the relations later migrations would create that already exist, every
// index (present, missing, extra; the original's indexes that a unique
// constraint's index makes redundant are named as such, to drop at
// will), the Alembic revision (the alembic_version table is left alone),
// and what it did. When anything differs it changes nothing and exits 1.
// Otherwise it records migration 1 as applied, ends the original's
// sessions (users sign in again), deletes its password reset tokens (kept
// in clear; a pending reset must be requested again), converts its OAuth
// tokens into the SDK's sealed format, printing "converted N of M OAuth
// tokens" on stderr after each batch of --batch profiles (default 500),
// records the adoption in the cedrina_adoption table, and applies the
// later migrations. It takes the advisory lock of up, and a second run
// finds the adoption and changes nothing (on a schema up created, it
// says so and changes nothing either). Stop the original system and take
// a backup first.
//
// Converting the tokens takes the original's Fernet key (its PGCRYPTO_KEY
// setting) from the file --legacy-key-file or, without it, from
// CEDRINA_LEGACY_KEY, and the SDK's token keys ("id:base64 of 32 bytes",
// the current first, as the application's oauth.ParseKeys reads them)
// from the file --oauth-token-keys-file or CEDRINA_OAUTH_TOKEN_KEYS: the
// keys themselves, never on the command line. The command warns when a
// key file is readable by other users. When profiles hold tokens and a
// key is missing, it names the missing flag or variable, changes nothing
// and exits 1; a token that does not open (a wrong key) fails the whole
// adoption, naming the profile, never a token or key. A malformed or
// unreadable key exits 2 before connecting.
//
//	cedrina migrate adopt --database-url postgres://app@db:5432/app --legacy-key-file legacy.key --oauth-token-keys-file oauth-token.keys
//
// Exit status: 0 on success and for -h/help; 1 when the command ran and
// failed (malformed URL, unreachable server, failed migration, down with
// nothing applied, adopt refused); 2 for a bad command line (unknown
// command or action, bad flag), a missing database URL or a malformed or
// unreadable key of adopt; 3 when audit verify finds the chain
// broken; 4 when audit verify or replay, user set-role or a policy
// change is given another key than the one the chain is sealed with. legacy
// status exits 1 when the legacy key given does not open every encrypted
// password hash.
//
// # audit
//
//	cedrina audit verify [--from SEQ] [--to SEQ] [--key-file FILE]
//	cedrina audit archive --before TIME --out FILE [--key-file FILE]
//	cedrina audit replay --in FILE [--key-file FILE]
//
// verify walks the audit trail's hash chain (package audit) and prints how
// many events it checked, the chain's end hash, which operators may keep
// elsewhere to compare later, and the fingerprint of the chain's key (or
// "no key"). It exits 3 when the chain is broken, printing the first
// break, and 4 when the key given is not the chain's: the chain records
// its key's fingerprint (never the key), so a wrong key, no key for a
// keyed chain, or a key for an unkeyed chain is reported as such, naming
// both fingerprints, and is not mistaken for tampering. (Should the
// chain's fingerprint match no key the operators know, someone changed
// it: that is tampering too.) A chain sealed before fingerprints were
// recorded has none until its next append; for it, a break at the first
// event checked may also be a wrong key, and the message says so (exit
// 3). archive writes the events older than TIME (RFC
// 3339, or a duration back from now such as 2160h) to a new file as JSON
// lines, then deletes them in batches; the remaining chain verifies from
// its new start. replay records again the events an audit writer could
// not store and logged through its fallback ("audit: event not stored"
// records of a JSON log; other lines are skipped): each keeps its time and
// joins the chain at its end; under another key than the chain's it
// records nothing and exits 4. When the application keys the chain
// (audit.Config.Key), pass the same key in hex in a file, with --key-file
// or CEDRINA_AUDIT_KEY_FILE.
//
// # user
//
//	cedrina user set-role (--id N | --username NAME | --email ADDR) --role ROLE [--key-file FILE]
//
// sets the role (users.role) of the one account named by exactly one of
// --id, --username and --email, through the user service as the
// application does: sessions carry the user's current role, so the
// user's next request has the new one. It prints
//
//	user 42 (alice): role ADMIN (was USER)
//
// and records a role_changed event whose data names the actor "cli" ("by")
// in the audit trail. As that event must join the hash chain, the command
// takes the chain's key like audit verify (--key-file or
// CEDRINA_AUDIT_KEY_FILE) and, under another key than the chain's,
// changes nothing and exits 4. It exits 1 when no account matches. This
// is how a deployment gets its first administrator: with the admin policy
// the application seeds (authhttp.AdminRules, "p, admin, /admin/*, *"),
// ADMIN opens every route under /admin/.
//
// # policy
//
//	cedrina policy list [--inactive]
//	cedrina policy add TYPE V0 [V1 ...]
//	cedrina policy remove TYPE V0 [V1 ...]
//	cedrina policy deactivate|activate ID
//
// works on the authorization policy in the casbin_rules table, through
// an rbac.Authorizer on store/postgres's rule store as the applications
// do: add makes a rule active (reactivating an inactive copy, leaving an
// active one alone), remove deletes the identical active rule (exit 1
// when there is none), deactivate keeps a rule with its history but stops
// enforcing it, activate enforces it again (exit 1 for an unknown id),
// and list prints the active rules, or every rule with --inactive:
//
//	ID  STATE   RULE                           UPDATED AT            CREATED BY  UPDATED BY
//	1   active  p, admin, /admin/*, *          2026-01-02T15:04:05Z  bootstrap   bootstrap
//	2   active  p, auditor, /admin/audit, GET  2026-01-02T15:09:41Z  cli         cli
//
//	2 rules
//
// A rule must fit the applications' model: --model rbac (the default),
// domains or abac, or --model-file with a Casbin model of their own; one
// that does not is refused (exit 2) and nothing changes. Every change is
// made as the actor "cli" (created_by, updated_by) and recorded as a
// policy_changed event, so the audit key rules of user set-role apply
// (--key-file; exit 4 under another key). The store notifies the change
// through PostgreSQL (NOTIFY in the change's transaction) and the
// applications' policy watchers reload: running servers enforce it
// within milliseconds.
//
// # legacy
//
//	cedrina legacy status [--legacy-key-file FILE] [--batch N]
//
// counts the accounts by the format of their password hash
// (user.PasswordFormat), every format listed, and says how many still
// hold one the original system wrote: legacy-bcrypt ($2b$, $2y$) or
// legacy-encrypted ("enc_v1:", a bcrypt hash encrypted under the
// original's PGCRYPTO_KEY). Those move to the current format as their
// users sign in, when the applications set user.LegacyConfig (Enabled,
// and Keys for the encrypted ones):
//
//	FORMAT            ACCOUNTS
//	argon2id              1204
//	bcrypt                   0
//	legacy-bcrypt           17
//	legacy-encrypted         3
//	none                    12
//	unknown                  0
//	total                 1236
//
//	the legacy key opens all 3 encrypted hashes
//	20 accounts still hold a legacy hash; they move to the current format as their users sign in
//
// or, when none is left, "no legacy password hash remains". When
// encrypted hashes remain and the original's key is given (in a file,
// --legacy-key-file, which should be readable by its owner only: status
// warns otherwise; or in CEDRINA_LEGACY_KEY; never as a flag's value),
// status opens every one of them, --batch rows (default 1000) per query,
// without checking any password, and exits 1 when the key does not open
// them all, naming the first ten accounts:
//
//	cedrina: legacy status: the legacy key does not open 2 of 3 encrypted hashes (user ids: 4, 9)
//
// Without a key it warns that those accounts cannot sign in until the
// applications have it, and exits 0. The key is never printed.
//
// # cleanup
//
//	cedrina cleanup [--idle DURATION] [--batch N]
//
// deletes what can no longer be used, table by table: ended, expired and
// idle sessions (session.Cleanup), then spent and expired password reset
// tokens (reset.Cleanup), then spent and expired email verification tokens
// (user.CleanupVerifications), then rate limit records whose state has
// been initial again for a minute (ratelimit.Cleanup: a fixed window that
// ended, a sliding window a window past its newest request, a token
// bucket full again), then the records of spent OAuth flow states whose
// expiry passed a minute ago or more (the OAuth store's
// DeleteExpiredStates; the minute lets an instance whose clock is a
// little behind still refuse a replayed callback). Each table is emptied
// in batches of --batch
// rows (default 1000), pausing between them so that applications sharing
// the database keep their latency; run it from cron or a scheduler. --idle
// should match the applications' session.Config.IdleTimeout (default 24h).
// It prints one line per table:
//
//	deleted 8 sessions in 12ms
//	deleted 3 password reset tokens in 2ms
//	deleted 0 email verification tokens in 1ms
//	deleted 1204 rate limit records in 9ms
//	deleted 17 oauth flow states in 1ms
//
// When a table fails, cleanup stops there and exits 1; the lines printed
// before stand, and the error names the table, how many of its rows were
// deleted before the error, and the tables skipped:
//
//	cedrina: cleanup: password reset tokens: <reason> (3 password reset tokens deleted before the error; skipped: email verification tokens, rate limit records, oauth flow states)
//
// # Adding a command
//
// Each command is an entry in the commands table of main.go with a
// function func(ctx, *env, args) int that parses its own flags with the
// standard flag package (parseArgs lets flags follow the positional
// arguments, as migrate's do). Commands that need the database register
// --database-url with databaseURLFlag and open it with connect; they read
// the environment only through env.getenv, so tests drive them through
// run without touching the process.
package main
