package audit_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/netip"
	"reflect"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cedrina/cedrina/audit"
	"github.com/cedrina/cedrina/store/memory"
	"github.com/cedrina/cedrina/user"
)

// t0 is the tests' epoch.
var t0 = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

// stepClock returns a clock that reads start, then moves step forward on
// every read. It is safe for concurrent use.
func stepClock(start time.Time, step time.Duration) func() time.Time {
	var n atomic.Int64
	return func() time.Time { return start.Add(time.Duration(n.Add(1)-1) * step) }
}

// fakeStore is an audit.Store whose methods run their function field when
// it is set and the wrapped (memory) store's method otherwise.
type fakeStore struct {
	audit.Store

	AppendFn    func(ctx context.Context, events []audit.Event, seal audit.Sealer) error
	QueryFn     func(ctx context.Context, f audit.Filter) ([]audit.Event, error)
	StateFn     func(ctx context.Context) (audit.ChainState, error)
	ChainFn     func(ctx context.Context, from, to int64, fn func([]audit.Event) error) error
	TrimChainFn func(ctx context.Context, before time.Time, batch int, fn func([]audit.Event) error) (int64, error)
}

func (f *fakeStore) Append(ctx context.Context, events []audit.Event, seal audit.Sealer) error {
	if f.AppendFn != nil {
		return f.AppendFn(ctx, events, seal)
	}
	return f.Store.Append(ctx, events, seal)
}

func (f *fakeStore) Query(ctx context.Context, flt audit.Filter) ([]audit.Event, error) {
	if f.QueryFn != nil {
		return f.QueryFn(ctx, flt)
	}
	return f.Store.Query(ctx, flt)
}

func (f *fakeStore) State(ctx context.Context) (audit.ChainState, error) {
	if f.StateFn != nil {
		return f.StateFn(ctx)
	}
	return f.Store.State(ctx)
}

func (f *fakeStore) Chain(ctx context.Context, from, to int64, fn func([]audit.Event) error) error {
	if f.ChainFn != nil {
		return f.ChainFn(ctx, from, to, fn)
	}
	return f.Store.Chain(ctx, from, to, fn)
}

func (f *fakeStore) TrimChain(ctx context.Context, before time.Time, batch int, fn func([]audit.Event) error) (int64, error) {
	if f.TrimChainFn != nil {
		return f.TrimChainFn(ctx, before, batch, fn)
	}
	return f.Store.TrimChain(ctx, before, batch, fn)
}

func newService(tb testing.TB, st audit.Store, cfg audit.Config) *audit.Service {
	tb.Helper()
	svc, err := audit.NewService(st, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return svc
}

// record records events with svc, failing the test on an error.
func record(tb testing.TB, ctx context.Context, r audit.Recorder, events ...audit.Event) {
	tb.Helper()
	for _, e := range events {
		if err := r.Record(ctx, e); err != nil {
			tb.Fatalf("Record(%s): %v", e.Type, err)
		}
	}
}

// all returns every stored event, newest first, paging through Query.
func all(tb testing.TB, svc *audit.Service) []audit.Event {
	tb.Helper()
	var out []audit.Event
	q := audit.Query{Limit: 1000}
	for {
		page, err := svc.Query(context.Background(), q)
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, page.Events...)
		if page.Next == "" {
			return out
		}
		q.Cursor = page.Next
	}
}

// only returns the one stored event.
func only(tb testing.TB, svc *audit.Service) audit.Event {
	tb.Helper()
	events := all(tb, svc)
	if len(events) != 1 {
		tb.Fatalf("store holds %d events, want 1", len(events))
	}
	return events[0]
}

// verify runs Verify over the whole chain and wants n events checked.
func verify(tb testing.TB, svc *audit.Service, n int64) {
	tb.Helper()
	got, err := svc.Verify(context.Background(), 0, 0)
	if err != nil || got != n {
		tb.Fatalf("Verify(0, 0) = %d, %v; want %d, nil", got, err, n)
	}
}

func jsonString(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return err.Error()
	}
	return string(b)
}

func newUser(tb testing.TB, db *memory.DB, name string) int64 {
	tb.Helper()
	u := &user.User{Username: user.Username(name), Email: user.Email(name + "@example.com"),
		HashedPassword: "x", IsActive: true, Role: user.RoleUser, Tier: user.TierFree}
	if err := db.Users().Create(context.Background(), u); err != nil {
		tb.Fatal(err)
	}
	return u.ID
}

