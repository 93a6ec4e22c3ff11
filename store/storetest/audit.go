package storetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cedrina/cedrina/audit"
	"github.com/cedrina/cedrina/store"
)

// RunAuditStore checks an [audit.Store]: what Append stores and how it
// chains, Query's filters, order and keyset paging, State, Chain and
// TrimChain, and, with a user store and a Transactor beside it, users
// that do not exist or are deleted and transactions spanning both.
//
// The cases seal with the suite's own [audit.Sealer], whose hash is a
// function of the position and the link only, so that every link can be
// checked; a few cases run an [audit.Service] on the store end to end.
func RunAuditStore(t *testing.T, newStores Factory) {
	subtests(t, newStores, func(s Stores) bool { return s.Audit != nil }, auditCases)
	subtests(t, newStores, func(s Stores) bool { return s.Audit != nil && s.Users != nil }, auditUserCases)
	subtests(t, newStores, func(s Stores) bool { return s.Audit != nil && s.Users != nil && s.Tx != nil }, auditTxCases)
}

var auditCases = map[string]func(*testing.T, Stores){
	"RoundTrip":               testAuditRoundTrip,
	"InitialState":            testAuditInitialState,
	"SealChains":              testAuditSealChains,
	"ConcurrentAppends":       testAuditConcurrentAppends,
	"UnknownUser":             testAuditUnknownUser,
	"QueryFilters":            testAuditQueryFilters,
	"QueryPaging":             testAuditQueryPaging,
	"ReturnsCopies":           testAuditReturnsCopies,
	"Chain":                   testAuditChain,
	"TrimChainStopsAtNewer":   testAuditTrimStopsAtNewer,
	"TrimChainBatches":        testAuditTrimBatches,
	"TrimChainFnError":        testAuditTrimFnError,
	"TrimChainNothingOlder":   testAuditTrimNothingOlder,
	"CanceledContext":         testAuditCanceledContext,
	"CanceledDuringAppend":    testAuditCanceledDuringAppend,
	"ServiceRecordAndVerify":  testAuditServiceVerify,
	"ServiceQueryPages":       testAuditServiceQueryPages,
	"ServiceArchiveAndVerify": testAuditServiceArchive,
	"KeyFingerprintRecorded":  testAuditKeyFingerprintRecorded,
	"SealErrorChangesNothing": testAuditSealError,
	"ServiceKeyFingerprint":   testAuditServiceKeyFingerprint,
	"ServiceKeyMismatch":      testAuditServiceKeyMismatch,
	"ServiceUnkeyedChain":     testAuditServiceUnkeyedChain,
	"UnknownKeyAdopted":       testAuditUnknownKeyAdopted,
	"ServiceVerifyUnknownKey": testAuditServiceVerifyUnknownKey,
}

var auditUserCases = map[string]func(*testing.T, Stores){
	"ExistingUser":             testAuditExistingUser,
	"DeletedUser":              testAuditDeletedUser,
	"QueryByUser":              testAuditQueryByUser,
	"ServiceVerifyDeletedUser": testAuditServiceDeletedUser,
}

var auditTxCases = map[string]func(*testing.T, Stores){
	"TxRollbackWithUser": testAuditTxRollback,
	"TxCommitWithUser":   testAuditTxCommit,
}

// linkHash is the suite's stand-in for the chain's hash: a function of an
// event's position and the hash it links to, so that a wrong Seq or
// PrevHash shows.
func linkHash(seq int64, prev string) string {
	sum := sha256.Sum256([]byte(strconv.FormatInt(seq, 10) + "|" + prev))
	return hex.EncodeToString(sum[:])
}

// seal is the suite's [audit.Sealer]: it numbers the events on from end
// and links each to the one before with linkHash. Like a sealer from
// before key fingerprints, it returns an end without one ("", unknown).
func seal(end audit.Head, events []audit.Event) (audit.Head, error) {
	for i := range events {
		e := &events[i]
		e.Seq, e.PrevHash = end.Seq+1, end.Hash
		e.Hash = linkHash(e.Seq, e.PrevHash)
		end = audit.Head{Seq: e.Seq, Hash: e.Hash}
	}
	return end, nil
}

// sealAs returns a sealer that seals like seal and records the key
// fingerprint fp with the end.
func sealAs(fp string) audit.Sealer {
	return func(end audit.Head, events []audit.Event) (audit.Head, error) {
		end, err := seal(end, events)
		end.KeyFingerprint = fp
		return end, err
	}
}

// sealRecorder seals like seal and remembers what each call was given and
// returned.
type sealRecorder struct {
	mu    sync.Mutex
	given []audit.Head
	sizes []int
	ended []audit.Head
}

func (r *sealRecorder) seal(end audit.Head, events []audit.Event) (audit.Head, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.given = append(r.given, end)
	r.sizes = append(r.sizes, len(events))
	out, err := seal(end, events)
	r.ended = append(r.ended, out)
	return out, err
}

// head returns the head of the chain after the event with position seq,
// as seal builds it from an empty chain.
func head(seq int64) audit.Head {
	h := audit.Head{Hash: audit.Genesis}
	for h.Seq < seq {
		h.Seq++
		h.Hash = linkHash(h.Seq, h.Hash)
	}
	return h
}

// newEvent returns an INFO login_success event named name (its Source)
// at the given time, with empty documents.
func newEvent(name string, at time.Time) audit.Event {
	return audit.Event{
		Type:     audit.LoginSucceeded,
		Severity: audit.Info,
		Source:   name,
		Time:     at,
		Data:     map[string]any{},
		Metadata: map[string]any{},
	}
}

// mustAppend appends events in one call with seal and returns them as
// Append left them (IDs set).
func mustAppend(t *testing.T, s Stores, events ...audit.Event) []audit.Event {
	t.Helper()
	if err := s.Audit.Append(context.Background(), events, seal); err != nil {
		t.Fatalf("Append: %v", err)
	}
	return events
}

// queryAll returns every event matching f (Limit 1000 when f has none).
func queryAll(t *testing.T, s Stores, f audit.Filter) []audit.Event {
	t.Helper()
	if f.Limit == 0 {
		f.Limit = 1000
	}
	got, err := s.Audit.Query(context.Background(), f)
	if err != nil {
		t.Fatalf("Query(%+v): %v", f, err)
	}
	return got
}

// chainAll returns the events Chain(from, to) gives and the size of each
// batch; an empty batch fails the test.
func chainAll(t *testing.T, s Stores, from, to int64) ([]audit.Event, []int) {
	t.Helper()
	var events []audit.Event
	var sizes []int
	err := s.Audit.Chain(context.Background(), from, to, func(b []audit.Event) error {
		if len(b) == 0 {
			return errors.New("chain called fn with an empty batch")
		}
		events = append(events, b...)
		sizes = append(sizes, len(b))
		return nil
	})
	if err != nil {
		t.Fatalf("Chain(%d, %d): %v", from, to, err)
	}
	return events, sizes
}

func mustState(t *testing.T, s Stores) audit.ChainState {
	t.Helper()
	st, err := s.Audit.State(context.Background())
	if err != nil {
		t.Fatalf("State: %v", err)
	}
	return st
}

// checkState fails the test unless the chain starts after position start
// and ends at position end, as seal links them.
func checkState(t *testing.T, s Stores, start, end int64) {
	t.Helper()
	h := head(start - 1)
	want := audit.ChainState{Start: audit.Head{Seq: start, Hash: h.Hash}, End: head(end)}
	if got := mustState(t, s); got != want {
		t.Fatalf("State = %+v, want %+v", got, want)
	}
}

// checkSeqs fails the test unless events are the positions from..to in
// order, each linked to the one before as seal links them.
func checkSeqs(t *testing.T, events []audit.Event, from, to int64) {
	t.Helper()
	var seqs []int64
	for _, e := range events {
		seqs = append(seqs, e.Seq)
	}
	var want []int64
	for q := from; q <= to; q++ {
		want = append(want, q)
	}
	if !slices.Equal(seqs, want) {
		t.Fatalf("Seqs = %v, want %d..%d", seqs, from, to)
	}
	for _, e := range events {
		if e.PrevHash != head(e.Seq-1).Hash || e.Hash != linkHash(e.Seq, e.PrevHash) {
			t.Fatalf("event seq %d: PrevHash %.12s…, Hash %.12s…, not as sealed", e.Seq, e.PrevHash, e.Hash)
		}
	}
}

// names returns the events' Sources, the suite's names for them.
func names(events []audit.Event) []string {
	out := make([]string, 0, len(events))
	for _, e := range events {
		out = append(out, e.Source)
	}
	return out
}

func byName(t *testing.T, events []audit.Event, name string) audit.Event {
	t.Helper()
	for _, e := range events {
		if e.Source == name {
			return e
		}
	}
	t.Fatalf("no event named %q", name)
	return audit.Event{}
}

