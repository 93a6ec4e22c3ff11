// Package schema ships Cedrina's PostgreSQL schema as embedded, versioned
// SQL migrations and the migrator that applies them.
//
// Library packages never migrate on their own: the host calls [Migrate]
// once at start-up (or an operator runs `cedrina migrate up`) before using
// the PostgreSQL stores.
//
//	db, err := sql.Open("postgres", dsn) // or the *sql.DB behind a *sqlx.DB: sqlxDB.DB
//	...
//	if err := schema.Migrate(ctx, db); err != nil {
//		return err
//	}
//
// # What is in the schema
//
// Migration 00001_initial.sql creates the seven tables of the schema the
// original system used, column for column, with that schema's types,
// defaults, nullability, keys and delete rules (this package's
// design_test.go writes that schema down table by table and checks a
// migrated database against it):
//
//   - users: accounts; username and email unique.
//   - oauth_profiles: linked external identities; unique per (provider,
//     provider_user_id) and per (user_id, provider); deleted with the user.
//   - sessions: server-side sessions; session_token and refresh_token
//     unique; deleted with the user.
//   - password_reset_tokens: single-use reset tokens (hashes only);
//     token_hash unique; deleted with the user.
//   - casbin_rules: Casbin policy lines with is_active and created_by /
//     updated_by.
//   - audit_logs: the audit trail; deleting a user keeps its events and
//     sets their user_id to NULL.
//   - rate_limit_records: rate limit counters, unique per (key_hash,
//     algorithm, window_start).
//
// Many columns stay nullable with a default, exactly as they were, so rows
// written by the original system, which name only the required columns,
// still insert. Constraint names are the ones PostgreSQL generates
// (users_username_key, sessions_user_id_fkey, ...); the stores map
// violations to domain errors by these names.
//
// Later schema changes are new files (00002_..., 00003_...), each with an
// up and a down part and a comment saying why; the statements of a
// released migration never change (only its comments may).
// [Migrations] exposes the files; they are plain goose SQL, readable as
// ordinary SQL. The later migrations add (design_test.go checks their
// additions too):
//
//   - 00002_audit_chain.sql: tamper evidence for audit_logs, which gains
//     chain_seq (unique), actor_id, prev_hash and hash, all nullable so
//     that rows of the original system still insert; audit_chain, a single
//     row holding where the hash chain starts and ends, which writers lock
//     to append; idx_audit_logs_user_created for a user's recent events.
//   - 00003_session_rotation.sql: session_refresh_history, the hash of
//     every refresh token a rotation replaced, so that a replayed one is
//     told from one that never existed; token_hash is the primary key;
//     deleted with its session. Indexes for a user's sessions by activity
//     and for the cleanup of idle sessions.
//   - 00004_security_stamp.sql: users.security_stamp, which moves on with
//     every change that must end what was authorized before it (a password
//     change or reset, a deactivation), and sessions.security_stamp, the
//     user's stamp when the session started (a session is valid only while
//     the two are equal); idx_sessions_inactive, a partial index for the
//     cleanup of ended sessions.
//   - 00005_audit_key_fingerprint.sql: audit_chain.key_fingerprint, the
//     fingerprint of the key the chain is sealed under (never the key), so
//     that a wrong key is reported as such, not as tampering.
//   - 00006_email_verification.sql: email_verification_tokens, single-use
//     email verification tokens (hashes only) with the address each one
//     verifies and when it expires and was spent; token_hash unique;
//     deleted with the user. Indexes for a user's tokens and for the
//     cleanup of spent and expired ones.
//   - 00007_rate_limit_state.sql: rate_limit_records.hits (a sliding
//     window's admitted times, in microseconds since the Unix epoch, oldest
//     first) and rate_limit_records.level (a token bucket's level, in
//     1/window-in-microseconds of a token), both nullable, so that the two
//     algorithms are exact; the SDK keeps one row per key for them, under
//     window_start 1970-01-01 (the epoch), whose window_end is when the
//     state is initial again.
//   - 00008_rate_limit_indexes.sql: idx_rate_limit_records_algorithm and
//     idx_rate_limit_records_window_start are dropped: they narrow no
//     lookup (three algorithms; one window_start for every key counting
//     in a window), cost two index writes per insert, and led the planner
//     away from the unique index of a rate limit check.
//   - 00009_oauth_states.sql: oauth_spent_states, the hex SHA-256
//     (state_hash, the primary key) of every OAuth flow state a callback
//     used, until the state's own expiry (expires_at, indexed for the
//     cleanup), so that a replayed callback is refused on every instance.
//     Nothing is stored when a flow starts; no foreign key.
//   - 00010_adoption.sql: cedrina_adoption, a single row recording that
//     [Adopt] took the schema over from the original system: when, the
//     Alembic revision it was at, and how many sessions, reset tokens and
//     OAuth tokens it ended, removed and converted. Empty on a schema that
//     [Migrate] created (see "Adopting the original system's database").
//
// Tokens and sessions that can no longer be used stay in their tables
// until a cleanup pass deletes them: session.Cleanup, reset.Cleanup,
// user.CleanupVerifications, ratelimit.Cleanup (rate limit rows whose
// window_end has passed) and the OAuth store's DeleteExpiredStates
// (spent flow states past their expiry), which `cedrina cleanup` runs in
// turn.
//
// # Index choices
//
// Every index of the original schema exists under its own name, except
// where a UNIQUE constraint's index already answers the same lookups:
// idx_users_username, idx_users_email, idx_sessions_session_token,
// idx_sessions_refresh_token and idx_password_reset_tokens_token_hash
// would duplicate the unique index on the same column, and
// idx_oauth_profiles_user_id, idx_oauth_profiles_provider and
// idx_rate_limit_records_key_hash index the leading column of a composite
// unique index (user_id, provider), (provider, provider_user_id) and
// (key_hash, algorithm, window_start). Creating them would double the
// index write cost on those tables for no read benefit. The migration
// names, at each such spot, the index that serves instead.
//
// # Running migrations
//
// From Go: [Migrate] (up to the latest version), [Down] (one step back),
// [Reset] (everything back), [Status] and [Version]. Each takes the
// *sql.DB of any PostgreSQL driver (lib/pq, pgx stdlib) and works on the
// current schema of its connections, the first existing schema of their
// search_path ("public" by default), so one database can hold several
// independent Cedrina schemas.
//
// From the command line:
//
//	DATABASE_URL=postgres://... cedrina migrate up
//	cedrina migrate status --database-url postgres://...
//
// Applied versions are recorded in the table [VersionTable]
// (cedrina_goose_db_version) of the same schema, in goose's format, so the
// goose CLI can also apply the files:
//
//	goose -dir schema/migrations -table cedrina_goose_db_version postgres "$DATABASE_URL" status
//
// # Adopting the original system's database
//
// A database the original system created already holds the seven tables
// of migration 1, with its data, so `cedrina migrate up` fails there
// (relation "users" already exists). [Adopt], which `cedrina migrate
// adopt` runs, takes such a database over instead. Stop the original
// system and take a backup first. Adopt holds the advisory lock of
// [Migrate] on its own connection from start to end, so concurrent
// adoptions and migrations of the schema run one after the other, and it
// first looks for what was done before:
//
//   - cedrina_adoption holds a row: the schema was adopted. Adopt applies
//     the migrations still pending, if any, and changes nothing else
//     ([AlreadyAdopted]).
//   - [VersionTable] records version 1 or later and there is no adoption
//     row: `migrate up` created the schema; nothing to adopt, nothing
//     changed ([AlreadyManaged]).
//   - Otherwise (no version table, or one holding only version 0, as
//     `migrate status` leaves it) Adopt inspects the schema.
//
// The inspection runs every embedded migration, Up part after Up part, in
// a schema of its own (cedrina_adopt_probe_ and random hex) inside a
// savepoint that it rolls back, so that what migration 1 creates, and
// what each later one adds, creates and drops, is read from PostgreSQL's
// catalog rather than written down twice; this needs the CREATE privilege
// on the database. The current schema is read with the same catalog
// queries, with search_path set to it alone so that defaults and foreign
// keys print alike, and compared:
//
//   - Tables: each of migration 1's tables must exist, as a table.
//   - Columns: the same names, with the same type (format_type: character
//     varying(254) is not character varying(100)), nullability and
//     default (pg_get_expr; an identity column is not a SERIAL one).
//     Missing and extra columns both refuse; an extra one that a later
//     migration adds is named as such.
//   - Named constraints (primary keys, unique constraints, foreign keys
//     with their delete rules, checks): the same names with the same
//     definitions (pg_get_constraintdef). A renamed constraint is missing
//     under its name and extra under the other.
//   - Relations a later migration creates (audit_chain, its indexes, the
//     sequence of a SERIAL column, cedrina_adoption, a type named like a
//     later table) must not exist yet: that migration would fail on them.
//   - Indexes that back no constraint are reported, present, missing,
//     defined otherwise or extra, and never refuse the adoption, which
//     creates and drops none. The report says which later migration drops
//     or creates each, and, for an extra index whose lookups an index of
//     migration 1 answers as well (the original's idx_users_username and
//     the seven like it, see "Index choices"), that it may be dropped.
//   - Other tables (the original's alembic_version, a host's tables) are
//     left alone; the revision alembic_version holds is reported and
//     recorded, and the table itself is never changed.
//
// On any difference Adopt refuses with [ErrIncompatible] and a report
// naming every one of them; nothing was written, not even
// [VersionTable], as the inspection's transaction is rolled back. OAuth
// tokens are counted next: when any profile holds one and
// [AdoptConfig.Tokens] is nil, Adopt refuses with [ErrTokensNeedKey] and
// writes nothing either.
//
// Otherwise Adopt adopts, in the inspection's transaction, with the
// tables locked against schema changes and sessions,
// password_reset_tokens and oauth_profiles against writes too:
//
//   - [VersionTable] is created if missing, and version 1 recorded as
//     applied (its tables exist), with version 0 as goose records it.
//   - Every session of the original is ended (is_active false): its
//     users sign in again.
//   - Every password reset token is deleted: the original stored them in
//     clear. A reset in progress must be requested again.
//   - Every OAuth access and refresh token is converted with
//     AdoptConfig.Tokens (oauth.LegacyTokens opens the original's Fernet
//     token with its key and seals the provider's token with the SDK's
//     cipher for the row's user and provider), in batches of
//     AdoptConfig.Batch rows by id, calling AdoptConfig.Progress after
//     each. A token that does not convert rolls everything back; the
//     error names the row's id, provider and user, never a token or key.
//   - cedrina_adoption is created with migration 10's own statement, and
//     its one row records when, the Alembic revision, and the counts of
//     sessions ended, reset tokens removed and tokens converted. [Adopted]
//     reads it.
//
// After the commit, the later migrations (2 onwards) run as [Migrate]
// runs them, on another connection of the pool, while Adopt still holds
// the lock, so the pool must allow two connections. Should one fail, the
// adoption stays recorded, and running Adopt (or [Migrate]) again applies
// the rest. Password hashes are not touched: the original's bcrypt and
// "enc_v1:" hashes are verified, and replaced, at their users' next sign
// in (user.LegacyConfig).
//
// The report ([AdoptReport], printed by its WriteTo method) says all of
// this: the state, each table's differences or OK, the conflicts, every
// index, the Alembic revision, the counts, and the versions applied.
//
// # Concurrency and the advisory lock
//
// The migrator is github.com/pressly/goose/v3 with its PostgreSQL session
// locker: [Migrate], [Down], [Reset], [Status] and [Version] take a
// session-level advisory lock (pg_try_advisory_lock) on a dedicated
// connection and release it when done; PostgreSQL also releases it if the
// process dies. When ten app instances start at once, one applies the
// pending migrations and the others wait, then find nothing to do. Each
// migration runs in a transaction, so a failed one leaves no half-created
// tables.
//
// The lock key is derived from the schema name (FNV-1a of
// "cedrina/schema:" + name), not goose's single default key, because
// advisory locks are database-wide: migrations of the same schema exclude
// each other, migrations of different schemas (parallel test packages,
// tenants) do not wait for each other. The goose CLI does not take this
// lock: do not run it against a schema while applications migrate it.
//
// A waiting migrator blocks in pg_advisory_lock (not goose's polling
// locker, whose fixed retry interval makes N simultaneous starts take about
// N intervals): the server wakes the next waiter the moment the lock is
// released, and waiting ends when the context does. Give Migrate a context
// with a deadline at start-up.
package schema
