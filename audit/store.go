package audit

import (
	"context"
	"time"
)

// Head is one end of the tamper-evidence chain: a position and the hash
// of the event there.
type Head struct {
	Seq  int64  `json:"seq"`
	Hash string `json:"hash"`
	// KeyFingerprint, at the chain's end, names the key the chain is
	// sealed under (see [KeyFingerprint]): NoKey for plain SHA-256, "" when
	// unknown (a chain sealed before fingerprints were recorded, or never
	// sealed). It is always "" at the chain's start.
	KeyFingerprint string `json:"key_fingerprint,omitempty"`
}

// ChainState is where the stored chain starts and ends. Start.Seq is the
// first event still stored (later than 1 after archiving) and Start.Hash
// the hash that event links to; End is the last event appended. An empty
// chain has End.Seq == Start.Seq-1 and End.Hash == Start.Hash.
type ChainState struct {
	Start Head `json:"start"`
	End   Head `json:"end"`
}

// Sealer assigns chain positions and hashes to events being appended:
// given the current end of the chain, key fingerprint included, it sets
// each event's Seq, PrevHash and Hash and returns the new end, with the
// fingerprint of the key it sealed under. Stores call it while they hold
// the chain exclusively, and record the end it returns, fingerprint
// included ("" is recorded as unknown), with the events. When it returns
// an error (the [Service]'s sealer returns a [*KeyError] when the chain
// is sealed under another key), the store stores nothing, leaves the end
// as it was, and returns that error as it is or wrapped (errors.Is holds),
// never as an error matching store.ErrUnavailable.
type Sealer func(end Head, events []Event) (Head, error)

// Filter selects events for [Store.Query]. Zero fields do not filter.
type Filter struct {
	UserID        *int64
	Types         []EventType
	Severities    []Severity
	From, To      time.Time // From <= Time < To
	CorrelationID string
	// After continues a listing: only events older than this cursor
	// (Time, ID), newest first.
	After *Cursor
	// Limit caps the events returned; the store may assume 1..1000.
	Limit int
}

// Cursor is a position in a newest-first listing.
type Cursor struct {
	Time time.Time
	ID   int64
}

// Store keeps audit events. store/memory and store/postgres implement it,
// and store/storetest checks implementations alike.
type Store interface {
	// Append stores events as one unit, in order (IDs increase with it).
	// It sets each event's ActorID to its UserID; then, holding the chain
	// exclusively against every other Append (of any process), it reads
	// the chain's end (with its key fingerprint), calls seal, stores the
	// events with the Seq, PrevHash and Hash seal set, and records the new
	// end and fingerprint seal returned; if seal fails, it stores nothing
	// and returns seal's error. An empty Append does nothing (it need not
	// call seal). A UserID naming no existing user is stored as NULL
	// (ActorID keeps it). Append sets each event's ID. Documents come back
	// as a JSON column returns them (numbers as float64).
	Append(ctx context.Context, events []Event, seal Sealer) error

	// Query returns the events matching f, newest first (Time, then ID,
	// descending), at most f.Limit. Filter.UserID matches the stored
	// user_id, so the events of a deleted user are no longer found by it.
	Query(ctx context.Context, f Filter) ([]Event, error)

	// State returns the chain's start and end, and the end's key
	// fingerprint as the last Append recorded it.
	State(ctx context.Context) (ChainState, error)

	// Chain calls fn with the chained events whose Seq is in [from, to], in
	// Seq order, a batch at a time; events that were deleted are simply
	// absent. It stops at fn's first error and returns it.
	Chain(ctx context.Context, from, to int64, fn func([]Event) error) error

	// TrimChain removes, a batch at a time and oldest first, the chained
	// events older than before, stopping at the first chained event that is
	// not (so what stays is one unbroken chain), and then the unchained
	// events older than before. For each batch, in the transaction that
	// deletes it, it calls fn with the batch (fn may be nil) and, for
	// chained events, moves the chain's start past them. An error from fn
	// rolls the batch back and stops. It returns how many events it removed.
	TrimChain(ctx context.Context, before time.Time, batch int, fn func([]Event) error) (int64, error)
}

// UnchainedCounter is implemented by stores that may hold events outside
// the chain: rows stored before the chain began, such as the audit rows
// the original system wrote into a database the SDK then adopted
// (store/postgres). [Service.Verify] checks only chained events;
// [Service.Unchained] counts the others, so that a report can say they
// exist without calling them tampered.
type UnchainedCounter interface {
	// CountUnchained returns how many stored events have no chain
	// position.
	CountUnchained(ctx context.Context) (int64, error)
}