// newestFirst sorts events as Query returns them: Time, then ID, descending.
func newestFirst(events []audit.Event) []audit.Event {
	out := slices.Clone(events)
	slices.SortFunc(out, func(a, b audit.Event) int {
		if c := b.Time.Compare(a.Time); c != 0 {
			return c
		}
		return int(b.ID - a.ID)
	})
	return out
}

func fmtID(p *int64) string {
	if p == nil {
		return "<nil>"
	}
	return strconv.FormatInt(*p, 10)
}

// diffEvent describes how got differs from want, or returns "".
func diffEvent(got, want *audit.Event) string {
	var d []string
	eq := func(name string, g, w any) {
		if !reflect.DeepEqual(g, w) {
			d = append(d, fmt.Sprintf("%s = %#v, want %#v", name, g, w))
		}
	}
	eq("ID", got.ID, want.ID)
	if fmtID(got.UserID) != fmtID(want.UserID) {
		d = append(d, fmt.Sprintf("UserID = %s, want %s", fmtID(got.UserID), fmtID(want.UserID)))
	}
	if fmtID(got.ActorID) != fmtID(want.ActorID) {
		d = append(d, fmt.Sprintf("ActorID = %s, want %s", fmtID(got.ActorID), fmtID(want.ActorID)))
	}
	eq("Type", got.Type, want.Type)
	eq("Data", got.Data, want.Data)
	if got.ClientIP != want.ClientIP {
		d = append(d, fmt.Sprintf("ClientIP = %v, want %v", got.ClientIP, want.ClientIP))
	}
	eq("UserAgent", got.UserAgent, want.UserAgent)
	eq("CorrelationID", got.CorrelationID, want.CorrelationID)
	if !got.Time.Equal(want.Time) {
		d = append(d, fmt.Sprintf("Time = %v, want %v", got.Time, want.Time))
	}
	if got.Time.Location() != time.UTC {
		d = append(d, fmt.Sprintf("Time location = %v, want UTC", got.Time.Location()))
	}
	eq("Severity", got.Severity, want.Severity)
	eq("Source", got.Source, want.Source)
	eq("Metadata", got.Metadata, want.Metadata)
	eq("Seq", got.Seq, want.Seq)
	eq("PrevHash", got.PrevHash, want.PrevHash)
	eq("Hash", got.Hash, want.Hash)
	if len(d) == 0 {
		return ""
	}
	return strings.Join(d, "; ")
}

// testAuditRoundTrip: every field comes back from Query and Chain as
// stored, IDs increase, ActorID is the UserID given.
func testAuditRoundTrip(t *testing.T, s Stores) {
	// A user that exists keeps its id; without a user store, the id names
	// no user and is stored as NULL.
	uid := ptr(int64(987654))
	var wantUID *int64
	if s.Users != nil {
		u := mustCreate(t, s.Users, NewUser("auditee"))
		uid, wantUID = &u.ID, &u.ID
	}
	full4 := audit.Event{
		UserID:        uid,
		Type:          audit.LoginFailed,
		Data:          map[string]any{"reason": "bad password", "attempts": 3, "ratio": 1.5, "nested": map[string]any{"list": []any{1, "x", true, nil}}},
		ClientIP:      netip.MustParseAddr("203.0.113.7"),
		UserAgent:     `Mozilla/5.0 "o'brien"; DROP TABLE audit_logs;-- ünïcödé`,
		CorrelationID: "corr-4",
		Time:          base.Add(time.Microsecond),
		Severity:      audit.Critical,
		Source:        "user",
		Metadata:      map[string]any{"k": "v", "n": 7, "名前": "値"},
	}
	full6 := audit.Event{
		Type:          audit.EventType("host.custom-event_2"),
		Data:          map[string]any{"empty": map[string]any{}, "list": []any{}},
		ClientIP:      netip.MustParseAddr("2001:db8::1"),
		UserAgent:     "curl/8.0",
		CorrelationID: "corr-6",
		Time:          base.Add(-999999 * time.Microsecond),
		Severity:      audit.Warning,
		Source:        "session",
		Metadata:      map[string]any{},
	}
	empty := audit.Event{
		Type:     audit.Logout,
		Data:     map[string]any{},
		Time:     base.Add(time.Hour),
		Severity: audit.Info,
		Metadata: map[string]any{},
	}
	got := mustAppend(t, s, full4, full6)
	got = append(got, mustAppend(t, s, empty)...)

	want := []audit.Event{full4, full6, empty}
	want[0].Data = map[string]any{"reason": "bad password", "attempts": float64(3), "ratio": 1.5, "nested": map[string]any{"list": []any{float64(1), "x", true, nil}}}
	want[0].Metadata = map[string]any{"k": "v", "n": float64(7), "名前": "値"}
	want[0].UserID, want[0].ActorID = wantUID, uid
	for i := range want {
		if got[i].ID <= 0 || i > 0 && got[i].ID <= got[i-1].ID {
			t.Fatalf("Append set IDs %d, %d, %d; want them positive and increasing", got[0].ID, got[1].ID, got[2].ID)
		}
		if fmtID(got[i].ActorID) != fmtID(want[i].ActorID) {
			t.Errorf("event %d: Append set ActorID %s, want %s", i, fmtID(got[i].ActorID), fmtID(want[i].ActorID))
		}
		want[i].ID = got[i].ID
		h := head(int64(i) + 1)
		want[i].Seq, want[i].PrevHash, want[i].Hash = h.Seq, head(h.Seq-1).Hash, h.Hash
	}

	queried := queryAll(t, s, audit.Filter{})
	if len(queried) != 3 {
		t.Fatalf("Query returned %d events, want 3", len(queried))
	}
	chained, _ := chainAll(t, s, 1, 3)
	if len(chained) != 3 {
		t.Fatalf("Chain returned %d events, want 3", len(chained))
	}
	for i := range want {
		for _, e := range queried {
			if e.ID == want[i].ID {
				if d := diffEvent(&e, &want[i]); d != "" {
					t.Errorf("Query, event %d: %s", i, d)
				}
			}
		}
		if d := diffEvent(&chained[i], &want[i]); d != "" {
			t.Errorf("Chain, event %d: %s", i, d)
		}
	}
}

func testAuditInitialState(t *testing.T, s Stores) {
	want := audit.ChainState{Start: audit.Head{Seq: 1, Hash: audit.Genesis}, End: audit.Head{Seq: 0, Hash: audit.Genesis}}
	if got := mustState(t, s); got != want {
		t.Fatalf("State of an empty store = %+v, want %+v", got, want)
	}
	if got := queryAll(t, s, audit.Filter{}); len(got) != 0 {
		t.Fatalf("Query on an empty store = %d events, want 0", len(got))
	}
	calls := 0
	if err := s.Audit.Chain(context.Background(), 1, 100, func([]audit.Event) error { calls++; return nil }); err != nil || calls != 0 {
		t.Fatalf("Chain on an empty store: %d calls, err %v; want none, nil", calls, err)
	}
}

// testAuditSealChains: seal gets the current end, once per Append, and
// the state's end is what it returned.
func testAuditSealChains(t *testing.T, s Stores) {
	ctx := context.Background()
	var r sealRecorder
	for i, n := range []int{3, 1, 2} {
		events := make([]audit.Event, n)
		for j := range events {
			events[j] = newEvent(fmt.Sprintf("a%d-%d", i, j), base.Add(time.Duration(i)*time.Second))
		}
		if err := s.Audit.Append(ctx, events, r.seal); err != nil {
			t.Fatalf("Append %d: %v", i, err)
		}
		if len(r.given) != i+1 {
			t.Fatalf("after %d Appends, seal was called %d times", i+1, len(r.given))
		}
		st := mustState(t, s)
		if st.End != r.ended[i] {
			t.Fatalf("after Append %d: State.End = %+v, want what seal returned, %+v", i, st.End, r.ended[i])
		}
		if st.Start != (audit.Head{Seq: 1, Hash: audit.Genesis}) {
			t.Fatalf("after Append %d: State.Start = %+v, want {1 Genesis}", i, st.Start)
		}
	}
	wantGiven := []audit.Head{head(0), head(3), head(4)}
	if !slices.Equal(r.given, wantGiven) || !slices.Equal(r.sizes, []int{3, 1, 2}) {
		t.Fatalf("seal was given ends %+v with %v events, want %+v with [3 1 2]", r.given, r.sizes, wantGiven)
	}
	checkState(t, s, 1, 6)
	events, _ := chainAll(t, s, 1, 6)
	checkSeqs(t, events, 1, 6)
	if got, want := names(events), []string{"a0-0", "a0-1", "a0-2", "a1-0", "a2-0", "a2-1"}; !slices.Equal(got, want) {
		t.Fatalf("chain holds %v, want %v (each Append in order)", got, want)
	}
}