func TestNewServiceErrors(t *testing.T) {
	mem := memory.New().Audit()
	for _, tc := range []struct {
		name  string
		store audit.Store
		key   []byte
		want  string
	}{
		{"nil store", nil, nil, "nil Store"},
		{"key of 31 bytes", mem, make([]byte, 31), "audit: Config.Key: 31 bytes"},
		{"empty key", mem, []byte{}, "audit: Config.Key: 0 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			svc, err := audit.NewService(tc.store, audit.Config{Key: tc.key})
			if err == nil || !strings.Contains(err.Error(), tc.want) || svc != nil {
				t.Fatalf("NewService = %v, %v; want an error containing %q", svc, err, tc.want)
			}
		})
	}
	for _, n := range []int{32, 64} {
		if _, err := audit.NewService(mem, audit.Config{Key: make([]byte, n)}); err != nil {
			t.Errorf("NewService with a key of %d bytes: %v", n, err)
		}
	}
}

func TestRecordCompletesEvent(t *testing.T) {
	ctx := context.Background()
	zone := time.FixedZone("UTC+2", 2*3600)
	now := time.Date(2026, 5, 1, 14, 0, 0, 123456789, zone)
	svc := newService(t, memory.New().Audit(), audit.Config{Now: func() time.Time { return now }})
	record(t, ctx, svc, audit.Event{Type: audit.LoginSucceeded})

	e := only(t, svc)
	want := time.Date(2026, 5, 1, 12, 0, 0, 123456000, time.UTC)
	if !e.Time.Equal(want) || e.Time.Location() != time.UTC || e.Time.Nanosecond()%1000 != 0 {
		t.Errorf("Time = %v, want %v (UTC, microseconds)", e.Time, want)
	}
	if e.Severity != audit.Info {
		t.Errorf("Severity = %q, want INFO", e.Severity)
	}
	if e.Data == nil || len(e.Data) != 0 || e.Metadata == nil || len(e.Metadata) != 0 {
		t.Errorf("Data, Metadata = %#v, %#v; want empty non-nil documents ({})", e.Data, e.Metadata)
	}
	if e.ID != 1 || e.Seq != 1 || e.PrevHash != audit.Genesis || len(e.Hash) != 64 {
		t.Errorf("ID, Seq, PrevHash, Hash = %d, %d, %q, %q; want 1, 1, Genesis, 64 hex digits", e.ID, e.Seq, e.PrevHash, e.Hash)
	}
	if e.ClientIP.IsValid() || e.UserAgent != "" || e.CorrelationID != "" || e.UserID != nil || e.ActorID != nil {
		t.Errorf("request fields set without a RequestInfo: %+v", e)
	}
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(`"event_data":{}`)) || !bytes.Contains(b, []byte(`"metadata":{}`)) {
		t.Errorf("JSON %s: want event_data and metadata as {}", b)
	}

	// An explicit Time is kept, in UTC at microseconds; chain fields the
	// caller sets are ignored.
	record(t, ctx, svc, audit.Event{Type: audit.Logout, Time: now.Add(-time.Hour).Add(999), Severity: audit.Warning,
		ID: 99, Seq: 99, PrevHash: "x", Hash: "y", ActorID: new(int64(5))})
	e = all(t, svc)[1]
	if want := time.Date(2026, 5, 1, 11, 0, 0, 123457000, time.UTC); e.Type != audit.Logout || !e.Time.Equal(want) || e.Time.Location() != time.UTC {
		t.Errorf("explicit Time stored as %v, want %v", e.Time, want)
	}
	if e.Severity != audit.Warning || e.ID != 2 || e.Seq != 2 || e.ActorID != nil {
		t.Errorf("second event = %+v; want WARNING, ID 2, Seq 2, no actor", e)
	}
	verify(t, svc, 2)
}

