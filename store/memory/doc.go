// Package memory implements every Store interface of the SDK in memory,
// for tests, prototypes and single-process tools.
//
//	db := memory.New()
//	users, err := user.NewService(db.Users(), user.Config{})
//
// # Behaviour
//
// The stores behave as the PostgreSQL ones do, and both pass the same
// conformance suite (store/storetest): the same errors, the same unique
// constraints, the same atomic counters, times kept in UTC at microsecond
// precision, JSON documents stored as JSON (numbers come back as float64,
// as they do from PostgreSQL). Deleting a user removes what belongs to it
// (its sessions, password reset tokens, email verification tokens and
// linked OAuth identities; its audit events lose their user), as the
// schema's ON DELETE rules do. Values a PostgreSQL column cannot hold
// are refused as PostgreSQL refuses them: an OAuth profile's provider
// over 50 characters or provider_user_id over 255, text with a NUL byte
// or invalid UTF-8, user info holding a NUL.
//
// [DB.Users] (users and their email verification tokens), [DB.Sessions],
// [DB.Audit], [DB.Resets] (password reset tokens) and [DB.OAuth] (linked
// identities and spent OAuth flow states) hand out the stores; all of
// them work on the same tables and take part in the same transactions.
//
// # Concurrency
//
// A [DB] is safe for concurrent use. One readers-writer lock guards all
// tables; every store method holds it for the length of one operation, so
// each method is atomic.
//
// # Transactions
//
// [DB.InTx] serialises transactions: while one runs, every other call
// waits. Each change made through the transaction's context records an
// undo step, and a failing transaction applies them in reverse, so a
// rollback costs what the transaction changed, not the size of the data.
// Nested calls join the outer transaction. Store methods called from inside
// a transaction must receive its context (or one derived from it); a
// context without it waits for the transaction to end, which from inside
// the transaction never happens.
//
// Nothing is persisted: the data lives as long as the DB value.
package memory
