package audit_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/cedrina/cedrina/audit"
	"github.com/cedrina/cedrina/store/memory"
)

func TestVerifyEmpty(t *testing.T) {
	svc := newService(t, memory.New().Audit(), audit.Config{})
	verify(t, svc, 0)
	st, err := svc.State(context.Background())
	want := audit.ChainState{Start: audit.Head{Seq: 1, Hash: audit.Genesis}, End: audit.Head{Seq: 0, Hash: audit.Genesis}}
	if err != nil || st != want {
		t.Errorf("State = %+v, %v; want %+v", st, err, want)
	}
}

func TestVerifyRanges(t *testing.T) {
	ctx := context.Background()
	svc := newService(t, memory.New().Audit(), audit.Config{Now: stepClock(t0, time.Second)})
	for i := range 25 {
		record(t, ctx, svc, audit.Event{Type: audit.LoginFailed, Data: map[string]any{"i": i}})
	}
	for _, tc := range []struct {
		from, to, want int64
	}{
		{0, 0, 25},
		{1, 25, 25},
		{-3, -1, 25},
		{0, 5, 5},
		{5, 10, 6},
		{10, 0, 16},
		{25, 25, 1},
		{25, 0, 1},
		{20, 100, 6},
		{26, 0, 0}, // just past the end: nothing to check
		{7, 3, 0},  // an empty range
	} {
		n, err := svc.Verify(ctx, tc.from, tc.to)
		if err != nil || n != tc.want {
			t.Errorf("Verify(%d, %d) = %d, %v; want %d, nil", tc.from, tc.to, n, err, tc.want)
		}
	}
}

func TestVerifyAfterTrim(t *testing.T) {
	ctx := context.Background()
	svc := newService(t, memory.New().Audit(), audit.Config{Now: stepClock(t0, time.Minute)})
	for range 30 {
		record(t, ctx, svc, audit.Event{Type: audit.SessionCreated})
	}
	if n, err := svc.DeleteBefore(ctx, t0.Add(10*time.Minute)); err != nil || n != 10 {
		t.Fatalf("DeleteBefore = %d, %v; want 10", n, err)
	}
	for _, tc := range []struct{ from, to, want int64 }{{0, 0, 20}, {1, 0, 20}, {11, 0, 20}, {15, 20, 6}, {12, 12, 1}} {
		if n, err := svc.Verify(ctx, tc.from, tc.to); err != nil || n != tc.want {
			t.Errorf("after DeleteBefore, Verify(%d, %d) = %d, %v; want %d", tc.from, tc.to, n, err, tc.want)
		}
	}
	var buf bytes.Buffer
	if n, err := svc.Archive(ctx, t0.Add(20*time.Minute), &buf); err != nil || n != 10 {
		t.Fatalf("Archive = %d, %v; want 10", n, err)
	}
	verify(t, svc, 10)
	record(t, ctx, svc, audit.Event{Type: audit.Logout})
	verify(t, svc, 11)
}

