// Package audit records security events in the audit_logs table, queries
// them, archives old ones, and makes tampering with them evident.
//
//	a, err := audit.NewService(db.Audit(), audit.Config{Key: chainKey})
//	w, err := a.NewWriter(audit.WriterConfig{}) // batched, asynchronous
//	defer w.Close(ctx)
//	users, err := user.NewService(db.Users(), user.Config{Recorder: w})
//
// Every other package of the SDK may import audit; it imports none of
// them. Services take a [Recorder] as an optional dependency: without one
// they record nothing.
//
// # Events
//
// An [Event] has the table's fields: user, type, data, client IP, user
// agent, correlation id, time (UTC), severity, source and metadata. The
// [EventType] constants are the catalogue of what the SDK records. Client
// IP, user agent and correlation id come from the request: [Middleware]
// (or [NewContext]) puts a [RequestInfo] in the request's context, with
// the client IP taken from X-Forwarded-For only behind configured trusted
// [Proxies], and recorders fill events from it.
//
// # Recording
//
// [Service.Record] stores each event at once (one transaction). A
// [Writer] queues events and stores them in batches, by size or after
// FlushInterval, with one multi-row INSERT per batch on PostgreSQL; its
// Flush and Close return only when every accepted event is stored, and a
// failed batch is retried, never dropped. When its queue is full it either
// blocks the caller (with the caller's context) or drops the event and
// counts it ([WriterStats]), as configured.
//
// # What is never recorded
//
// Before an event is queued or stored, the values of keys that look like
// secrets (password, token, secret, authorization, cookie, api key, code,
// verifier, ...; more with Config.RedactKeys) are replaced by
// [Redacted], in nested documents too, and so are JWT-shaped strings
// anywhere. Text loses its control characters (so no value can forge a
// log line or hold a NUL), and is cut to the column sizes.
//
// # Tamper evidence
//
// Each stored event is a link of a hash chain: it carries its position,
// the previous event's hash and its own hash over its canonical content
// and that previous hash (SHA-256, or HMAC-SHA-256 under Config.Key). The
// store serialises appends across every process (a row lock on the
// audit_chain table in PostgreSQL), so concurrent writers still make one
// chain, and records the chain's start and end. [Service.Verify] walks the
// chain and reports, as a [*ChainError], the first event whose content was
// changed, that is missing, or that no longer links to its predecessor, or
// an end that does not match. The hash covers the actor (the user id as
// recorded), not user_id, which the database sets to NULL when the user is
// deleted.
//
// What it does not stop: without a Key, someone who can write the table
// can rebuild a consistent chain; with a Key, they can still delete the
// newest events and move the recorded end back. Copy [Service.State]'s
// End to storage they cannot write (another system, a log shipper) and
// compare it later to close that gap.
//
// # Query and retention
//
// [Service.Query] filters by user, types, severities, time range and
// correlation id, newest first, with keyset cursors; on PostgreSQL a
// user's events in a time range are an index range scan
// (idx_audit_logs_user_created). [Service.Archive] writes events older
// than a time as JSON lines and deletes them in batches of 1,000, one
// short transaction each, oldest first; the chain that remains verifies
// from its new start. [Service.DeleteBefore] deletes without archiving.
package audit
