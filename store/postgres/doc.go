// Package postgres implements every Store interface of the SDK on
// PostgreSQL, with sqlx over lib/pq, on the schema that package schema
// migrates.
//
//	db, err := postgres.Open(ctx, os.Getenv("DATABASE_URL"), postgres.Config{})
//	if err != nil { ... }
//	defer db.Close()
//	if err := schema.Migrate(ctx, db.SQLX().DB); err != nil { ... }
//	users, err := user.NewService(db.Users(), user.Config{})
//
// # Pool
//
// [Open] creates the pool with the settings the original system ran with
// as defaults: 20 idle connections, at most 50 open (20 plus 30 under load),
// connections recycled after an hour, and at most 30 seconds of waiting for
// a free connection before [ErrPoolTimeout]. A host that already has a pool
// passes it to [New] (*sqlx.DB) or [NewFromSQL] (*sql.DB); its settings
// are left alone and Close leaves it open.
//
// # Transactions
//
// [DB.InTx] begins a transaction and passes fn a context carrying it.
// Every store method of the same DB picks the transaction from its context
// or a pooled connection when there is none, so services need no
// transaction parameter. A nested InTx joins the outer transaction (the
// outermost call commits or rolls back). [TxFromContext] gives hosts the
// *sqlx.Tx so that their own tables change in the same transaction.
//
// # Atomic changes
//
// Every state change that could race is one statement whose new values
// are computed by the server from the row itself: the admission of a login
// attempt (failed_login_attempts + 1 and the lock decided in the same
// UPDATE, admitted only while the account is active and unlocked), the
// compare-and-swap of a rehashed password or a rotated refresh token.
// Writes that depend on a read made before a slow step carry that read as
// their condition, in the same statement: a login's success and a new
// password on users.security_stamp (and the lock), a session's insert on
// its user's stamp and is_active, read FOR SHARE so that a concurrent
// change of the user waits for it or makes it insert nothing. Unique
// constraints, not a read before the write, decide duplicate usernames and
// emails. Every query is parameterized.
//
// # Audit trail
//
// [AuditStore] appends a batch of events in one transaction: it locks the
// single audit_chain row (serialising appends of every process, which is
// what keeps the hash chain one chain), inserts all events with one
// multi-row INSERT whose parameters are arrays (the same statement for
// any batch size), and records the chain's new end in the same statement.
// A user id that names no user is stored as NULL. An Append inside a
// host's long transaction holds the chain lock until that transaction
// ends, delaying other appends: record from short transactions, or through
// the batched writer.
//
// # Reset tokens
//
// [ResetStore] keeps password reset tokens in password_reset_tokens.
// Consuming one is a single conditional UPDATE (unspent and unexpired),
// so of concurrent attempts exactly one succeeds. Issuing one runs in a
// transaction (the context's, or its own) under a per-user advisory lock:
// the user's unspent tokens are spent and the new one inserted in one
// statement, taken once the lock is held, so concurrent requests leave
// the user one outstanding token. The security stamp is kept in the
// security_context document as {"security_stamp": n}. DeleteExpired
// removes expired tokens, then spent ones, each in a short statement
// bounded by the batch.
//
// # Email verification tokens
//
// [UserStore] keeps email verification tokens in
// email_verification_tokens, each with the address it verifies. Every
// method that changes a user's tokens takes the lock of the user's row
// first and the tokens' row locks after it, so they serialise per user and
// never deadlock one another. Issuing a token spends the user's
// outstanding ones and inserts it in one statement, taken once the lock
// is held, so the user keeps one outstanding token; changing the address
// (SetEmail) spends them in the same transaction. Consuming one is a
// single statement that spends the token only while it is unspent and
// unexpired, its user active and still at the token's address, and
// verifies the user, so of concurrent attempts exactly one succeeds.
// DeleteExpiredVerifications removes spent and expired tokens in one
// short statement bounded by the batch, skipping rows other transactions
// hold.
//
// # OAuth identities
//
// [OAuthStore] ([DB.OAuth]) keeps linked identities in oauth_profiles and
// spent flow states in oauth_spent_states. Linking is one statement: an
// INSERT whose row comes from a SELECT of the user that matches only
// while the user is active and its security stamp is the one the flow
// read, locked FOR SHARE, so that a concurrent password change or
// deactivation either waits for the link's transaction or makes it
// insert nothing. The unique constraints, not a read before the write,
// decide an identity linked already and a provider the user has linked
// already. Unlinking runs in a transaction (the context's, or its own):
// it locks the user's row (FOR NO KEY UPDATE, which password changes,
// links and other unlinks wait for, and rows other tables insert for the
// user do not), then deletes the profile unless the user has no password
// and no other profile, so concurrent unlinks of a passwordless user's
// identities always leave one. Tokens are stored as given (sealed by
// package oauth), "" as NULL; user_info as jsonb, nil as NULL. A user's
// profiles are listed by provider, byte by byte (COLLATE "C"), whatever
// the database's collation. A provider, provider_user_id or token that
// its column cannot hold (a NUL byte, invalid UTF-8, more characters
// than the column's length) is refused before any statement, with an
// error that names the column; a lookup by such a value finds nothing.
// Spending a state is one INSERT ... ON CONFLICT DO NOTHING on its hash
// (64 hexadecimal digits, anything else refused), so of concurrent
// spends exactly one succeeds; DeleteExpiredStates removes records past
// their expiry in one short statement bounded by the batch, skipping rows
// other transactions hold.
//
// # Rate limits
//
// [RateLimitStore] keeps the state of package ratelimit's limits in
// rate_limit_records, under key_hash = [ratelimit.HashKey] of the policy
// and the key in lower-case hex: the key itself (a client IP, an address)
// never reaches the database. A fixed window has one row per key and
// window: window_start aligned to the Unix epoch, window_end its end,
// request_count the requests admitted, limit_value the limit. A sliding
// window and a token bucket have one row per key, under the constant
// window_start 1970-01-01 00:00:00 UTC: hits holds a sliding window's
// admitted times (microseconds since the epoch, oldest first, one per
// request), level a bucket's level in 1/window-in-microseconds of a token
// with updated_at the time of its last change; their window_end is the
// time the state is initial again (the newest time plus the window; the
// bucket full). Times are the caller's (the Limiter's clock), passed as
// integer microseconds and stored exactly: the server's clock plays no
// part.
//
// Each check is one prepared statement: a WITH whose INSERT ... ON
// CONFLICT (key_hash, algorithm, window_start) DO UPDATE ... WHERE <the
// request fits> RETURNING computes the new state on the server, from the
// latest committed version of the row, under its row lock. Checks of one
// key from any number of goroutines, connections and app instances take
// turns on that row, and each sees the state the previous one left, as
// ratelimit.Store requires; no state is read into Go and written back.
// A check locks one row, and at PostgreSQL's default isolation (READ
// COMMITTED) none fails with a serialization error: 1,000 concurrent
// checks of one key all get their answer. PostgreSQL's speculative
// insertion (INSERT ... ON CONFLICT) can, rarely, report a deadlock
// between two first inserts of one key; the victim's statement changed
// nothing, and Take runs it again (outside a caller's transaction, which
// the deadlock aborts). A denial that would change nothing (a full fixed or sliding
// window; an empty bucket at a reading no later than its last change) is
// answered from the statement's snapshot, with no lock and no write, so a
// flood of refused requests costs reads only. When the ON CONFLICT branch
// finds the request does not fit, the same statement reads the row's
// latest version (FOR UPDATE; for a token bucket an UPDATE, since a
// denial moves its clock and refill forward). A row that another check
// inserted after the statement took its snapshot is invisible to that
// read; the statement then returns nothing, having changed nothing, and
// Take runs it once more.
//
// The statements are prepared once per connection, and PostgreSQL plans
// a prepared statement once for all its arguments after its first five
// runs. Planned on a new table before its first ANALYZE, a check reads
// the table sequentially, and keeps doing so as the table grows, until
// autovacuum analyzes it (after its first 50 rows, within
// autovacuum_naptime, a minute by default) and the plans are made again,
// through the unique index. A host that disables autovacuum runs ANALYZE
// rate_limit_records itself once the table has rows.
//
// Instances sharing the database share every key exactly, but each
// counts with its own clock: skew between instances shifts windows by
// the skew (an instance whose clock runs ahead opens the next fixed
// window early; a reading older than one the key has seen counts as at
// the newer time in a sliding window, and refills nothing in a bucket).
// Keep the instances' clocks synchronized.
//
// In a caller's transaction ([DB.InTx]) a check runs in it and the key's
// row stays locked until it ends: other checks of the key wait for it.
// Keep such transactions short, or check outside them. Elsewhere
// Config.AcquireTimeout bounds the whole check, the wait for a connection
// and the statement.
//
// By default every check that changes a row is a durable commit: the
// server answers once its WAL is on disk, and on a busy key checks queue
// behind that flush. RateLimitConfig.AsyncCommit evaluates
// set_config('synchronous_commit', 'off', true) inside the check's own
// statement: it lasts until the end of that statement's transaction, which
// is the statement itself, so no other statement of the connection, and no
// other table, is affected (in a caller's transaction it is not applied
// at all). The server then answers before the WAL flush. What a server
// crash (not an application's, not a lost connection) can lose is the
// admissions of its last moments, up to three times wal_writer_delay
// (600 ms by default): after the restart the keys they counted admit that
// many requests more than their limits. Nothing else: the database stays
// consistent, a refused request writes nothing that matters after a
// restart (a token bucket's refill, the only write of a denial, is
// recomputed by the next check), and other tables are untouched. For a
// rate limiter that is usually a fair price for about twice the checks
// per second; for a login limit that guards against password guessing it
// buys an attacker a few guesses per server crash.
//
// Rows stay after their state is initial again; ratelimit.Cleanup (with
// the store as its ratelimit.Expirer) or `cedrina cleanup` deletes them in
// short batches: rows whose window_end passed, picked through
// idx_rate_limit_records_window_end, skipping rows a check holds. Deleting
// such a row changes no check's answer; the cleanup's grace (a minute by
// default) covers checks whose clock reading is older than the cleanup's.
//
// # Policy rules
//
// [RuleStore] ([DB.Rules]) keeps rbac's policy rules in casbin_rules, one
// row per Casbin policy line: ptype the rule's type ("p", "g", ...), v0
// to v5 its values, with the values a rule does not have stored as NULL
// (an empty value between two others is stored as the empty string),
// is_active whether it is enforced, created_by and updated_by the actor
// (NULL for none), created_at and updated_at the change's time as the
// caller gives it, in microseconds (truncated). NULL and the empty
// string are the same missing value, and trailing ones are dropped on
// reading, so rows that another Casbin adapter wrote with empty strings
// read, and match, as the store's own. A NULL is_active reads as
// inactive: the active rules are those WHERE is_active. Rules are read in
// id order. A filter compares the positions it names with v0 to v5; an
// exact one (rbac.Filter.Exact) compares all six, a missing value
// matching NULL and the empty string.
//
// Every change (Add, Remove, SetActive, Replace) runs in one transaction,
// the context's ([DB.InTx]) or its own, and first takes a
// transaction-level advisory lock (pg_advisory_xact_lock) of its own key,
// held until the transaction ends: changes of the rules from every
// connection and every instance take turns, and each sees what the
// previous one committed. So 50 concurrent Adds of one rule insert it
// once, and Add reactivates an inactive row (the lowest id) rather than
// inserting a second one. Only the rule store's own writes take the lock;
// reads never wait for it. Add and Replace send the whole batch as array
// parameters to one statement, whatever its size; Remove is one DELETE.
// A change inside a host's long transaction holds the lock until that
// transaction ends, delaying other changes of the rules (not reads).
//
// A change that alters the active rules also runs
// SELECT pg_notify(channel, payload) in its transaction, so that
// PostgreSQL delivers the notification when the change commits, and never
// when it rolls back. The channel is [PolicyChannel] ("cedrina_rbac") by
// default; [DB.RulesOn] gives a store another one. Channels are
// database-wide, not per schema: applications (or tests) that keep rules
// apart in one database, each in its own schema, need a channel each, and
// their watchers must listen on it. The payload is a small JSON document
// naming the change, {"op":"add","rules":2} (op add, remove, set_active or
// replace; rules the number of rules it inserted, reactivated, changed
// or deleted); it is informational: a subscriber reloads on any.
//
// [PolicyWatcher] holds a connection of its own (lib/pq's Listener, on the
// connection string the host passes) that LISTENs on the channel, and
// calls its subscribers ([PolicyWatcher.Subscribe], [rbac.Watcher]) for
// each notification. Notifications sent while its connection is down are
// lost, so after each reconnection it calls its subscribers too: they
// reload the whole policy. It reconnects after WatcherConfig.MinReconnect
// (10 ms by default), doubling the wait after each failed attempt up to
// WatcherConfig.MaxReconnect (1 second), and pings its idle connection
// every WatcherConfig.PingInterval (30 seconds) so that a connection that
// died silently is noticed. NewPolicyWatcher returns once it listens, or
// the error of its first connection; create it before loading the policy,
// so that no change committed between the load and the LISTEN goes
// unseen. [PolicyWatcher.Casbin] adapts it to Casbin's persist.Watcher
// (SetUpdateCallback, Update, Close) for a host that drives a Casbin
// enforcer itself. Close ends the connection and the watcher's
// goroutines.
//
// # Errors
//
// Driver errors are translated in one place: no rows becomes the domain's
// ErrNotFound, a unique violation the domain sentinel of its constraint
// (users_username_key is user.ErrUsernameTaken), both wrapping the
// sentinels of package store. A failure of the database rather than of
// the data (a lost connection, a server shutting down or overloaded, a
// deadlock or serialization victim, the pool's acquire timeout) matches
// store.ErrUnavailable, so that callers such as the audit writer retry it.
// A missing table or schema (SQLSTATE 42P01, 3F000) gives an error that
// says to run schema.Migrate or "cedrina migrate up". Other server errors
// keep their message and SQLSTATE but not the driver's type, nor the
// DETAIL line, which can quote row values. Errors are read by SQLSTATE,
// so a pool of pgx's database/sql driver passed to [NewFromSQL] gives the
// same errors as lib/pq's.
//
// # Rows from other systems
//
// Columns that the schema leaves nullable are read as nullable: a NULL
// is_active reads as inactive (fail closed; a policy rule's too), a NULL counter as 0, a NULL
// role or tier as "". A rate limit row's NULL request_count reads as 0,
// a NULL hits as no admitted time, a NULL level as a full bucket, a NULL
// updated_at as the check's time. A reset token whose is_used is NULL reads as unused
// (the column's default) and can be consumed; one whose security_context
// holds no integer security_stamp reads without a stamp. An OAuth
// profile's NULL tokens read as "", a NULL user_info as nil, NULL times
// as the zero time; a user whose is_active is NULL links no identity.
package postgres