// testAuditConcurrentAppends: 16 goroutines append 50 events each, 5 per
// call. The chain is 1..800 without gaps or duplicates, every link holds,
// and each call's events are consecutive: appends are serialized.
func testAuditConcurrentAppends(t *testing.T, s Stores) {
	const goroutines, calls, per = 16, 10, 5
	var wg sync.WaitGroup
	start := make(chan struct{})
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for c := range calls {
				events := make([]audit.Event, per)
				for k := range events {
					events[k] = newEvent(fmt.Sprintf("g%02d", g), base.Add(time.Duration(c)*time.Second))
					events[k].CorrelationID = fmt.Sprintf("g%02d-c%02d", g, c)
					events[k].Data = map[string]any{"k": k}
				}
				if err := s.Audit.Append(context.Background(), events, seal); err != nil {
					t.Errorf("goroutine %d, Append %d: %v", g, c, err)
					return
				}
			}
		}()
	}
	close(start)
	wg.Wait()
	if t.Failed() {
		return
	}
	const n = goroutines * calls * per
	events, _ := chainAll(t, s, 1, n+10)
	checkSeqs(t, events, 1, n)
	checkState(t, s, 1, n)
	first := map[string]int64{}
	for _, e := range events {
		k, _ := e.Data["k"].(float64)
		if k == 0 {
			first[e.CorrelationID] = e.Seq
			continue
		}
		if f, ok := first[e.CorrelationID]; !ok || e.Seq != f+int64(k) {
			t.Fatalf("event %d of call %s has seq %d, first of the call %d: one Append's events are not consecutive", int(k), e.CorrelationID, e.Seq, f)
		}
	}
	if len(first) != goroutines*calls {
		t.Fatalf("%d calls in the chain, want %d", len(first), goroutines*calls)
	}
	if got := queryAll(t, s, audit.Filter{}); len(got) != n {
		t.Fatalf("Query returned %d events, want %d", len(got), n)
	}
}

// testAuditUnknownUser: a UserID naming no user is stored as NULL, and
// ActorID keeps it.
func testAuditUnknownUser(t *testing.T, s Stores) {
	const ghost = 987654
	got := mustAppend(t, s, func() audit.Event {
		e := newEvent("ghost", base)
		e.UserID = ptr(int64(ghost))
		return e
	}())
	if fmtID(got[0].ActorID) != "987654" {
		t.Errorf("Append set ActorID %s, want 987654", fmtID(got[0].ActorID))
	}
	stored := queryAll(t, s, audit.Filter{})
	if len(stored) != 1 {
		t.Fatalf("Query returned %d events, want 1", len(stored))
	}
	if stored[0].UserID != nil || fmtID(stored[0].ActorID) != "987654" {
		t.Fatalf("stored UserID %s, ActorID %s; want <nil>, 987654", fmtID(stored[0].UserID), fmtID(stored[0].ActorID))
	}
	if got := queryAll(t, s, audit.Filter{UserID: ptr(int64(ghost))}); len(got) != 0 {
		t.Fatalf("Query by the unknown user returned %v, want none (user_id is NULL)", names(got))
	}
}

// auditFixture: ten events, appended in this order (so IDs increase in
// it), with times that are not in that order and three ties.
func auditFixture(t *testing.T, s Stores) []audit.Event {
	t.Helper()
	mk := func(name string, typ audit.EventType, sev audit.Severity, ago time.Duration, corr string) audit.Event {
		e := newEvent(name, base.Add(-ago))
		e.Type, e.Severity, e.CorrelationID = typ, sev, corr
		return e
	}
	m := time.Minute
	return mustAppend(t, s,
		mk("e0", audit.LoginSucceeded, audit.Info, 5*m, "c1"),
		mk("e1", audit.LoginFailed, audit.Warning, 4*m, "c1"),
		mk("e2", audit.LoginFailed, audit.Warning, 3*m, "c2"),
		mk("e3", audit.AccountLocked, audit.Critical, 3*m, "c2"),
		mk("e4", audit.Logout, audit.Info, 2*m, ""),
		mk("e5", audit.LoginSucceeded, audit.Info, 2*m, "c1"),
		mk("e6", audit.LoginSucceeded, audit.Error, 2*m, ""),
		mk("e7", audit.PasswordChanged, audit.Info, 1*m, "c3"),
		mk("e8", audit.LoginFailed, audit.Error, 0, "c3"),
		mk("e9", audit.LoginSucceeded, audit.Info, 10*m, "c1"),
	)
}

func testAuditQueryFilters(t *testing.T, s Stores) {
	events := auditFixture(t, s)
	cursor := func(name string) *audit.Cursor {
		e := byName(t, events, name)
		return &audit.Cursor{Time: e.Time, ID: e.ID}
	}
	m := time.Minute
	ls := audit.LoginSucceeded
	hugeID := int64(1 << 40)
	for _, tc := range []struct {
		name string
		f    audit.Filter
		want []string
	}{
		{"all newest first, ties by id", audit.Filter{}, []string{"e8", "e7", "e6", "e5", "e4", "e3", "e2", "e1", "e0", "e9"}},
		{"one type", audit.Filter{Types: []audit.EventType{audit.LoginFailed}}, []string{"e8", "e2", "e1"}},
		{"two types", audit.Filter{Types: []audit.EventType{audit.LoginFailed, audit.AccountLocked}}, []string{"e8", "e3", "e2", "e1"}},
		{"one severity", audit.Filter{Severities: []audit.Severity{audit.Error}}, []string{"e8", "e6"}},
		{"two severities", audit.Filter{Severities: []audit.Severity{audit.Warning, audit.Critical}}, []string{"e3", "e2", "e1"}},
		{"from inclusive", audit.Filter{From: base.Add(-2 * m)}, []string{"e8", "e7", "e6", "e5", "e4"}},
		{"to exclusive", audit.Filter{To: base.Add(-2 * m)}, []string{"e3", "e2", "e1", "e0", "e9"}},
		{"from and to", audit.Filter{From: base.Add(-3 * m), To: base.Add(-1 * m)}, []string{"e6", "e5", "e4", "e3", "e2"}},
		{"empty window", audit.Filter{From: base, To: base}, []string{}},
		{"correlation id", audit.Filter{CorrelationID: "c1"}, []string{"e5", "e1", "e0", "e9"}},
		{"type and severity", audit.Filter{Types: []audit.EventType{ls}, Severities: []audit.Severity{audit.Info}}, []string{"e5", "e0", "e9"}},
		{"types, correlation and window", audit.Filter{Types: []audit.EventType{ls, audit.LoginFailed}, CorrelationID: "c1", From: base.Add(-5 * m), To: base}, []string{"e5", "e1", "e0"}},
		{"no match", audit.Filter{Types: []audit.EventType{audit.Logout}, Severities: []audit.Severity{audit.Critical}}, []string{}},
		{"unknown correlation id", audit.Filter{CorrelationID: "c"}, []string{}},
		{"limit", audit.Filter{Limit: 3}, []string{"e8", "e7", "e6"}},
		{"limit in a tie", audit.Filter{Limit: 4}, []string{"e8", "e7", "e6", "e5"}},
		{"limit with a filter", audit.Filter{Types: []audit.EventType{ls}, Limit: 2}, []string{"e6", "e5"}},
		{"limit 1", audit.Filter{Limit: 1}, []string{"e8"}},
		{"after an event in a tie", audit.Filter{After: cursor("e5")}, []string{"e4", "e3", "e2", "e1", "e0", "e9"}},
		{"after, with a filter", audit.Filter{Types: []audit.EventType{ls}, After: cursor("e6")}, []string{"e5", "e0", "e9"}},
		{"after, with a window and a limit", audit.Filter{From: base.Add(-5 * m), After: cursor("e4"), Limit: 3}, []string{"e3", "e2", "e1"}},
		{"after a time with id 0", audit.Filter{After: &audit.Cursor{Time: base.Add(-2 * m), ID: 0}}, []string{"e3", "e2", "e1", "e0", "e9"}},
		{"after a time between events", audit.Filter{After: &audit.Cursor{Time: base.Add(-150 * time.Second), ID: 1 << 40}}, []string{"e3", "e2", "e1", "e0", "e9"}},
		{"after the oldest", audit.Filter{After: cursor("e9")}, []string{}},
		{"a user id beyond 32 bits", audit.Filter{UserID: &hugeID}, []string{}},
	} {
		got, err := s.Audit.Query(context.Background(), func() audit.Filter {
			f := tc.f
			if f.Limit == 0 {
				f.Limit = 1000
			}
			return f
		}())
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if g := names(got); !slices.Equal(g, tc.want) {
			t.Errorf("%s: Query = %v, want %v", tc.name, g, tc.want)
		}
	}
}