func TestVerifyKey(t *testing.T) {
	ctx := context.Background()
	key := bytes.Repeat([]byte("k"), 32)
	other := bytes.Repeat([]byte("o"), 32)
	events := []audit.Event{
		{Type: audit.LoginFailed, Data: map[string]any{"reason": "wrong_password"}, ClientIP: netip.MustParseAddr("192.0.2.1")},
		{Type: audit.LoginSucceeded, UserAgent: "agent"},
		{Type: audit.Logout},
	}
	chain := func(key []byte) (*memory.AuditStore, []audit.Event) {
		st := memory.New().Audit()
		svc := newService(t, st, audit.Config{Now: stepClock(t0, time.Second), Key: key})
		record(t, ctx, svc, events...)
		verify(t, svc, 3)
		return st, all(t, svc)
	}
	keyed, keyedEvents := chain(key)
	plain, plainEvents := chain(nil)
	for i := range keyedEvents {
		k, p := keyedEvents[i], plainEvents[i]
		if k.Hash == p.Hash {
			t.Errorf("event %d: the keyed hash equals the plain SHA-256 %s", k.Seq, k.Hash)
		}
		if k.Hash != audit.HashEvent(key, &k) || p.Hash != audit.HashEvent(nil, &p) {
			t.Errorf("event %d: hashes are not HMAC-SHA-256 under the key and SHA-256", k.Seq)
		}
	}
	// The chain's end records its key's fingerprint: Verify under another
	// key, or none, or with a key on an unkeyed chain, reports the key, not
	// tampering.
	keyFP, otherFP := audit.KeyFingerprint(key), audit.KeyFingerprint(other)
	for _, tc := range []struct {
		name       string
		store      audit.Store
		key        []byte
		stored     string
		configured string
		msg        string
	}{
		{"keyed chain, another key", keyed, other, keyFP, otherFP,
			"audit: chain sealed with another key: the chain's key fingerprint is " + keyFP + ", the configured key's is " + otherFP},
		{"keyed chain, no key", keyed, nil, keyFP, audit.NoKey,
			"audit: chain sealed with another key: the chain's key fingerprint is " + keyFP + ", and no key is configured"},
		{"plain chain, a key", plain, key, audit.NoKey, keyFP,
			"audit: chain sealed with another key: the chain has no key, the configured key's fingerprint is " + keyFP},
	} {
		t.Run(tc.name, func(t *testing.T) {
			svc := newService(t, tc.store, audit.Config{Key: tc.key})
			for _, from := range []int64{0, 2, 4} { // 4: past the end, still a mismatch
				n, err := svc.Verify(ctx, from, 0)
				var ke *audit.KeyError
				if !errors.As(err, &ke) || !errors.Is(err, audit.ErrKeyMismatch) || errors.Is(err, audit.ErrChainBroken) || n != 0 {
					t.Fatalf("Verify(%d, 0) = %d, %v; want 0 and a *KeyError", from, n, err)
				}
				if *ke != (audit.KeyError{Stored: tc.stored, Configured: tc.configured}) || err.Error() != tc.msg {
					t.Fatalf("Verify(%d, 0): %+v %q, want stored %s, configured %s, %q", from, *ke, err, tc.stored, tc.configured, tc.msg)
				}
			}
		})
	}
	// A chain sealed before fingerprints were recorded (its end has none):
	// the right key verifies it; under another the first event checked
	// fails as altered, with the hedge that the key may be wrong.
	unknown := func(st audit.Store) audit.Store {
		return &fakeStore{Store: st, StateFn: func(ctx context.Context) (audit.ChainState, error) {
			cs, err := st.State(ctx)
			cs.End.KeyFingerprint = ""
			return cs, err
		}}
	}
	verify(t, newService(t, unknown(keyed), audit.Config{Key: key}), 3)
	verify(t, newService(t, unknown(plain), audit.Config{}), 3)
	for _, tc := range []struct {
		name  string
		store audit.Store
		key   []byte
	}{
		{"old keyed chain, another key", unknown(keyed), other},
		{"old keyed chain, no key", unknown(keyed), nil},
		{"old plain chain, a key", unknown(plain), key},
	} {
		t.Run(tc.name, func(t *testing.T) {
			svc := newService(t, tc.store, audit.Config{Key: tc.key})
			for _, from := range []int64{0, 2} {
				n, err := svc.Verify(ctx, from, 0)
				var ce *audit.ChainError
				want := audit.ChainError{Seq: max(from, 1), ID: max(from, 1), Reason: audit.Altered, KeyUnknown: true}
				if !errors.As(err, &ce) || *ce != want || n != 0 || errors.Is(err, audit.ErrKeyMismatch) {
					t.Fatalf("Verify(%d, 0) = %d, %v; want 0 and %+v", from, n, err, want)
				}
				msg := fmt.Sprintf("audit: chain broken at seq %d (event %d): content altered, or the key is wrong: this chain predates key fingerprints", want.Seq, want.ID)
				if err.Error() != msg {
					t.Fatalf("Verify(%d, 0): %q, want %q", from, err, msg)
				}
			}
		})
	}
}

func TestKeyFingerprint(t *testing.T) {
	key := bytes.Repeat([]byte("k"), 32)
	// HMAC-SHA-256(key, "cedrina audit key fingerprint v1"), first 16
	// bytes: the value stores keep, so it must never change.
	if got, want := audit.KeyFingerprint(key), "d1078e06401479c5c9c5fb033335cd63"; got != want {
		t.Errorf("KeyFingerprint = %s, want %s", got, want)
	}
	if got := audit.KeyFingerprint(bytes.Repeat([]byte("o"), 32)); got == audit.KeyFingerprint(key) || len(got) != 32 {
		t.Errorf("another key's fingerprint = %s", got)
	}
	if audit.KeyFingerprint(nil) != audit.NoKey || audit.KeyFingerprint([]byte{}) != audit.NoKey {
		t.Error("no key's fingerprint is not NoKey")
	}
}

