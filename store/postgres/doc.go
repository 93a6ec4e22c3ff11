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
// is_active reads as inactive (fail closed), a NULL counter as 0, a NULL
// role or tier as "". A reset token whose is_used is NULL reads as unused
// (the column's default) and can be consumed; one whose security_context
// holds no integer security_stamp reads without a stamp.
package postgres