// testAuditQueryPaging pages through 30 events, most sharing their time
// with others, with several page sizes: every event exactly once, in
// order.
func testAuditQueryPaging(t *testing.T, s Stores) {
	var all []audit.Event
	for c := range 3 {
		events := make([]audit.Event, 10)
		for i := range events {
			n := c*10 + i
			events[i] = newEvent(fmt.Sprintf("p%02d", n), base.Add(time.Duration(n*7%4)*time.Second))
			if n%3 == 0 {
				events[i].Severity = audit.Warning
			}
		}
		all = append(all, mustAppend(t, s, events...)...)
	}
	for _, f := range []audit.Filter{{}, {Severities: []audit.Severity{audit.Warning}}} {
		var want []audit.Event
		for _, e := range all {
			if len(f.Severities) == 0 || e.Severity == f.Severities[0] {
				want = append(want, e)
			}
		}
		want = newestFirst(want)
		for _, limit := range []int{1, 4, 7, 10, 30, 1000} {
			f := f
			f.Limit, f.After = limit, nil
			var got []audit.Event
			for pages := 0; ; pages++ {
				if pages > len(want) {
					t.Fatalf("severities %v, limit %d: paging does not end", f.Severities, limit)
				}
				page := queryAll(t, s, f)
				if len(page) > limit {
					t.Fatalf("severities %v, limit %d: a page of %d events", f.Severities, limit, len(page))
				}
				if len(page) == 0 {
					break
				}
				got = append(got, page...)
				last := page[len(page)-1]
				f.After = &audit.Cursor{Time: last.Time, ID: last.ID}
			}
			if g, w := names(got), names(want); !slices.Equal(g, w) {
				t.Errorf("severities %v, limit %d: pages gave %v, want %v", f.Severities, limit, g, w)
			}
		}
	}
}

// testAuditReturnsCopies: neither the caller's documents nor the ones
// Query returns share memory with the store.
func testAuditReturnsCopies(t *testing.T, s Stores) {
	e := newEvent("copy", base)
	e.Data = map[string]any{"k": "v", "nested": map[string]any{"a": "b"}}
	events := mustAppend(t, s, e)
	events[0].Data["k"] = "changed after Append"
	events[0].Data["nested"].(map[string]any)["a"] = "changed"
	got := queryAll(t, s, audit.Filter{})
	if len(got) != 1 {
		t.Fatalf("Query returned %d events, want 1", len(got))
	}
	if got[0].Data["k"] != "v" || got[0].Data["nested"].(map[string]any)["a"] != "b" {
		t.Fatalf("the store shares memory with Append's caller: %v", got[0].Data)
	}
	got[0].Data["k"] = "changed after Query"
	got[0].Data["nested"].(map[string]any)["a"] = "changed"
	chained, _ := chainAll(t, s, 1, 1)
	if len(chained) != 1 || chained[0].Metadata == nil {
		t.Fatalf("Chain(1, 1) = %+v, want one event with an empty Metadata document", chained)
	}
	chained[0].Metadata["x"] = "added after Chain"
	again := queryAll(t, s, audit.Filter{})
	if again[0].Data["k"] != "v" || again[0].Data["nested"].(map[string]any)["a"] != "b" || len(again[0].Metadata) != 0 {
		t.Fatalf("the store shares memory with its callers: %v, %v", again[0].Data, again[0].Metadata)
	}
}

func testAuditChain(t *testing.T, s Stores) {
	ctx := context.Background()
	cut := base.Add(-time.Hour)
	var appended []audit.Event
	for c, n := range []int{4, 3, 3} {
		events := make([]audit.Event, n)
		for i := range events {
			at := base.Add(time.Duration(c) * time.Minute)
			if c == 0 {
				at = cut.Add(-time.Duration(n-i) * time.Minute) // the first four are older than cut
			}
			events[i] = newEvent(fmt.Sprintf("c%d-%d", c, i), at)
		}
		appended = append(appended, mustAppend(t, s, events...)...)
	}
	all, sizes := chainAll(t, s, 1, 10)
	checkSeqs(t, all, 1, 10)
	if got := names(all); !slices.Equal(got, names(appended)) {
		t.Fatalf("Chain(1, 10) = %v, want the events in the order appended, %v", got, names(appended))
	}
	total := 0
	for _, n := range sizes {
		total += n
	}
	if total != 10 {
		t.Fatalf("batches %v, want 10 events in all", sizes)
	}
	// Chain gives the events as Query does.
	queried := queryAll(t, s, audit.Filter{})
	for i := range all {
		for j := range queried {
			if queried[j].ID == all[i].ID {
				if d := diffEvent(&all[i], &queried[j]); d != "" {
					t.Errorf("seq %d: Chain and Query differ: %s", all[i].Seq, d)
				}
			}
		}
	}
	for _, tc := range []struct {
		from, to int64
		first    int64 // 0: no events
		last     int64
	}{
		{3, 7, 3, 7},
		{5, 5, 5, 5},
		{8, 100, 8, 10},
		{0, 2, 1, 2},
		{-5, 1, 1, 1},
		{11, 20, 0, 0},
		{7, 3, 0, 0},
	} {
		got, _ := chainAll(t, s, tc.from, tc.to)
		if tc.first == 0 {
			if len(got) != 0 {
				t.Errorf("Chain(%d, %d) gave seqs %d.., want none", tc.from, tc.to, got[0].Seq)
			}
			continue
		}
		checkSeqs(t, got, tc.first, tc.last)
	}

	// fn's error stops the walk and is returned.
	errStop := errors.New("storetest: stop")
	calls := 0
	err := s.Audit.Chain(ctx, 1, 10, func([]audit.Event) error { calls++; return errStop })
	if !errors.Is(err, errStop) || calls != 1 {
		t.Fatalf("Chain with a failing fn: err %v after %d calls, want fn's error after 1", err, calls)
	}

	// Removed events are absent.
	n, err := s.Audit.TrimChain(ctx, cut, 100, nil)
	if err != nil || n != 4 {
		t.Fatalf("TrimChain = %d, %v; want 4, nil", n, err)
	}
	rest, _ := chainAll(t, s, 1, 10)
	checkSeqs(t, rest, 5, 10)
	rest, _ = chainAll(t, s, 2, 6)
	checkSeqs(t, rest, 5, 6)
	if rest, _ = chainAll(t, s, 1, 4); len(rest) != 0 {
		t.Fatalf("Chain(1, 4) after removing 1..4 gave %d events", len(rest))
	}
}

// trimFixture appends ten events at the given offsets from base, in one
// call each, and returns them as stored.
func trimFixture(t *testing.T, s Stores, offsets []time.Duration) []audit.Event {
	t.Helper()
	for i, d := range offsets {
		mustAppend(t, s, newEvent(fmt.Sprintf("t%02d", i+1), base.Add(d)))
	}
	events, _ := chainAll(t, s, 1, int64(len(offsets)))
	return events
}

// trimmer is a TrimChain callback that records the batches it is given
// and fails on call failOn (0: never).
type trimmer struct {
	batches [][]audit.Event
	failOn  int
	err     error
}

func (r *trimmer) fn(b []audit.Event) error {
	r.batches = append(r.batches, slices.Clone(b))
	if len(r.batches) == r.failOn {
		return r.err
	}
	return nil
}

func (r *trimmer) seqs() [][]int64 {
	var out [][]int64
	for _, b := range r.batches {
		var q []int64
		for _, e := range b {
			q = append(q, e.Seq)
		}
		out = append(out, q)
	}
	return out
}

// testAuditTrimStopsAtNewer: chained events go oldest first, up to the
// first one not older than before, even when later ones are older.
func testAuditTrimStopsAtNewer(t *testing.T, s Stores) {
	h := time.Hour
	// Seq 4 is exactly at before (not older); seq 5 and 7 are older but
	// come after it.
	stored := trimFixture(t, s, []time.Duration{-10 * h, -9 * h, -time.Microsecond, 0, -8 * h, h, -7 * h, 2 * h, 3 * h, 4 * h})
	r := &trimmer{}
	n, err := s.Audit.TrimChain(context.Background(), base, 2, r.fn)
	if err != nil || n != 3 {
		t.Fatalf("TrimChain = %d, %v; want 3, nil", n, err)
	}
	if got, want := r.seqs(), [][]int64{{1, 2}, {3}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("fn was given seqs %v, want %v", got, want)
	}
	for _, b := range r.batches {
		for i := range b {
			if d := diffEvent(&b[i], &stored[b[i].Seq-1]); d != "" {
				t.Errorf("fn was given seq %d as %s", b[i].Seq, d)
			}
		}
	}
	checkState(t, s, 4, 10)
	rest, _ := chainAll(t, s, 1, 10)
	checkSeqs(t, rest, 4, 10)
	if got := queryAll(t, s, audit.Filter{}); len(got) != 7 {
		t.Fatalf("Query after trimming returned %d events, want 7", len(got))
	}
	// Again: nothing more goes, fn is not called.
	r = &trimmer{}
	if n, err := s.Audit.TrimChain(context.Background(), base, 2, r.fn); err != nil || n != 0 || len(r.batches) != 0 {
		t.Fatalf("second TrimChain = %d, %v with %d calls of fn; want 0, nil, none", n, err, len(r.batches))
	}
	checkState(t, s, 4, 10)
}

