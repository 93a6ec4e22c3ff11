// Package audit records security events in the audit_logs table, queries
// them, archives old ones, and makes tampering with them evident.
//
//	a, err := audit.NewService(db.Audit(), audit.Config{Key: chainKey})
//	w, err := a.NewWriter(audit.WriterConfig{}) // batched, asynchronous
//	users, err := user.NewService(db.Users(), user.Config{Recorder: w})
//	...
//	// At shutdown, a fresh context with a timeout, as for http.Server.Shutdown:
//	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
//	defer cancel()
//	if err := w.Close(ctx); err != nil {
//		log.Print(err) // what was not stored is in the fallback, see Recording
//	}
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
// (or [ContextWithRequestInfo]) puts a [RequestInfo] in the request's context, with
// the client IP taken from X-Forwarded-For only behind configured trusted
// [Proxies], and recorders fill events from it.
//
// # Recording
//
// [Service.Record] stores each event at once (one transaction). A
// [Writer] queues events and stores them in batches, by size or after
// FlushInterval, with one multi-row INSERT per batch on PostgreSQL. When
// its queue is full it either blocks the caller (until the caller's
// context ends or Close starts) or drops the event and counts it
// ([WriterStats]), as configured.
//
// No event the Writer accepted is lost silently:
//
//   - Transient failures are retried. A store write that fails with an
//     error matching store.ErrUnavailable (a lost connection, a server
//     shutting down, a deadlock victim, an exhausted pool; store/postgres
//     translates them so) is written again after RetryDelay, doubling up
//     to MaxRetryDelay, with jitter, for as long as the writer is open. A
//     third-party store reports such failures by matching
//     store.ErrUnavailable; any other error is a refusal of the data.
//   - One bad event does not stop the trail. A batch the store refuses is
//     split in halves, recursively, until the refused events are alone;
//     each goes to WriterConfig.Fallback with the store's error, and the
//     others are stored, in their order. A refused write changes nothing
//     (it rolls back), so the chain stays whole.
//   - A wrong key is not retried. When the chain is sealed under another
//     key ([ErrKeyMismatch], see Keys below), every event would be
//     refused: each batch goes to the fallback whole, without splitting,
//     and the mismatch is logged once at Error level. Once the writers
//     have the right key, [Service.Replay] records those events.
//   - Close honours its context's deadline, whatever the store does. What
//     it cannot store by then (queued events, the batch being gathered and
//     the batch being written, whose write it cancels) goes to the
//     fallback, and Close says how many. Give Close a fresh context with a
//     timeout, not the signal context that is already cancelled at
//     shutdown: with a cancelled context nearly everything queued goes to
//     the fallback.
//
// The default fallback logs each such event, redacted, as one record at
// Error level ("audit: event not stored") on Config.Logger, or as JSON on
// standard error when there is none; [Service.Replay] reads those records
// back from a JSON log and records their events. Delivery is at least
// once: if a write Close gave up on succeeds after all (a store that
// ignores its context), its events are both stored and in the fallback,
// counted in Written and Fallback, and a warning is logged. Otherwise, once
// Close returns, Stats().Accepted == Written + Fallback.
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
// # Keys
//
// The store keeps, with the chain's end, the fingerprint of the key the
// chain is sealed under ([KeyFingerprint]): the first 16 bytes, as 32 hex
// digits, of HMAC-SHA-256(key, "cedrina audit key fingerprint v1"), which
// tells keys apart without revealing them, or [NoKey] ("none") for an
// unkeyed chain. Every append records it in the same write that moves the
// end (audit_chain.key_fingerprint in PostgreSQL).
//
// A service whose Config.Key is not the chain's (another key, no key for
// a keyed chain, a key for an unkeyed one) may not append: its events
// would break the chain for good. Record returns a [*KeyError] (errors.Is
// ErrKeyMismatch, not retryable) and nothing is stored; a [Writer] sends
// such events to its fallback. [Service.Verify] compares the fingerprints
// before walking and returns the KeyError, naming both, instead of
// reporting every event as altered: a wrong or missing key is told apart
// from tampering. (Someone who can write audit_chain can change the
// fingerprint too; Verify then reports a mismatch with a fingerprint that
// is no key the operators know of, which is tampering as well.)
//
// A chain sealed before fingerprints were recorded has none (NULL, or ""
// in Head.KeyFingerprint): its next append records the appending key's,
// so deploy the version that records them with the right key. Until then,
// Verify cannot tell a wrong key from an altered first event: a
// [*ChainError] at the first event checked says both are possible
// (KeyUnknown).
//
// To change the key, archive or delete the whole chain under the old
// key ([Service.Archive] keeps the archive verifiable), then set
// audit_chain.key_fingerprint to NULL: the next append, under the new
// key, records the new fingerprint and links to the old chain's last
// hash.
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