// TestRecordKeyMismatch: recording under another key than the chain's is
// refused with a *KeyError and stores nothing; a chain that records no
// fingerprint takes the key of the next event recorded.
func TestRecordKeyMismatch(t *testing.T) {
	ctx := context.Background()
	key, other := bytes.Repeat([]byte("k"), 32), bytes.Repeat([]byte("o"), 32)
	mem := memory.New().Audit()
	svc := newService(t, mem, audit.Config{Key: key})
	record(t, ctx, svc, audit.Event{Type: audit.Logout})
	before, err := mem.State(ctx)
	if err != nil || before.End.KeyFingerprint != audit.KeyFingerprint(key) {
		t.Fatalf("State = %+v, %v; want the key's fingerprint at the end", before, err)
	}
	for _, k := range [][]byte{other, nil} {
		err := newService(t, mem, audit.Config{Key: k}).Record(ctx, audit.Event{Type: audit.Logout})
		var ke *audit.KeyError
		if !errors.As(err, &ke) || *ke != (audit.KeyError{Stored: audit.KeyFingerprint(key), Configured: audit.KeyFingerprint(k)}) {
			t.Fatalf("Record under another key = %v, want a *KeyError", err)
		}
	}
	if after, _ := mem.State(ctx); after != before || stored(t, svc) != 1 {
		t.Fatalf("after the refused Records: State %+v (want %+v), %d events (want 1)", after, before, stored(t, svc))
	}
	verify(t, svc, 1)

	// An old chain, its fingerprint unknown, takes the next key.
	old := memory.New().Audit()
	oldSvc := newService(t, &fakeStore{Store: old, AppendFn: func(ctx context.Context, events []audit.Event, seal audit.Sealer) error {
		return old.Append(ctx, events, func(end audit.Head, events []audit.Event) (audit.Head, error) {
			end, err := seal(end, events)
			end.KeyFingerprint = ""
			return end, err
		})
	}}, audit.Config{Key: key})
	record(t, ctx, oldSvc, audit.Event{Type: audit.Logout})
	if st, _ := old.State(ctx); st.End.KeyFingerprint != "" {
		t.Fatalf("the old chain records fingerprint %q", st.End.KeyFingerprint)
	}
	newSvc := newService(t, old, audit.Config{Key: key})
	record(t, ctx, newSvc, audit.Event{Type: audit.Logout})
	if st, _ := old.State(ctx); st.End.KeyFingerprint != audit.KeyFingerprint(key) {
		t.Fatalf("after an append the chain records fingerprint %q, want the key's", st.End.KeyFingerprint)
	}
	verify(t, newSvc, 2)
}

// tamperCase is a 10-event chain seen through a store whose Chain and
// State results pass through change and changeState, as if the table had
// been edited.
type tamperCase struct {
	name        string
	key         []byte // the key of the chain and the verifier
	change      func(tb testing.TB, events []audit.Event) []audit.Event
	changeState func(st audit.ChainState, events []audit.Event) audit.ChainState
	from, to    int64
	want        *audit.ChainError // nil: Verify passes
	wantN       int64             // events checked
}

// noFingerprint makes the chain's end record no key fingerprint, as
// for a chain sealed before fingerprints were recorded.
func noFingerprint(st audit.ChainState, _ []audit.Event) audit.ChainState {
	st.End.KeyFingerprint = ""
	return st
}

// bySeq returns the index of the event at seq in events, or -1.
func bySeq(events []audit.Event, seq int64) int {
	for i := range events {
		if events[i].Seq == seq {
			return i
		}
	}
	return -1
}

// at applies f to the event at seq, if the batch holds it.
func at(seq int64, f func(e *audit.Event)) func(testing.TB, []audit.Event) []audit.Event {
	return func(_ testing.TB, events []audit.Event) []audit.Event {
		if i := bySeq(events, seq); i >= 0 {
			f(&events[i])
		}
		return events
	}
}