// testAuditTrimBatches: ten old events in batches of 3 go as 3, 3, 3, 1;
// the chain is then empty and goes on from where it was.
func testAuditTrimBatches(t *testing.T, s Stores) {
	offsets := make([]time.Duration, 10)
	for i := range offsets {
		offsets[i] = time.Duration(i-20) * time.Minute
	}
	stored := trimFixture(t, s, offsets)
	r := &trimmer{}
	n, err := s.Audit.TrimChain(context.Background(), base, 3, r.fn)
	if err != nil || n != 10 {
		t.Fatalf("TrimChain = %d, %v; want 10, nil", n, err)
	}
	if got, want := r.seqs(), [][]int64{{1, 2, 3}, {4, 5, 6}, {7, 8, 9}, {10}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("fn was given seqs %v, want %v", got, want)
	}
	for _, b := range r.batches {
		for i := range b {
			if d := diffEvent(&b[i], &stored[b[i].Seq-1]); d != "" {
				t.Errorf("fn was given seq %d as %s", b[i].Seq, d)
			}
		}
	}
	// An empty chain: End.Seq == Start.Seq-1 and End.Hash == Start.Hash.
	checkState(t, s, 11, 10)
	if got := queryAll(t, s, audit.Filter{}); len(got) != 0 {
		t.Fatalf("Query after trimming everything returned %v", names(got))
	}
	var rec sealRecorder
	if err := s.Audit.Append(context.Background(), []audit.Event{newEvent("t11", base)}, rec.seal); err != nil {
		t.Fatal(err)
	}
	if len(rec.given) != 1 || rec.given[0] != head(10) {
		t.Fatalf("seal after trimming was given %+v, want %+v", rec.given, head(10))
	}
	checkState(t, s, 11, 11)
	rest, _ := chainAll(t, s, 1, 20)
	checkSeqs(t, rest, 11, 11)
}

// testAuditTrimFnError: an error from fn keeps its batch and stops;
// what was removed before stays removed.
func testAuditTrimFnError(t *testing.T, s Stores) {
	offsets := make([]time.Duration, 10)
	for i := range offsets {
		offsets[i] = time.Duration(i-20) * time.Minute
	}
	trimFixture(t, s, offsets)
	errStop := errors.New("storetest: archive failed")
	r := &trimmer{failOn: 2, err: errStop}
	n, err := s.Audit.TrimChain(context.Background(), base, 3, r.fn)
	if !errors.Is(err, errStop) || n != 3 {
		t.Fatalf("TrimChain = %d, %v; want 3 and fn's error", n, err)
	}
	if got, want := r.seqs(), [][]int64{{1, 2, 3}, {4, 5, 6}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("fn was given seqs %v, want %v", got, want)
	}
	checkState(t, s, 4, 10)
	rest, _ := chainAll(t, s, 1, 10)
	checkSeqs(t, rest, 4, 10)
	// A nil fn removes the rest.
	n, err = s.Audit.TrimChain(context.Background(), base, 3, nil)
	if err != nil || n != 7 {
		t.Fatalf("TrimChain with a nil fn = %d, %v; want 7, nil", n, err)
	}
	checkState(t, s, 11, 10)
}

func testAuditTrimNothingOlder(t *testing.T, s Stores) {
	trimFixture(t, s, []time.Duration{0, time.Second, 2 * time.Second})
	r := &trimmer{}
	n, err := s.Audit.TrimChain(context.Background(), base, 10, r.fn)
	if err != nil || n != 0 || len(r.batches) != 0 {
		t.Fatalf("TrimChain = %d, %v with %d calls of fn; want 0, nil, none", n, err, len(r.batches))
	}
	checkState(t, s, 1, 3)
	// On an empty store too.
	empty := &trimmer{}
	if n, err := s.Audit.TrimChain(context.Background(), base.Add(-time.Hour), 10, empty.fn); err != nil || n != 0 {
		t.Fatalf("TrimChain before everything = %d, %v; want 0, nil", n, err)
	}
}

func testAuditCanceledContext(t *testing.T, s Stores) {
	mustAppend(t, s, newEvent("old", base.Add(-time.Hour)))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Audit.Append(ctx, []audit.Event{newEvent("canceled", base)}, seal); !errors.Is(err, context.Canceled) {
		t.Errorf("Append: err = %v, want context.Canceled", err)
	}
	if _, err := s.Audit.Query(ctx, audit.Filter{Limit: 10}); !errors.Is(err, context.Canceled) {
		t.Errorf("Query: err = %v, want context.Canceled", err)
	}
	if _, err := s.Audit.State(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("State: err = %v, want context.Canceled", err)
	}
	if err := s.Audit.Chain(ctx, 1, 10, func([]audit.Event) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("Chain: err = %v, want context.Canceled", err)
	}
	if _, err := s.Audit.TrimChain(ctx, base, 10, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("TrimChain: err = %v, want context.Canceled", err)
	}
	if got := names(queryAll(t, s, audit.Filter{})); !slices.Equal(got, []string{"old"}) {
		t.Errorf("after the canceled calls the store holds %v, want [old]", got)
	}
	checkState(t, s, 1, 1)
}

// testAuditCanceledDuringAppend: the context is canceled while seal runs.
// The Append then either succeeds whole or leaves nothing behind, events
// and chain end alike, and the chain goes on unbroken.
func testAuditCanceledDuringAppend(t *testing.T, s Stores) {
	mustAppend(t, s, newEvent("first", base))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	err := s.Audit.Append(ctx, []audit.Event{newEvent("mid1", base), newEvent("mid2", base)}, func(end audit.Head, events []audit.Event) (audit.Head, error) {
		cancel()
		return seal(end, events)
	})
	stored := queryAll(t, s, audit.Filter{})
	switch {
	case err == nil:
		if len(stored) != 3 {
			t.Fatalf("Append succeeded but the store holds %v", names(stored))
		}
		checkState(t, s, 1, 3)
	case errors.Is(err, context.Canceled):
		if len(stored) != 1 {
			t.Fatalf("Append failed but the store holds %v", names(stored))
		}
		checkState(t, s, 1, 1)
	default:
		t.Fatalf("Append: err = %v, want nil or context.Canceled", err)
	}
	mustAppend(t, s, newEvent("last", base))
	events, _ := chainAll(t, s, 1, 10)
	checkSeqs(t, events, 1, int64(len(stored)+1))
}

// serviceEvents are recorded by the service cases, oldest first.
func serviceEvents() []audit.Event {
	return []audit.Event{
		{Type: audit.LoginFailed, UserID: ptr(int64(987654)), ClientIP: netip.MustParseAddr("203.0.113.9"),
			UserAgent: "Mozilla/5.0 ünïcödé", CorrelationID: "r1",
			Time: base.Add(-60*time.Minute + 123456789).In(time.FixedZone("X", 5*3600)), Severity: audit.Warning, Source: "user",
			Data:     map[string]any{"reason": "bad password", "attempts": 3, "password": "hunter2", "nested": map[string]any{"l": []any{1, 2.5, "x", nil, true}}, "big": 1e21},
			Metadata: map[string]any{"n": 7}},
		{Type: audit.LoginSucceeded, ClientIP: netip.MustParseAddr("2001:db8::7"), Time: base.Add(-50 * time.Minute), Source: "user"},
		{Type: audit.AccountLocked, Time: base.Add(-40 * time.Minute), Severity: audit.Critical, Data: map[string]any{"until": "2026-03-14T16:00:00Z"}},
		{Type: audit.EventType("host.custom_event"), Time: base.Add(-30 * time.Minute), Data: map[string]any{"k": "v"}},
		{Type: audit.Logout, Time: base.Add(-20 * time.Minute)},
		{Type: audit.SessionRevoked, Time: base.Add(-10 * time.Minute), Severity: audit.Error},
	}
}

var serviceKey = bytes.Repeat([]byte("k"), 32)

// record records events through a new Service with serviceKey, one with
// request information in the context.
func record(t *testing.T, s Stores, events []audit.Event) *audit.Service {
	t.Helper()
	svc, err := audit.NewService(s.Audit, audit.Config{Key: serviceKey})
	if err != nil {
		t.Fatal(err)
	}
	ctx := audit.ContextWithRequestInfo(context.Background(), audit.RequestInfo{ClientIP: netip.MustParseAddr("198.51.100.1"), UserAgent: "from-context", CorrelationID: "ctx-corr"})
	for i, e := range events {
		if err := svc.Record(ctx, e); err != nil {
			t.Fatalf("Record %d: %v", i, err)
		}
	}
	return svc
}