func TestRecordRequestInfoFromContext(t *testing.T) {
	info := audit.RequestInfo{
		ClientIP:      netip.MustParseAddr("192.0.2.10"),
		UserAgent:     "ctx-agent/1.0",
		CorrelationID: "ctx-corr",
	}
	ctx := audit.ContextWithRequestInfo(context.Background(), info)
	own := netip.MustParseAddr("2001:db8::7")
	for _, tc := range []struct {
		name string
		in   audit.Event
		want audit.RequestInfo
	}{
		{"event has none", audit.Event{}, info},
		{"event has all", audit.Event{ClientIP: own, UserAgent: "own-agent", CorrelationID: "own-corr"},
			audit.RequestInfo{ClientIP: own, UserAgent: "own-agent", CorrelationID: "own-corr"}},
		{"event has an IP", audit.Event{ClientIP: own}, audit.RequestInfo{ClientIP: own, UserAgent: "ctx-agent/1.0", CorrelationID: "ctx-corr"}},
		{"event has a user agent", audit.Event{UserAgent: "own-agent"},
			audit.RequestInfo{ClientIP: info.ClientIP, UserAgent: "own-agent", CorrelationID: "ctx-corr"}},
		{"event has a correlation id", audit.Event{CorrelationID: "own-corr"},
			audit.RequestInfo{ClientIP: info.ClientIP, UserAgent: "ctx-agent/1.0", CorrelationID: "own-corr"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			svc := newService(t, memory.New().Audit(), audit.Config{})
			tc.in.Type = audit.LoginFailed
			record(t, ctx, svc, tc.in)
			e := only(t, svc)
			got := audit.RequestInfo{ClientIP: e.ClientIP, UserAgent: e.UserAgent, CorrelationID: e.CorrelationID}
			if got != tc.want {
				t.Errorf("stored %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestRecordClientIP(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"192.0.2.1", "192.0.2.1"},
		{"::ffff:192.0.2.1", "192.0.2.1"},
		{"::ffff:10.0.0.255", "10.0.0.255"},
		{"2001:db8::1", "2001:db8::1"},
		{"fe80::1%eth0", "fe80::1"},
		{"::ffff:192.0.2.1%eth0", "192.0.2.1"},
		{"", ""},
	} {
		t.Run(tc.in, func(t *testing.T) {
			var ip netip.Addr
			if tc.in != "" {
				ip = netip.MustParseAddr(tc.in)
			}
			for _, viaCtx := range []bool{false, true} {
				svc := newService(t, memory.New().Audit(), audit.Config{})
				ctx, e := context.Background(), audit.Event{Type: audit.LoginFailed}
				if viaCtx {
					ctx = audit.ContextWithRequestInfo(ctx, audit.RequestInfo{ClientIP: ip})
				} else {
					e.ClientIP = ip
				}
				record(t, ctx, svc, e)
				got := only(t, svc).ClientIP
				if tc.want == "" {
					if got.IsValid() {
						t.Errorf("stored %v, want no address", got)
					}
				} else if got != netip.MustParseAddr(tc.want) {
					t.Errorf("from context %v: stored %v, want %s", viaCtx, got, tc.want)
				}
				verify(t, svc, 1)
			}
		})
	}
}

func TestRecordInvalidEvent(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		e    audit.Event
	}{
		{"empty type", audit.Event{}},
		{"upper-case type", audit.Event{Type: "Login_success"}},
		{"type starting with a digit", audit.Event{Type: "1login"}},
		{"type starting with '_'", audit.Event{Type: "_login"}},
		{"type with a space", audit.Event{Type: "login failure"}},
		{"type with a newline", audit.Event{Type: "login\nforged"}},
		{"type with non-ASCII", audit.Event{Type: "connexion_réussie"}},
		{"type of 101 bytes", audit.Event{Type: audit.EventType(strings.Repeat("a", 101))}},
		{"lower-case severity", audit.Event{Type: audit.LoginFailed, Severity: "info"}},
		{"unknown severity", audit.Event{Type: audit.LoginFailed, Severity: "DEBUG"}},
		{"channel in Data", audit.Event{Type: audit.LoginFailed, Data: map[string]any{"c": make(chan int)}}},
		{"func in Data", audit.Event{Type: audit.LoginFailed, Data: map[string]any{"f": func() {}}}},
		{"NaN in Data", audit.Event{Type: audit.LoginFailed, Data: map[string]any{"ratio": math.NaN()}}},
		{"+Inf nested in Data", audit.Event{Type: audit.LoginFailed, Data: map[string]any{"m": map[string]any{"x": []any{math.Inf(1)}}}}},
		{"complex in Data", audit.Event{Type: audit.LoginFailed, Data: map[string]any{"z": complex(1, 2)}}},
		{"channel in Metadata", audit.Event{Type: audit.LoginFailed, Metadata: map[string]any{"c": make(chan int)}}},
		{"NaN in Metadata", audit.Event{Type: audit.LoginFailed, Metadata: map[string]any{"n": math.NaN()}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var appended atomic.Int64
			mem := memory.New().Audit()
			svc := newService(t, &fakeStore{Store: mem, AppendFn: func(ctx context.Context, ev []audit.Event, seal audit.Sealer) error {
				appended.Add(1)
				return mem.Append(ctx, ev, seal)
			}}, audit.Config{})
			if err := svc.Record(ctx, tc.e); !errors.Is(err, audit.ErrInvalidEvent) {
				t.Fatalf("Record = %v, want ErrInvalidEvent", err)
			}
			if n := appended.Load(); n != 0 {
				t.Errorf("the store was called %d times for an invalid event", n)
			}
		})
	}
	t.Run("valid types", func(t *testing.T) {
		svc := newService(t, memory.New().Audit(), audit.Config{})
		for _, typ := range []audit.EventType{"a", audit.EventType(strings.Repeat("a", 100)), "my.app-event_2", audit.RateLimitExceeded} {
			record(t, ctx, svc, audit.Event{Type: typ})
		}
		for _, sev := range []audit.Severity{audit.Info, audit.Warning, audit.Error, audit.Critical} {
			record(t, ctx, svc, audit.Event{Type: audit.LoginFailed, Severity: sev})
		}
		verify(t, svc, 8)
	})
}

func TestRecordDocumentsAsJSON(t *testing.T) {
	svc := newService(t, memory.New().Audit(), audit.Config{})
	type reason string
	record(t, context.Background(), svc, audit.Event{
		Type: audit.LoginFailed,
		Data: map[string]any{
			"attempts": 3,
			"big":      int64(1 << 40),
			"ratio":    float32(0.5),
			"small":    uint8(7),
			"nested":   map[string]any{"n": int16(-2), "list": []any{1, 2.5, "x", true, nil}},
			"ints":     []int{4, 5},
			"reason":   reason("wrong_password"),
			"when":     t0,
		},
		Metadata: map[string]any{"count": 42},
	})
	e := only(t, svc)
	want := map[string]any{
		"attempts": float64(3),
		"big":      float64(1 << 40),
		"ratio":    float64(0.5),
		"small":    float64(7),
		"nested":   map[string]any{"n": float64(-2), "list": []any{float64(1), 2.5, "x", true, nil}},
		"ints":     []any{float64(4), float64(5)},
		"reason":   "wrong_password",
		"when":     "2026-05-01T12:00:00Z",
	}
	if g, w := fmt.Sprintf("%#v", e.Data), fmt.Sprintf("%#v", want); g != w {
		t.Errorf("Data = %s\nwant   %s", g, w)
	}
	if got, ok := e.Metadata["count"].(float64); !ok || got != 42 {
		t.Errorf("Metadata[count] = %#v, want float64(42)", e.Metadata["count"])
	}
	verify(t, svc, 1)
}

func TestRecordUserID(t *testing.T) {
	ctx := context.Background()
	db := memory.New()
	svc := newService(t, db.Audit(), audit.Config{Now: stepClock(t0, time.Second)})
	alice, bob := newUser(t, db, "alice"), newUser(t, db, "bob")
	record(t, ctx, svc,
		audit.Event{Type: audit.LoginSucceeded, UserID: new(alice)},
		audit.Event{Type: audit.LoginSucceeded, UserID: new(bob)},
		audit.Event{Type: audit.LoginFailed, UserID: new(int64(999))}, // no such user
	)
	events := all(t, svc) // newest first
	if e := events[0]; e.UserID != nil || e.ActorID == nil || *e.ActorID != 999 {
		t.Errorf("unknown user: UserID, ActorID = %v, %v; want nil, 999", e.UserID, e.ActorID)
	}
	if e := events[2]; e.UserID == nil || *e.UserID != alice || e.ActorID == nil || *e.ActorID != alice {
		t.Errorf("alice's event: UserID, ActorID = %v, %v", e.UserID, e.ActorID)
	}
	page, err := svc.Query(ctx, audit.Query{UserID: new(bob)})
	if err != nil || len(page.Events) != 1 || *page.Events[0].UserID != bob {
		t.Fatalf("Query(bob) = %+v, %v", page, err)
	}
	verify(t, svc, 3)

	// Deleting a user sets user_id to NULL; the chain still verifies and
	// the actor is kept.
	if err := db.Users().Delete(ctx, alice); err != nil {
		t.Fatal(err)
	}
	e := all(t, svc)[2]
	if e.UserID != nil || e.ActorID == nil || *e.ActorID != alice {
		t.Errorf("after deleting alice: UserID, ActorID = %v, %v; want nil, %d", e.UserID, e.ActorID, alice)
	}
	verify(t, svc, 3)
}

func TestRecordStoreError(t *testing.T) {
	boom := errors.New("disk on fire")
	svc := newService(t, &fakeStore{Store: memory.New().Audit(), AppendFn: func(context.Context, []audit.Event, audit.Sealer) error {
		return boom
	}}, audit.Config{})
	err := svc.Record(context.Background(), audit.Event{Type: audit.Logout})
	if !errors.Is(err, boom) || errors.Is(err, audit.ErrInvalidEvent) {
		t.Fatalf("Record = %v, want the store's error", err)
	}
}

// --- Query ---

func TestQueryLimit(t *testing.T) {
	ctx := context.Background()
	svc := newService(t, memory.New().Audit(), audit.Config{Now: stepClock(t0, time.Millisecond)})
	for range 1001 {
		record(t, ctx, svc, audit.Event{Type: audit.SessionCreated})
	}
	for _, tc := range []struct {
		limit, want int
	}{{0, 50}, {-5, 50}, {1, 1}, {999, 999}, {1000, 1000}, {1001, 1000}, {1 << 40, 1000}} {
		page, err := svc.Query(ctx, audit.Query{Limit: tc.limit})
		if err != nil || len(page.Events) != tc.want || page.Next == "" {
			t.Errorf("Limit %d: %d events, Next %q, %v; want %d and a next page", tc.limit, len(page.Events), page.Next, err, tc.want)
		}
	}
	page, err := svc.Query(ctx, audit.Query{Limit: 1001, From: t0.Add(time.Millisecond)})
	if err != nil || len(page.Events) != 1000 || page.Next != "" {
		t.Errorf("exactly 1000 matching: %d events, Next %q, %v; want 1000 and no next page", len(page.Events), page.Next, err)
	}
}

func TestQueryPaging(t *testing.T) {
	ctx := context.Background()
	svc := newService(t, memory.New().Audit(), audit.Config{})
	// Three events per second, so that pages also break between events of
	// the same time and the listing must order by id.
	for i := range 120 {
		record(t, ctx, svc, audit.Event{Type: audit.SessionCreated, Time: t0.Add(time.Duration(i/3) * time.Second),
			Data: map[string]any{"i": i}})
	}
	seen := map[int64]bool{}
	var prev *audit.Event
	q := audit.Query{}
	for pageNo := 0; ; pageNo++ {
		page, err := svc.Query(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if want := []int{50, 50, 20}[pageNo]; len(page.Events) != want {
			t.Fatalf("page %d has %d events, want %d", pageNo, len(page.Events), want)
		}
		for i := range page.Events {
			e := &page.Events[i]
			if seen[e.ID] {
				t.Fatalf("event %d listed twice", e.ID)
			}
			seen[e.ID] = true
			if prev != nil && (e.Time.After(prev.Time) || e.Time.Equal(prev.Time) && e.ID > prev.ID) {
				t.Fatalf("event %d (%v) listed after event %d (%v): not newest first", e.ID, e.Time, prev.ID, prev.Time)
			}
			prev = e
		}
		if pageNo == 0 {
			// Newer events recorded while paging do not shift the pages.
			for range 5 {
				record(t, ctx, svc, audit.Event{Type: audit.Logout, Time: t0.Add(time.Hour)})
			}
		}
		if page.Next == "" {
			if pageNo != 2 {
				t.Fatalf("listing ended after page %d, want 3 pages", pageNo)
			}
			break
		}
		q.Cursor = page.Next
	}
	if len(seen) != 120 {
		t.Errorf("saw %d events, want 120", len(seen))
	}
	for id := range seen {
		if id > 120 {
			t.Errorf("event %d, recorded after the listing started, appeared in a later page", id)
		}
	}
}

func TestQueryFilters(t *testing.T) {
	ctx := context.Background()
	db := memory.New()
	svc := newService(t, db.Audit(), audit.Config{Now: stepClock(t0, time.Minute)})
	alice := newUser(t, db, "alice")
	record(t, ctx, svc,
		audit.Event{Type: audit.LoginFailed, Severity: audit.Warning, UserID: new(alice), CorrelationID: "c1"}, // t0
		audit.Event{Type: audit.LoginFailed, Severity: audit.Warning, CorrelationID: "c1"},                     // +1m
		audit.Event{Type: audit.AccountLocked, Severity: audit.Critical, UserID: new(alice)},                   // +2m
		audit.Event{Type: audit.LoginSucceeded, UserID: new(alice), CorrelationID: "c2"},                       // +3m
	)
	for _, tc := range []struct {
		name string
		q    audit.Query
		want []int64 // ids, newest first
	}{
		{"all", audit.Query{}, []int64{4, 3, 2, 1}},
		{"user", audit.Query{UserID: new(alice)}, []int64{4, 3, 1}},
		{"types", audit.Query{Types: []audit.EventType{audit.LoginFailed, audit.AccountLocked}}, []int64{3, 2, 1}},
		{"severities", audit.Query{Severities: []audit.Severity{audit.Critical, audit.Info}}, []int64{4, 3}},
		{"from", audit.Query{From: t0.Add(2 * time.Minute)}, []int64{4, 3}},
		{"to (exclusive)", audit.Query{To: t0.Add(2 * time.Minute)}, []int64{2, 1}},
		{"correlation id", audit.Query{CorrelationID: "c1"}, []int64{2, 1}},
		{"combined", audit.Query{UserID: new(alice), Types: []audit.EventType{audit.LoginFailed}, CorrelationID: "c1"}, []int64{1}},
		{"none", audit.Query{CorrelationID: "nope"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			page, err := svc.Query(ctx, tc.q)
			if err != nil {
				t.Fatal(err)
			}
			var got []int64
			for _, e := range page.Events {
				got = append(got, e.ID)
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) || page.Next != "" {
				t.Errorf("ids %v, Next %q; want %v", got, page.Next, tc.want)
			}
		})
	}
	for _, q := range []audit.Query{{Types: []audit.EventType{"Bad Type"}}, {Severities: []audit.Severity{"loud"}}} {
		if _, err := svc.Query(ctx, q); !errors.Is(err, audit.ErrInvalidEvent) {
			t.Errorf("Query(%+v) = %v, want ErrInvalidEvent", q, err)
		}
	}
}

func TestQueryInvalidCursor(t *testing.T) {
	ctx := context.Background()
	svc := newService(t, memory.New().Audit(), audit.Config{})
	record(t, ctx, svc, audit.Event{Type: audit.Logout})
	enc := base64.RawURLEncoding.EncodeToString
	for _, c := range []string{
		"garbage!!",
		"a b",
		"+/+/",           // the standard alphabet
		"MTIzLjU=",       // "123.5", padded
		enc([]byte(".")), // both parts empty
		enc([]byte("123.")),
		enc([]byte(".5")),
		enc([]byte("123")),
		enc([]byte("abc.5")),
		enc([]byte("123.abc")),
		enc([]byte("123.0")),
		enc([]byte("123.-5")),
		enc([]byte("1.2.3")),
		enc([]byte(" 1.2")),
		enc([]byte("0x10.2")),
		enc([]byte("99999999999999999999.5")),
		enc([]byte("1.99999999999999999999")),
		enc([]byte("\x00\xff\xfejunk")),
		enc([]byte(`{"time":1,"id":2}`)),
		strings.Repeat("A", 65),
		enc([]byte(strings.Repeat("1", 30) + "." + strings.Repeat("2", 30))),
	} {
		if page, err := svc.Query(ctx, audit.Query{Cursor: c}); !errors.Is(err, audit.ErrInvalidCursor) {
			t.Errorf("Query(Cursor %q) = %d events, %v; want ErrInvalidCursor", c, len(page.Events), err)
		}
	}
	// A well-formed cursor Query did not make still just selects.
	page, err := svc.Query(ctx, audit.Query{Cursor: enc(fmt.Appendf(nil, "%d.%d", time.Now().Add(time.Hour).UnixMicro(), 1<<62))})
	if err != nil || len(page.Events) != 1 {
		t.Errorf("Query(well-formed cursor) = %d events, %v; want 1, nil", len(page.Events), err)
	}
}

// refCursor decodes a cursor as documented: base64url (no padding) of
// "<unix microseconds>.<id>", id positive.
func refCursor(s string) (audit.Cursor, bool) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(s) > 64 {
		return audit.Cursor{}, false
	}
	ts, id, ok := strings.Cut(string(b), ".")
	us, err1 := strconv.ParseInt(ts, 10, 64)
	n, err2 := strconv.ParseInt(id, 10, 64)
	if !ok || err1 != nil || err2 != nil || n <= 0 {
		return audit.Cursor{}, false
	}
	return audit.Cursor{Time: time.UnixMicro(us), ID: n}, true
}

func FuzzQueryCursor(f *testing.F) {
	ctx := context.Background()
	svc := newService(f, memory.New().Audit(), audit.Config{})
	for i := range 12 {
		record(f, ctx, svc, audit.Event{Type: audit.SessionCreated, Time: t0.Add(time.Duration(i/2) * time.Second)})
	}
	page, err := svc.Query(ctx, audit.Query{Limit: 5})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(page.Next)
	f.Add("")
	f.Add("garbage")
	f.Add(base64.RawURLEncoding.EncodeToString([]byte("-1.5")))
	f.Add(base64.RawURLEncoding.EncodeToString([]byte("1777636803000000.0")))
	f.Fuzz(func(t *testing.T, cursor string) {
		page, err := svc.Query(ctx, audit.Query{Cursor: cursor, Limit: 5})
		if err != nil {
			if !errors.Is(err, audit.ErrInvalidCursor) {
				t.Fatalf("Query(%q) = %v, want ErrInvalidCursor or a page", cursor, err)
			}
			if _, ok := refCursor(cursor); ok {
				t.Fatalf("Query refused the well-formed cursor %q", cursor)
			}
			return
		}
		if len(page.Events) > 5 {
			t.Fatalf("page of %d events, limit 5", len(page.Events))
		}
		if cursor == "" {
			return
		}
		c, ok := refCursor(cursor)
		if !ok {
			t.Fatalf("Query accepted the malformed cursor %q", cursor)
		}
		for _, e := range page.Events {
			if e.Time.After(c.Time) || e.Time.Equal(c.Time) && e.ID >= c.ID {
				t.Fatalf("cursor %q (%v, %d) listed event %d at %v, not older", cursor, c.Time, c.ID, e.ID, e.Time)
			}
		}
	})
}

// --- Archive and DeleteBefore ---

// archiveFixture records n events a minute apart from t0 with a keyed
// service and returns it.
func archiveFixture(t *testing.T, n int, st func(audit.Store) audit.Store) *audit.Service {
	t.Helper()
	var mem audit.Store = memory.New().Audit()
	if st != nil {
		mem = st(mem)
	}
	svc := newService(t, mem, audit.Config{Now: stepClock(t0, time.Minute), Key: bytes.Repeat([]byte{7}, 32)})
	for i := range n {
		record(t, context.Background(), svc, audit.Event{Type: audit.LoginFailed, Data: map[string]any{"i": i, "reason": "wrong_password"},
			ClientIP: netip.MustParseAddr("192.0.2.1"), UserAgent: "agent", UserID: new(int64(i))})
	}
	return svc
}

func TestArchive(t *testing.T) {
	ctx := context.Background()
	svc := archiveFixture(t, 30, nil)
	before := all(t, svc)

	var buf bytes.Buffer
	n, err := svc.Archive(ctx, t0.Add(10*time.Minute), &buf) // events 0..9; the one at exactly +10m stays
	if err != nil || n != 10 {
		t.Fatalf("Archive = %d, %v; want 10, nil", n, err)
	}
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != 10 || strings.Count(buf.String(), "\n") != 10 {
		t.Fatalf("archive has %d lines, want 10:\n%s", len(lines), buf.String())
	}
	prev := audit.Genesis
	key := bytes.Repeat([]byte{7}, 32)
	for i, line := range lines {
		var e audit.Event
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("line %d: %v", i, err)
		}
		if e.Seq != int64(i+1) || e.ID != int64(i+1) || !e.Time.Before(t0.Add(10*time.Minute)) {
			t.Errorf("line %d: seq %d, id %d, time %v; want oldest first, older than the cutoff", i, e.Seq, e.ID, e.Time)
		}
		// The archive verifies by itself: links and hashes.
		if e.PrevHash != prev || audit.HashEvent(key, &e) != e.Hash {
			t.Errorf("line %d does not verify: prev %q want %q", i, e.PrevHash, prev)
		}
		prev = e.Hash
		if got := before[len(before)-1-i]; !reflect.DeepEqual(got, e) {
			t.Errorf("line %d decodes to\n%s\nstored was\n%s", i, jsonString(e), jsonString(got))
		}
	}
	rest := all(t, svc)
	if len(rest) != 20 || rest[len(rest)-1].Seq != 11 {
		t.Fatalf("after archiving, %d events remain, oldest seq %d; want 20 from seq 11", len(rest), rest[len(rest)-1].Seq)
	}
	verify(t, svc, 20)
	st, err := svc.State(ctx)
	if err != nil || st.Start.Seq != 11 || st.Start.Hash != prev || st.End.Seq != 30 {
		t.Errorf("State = %+v, %v; want start 11 linking to the last archived hash, end 30", st, err)
	}

	// Nothing older: nothing written, nothing deleted.
	buf.Reset()
	if n, err := svc.Archive(ctx, t0, &buf); err != nil || n != 0 || buf.Len() != 0 {
		t.Errorf("Archive(nothing older) = %d, %v, %d bytes", n, err, buf.Len())
	}
	if _, err := svc.Archive(ctx, t0.Add(time.Hour), nil); err == nil {
		t.Error("Archive(nil writer) succeeded")
	}
}

// failingWriter accepts ok writes, then fails.
type failingWriter struct {
	ok     int
	writes int
	buf    bytes.Buffer
}

var errWrite = errors.New("archive volume full")

func (w *failingWriter) Write(p []byte) (int, error) {
	if w.writes++; w.writes > w.ok {
		return 0, errWrite
	}
	return w.buf.Write(p)
}

func TestArchiveWriterFails(t *testing.T) {
	ctx := context.Background()
	// Archive removes 1,000 events per batch: the writer fails in the
	// middle of the second batch.
	svc := archiveFixture(t, 2500, nil)
	w := &failingWriter{ok: 1500}
	n, err := svc.Archive(ctx, t0.Add(1000*time.Hour), w)
	if !errors.Is(err, errWrite) || n != 1000 {
		t.Fatalf("Archive = %d, %v; want 1000 (the first batch) and the writer's error", n, err)
	}
	rest := all(t, svc)
	if len(rest) != 1500 || rest[len(rest)-1].Seq != 1001 {
		t.Fatalf("%d events remain from seq %d; want 1500 from 1001 (the failed batch kept)", len(rest), rest[len(rest)-1].Seq)
	}
	verify(t, svc, 1500)

	// A retry archives the rest; the archive holds the failed batch's
	// events twice (written, then not deleted), which the seqs show.
	var buf bytes.Buffer
	if n, err := svc.Archive(ctx, t0.Add(1000*time.Hour), &buf); err != nil || n != 1500 {
		t.Fatalf("second Archive = %d, %v; want 1500", n, err)
	}
	verify(t, svc, 0)
}

func TestArchiveStoreFailsMidway(t *testing.T) {
	// A store that fails on its second batch (as a lost connection would):
	// the batch the callback saw stays stored, the chain stays whole.
	ctx := context.Background()
	boom := errors.New("connection reset")
	svc := archiveFixture(t, 2500, func(mem audit.Store) audit.Store {
		return &fakeStore{Store: mem, TrimChainFn: func(ctx context.Context, before time.Time, batch int, fn func([]audit.Event) error) (int64, error) {
			calls := 0
			return mem.TrimChain(ctx, before, batch, func(events []audit.Event) error {
				if calls++; calls == 2 {
					if err := fn(events); err != nil {
						return err
					}
					return boom
				}
				return fn(events)
			})
		}}
	})
	var buf bytes.Buffer
	n, err := svc.Archive(ctx, t0.Add(1000*time.Hour), &buf)
	if !errors.Is(err, boom) || n != 1000 {
		t.Fatalf("Archive = %d, %v; want 1000 and the store's error", n, err)
	}
	if got := len(all(t, svc)); got != 1500 {
		t.Errorf("%d events remain, want 1500", got)
	}
	verify(t, svc, 1500)
}

func TestDeleteBefore(t *testing.T) {
	ctx := context.Background()
	svc := archiveFixture(t, 30, nil)
	if n, err := svc.DeleteBefore(ctx, t0.Add(5*time.Minute+time.Second)); err != nil || n != 6 {
		t.Fatalf("DeleteBefore = %d, %v; want 6", n, err)
	}
	verify(t, svc, 24)
	if n, err := svc.DeleteBefore(ctx, t0); err != nil || n != 0 {
		t.Errorf("DeleteBefore(nothing older) = %d, %v", n, err)
	}
	if n, err := svc.DeleteBefore(ctx, t0.Add(time.Hour)); err != nil || n != 24 {
		t.Fatalf("DeleteBefore(everything) = %d, %v; want 24", n, err)
	}
	verify(t, svc, 0)
	// The chain goes on from where the deleted events left it.
	record(t, ctx, svc, audit.Event{Type: audit.Logout})
	verify(t, svc, 1)
	if e := only(t, svc); e.Seq != 31 {
		t.Errorf("next event has seq %d, want 31", e.Seq)
	}
	boom := errors.New("boom")
	bad := newService(t, &fakeStore{Store: memory.New().Audit(), TrimChainFn: func(context.Context, time.Time, int, func([]audit.Event) error) (int64, error) {
		return 0, boom
	}}, audit.Config{})
	if _, err := bad.DeleteBefore(ctx, t0); !errors.Is(err, boom) {
		t.Errorf("DeleteBefore on a failing store = %v", err)
	}
	if _, err := bad.Archive(ctx, t0, io.Discard); !errors.Is(err, boom) {
		t.Errorf("Archive on a failing store = %v", err)
	}
}