// without drops the event at seq.
func without(seq int64) func(testing.TB, []audit.Event) []audit.Event {
	return func(_ testing.TB, events []audit.Event) []audit.Event {
		if i := bySeq(events, seq); i >= 0 {
			return append(events[:i:i], events[i+1:]...)
		}
		return events
	}
}

// forge rewrites the event at seq as someone who can write the table
// would: a new content and a hash recomputed without a key (or with the
// wrong one).
func forge(seq int64, key []byte, f func(e *audit.Event)) func(testing.TB, []audit.Event) []audit.Event {
	return at(seq, func(e *audit.Event) {
		f(e)
		e.Hash = audit.HashEvent(key, e)
	})
}

func TestVerifyTampering(t *testing.T) {
	key := bytes.Repeat([]byte{1}, 32)
	const alice, bob = 1, 2
	for _, tc := range []tamperCase{
		{name: "untouched", wantN: 10},
		{name: "data changed", change: at(4, func(e *audit.Event) { e.Data["reason"] = "rate_limited" }),
			want: &audit.ChainError{Seq: 4, ID: 4, Reason: audit.Altered}, wantN: 3},
		{name: "data key added", change: at(7, func(e *audit.Event) { e.Data["note"] = "ok" }),
			want: &audit.ChainError{Seq: 7, ID: 7, Reason: audit.Altered}, wantN: 6},
		{name: "metadata changed", change: at(2, func(e *audit.Event) { e.Metadata = map[string]any{"x": 1.0} }),
			want: &audit.ChainError{Seq: 2, ID: 2, Reason: audit.Altered}, wantN: 1},
		{name: "severity changed", change: at(5, func(e *audit.Event) { e.Severity = audit.Info }),
			want: &audit.ChainError{Seq: 5, ID: 5, Reason: audit.Altered}, wantN: 4},
		{name: "type changed", change: at(1, func(e *audit.Event) { e.Type = audit.LoginSucceeded }),
			want: &audit.ChainError{Seq: 1, ID: 1, Reason: audit.Altered}, wantN: 0},
		{name: "time changed by a microsecond", change: at(3, func(e *audit.Event) { e.Time = e.Time.Add(time.Microsecond) }),
			want: &audit.ChainError{Seq: 3, ID: 3, Reason: audit.Altered}, wantN: 2},
		{name: "client ip changed", change: at(6, func(e *audit.Event) { e.ClientIP = netip.MustParseAddr("198.51.100.9") }),
			want: &audit.ChainError{Seq: 6, ID: 6, Reason: audit.Altered}, wantN: 5},
		{name: "user agent changed", change: at(6, func(e *audit.Event) { e.UserAgent = "curl" }),
			want: &audit.ChainError{Seq: 6, ID: 6, Reason: audit.Altered}, wantN: 5},
		{name: "correlation id changed", change: at(8, func(e *audit.Event) { e.CorrelationID = "other" }),
			want: &audit.ChainError{Seq: 8, ID: 8, Reason: audit.Altered}, wantN: 7},
		{name: "source changed", change: at(9, func(e *audit.Event) { e.Source = "admin" }),
			want: &audit.ChainError{Seq: 9, ID: 9, Reason: audit.Altered}, wantN: 8},
		{name: "hash changed", change: at(4, func(e *audit.Event) { e.Hash = strings.Repeat("f", 64) }),
			want: &audit.ChainError{Seq: 4, ID: 4, Reason: audit.Altered}, wantN: 3},
		{name: "user id set to another user", change: at(5, func(e *audit.Event) { e.UserID = new(int64(bob)) }),
			want: &audit.ChainError{Seq: 5, ID: 5, Reason: audit.Altered}, wantN: 4},
		{name: "user id set on an event without one", change: at(2, func(e *audit.Event) { e.UserID = new(int64(alice)) }),
			want: &audit.ChainError{Seq: 2, ID: 2, Reason: audit.Altered}, wantN: 1},
		{name: "actor and user id both changed", change: at(5, func(e *audit.Event) { e.UserID, e.ActorID = new(int64(bob)), new(int64(bob)) }),
			want: &audit.ChainError{Seq: 5, ID: 5, Reason: audit.Altered}, wantN: 4},
		// The database sets user_id to NULL when the user is deleted.
		{name: "user id set to null", change: at(5, func(e *audit.Event) { e.UserID = nil }), wantN: 10},
		{name: "prev hash changed", change: at(4, func(e *audit.Event) { e.PrevHash = audit.Genesis }),
			want: &audit.ChainError{Seq: 4, ID: 4, Reason: audit.Relinked}, wantN: 3},
		{name: "event removed from the middle", change: without(5),
			want: &audit.ChainError{Seq: 5, Reason: audit.Missing}, wantN: 4},
		{name: "first event removed", change: without(1),
			want: &audit.ChainError{Seq: 1, Reason: audit.Missing}, wantN: 0},
		// Two rows swapped as the store returns them: at position 4 the
		// verifier finds seq 5, so seq 4 is missing where it should be.
		{name: "events swapped", change: func(_ testing.TB, ev []audit.Event) []audit.Event {
			i, j := bySeq(ev, 4), bySeq(ev, 5)
			ev[i], ev[j] = ev[j], ev[i]
			return ev
		}, want: &audit.ChainError{Seq: 4, Reason: audit.Missing}, wantN: 3},
		// Two events' positions exchanged (their seqs swapped too): event
		// 5 now sits at seq 4 but links to event 4's hash, not event 3's.
		{name: "events renumbered", change: func(_ testing.TB, ev []audit.Event) []audit.Event {
			i, j := bySeq(ev, 4), bySeq(ev, 5)
			ev[i].Seq, ev[j].Seq = ev[j].Seq, ev[i].Seq
			ev[i], ev[j] = ev[j], ev[i]
			return ev
		}, want: &audit.ChainError{Seq: 4, ID: 5, Reason: audit.Relinked}, wantN: 3},
		// A row copied in after its original is out of sequence.
		{name: "event duplicated", change: func(_ testing.TB, ev []audit.Event) []audit.Event {
			i := bySeq(ev, 5)
			return append(ev[:i+1:i+1], append([]audit.Event{ev[i]}, ev[i+1:]...)...)
		}, want: &audit.ChainError{Seq: 6, Reason: audit.Missing}, wantN: 5},
		// Without a key, a forger recomputes the hash; the next event
		// still links to the original.
		{name: "forged without a key, middle", change: forge(5, nil, func(e *audit.Event) { e.Data["reason"] = "x" }),
			want: &audit.ChainError{Seq: 6, ID: 6, Reason: audit.Relinked}, wantN: 5},
		// ... and the last event links to nothing after it, but State's
		// end holds its original hash.
		{name: "forged without a key, last", change: forge(10, nil, func(e *audit.Event) { e.Data["reason"] = "x" }),
			want: &audit.ChainError{Seq: 10, Reason: audit.EndMismatch}, wantN: 10},
		// With a key, a hash computed under another key does not match.
		{name: "forged with the wrong key", key: key, change: forge(10, bytes.Repeat([]byte{2}, 32), func(e *audit.Event) { e.Data["reason"] = "x" }),
			want: &audit.ChainError{Seq: 10, ID: 10, Reason: audit.Altered}, wantN: 9},
		{name: "forged with the key", key: key, change: forge(10, key, func(e *audit.Event) { e.Data["reason"] = "x" }),
			want: &audit.ChainError{Seq: 10, Reason: audit.EndMismatch}, wantN: 10},
		// The last event removed while State still records it: Verify
		// reads to State's end, so the absent position is Missing.
		{name: "last event removed", change: without(10),
			want: &audit.ChainError{Seq: 10, Reason: audit.Missing}, wantN: 9},
		// The last event removed and the end moved back by one, keeping
		// the removed event's hash: the new last event is not the end.
		{name: "last event removed, end seq rewound", change: without(10),
			changeState: func(st audit.ChainState, _ []audit.Event) audit.ChainState {
				st.End.Seq--
				return st
			},
			want: &audit.ChainError{Seq: 9, Reason: audit.EndMismatch}, wantN: 9},
		{name: "end hash changed", changeState: func(st audit.ChainState, _ []audit.Event) audit.ChainState {
			st.End.Hash = strings.Repeat("a", 64)
			return st
		}, want: &audit.ChainError{Seq: 10, Reason: audit.EndMismatch}, wantN: 10},
		// The limit Service.State documents: removing the newest events
		// and rewriting the end record consistently is not evident from
		// the database alone.
		{name: "last event removed, end rewritten", change: without(10),
			changeState: func(st audit.ChainState, events []audit.Event) audit.ChainState {
				st.End = audit.Head{Seq: 9, Hash: events[8].Hash}
				return st
			}, wantN: 9},
		{name: "start moved past the first event", changeState: func(st audit.ChainState, events []audit.Event) audit.ChainState {
			st.Start = audit.Head{Seq: 2, Hash: audit.Genesis}
			return st
		}, want: &audit.ChainError{Seq: 2, ID: 2, Reason: audit.Relinked}, wantN: 0},

		// A chain that records no key fingerprint (sealed before they
		// were): a first event that does not match may be a wrong key, and
		// the error says so; a later one is tampering.
		{name: "no fingerprint, first event changed", key: key, change: at(1, func(e *audit.Event) { e.Data["reason"] = "x" }),
			changeState: noFingerprint,
			want:        &audit.ChainError{Seq: 1, ID: 1, Reason: audit.Altered, KeyUnknown: true}, wantN: 0},
		{name: "no fingerprint, first event of the range changed", key: key, change: at(3, func(e *audit.Event) { e.Data["reason"] = "x" }),
			changeState: noFingerprint, from: 3,
			want: &audit.ChainError{Seq: 3, ID: 3, Reason: audit.Altered, KeyUnknown: true}, wantN: 0},
		{name: "no fingerprint, middle event changed", key: key, change: at(6, func(e *audit.Event) { e.Data["reason"] = "x" }),
			changeState: noFingerprint,
			want:        &audit.ChainError{Seq: 6, ID: 6, Reason: audit.Altered}, wantN: 5},
		{name: "no fingerprint, first event's user changed", key: key, change: at(1, func(e *audit.Event) { e.UserID = new(int64(99)) }),
			changeState: noFingerprint,
			want:        &audit.ChainError{Seq: 1, ID: 1, Reason: audit.Altered}, wantN: 0},
		{name: "no fingerprint, intact", key: key, changeState: noFingerprint, wantN: 10},

		// Ranges: a break outside the range is not seen, one inside is.
		{name: "data changed before the range", change: at(4, func(e *audit.Event) { e.Data["reason"] = "x" }), from: 5, wantN: 6},
		{name: "data changed after the range", change: at(8, func(e *audit.Event) { e.Data["reason"] = "x" }), from: 2, to: 7, wantN: 6},
		{name: "data changed in the range", change: at(6, func(e *audit.Event) { e.Data["reason"] = "x" }), from: 3, to: 7,
			want: &audit.ChainError{Seq: 6, ID: 6, Reason: audit.Altered}, wantN: 3},
		{name: "event before the range removed", change: without(4), from: 5,
			want: &audit.ChainError{Seq: 4, Reason: audit.Missing}, wantN: 0},
		{name: "event before the range relinked", change: at(4, func(e *audit.Event) { e.Hash = strings.Repeat("b", 64) }), from: 5,
			want: &audit.ChainError{Seq: 5, ID: 5, Reason: audit.Relinked}, wantN: 0},
		{name: "last event of a range removed", change: without(7), from: 3, to: 7,
			want: &audit.ChainError{Seq: 7, Reason: audit.Missing}, wantN: 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			db := memory.New()
			newUser(t, db, "alice")
			newUser(t, db, "bob")
			mem := db.Audit()
			fake := &fakeStore{Store: mem}
			svc := newService(t, fake, audit.Config{Key: tc.key, Now: stepClock(t0, time.Second)})
			for i := range 10 {
				e := audit.Event{Type: audit.LoginFailed, Severity: audit.Warning, Data: map[string]any{"reason": "wrong_password", "i": i},
					ClientIP: netip.MustParseAddr("192.0.2.1"), UserAgent: "agent", CorrelationID: fmt.Sprint("c", i), Source: "user"}
				if i%2 == 0 {
					e.UserID = new(int64(alice))
				}
				record(t, ctx, svc, e)
			}
			var stored []audit.Event
			if err := mem.Chain(ctx, 1, 10, func(b []audit.Event) error { stored = append(stored, b...); return nil }); err != nil {
				t.Fatal(err)
			}
			if tc.change != nil {
				fake.ChainFn = func(ctx context.Context, from, to int64, fn func([]audit.Event) error) error {
					return mem.Chain(ctx, from, to, func(b []audit.Event) error {
						if b = tc.change(t, b); len(b) == 0 {
							return nil // as the stores do: no empty batches
						}
						return fn(b)
					})
				}
			}
			if tc.changeState != nil {
				fake.StateFn = func(ctx context.Context) (audit.ChainState, error) {
					st, err := mem.State(ctx)
					return tc.changeState(st, stored), err
				}
			}
			n, err := svc.Verify(ctx, tc.from, tc.to)
			if n != tc.wantN {
				t.Errorf("Verify checked %d events, want %d", n, tc.wantN)
			}
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Verify = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, audit.ErrChainBroken) {
				t.Fatalf("Verify = %v, want ErrChainBroken", err)
			}
			var ce *audit.ChainError
			if !errors.As(err, &ce) {
				t.Fatalf("Verify = %T %v, want a *ChainError", err, err)
			}
			if *ce != *tc.want {
				t.Errorf("Verify = %+v, want %+v", *ce, *tc.want)
			}
			if !strings.Contains(err.Error(), fmt.Sprintf("seq %d", tc.want.Seq)) || !strings.Contains(err.Error(), string(tc.want.Reason)) {
				t.Errorf("error %q does not name seq %d and %q", err, tc.want.Seq, tc.want.Reason)
			}
		})
	}
}