func mustVerify(t *testing.T, svc *audit.Service, from, to, want int64) {
	t.Helper()
	n, err := svc.Verify(context.Background(), from, to)
	if err != nil || n != want {
		t.Fatalf("Verify(%d, %d) = %d, %v; want %d, nil", from, to, n, err, want)
	}
}

// testAuditServiceVerify: events recorded by the service come back so
// that their hashes verify; another key, or none, is reported as a key
// mismatch.
func testAuditServiceVerify(t *testing.T, s Stores) {
	svc := record(t, s, serviceEvents())
	mustVerify(t, svc, 0, 0, 6)
	mustVerify(t, svc, 2, 4, 3)
	mustVerify(t, svc, 6, 0, 1)
	st, err := svc.State(context.Background())
	if err != nil || st.End.Seq != 6 || st.Start != (audit.Head{Seq: 1, Hash: audit.Genesis}) {
		t.Fatalf("State = %+v, %v", st, err)
	}
	got := queryAll(t, s, audit.Filter{})
	if len(got) != 6 {
		t.Fatalf("Query returned %d events, want 6", len(got))
	}
	first := got[5]
	if first.UserID != nil || fmtID(first.ActorID) != "987654" || first.Data["password"] != audit.Redacted ||
		first.ClientIP != netip.MustParseAddr("203.0.113.9") || first.Time.Location() != time.UTC || first.Time.Nanosecond()%1000 != 0 {
		t.Fatalf("first event stored as %+v", first)
	}
	if ctxEvent := got[4]; ctxEvent.ClientIP != netip.MustParseAddr("2001:db8::7") || ctxEvent.UserAgent != "from-context" || ctxEvent.CorrelationID != "ctx-corr" {
		t.Fatalf("second event stored as %+v", ctxEvent)
	}
	other, err := audit.NewService(s.Audit, audit.Config{Key: bytes.Repeat([]byte("x"), 32)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Verify(context.Background(), 0, 0); !errors.Is(err, audit.ErrKeyMismatch) || errors.Is(err, audit.ErrChainBroken) {
		t.Fatalf("Verify under another key: err = %v, want ErrKeyMismatch", err)
	}
	unkeyed, err := audit.NewService(s.Audit, audit.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := unkeyed.Verify(context.Background(), 0, 0); !errors.Is(err, audit.ErrKeyMismatch) {
		t.Fatalf("Verify without a key: err = %v, want ErrKeyMismatch", err)
	}
}

func testAuditServiceQueryPages(t *testing.T, s Stores) {
	svc := record(t, s, serviceEvents())
	ctx := context.Background()
	for _, tc := range []struct {
		q     audit.Query
		want  []audit.EventType
		pages int
	}{
		{audit.Query{Limit: 2}, []audit.EventType{audit.SessionRevoked, audit.Logout, "host.custom_event", audit.AccountLocked, audit.LoginSucceeded, audit.LoginFailed}, 3},
		{audit.Query{Limit: 4}, []audit.EventType{audit.SessionRevoked, audit.Logout, "host.custom_event", audit.AccountLocked, audit.LoginSucceeded, audit.LoginFailed}, 2},
		{audit.Query{Limit: 1, Types: []audit.EventType{audit.LoginFailed, audit.Logout}}, []audit.EventType{audit.Logout, audit.LoginFailed}, 2},
		{audit.Query{Limit: 10, Severities: []audit.Severity{audit.Critical, audit.Error}}, []audit.EventType{audit.SessionRevoked, audit.AccountLocked}, 1},
		{audit.Query{Limit: 10, CorrelationID: "nope"}, nil, 1},
	} {
		var got []audit.EventType
		q := tc.q
		pages := 0
		for {
			page, err := svc.Query(ctx, q)
			if err != nil {
				t.Fatalf("Query(%+v): %v", q, err)
			}
			pages++
			for _, e := range page.Events {
				got = append(got, e.Type)
			}
			if page.Next == "" || pages > 10 {
				break
			}
			q.Cursor = page.Next
		}
		if !slices.Equal(got, tc.want) || pages != tc.pages {
			t.Errorf("Query(%+v): %d pages of %v, want %d of %v", tc.q, pages, got, tc.pages, tc.want)
		}
	}
}

// testAuditServiceArchive: after Archive and DeleteBefore the rest of the
// chain verifies from its new start.
func testAuditServiceArchive(t *testing.T, s Stores) {
	svc := record(t, s, serviceEvents())
	ctx := context.Background()
	var buf bytes.Buffer
	n, err := svc.Archive(ctx, base.Add(-45*time.Minute), &buf)
	if err != nil || n != 2 || strings.Count(buf.String(), "\n") != 2 {
		t.Fatalf("Archive = %d, %v with %d lines; want 2, nil, 2", n, err, strings.Count(buf.String(), "\n"))
	}
	mustVerify(t, svc, 0, 0, 4)
	if n, err := svc.DeleteBefore(ctx, base.Add(-25*time.Minute)); err != nil || n != 2 {
		t.Fatalf("DeleteBefore = %d, %v; want 2, nil", n, err)
	}
	mustVerify(t, svc, 0, 0, 2)
	if err := svc.Record(ctx, audit.Event{Type: audit.Logout}); err != nil {
		t.Fatal(err)
	}
	mustVerify(t, svc, 0, 0, 3)
	st, err := svc.State(ctx)
	if err != nil || st.Start.Seq != 5 || st.End.Seq != 7 {
		t.Fatalf("State = %+v, %v; want start 5, end 7", st, err)
	}
}

// testAuditExistingUser: the id of a user that exists is kept; that of a
// user deleted before the Append is stored as NULL.
func testAuditExistingUser(t *testing.T, s Stores) {
	alice := mustCreate(t, s.Users, NewUser("alice"))
	gone := mustCreate(t, s.Users, NewUser("gone"))
	if err := s.Users.Delete(context.Background(), gone.ID); err != nil {
		t.Fatal(err)
	}
	a, g := newEvent("a", base), newEvent("g", base)
	a.UserID, g.UserID = ptr(alice.ID), ptr(gone.ID)
	mustAppend(t, s, a, g)
	for _, e := range queryAll(t, s, audit.Filter{}) {
		want := map[string][2]string{"a": {fmtID(&alice.ID), fmtID(&alice.ID)}, "g": {"<nil>", fmtID(&gone.ID)}}[e.Source]
		if fmtID(e.UserID) != want[0] || fmtID(e.ActorID) != want[1] {
			t.Errorf("event %s: UserID %s, ActorID %s; want %s, %s", e.Source, fmtID(e.UserID), fmtID(e.ActorID), want[0], want[1])
		}
	}
}

// testAuditDeletedUser: deleting a user clears UserID on its events and
// keeps ActorID; other users' events are untouched.
func testAuditDeletedUser(t *testing.T, s Stores) {
	alice := mustCreate(t, s.Users, NewUser("alice"))
	bob := mustCreate(t, s.Users, NewUser("bob"))
	events := []audit.Event{newEvent("a1", base), newEvent("b1", base.Add(time.Second)), newEvent("a2", base.Add(2*time.Second))}
	events[0].UserID, events[1].UserID, events[2].UserID = ptr(alice.ID), ptr(bob.ID), ptr(alice.ID)
	mustAppend(t, s, events...)
	if err := s.Users.Delete(context.Background(), alice.ID); err != nil {
		t.Fatal(err)
	}
	want := map[string][2]string{
		"a1": {"<nil>", fmtID(&alice.ID)},
		"b1": {fmtID(&bob.ID), fmtID(&bob.ID)},
		"a2": {"<nil>", fmtID(&alice.ID)},
	}
	queried := queryAll(t, s, audit.Filter{})
	chained, _ := chainAll(t, s, 1, 3)
	if len(queried) != 3 || len(chained) != 3 {
		t.Fatalf("after Delete: Query gave %d events, Chain %d; want 3", len(queried), len(chained))
	}
	for _, e := range append(queried, chained...) {
		if w := want[e.Source]; fmtID(e.UserID) != w[0] || fmtID(e.ActorID) != w[1] {
			t.Errorf("event %s: UserID %s, ActorID %s; want %s, %s", e.Source, fmtID(e.UserID), fmtID(e.ActorID), w[0], w[1])
		}
	}
	checkSeqs(t, chained, 1, 3)
	if got := names(queryAll(t, s, audit.Filter{UserID: ptr(alice.ID)})); len(got) != 0 {
		t.Errorf("Query by the deleted user = %v, want none", got)
	}
	if got := names(queryAll(t, s, audit.Filter{UserID: ptr(bob.ID)})); !slices.Equal(got, []string{"b1"}) {
		t.Errorf("Query by bob = %v, want [b1]", got)
	}
}

func testAuditQueryByUser(t *testing.T, s Stores) {
	alice := mustCreate(t, s.Users, NewUser("alice"))
	bob := mustCreate(t, s.Users, NewUser("bob"))
	mk := func(name string, uid *int64, typ audit.EventType, sec int) audit.Event {
		e := newEvent(name, base.Add(time.Duration(sec)*time.Second))
		e.UserID, e.Type = uid, typ
		return e
	}
	mustAppend(t, s,
		mk("a1", &alice.ID, audit.LoginSucceeded, 1),
		mk("b1", &bob.ID, audit.LoginSucceeded, 2),
		mk("n1", nil, audit.LoginFailed, 3),
		mk("a2", &alice.ID, audit.LoginFailed, 4),
		mk("a3", &alice.ID, audit.LoginSucceeded, 4),
		mk("b2", &bob.ID, audit.LoginFailed, 5),
	)
	for _, tc := range []struct {
		name string
		f    audit.Filter
		want []string
	}{
		{"alice", audit.Filter{UserID: &alice.ID}, []string{"a3", "a2", "a1"}},
		{"bob", audit.Filter{UserID: &bob.ID}, []string{"b2", "b1"}},
		{"alice's failures", audit.Filter{UserID: &alice.ID, Types: []audit.EventType{audit.LoginFailed}}, []string{"a2"}},
		{"alice, limit 2", audit.Filter{UserID: &alice.ID, Limit: 2}, []string{"a3", "a2"}},
		{"alice from second 2", audit.Filter{UserID: &alice.ID, From: base.Add(2 * time.Second)}, []string{"a3", "a2"}},
		{"nobody", audit.Filter{UserID: ptr(alice.ID + bob.ID + 1000)}, []string{}},
	} {
		if got := names(queryAll(t, s, tc.f)); !slices.Equal(got, tc.want) {
			t.Errorf("%s: Query = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// testAuditServiceDeletedUser: the chain still verifies after a user is
// deleted and its events lose their user_id.
func testAuditServiceDeletedUser(t *testing.T, s Stores) {
	u := mustCreate(t, s.Users, NewUser("leaver"))
	svc := record(t, s, []audit.Event{
		{Type: audit.UserRegistered, UserID: &u.ID},
		{Type: audit.LoginSucceeded, UserID: &u.ID},
		{Type: audit.UserDeleted, UserID: &u.ID},
	})
	mustVerify(t, svc, 0, 0, 3)
	if err := s.Users.Delete(context.Background(), u.ID); err != nil {
		t.Fatal(err)
	}
	mustVerify(t, svc, 0, 0, 3)
	for _, e := range queryAll(t, s, audit.Filter{}) {
		if e.UserID != nil || fmtID(e.ActorID) != fmtID(&u.ID) {
			t.Errorf("%s: UserID %s, ActorID %s after Delete", e.Type, fmtID(e.UserID), fmtID(e.ActorID))
		}
	}
}

// testAuditTxRollback: a user and an audit event written in one
// transaction that fails are both gone, and the chain's end is back where
// it was: the next Append links to it.
func testAuditTxRollback(t *testing.T, s Stores) {
	mustAppend(t, s, newEvent("before1", base), newEvent("before2", base))
	err := s.Tx.InTx(context.Background(), func(ctx context.Context) error {
		u := NewUser("txuser")
		if err := s.Users.Create(ctx, u); err != nil {
			return err
		}
		e := newEvent("intx", base.Add(time.Second))
		e.UserID = &u.ID
		if err := s.Audit.Append(ctx, []audit.Event{e}, seal); err != nil {
			return err
		}
		// The transaction reads its own writes.
		got, err := s.Audit.Query(ctx, audit.Filter{UserID: &u.ID, Limit: 10})
		if err != nil {
			return err
		}
		if len(got) != 1 || fmtID(got[0].UserID) != fmtID(&u.ID) {
			t.Errorf("inside the transaction Query by the new user = %v", names(got))
		}
		st, err := s.Audit.State(ctx)
		if err != nil {
			return err
		}
		if st.End != head(3) {
			t.Errorf("inside the transaction State.End = %+v, want %+v", st.End, head(3))
		}
		return errAbort
	})
	if !errors.Is(err, errAbort) {
		t.Fatalf("InTx returned %v, want fn's error", err)
	}
	if exists(t, s, "txuser") {
		t.Error("the user survived the rollback")
	}
	if got := names(queryAll(t, s, audit.Filter{})); !slices.Equal(got, []string{"before2", "before1"}) {
		t.Errorf("after the rollback the store holds %v, want [before2 before1]", got)
	}
	checkState(t, s, 1, 2)
	var rec sealRecorder
	if err := s.Audit.Append(context.Background(), []audit.Event{newEvent("after", base)}, rec.seal); err != nil {
		t.Fatal(err)
	}
	if len(rec.given) != 1 || rec.given[0] != head(2) {
		t.Fatalf("seal after the rollback was given %+v, want %+v", rec.given, head(2))
	}
	events, _ := chainAll(t, s, 1, 10)
	checkSeqs(t, events, 1, 3)
}

func testAuditTxCommit(t *testing.T, s Stores) {
	var id int64
	err := s.Tx.InTx(context.Background(), func(ctx context.Context) error {
		u := NewUser("txuser")
		if err := s.Users.Create(ctx, u); err != nil {
			return err
		}
		id = u.ID
		e := newEvent("intx", base)
		e.UserID = &u.ID
		return s.Audit.Append(ctx, []audit.Event{e}, seal)
	})
	if err != nil {
		t.Fatal(err)
	}
	if !exists(t, s, "txuser") {
		t.Fatal("the user was not committed")
	}
	got := queryAll(t, s, audit.Filter{})
	if len(got) != 1 || fmtID(got[0].UserID) != fmtID(&id) || fmtID(got[0].ActorID) != fmtID(&id) {
		t.Fatalf("after commit the store holds %+v, want one event of user %d", got, id)
	}
	checkState(t, s, 1, 1)
}

// Key fingerprints. The store keeps the fingerprint the sealer returns
// with the chain's end, hands it back to the next sealer and in State,
// and stores nothing when the sealer fails; the Service's sealer refuses
// a chain sealed under another key.

// fpA and fpB stand for two keys' fingerprints in the store cases.
const (
	fpA = "0123456789abcdef0123456789abcdef"
	fpB = "fedcba9876543210fedcba9876543210"
)

// checkKey fails the test unless the chain's end records fingerprint fp.
func checkKey(t *testing.T, s Stores, fp string) {
	t.Helper()
	st := mustState(t, s)
	if st.End.KeyFingerprint != fp || st.Start.KeyFingerprint != "" {
		t.Fatalf("State: end key fingerprint %q, start %q; want %q and \"\"", st.End.KeyFingerprint, st.Start.KeyFingerprint, fp)
	}
}

// testAuditKeyFingerprintRecorded: the fingerprint seal returns is
// recorded with the end, given to the next seal, kept by TrimChain, and
// "" is recorded as unknown.
func testAuditKeyFingerprintRecorded(t *testing.T, s Stores) {
	ctx := context.Background()
	checkKey(t, s, "")
	if err := s.Audit.Append(ctx, []audit.Event{newEvent("k1", base.Add(-time.Hour)), newEvent("k2", base.Add(-time.Hour))}, sealAs(fpA)); err != nil {
		t.Fatal(err)
	}
	checkKey(t, s, fpA)
	if st := mustState(t, s); st.End != (audit.Head{Seq: 2, Hash: head(2).Hash, KeyFingerprint: fpA}) {
		t.Fatalf("State.End = %+v, want seq 2 with fingerprint %s", st.End, fpA)
	}
	var given audit.Head
	next := func(end audit.Head, events []audit.Event) (audit.Head, error) {
		given = end
		return sealAs(fpA)(end, events)
	}
	if err := s.Audit.Append(ctx, []audit.Event{newEvent("k3", base)}, next); err != nil {
		t.Fatal(err)
	}
	if want := (audit.Head{Seq: 2, Hash: head(2).Hash, KeyFingerprint: fpA}); given != want {
		t.Fatalf("seal was given %+v, want %+v", given, want)
	}
	// Archiving moves the start, not the end's fingerprint.
	if n, err := s.Audit.TrimChain(ctx, base.Add(-time.Minute), 10, nil); err != nil || n != 2 {
		t.Fatalf("TrimChain = %d, %v; want 2, nil", n, err)
	}
	checkKey(t, s, fpA)
	if err := s.Audit.Append(ctx, []audit.Event{newEvent("k4", base)}, sealAs(fpB)); err != nil {
		t.Fatal(err)
	}
	checkKey(t, s, fpB)
	mustAppend(t, s, newEvent("k5", base)) // seal records no fingerprint
	checkKey(t, s, "")
	events, _ := chainAll(t, s, 1, 10)
	checkSeqs(t, events, 3, 5)
}

// testAuditSealError: when seal fails (after changing the events, as a
// sealer may), Append returns its error, not one matching
// store.ErrUnavailable, and stores nothing: no events, the same end and
// fingerprint. The chain goes on from there.
func testAuditSealError(t *testing.T, s Stores) {
	ctx := context.Background()
	if err := s.Audit.Append(ctx, []audit.Event{newEvent("s1", base), newEvent("s2", base)}, sealAs(fpA)); err != nil {
		t.Fatal(err)
	}
	before := mustState(t, s)
	errSeal := errors.New("storetest: sealed with another key")
	err := s.Audit.Append(ctx, []audit.Event{newEvent("refused1", base), newEvent("refused2", base)},
		func(end audit.Head, events []audit.Event) (audit.Head, error) {
			out, _ := sealAs(fpB)(end, events)
			return out, errSeal
		})
	if !errors.Is(err, errSeal) || errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Append with a failing seal: err = %v, want seal's error, not ErrUnavailable", err)
	}
	if got := mustState(t, s); got != before {
		t.Fatalf("State after the refused Append = %+v, want %+v", got, before)
	}
	if got := names(queryAll(t, s, audit.Filter{})); !slices.Equal(got, []string{"s2", "s1"}) {
		t.Fatalf("after the refused Append the store holds %v, want [s2 s1]", got)
	}
	if err := s.Audit.Append(ctx, []audit.Event{newEvent("s3", base)}, sealAs(fpA)); err != nil {
		t.Fatal(err)
	}
	events, _ := chainAll(t, s, 1, 10)
	checkSeqs(t, events, 1, 3)
	checkKey(t, s, fpA)
}

// newKeyed returns a Service on the audit store with key (nil: none).
func newKeyed(t *testing.T, s Stores, key []byte) *audit.Service {
	t.Helper()
	svc, err := audit.NewService(s.Audit, audit.Config{Key: key})
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

// checkKeyError fails the test unless err is a *KeyError with the stored
// and configured fingerprints.
func checkKeyError(t *testing.T, what string, err error, stored, configured string) {
	t.Helper()
	var ke *audit.KeyError
	if !errors.Is(err, audit.ErrKeyMismatch) || !errors.As(err, &ke) || errors.Is(err, audit.ErrChainBroken) || errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("%s: err = %v, want a *KeyError", what, err)
	}
	if ke.Stored != stored || ke.Configured != configured {
		t.Fatalf("%s: %+v, want stored %s, configured %s", what, *ke, stored, configured)
	}
}

// testAuditServiceKeyFingerprint: the first event a Service records
// records its key's fingerprint, which Verify under that key accepts.
func testAuditServiceKeyFingerprint(t *testing.T, s Stores) {
	svc := record(t, s, serviceEvents()[:2])
	checkKey(t, s, audit.KeyFingerprint(serviceKey))
	mustVerify(t, svc, 0, 0, 2)
}

// testAuditServiceKeyMismatch: a Service with another key, or none, may
// not append to a keyed chain: the Append is refused with a *KeyError,
// and nothing is stored; the right key goes on.
func testAuditServiceKeyMismatch(t *testing.T, s Stores) {
	ctx := context.Background()
	svc := record(t, s, serviceEvents()[:2])
	before := mustState(t, s)
	otherKey := bytes.Repeat([]byte("x"), 32)
	for _, key := range [][]byte{otherKey, nil} {
		other := newKeyed(t, s, key)
		err := other.Record(ctx, audit.Event{Type: audit.Logout})
		checkKeyError(t, "Record under another key", err, audit.KeyFingerprint(serviceKey), audit.KeyFingerprint(key))
		_, err = other.Verify(ctx, 0, 0)
		checkKeyError(t, "Verify under another key", err, audit.KeyFingerprint(serviceKey), audit.KeyFingerprint(key))
	}
	if got := mustState(t, s); got != before {
		t.Fatalf("State after the refused Records = %+v, want %+v", got, before)
	}
	if got := queryAll(t, s, audit.Filter{}); len(got) != 2 {
		t.Fatalf("the store holds %d events after the refused Records, want 2", len(got))
	}
	if err := svc.Record(ctx, audit.Event{Type: audit.Logout}); err != nil {
		t.Fatal(err)
	}
	mustVerify(t, svc, 0, 0, 3)
}

// testAuditServiceUnkeyedChain: an unkeyed chain records NoKey; a keyed
// Service may neither append to it nor verify it.
func testAuditServiceUnkeyedChain(t *testing.T, s Stores) {
	ctx := context.Background()
	unkeyed := newKeyed(t, s, nil)
	recordN(t, unkeyed, 2)
	checkKey(t, s, audit.NoKey)
	keyed := newKeyed(t, s, serviceKey)
	checkKeyError(t, "Record with a key", keyed.Record(ctx, audit.Event{Type: audit.Logout}), audit.NoKey, audit.KeyFingerprint(serviceKey))
	_, err := keyed.Verify(ctx, 0, 0)
	checkKeyError(t, "Verify with a key", err, audit.NoKey, audit.KeyFingerprint(serviceKey))
	mustVerify(t, unkeyed, 0, 0, 2)
}

// recordN records n Logout events with svc.
func recordN(t *testing.T, svc *audit.Service, n int) {
	t.Helper()
	for i := range n {
		if err := svc.Record(context.Background(), audit.Event{Type: audit.Logout, Data: map[string]any{"i": i}}); err != nil {
			t.Fatalf("Record %d: %v", i, err)
		}
	}
}

// testAuditUnknownKeyAdopted: a chain whose end records no fingerprint
// (sealed before fingerprints were) takes the key of the next Service
// that appends, and is then refused to others.
func testAuditUnknownKeyAdopted(t *testing.T, s Stores) {
	ctx := context.Background()
	mustAppend(t, s, newEvent("old1", base), newEvent("old2", base))
	checkKey(t, s, "")
	svc := newKeyed(t, s, serviceKey)
	if err := svc.Record(ctx, audit.Event{Type: audit.Logout}); err != nil {
		t.Fatalf("Record on a chain with no fingerprint: %v", err)
	}
	checkKey(t, s, audit.KeyFingerprint(serviceKey))
	if st := mustState(t, s); st.End.Seq != 3 {
		t.Fatalf("State.End.Seq = %d, want 3", st.End.Seq)
	}
	err := newKeyed(t, s, nil).Record(ctx, audit.Event{Type: audit.Logout})
	checkKeyError(t, "Record without the adopted key", err, audit.KeyFingerprint(serviceKey), audit.NoKey)
}

// unfingerprinted is an audit store whose Appends record no key
// fingerprint, as the stores did before fingerprints were recorded.
type unfingerprinted struct{ audit.Store }

func (u unfingerprinted) Append(ctx context.Context, events []audit.Event, seal audit.Sealer) error {
	return u.Store.Append(ctx, events, func(end audit.Head, events []audit.Event) (audit.Head, error) {
		end, err := seal(end, events)
		end.KeyFingerprint = ""
		return end, err
	})
}

// testAuditServiceVerifyUnknownKey: on a keyed chain that records no
// fingerprint, Verify under the right key passes; under another key, or
// none, the first event fails as altered, with KeyUnknown set: it may be
// the key. A break further on is plain tampering.
func testAuditServiceVerifyUnknownKey(t *testing.T, s Stores) {
	ctx := context.Background()
	old, err := audit.NewService(unfingerprinted{s.Audit}, audit.Config{Key: serviceKey})
	if err != nil {
		t.Fatal(err)
	}
	recordN(t, old, 3)
	checkKey(t, s, "")
	mustVerify(t, newKeyed(t, s, serviceKey), 0, 0, 3)
	for _, key := range [][]byte{bytes.Repeat([]byte("x"), 32), nil} {
		for _, from := range []int64{0, 2} {
			n, err := newKeyed(t, s, key).Verify(ctx, from, 0)
			var ce *audit.ChainError
			if !errors.As(err, &ce) || n != 0 {
				t.Fatalf("Verify(%d, 0) under a wrong key = %d, %v; want a *ChainError", from, n, err)
			}
			want := max(from, 1)
			if ce.Seq != want || ce.Reason != audit.Altered || !ce.KeyUnknown || !strings.Contains(err.Error(), "or the key is wrong") {
				t.Fatalf("Verify(%d, 0) under a wrong key: %v (%+v), want seq %d altered, KeyUnknown", from, err, *ce, want)
			}
		}
	}
	checkKey(t, s, "")
}