func TestVerifyDeletedUser(t *testing.T) {
	// The real store's ON DELETE SET NULL, not a fake.
	ctx := context.Background()
	db := memory.New()
	alice := newUser(t, db, "alice")
	svc := newService(t, db.Audit(), audit.Config{Key: bytes.Repeat([]byte{3}, 32)})
	record(t, ctx, svc, audit.Event{Type: audit.UserRegistered, UserID: new(alice)}, audit.Event{Type: audit.UserDeleted, UserID: new(alice)})
	if err := db.Users().Delete(ctx, alice); err != nil {
		t.Fatal(err)
	}
	verify(t, svc, 2)
}

func TestVerifyStoreErrors(t *testing.T) {
	ctx := context.Background()
	boom := errors.New("connection refused")
	mem := memory.New().Audit()
	fake := &fakeStore{Store: mem}
	svc := newService(t, fake, audit.Config{})
	record(t, ctx, svc, audit.Event{Type: audit.Logout}, audit.Event{Type: audit.Logout})

	fake.StateFn = func(context.Context) (audit.ChainState, error) { return audit.ChainState{}, boom }
	if _, err := svc.Verify(ctx, 0, 0); !errors.Is(err, boom) || errors.Is(err, audit.ErrChainBroken) {
		t.Errorf("Verify with State failing = %v", err)
	}
	if _, err := svc.State(ctx); !errors.Is(err, boom) {
		t.Errorf("State = %v", err)
	}
	fake.StateFn = nil
	fake.ChainFn = func(context.Context, int64, int64, func([]audit.Event) error) error { return boom }
	for _, from := range []int64{0, 2} {
		if _, err := svc.Verify(ctx, from, 0); !errors.Is(err, boom) || errors.Is(err, audit.ErrChainBroken) {
			t.Errorf("Verify(%d, 0) with Chain failing = %v; want the store's error, not a broken chain", from, err)
		}
	}
}

func TestVerifyEmptyBatch(t *testing.T) {
	ctx := context.Background()
	mem := memory.New().Audit()
	svc := newService(t, &fakeStore{Store: mem, ChainFn: func(ctx context.Context, from, to int64, fn func([]audit.Event) error) error {
		if err := fn(nil); err != nil {
			return err
		}
		return mem.Chain(ctx, from, to, fn)
	}}, audit.Config{})
	record(t, ctx, svc, audit.Event{Type: audit.Logout}, audit.Event{Type: audit.Logout}, audit.Event{Type: audit.Logout})
	for _, from := range []int64{0, 2} {
		if n, err := svc.Verify(ctx, from, 0); err != nil || n != 4-max(from, 1) {
			t.Errorf("Verify(%d, 0) = %d, %v", from, n, err)
		}
	}
}
