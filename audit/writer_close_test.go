package audit_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cedrina/cedrina/audit"
	"github.com/cedrina/cedrina/store"
	"github.com/cedrina/cedrina/store/memory"
)

// sink is a fallback that keeps what it is given.
type sink struct {
	mu     sync.Mutex
	events []audit.Event
	errs   []error
}

func (s *sink) add(e audit.Event, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events = append(s.events, e)
	s.errs = append(s.errs, err)
}

func (s *sink) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.events)
}

func (s *sink) ids() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, len(s.events))
	for i, e := range s.events {
		out[i] = e.CorrelationID
	}
	return out
}

// storedIDs returns the correlation ids of every stored event, in chain
// order.
func storedIDs(tb testing.TB, st audit.Store) []string {
	tb.Helper()
	var out []string
	err := st.Chain(context.Background(), 0, 1<<62, func(events []audit.Event) error {
		for _, e := range events {
			out = append(out, e.CorrelationID)
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

// accountedFor checks that every accepted id is stored or in the
// fallback, and nothing else is. It returns the ids that are both (a
// write Close gave up on that succeeded all the same).
func accountedFor(tb testing.TB, accepted, stored, fallback []string) (both []string) {
	tb.Helper()
	seen := make(map[string]string, len(accepted))
	for _, id := range stored {
		if seen[id] != "" {
			tb.Errorf("event %s stored twice", id)
		}
		seen[id] = "stored"
	}
	for _, id := range fallback {
		switch seen[id] {
		case "stored":
			both = append(both, id)
		case "fallback":
			tb.Errorf("event %s twice in the fallback", id)
		}
		seen[id] = "fallback"
	}
	for _, id := range accepted {
		if seen[id] == "" {
			tb.Errorf("accepted event %s is neither stored nor in the fallback: lost", id)
		}
		delete(seen, id)
	}
	for id, where := range seen {
		tb.Errorf("event %s %s but never accepted", id, where)
	}
	return both
}

// TestWriterCloseDeadline: whatever the store does, Close with a 100 ms
// deadline returns within a second, Records blocked on the full queue
// return, and every accepted event is stored or in the fallback.
func TestWriterCloseDeadline(t *testing.T) {
	for _, tc := range []struct {
		name string
		// appendFn is the store's Append; entered is closed on its first
		// call, release at the end of the test.
		appendFn func(mem audit.Store, entered func(), release <-chan struct{}) func(context.Context, []audit.Event, audit.Sealer) error
	}{
		{"blocks until its context ends", func(mem audit.Store, entered func(), release <-chan struct{}) func(context.Context, []audit.Event, audit.Sealer) error {
			return func(ctx context.Context, events []audit.Event, seal audit.Sealer) error {
				entered()
				<-ctx.Done()
				return ctx.Err()
			}
		}},
		{"ignores its context", func(mem audit.Store, entered func(), release <-chan struct{}) func(context.Context, []audit.Event, audit.Sealer) error {
			return func(ctx context.Context, events []audit.Event, seal audit.Sealer) error {
				entered()
				<-release
				return errors.New("too late")
			}
		}},
		{"unavailable", func(mem audit.Store, entered func(), release <-chan struct{}) func(context.Context, []audit.Event, audit.Sealer) error {
			return func(ctx context.Context, events []audit.Event, seal audit.Sealer) error {
				entered()
				return fmt.Errorf("connection refused: %w", store.ErrUnavailable)
			}
		}},
		{"stores the first batch, then blocks", func(mem audit.Store, entered func(), release <-chan struct{}) func(context.Context, []audit.Event, audit.Sealer) error {
			var calls int // only the writer's goroutine calls it
			return func(ctx context.Context, events []audit.Event, seal audit.Sealer) error {
				if calls++; calls == 1 {
					return mem.Append(ctx, events, seal)
				}
				entered()
				<-ctx.Done()
				return ctx.Err()
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const queue, batch = 8, 4
			ctx := context.Background()
			mem := memory.New().Audit()
			release := make(chan struct{})
			defer close(release)
			entered := make(chan struct{})
			var once sync.Once
			st := &fakeStore{Store: mem, AppendFn: tc.appendFn(mem, func() { once.Do(func() { close(entered) }) }, release)}
			svc := newService(t, st, audit.Config{})
			fb := &sink{}
			never := func(time.Duration) <-chan time.Time { return nil } // backoff waits outlast Close
			w := audit.NewWriterWithHooks(svc, audit.WriterConfig{QueueSize: queue, BatchSize: batch, Fallback: fb.add}, noTick(), never)

			var mu sync.Mutex
			var accepted []string
			rec := func(id string) error {
				err := w.Record(ctx, audit.Event{Type: audit.SessionCreated, CorrelationID: id})
				if err == nil {
					mu.Lock()
					accepted = append(accepted, id)
					mu.Unlock()
				}
				return err
			}
			n := 0
			for range batch {
				if err := rec(strconv.Itoa(n)); err != nil {
					t.Fatal(err)
				}
				n++
			}
			if tc.name == "stores the first batch, then blocks" {
				if err := w.Flush(ctx); err != nil {
					t.Fatal(err)
				}
				for range batch {
					if err := rec(strconv.Itoa(n)); err != nil {
						t.Fatal(err)
					}
					n++
				}
			}
			<-entered // the loop is stuck in the store with a batch
			for range queue {
				if err := rec(strconv.Itoa(n)); err != nil {
					t.Fatal(err)
				}
				n++
			}
			// The queue is full: these wait for room, and a Flush too.
			var wg sync.WaitGroup
			blocked := make(chan error, 10)
			for range 5 {
				id := strconv.Itoa(n)
				n++
				wg.Go(func() { blocked <- rec(id) })
			}
			wg.Go(func() { blocked <- w.Flush(ctx) })

			cctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
			defer cancel()
			start := time.Now()
			err := w.Close(cctx)
			if d := time.Since(start); d > time.Second {
				t.Errorf("Close took %v with a 100 ms deadline", d)
			}
			if !errors.Is(err, audit.ErrNotStored) || !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("Close = %v, want ErrNotStored and context.DeadlineExceeded", err)
			}
			wg.Wait()
			close(blocked)
			for err := range blocked {
				if err != nil && !errors.Is(err, audit.ErrClosed) {
					t.Errorf("a blocked Record or Flush returned %v, want nil or ErrClosed", err)
				}
			}
			s := w.Stats()
			if int(s.Accepted) != len(accepted) || s.Written+s.Fallback != s.Accepted || s.Dropped != 0 || s.Queued != 0 {
				t.Errorf("Stats = %+v; %d accepted", s, len(accepted))
			}
			if s.Fallback == 0 || int(s.Fallback) != fb.len() {
				t.Errorf("Stats.Fallback = %d, fallback called %d times", s.Fallback, fb.len())
			}
			for _, e := range fb.errs {
				if !errors.Is(e, context.DeadlineExceeded) {
					t.Errorf("fallback reason %v, want the close deadline", e)
				}
			}
			if both := accountedFor(t, accepted, storedIDs(t, mem), fb.ids()); len(both) > 0 {
				t.Errorf("events %v stored and in the fallback", both)
			}
			if _, err := svc.Verify(ctx, 0, 0); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestWriterCloseCancelled: Close with a context cancelled already, on a
// working store, many times over: what the loop has stored is stored,
// the rest is in the fallback. The one write in flight when Close gives
// up may still succeed; its events are then stored and in the fallback,
// counted in Written and Fallback both (at least once, never lost).
func TestWriterCloseCancelled(t *testing.T) {
	cctx, cancel := context.WithCancel(context.Background())
	cancel()
	const batch = 100
	for round := range 30 {
		ctx := context.Background()
		mem := memory.New().Audit()
		var log syncBuffer
		svc := newService(t, mem, audit.Config{Logger: slog.New(slog.NewTextHandler(&log, nil))})
		fb := &sink{}
		w := audit.NewWriterWithTick(svc, audit.WriterConfig{QueueSize: 2000, BatchSize: batch, Fallback: fb.add}, noTick())
		var accepted []string
		for i := range 1000 {
			id := strconv.Itoa(i)
			record(t, ctx, w, audit.Event{Type: audit.SessionCreated, CorrelationID: id})
			accepted = append(accepted, id)
		}
		err := w.Close(cctx)
		s := w.Stats()
		// (Written may grow yet, by the write Close gave up on.)
		if s.Accepted != 1000 || s.Written+s.Fallback < 1000 || uint64(fb.len()) != s.Fallback {
			t.Fatalf("round %d: when Close returned, Stats = %+v, %d in the fallback", round, s, fb.len())
		}
		if (s.Fallback > 0) != errors.Is(err, audit.ErrNotStored) || s.Fallback > 0 && !errors.Is(err, context.Canceled) {
			t.Errorf("round %d: Close = %v with %d in the fallback", round, err, s.Fallback)
		}
		<-audit.WriterDone(w) // the memory store honours its context: the loop ends
		s = w.Stats()
		ids := storedIDs(t, mem)
		both := accountedFor(t, accepted, ids, fb.ids())
		if uint64(len(ids)) != s.Written || s.Written+s.Fallback != 1000+uint64(len(both)) || len(both) > batch {
			t.Errorf("round %d: %d stored, %d both stored and in the fallback; Stats %+v", round, len(ids), len(both), s)
		}
		if warned := strings.Contains(log.String(), "succeeded after all"); warned != (len(both) > 0) {
			t.Errorf("round %d: %d events twice, warning logged: %v", round, len(both), warned)
		}
		verify(t, svc, int64(len(ids)))
	}
}

// refusingStore wraps st (on db) so that a batch holding an event whose
// Data has "poison" is appended and then rolled back, failing with
// errPoison: the way a database refuses a row inside a transaction.
var errPoison = errors.New("poison refused")

func refusingStore(db store.Transactor, st audit.Store) *fakeStore {
	return &fakeStore{Store: st, AppendFn: func(ctx context.Context, events []audit.Event, seal audit.Sealer) error {
		return db.InTx(ctx, func(ctx context.Context) error {
			if err := st.Append(ctx, events, seal); err != nil {
				return err
			}
			for _, e := range events {
				if e.Data["poison"] == true {
					return errPoison
				}
			}
			return nil
		})
	}}
}

func TestWriterPoison(t *testing.T) {
	// One event the store refuses among 1,000 good ones: the batch is
	// split until it is alone; it goes to the fallback with the store's
	// error, the 1,000 are stored in order and the chain verifies.
	ctx := context.Background()
	db := memory.New()
	svc := newService(t, refusingStore(db, db.Audit()), audit.Config{})
	fb := &sink{}
	w := audit.NewWriterWithTick(svc, audit.WriterConfig{QueueSize: 2000, BatchSize: 300, Fallback: fb.add}, noTick())
	var want []string
	for i := range 1001 {
		e := audit.Event{Type: audit.SessionCreated, CorrelationID: fmt.Sprintf("%04d", i)}
		if i == 437 {
			e.Data = map[string]any{"poison": true}
		} else {
			want = append(want, e.CorrelationID)
		}
		record(t, ctx, w, e)
	}
	if err := w.Flush(ctx); !errors.Is(err, audit.ErrNotStored) || !strings.Contains(err.Error(), "1 refused") {
		t.Errorf("Flush = %v, want ErrNotStored naming 1 refused event", err)
	}
	if err := w.Close(ctx); err != nil {
		t.Errorf("Close = %v; the refused event was reported by Flush", err)
	}
	if got := storedIDs(t, db.Audit()); !slices.Equal(got, want) {
		t.Errorf("stored %d events, want the 1,000 good ones in order", len(got))
	}
	verify(t, svc, 1000)
	if len(fb.events) != 1 || fb.events[0].CorrelationID != "0437" || !errors.Is(fb.errs[0], errPoison) {
		t.Fatalf("fallback got %v, %v; want the poison with its error", fb.ids(), fb.errs)
	}
	s := w.Stats()
	if s.Accepted != 1001 || s.Written != 1000 || s.Fallback != 1 || s.Retries != 0 || s.Failures == 0 || s.Failures > 20 {
		t.Errorf("Stats = %+v", s)
	}
}

func TestWriterTransientContextError(t *testing.T) {
	// A store's own timeout is not the event's fault: retried, not split.
	ctx := context.Background()
	mem := memory.New().Audit()
	var calls int
	st := &fakeStore{Store: mem, AppendFn: func(ctx context.Context, events []audit.Event, seal audit.Sealer) error {
		if calls++; calls <= 3 {
			return fmt.Errorf("query: %w", context.DeadlineExceeded)
		}
		return mem.Append(ctx, events, seal)
	}}
	svc := newService(t, st, audit.Config{})
	fb := &sink{}
	var waits []time.Duration
	now := func(d time.Duration) <-chan time.Time {
		waits = append(waits, d)
		c := make(chan time.Time, 1)
		c <- time.Time{}
		return c
	}
	w := audit.NewWriterWithHooks(svc, audit.WriterConfig{BatchSize: 10, RetryDelay: time.Second, MaxRetryDelay: 3 * time.Second, Fallback: fb.add}, noTick(), now)
	for range 5 {
		record(t, ctx, w, audit.Event{Type: audit.SessionCreated})
	}
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if s := w.Stats(); s != (audit.WriterStats{Accepted: 5, Written: 5, Failures: 3, Retries: 3}) || fb.len() != 0 {
		t.Errorf("Stats = %+v, %d in the fallback", s, fb.len())
	}
	// 1 s, 2 s, then capped at 3 s; each jittered to half to all of it.
	for i, max := range []time.Duration{time.Second, 2 * time.Second, 3 * time.Second} {
		if i >= len(waits) || waits[i] < max/2 || waits[i] > max {
			t.Errorf("waits %v; wait %d should be in [%v, %v]", waits, i, max/2, max)
		}
	}
	verify(t, svc, 5)
}

func TestWriterConfigMaxRetryDelay(t *testing.T) {
	svc := newService(t, memory.New().Audit(), audit.Config{})
	if _, err := svc.NewWriter(audit.WriterConfig{MaxRetryDelay: -1}); err == nil || !strings.Contains(err.Error(), "WriterConfig.MaxRetryDelay") {
		t.Errorf("NewWriter(MaxRetryDelay -1) = %v", err)
	}
}

// TestFallbackLogFormats: the default fallback's record carries the event
// as a JSON object under slog's JSON handler, and as JSON text under the
// text handler.
func TestFallbackLogFormats(t *testing.T) {
	e := audit.Event{Type: audit.LoginFailed, CorrelationID: "c-1", Data: map[string]any{"password": "hunter2", "n": 1}}
	for _, tc := range []struct {
		name string
		h    func(*bytes.Buffer) slog.Handler
		want string
	}{
		{"json", func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) }, `"audit_event":{"id":0,`},
		{"text", func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) }, `audit_event="{\"id\":0,`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			svc := newService(t, &fakeStore{Store: memory.New().Audit(), AppendFn: func(context.Context, []audit.Event, audit.Sealer) error {
				return errPoison
			}}, audit.Config{Logger: slog.New(tc.h(&buf))})
			w, err := svc.NewWriter(audit.WriterConfig{})
			if err != nil {
				t.Fatal(err)
			}
			record(t, context.Background(), w, e)
			if err := w.Close(context.Background()); !errors.Is(err, audit.ErrNotStored) {
				t.Fatalf("Close = %v", err)
			}
			out := buf.String()
			if !strings.Contains(out, tc.want) || !strings.Contains(out, "audit: event not stored") ||
				!strings.Contains(out, "poison refused") || !strings.Contains(out, "level=ERROR") && !strings.Contains(out, `"level":"ERROR"`) {
				t.Errorf("log lacks %s, the message, the reason or the level:\n%s", tc.want, out)
			}
			if strings.Contains(out, "hunter2") {
				t.Errorf("the fallback logged a secret:\n%s", out)
			}
		})
	}
}

// TestReplay: fallback output, mixed with other log lines, replayed into
// another store: the events are stored with their times and a valid chain.
func TestReplay(t *testing.T) {
	ctx := context.Background()
	var log syncBuffer
	logger := slog.New(slog.NewJSONHandler(&log, nil))
	logger.Info("server started", "addr", ":8080")
	failing := newService(t, &fakeStore{Store: memory.New().Audit(), AppendFn: func(ctx context.Context, _ []audit.Event, _ audit.Sealer) error {
		<-ctx.Done()
		return ctx.Err()
	}}, audit.Config{Logger: logger, Now: stepClock(t0, time.Second)})
	w2 := audit.NewWriterWithTick(failing, audit.WriterConfig{}, noTick())
	u := int64(7)
	for i := range 5 {
		record(t, ctx, w2, audit.Event{Type: audit.LoginFailed, UserID: &u, CorrelationID: "r" + strconv.Itoa(i),
			Data: map[string]any{"attempts": i, "token": "secret-token"}, Severity: audit.Warning})
	}
	logger.Warn("audit: event not stored", "other", "not a fallback record")
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := w2.Close(cctx); !errors.Is(err, audit.ErrNotStored) {
		t.Fatalf("Close = %v", err)
	}
	logger.Info("bye")

	text := log.String() + "not json at all\n{\"msg\":\"x\"}\n\n"
	if strings.Contains(text, "secret-token") {
		t.Fatal("the fallback logged a secret")
	}
	target := memory.New().Audit()
	svc := newService(t, target, audit.Config{})
	n, err := svc.Replay(ctx, strings.NewReader(text))
	if err != nil || n != 5 {
		t.Fatalf("Replay = %d, %v; want 5", n, err)
	}
	verify(t, svc, 5)
	events := all(t, svc)
	slices.Reverse(events)
	for i, e := range events {
		if e.CorrelationID != "r"+strconv.Itoa(i) || !e.Time.Equal(t0.Add(time.Duration(i)*time.Second)) ||
			e.UserID != nil || *e.ActorID != 7 || e.Severity != audit.Warning || e.Data["attempts"] != float64(i) ||
			e.Data["token"] != audit.Redacted {
			t.Errorf("replayed event %d = %+v", i, e)
		}
	}

	// A fallback record that cannot be read is reported, after the rest.
	bad := `{"msg":"audit: event not stored","audit_event":{"event_type":"Bad Type"}}` + "\n" + log.String()
	n, err = svc.Replay(ctx, strings.NewReader(bad))
	if n != 5 || err == nil || !strings.Contains(err.Error(), "1 fallback records unreadable, the first at line 1") {
		t.Errorf("Replay(a bad record first) = %d, %v", n, err)
	}
}

func FuzzParseFallback(f *testing.F) {
	rec, _ := json.Marshal(map[string]any{"msg": "audit: event not stored", "audit_event": audit.Event{Type: audit.Logout}})
	for _, s := range []string{
		"", "\x00", "\xff\xfe", "not json", "{", string(rec), `{"msg":"audit: event not stored","audit_event":null}`,
		`{"msg":"audit: event not stored","audit_event":{"event_type":"logout","created_at":"x"}}`,
		`{"msg":"audit: event not stored","audit_event":{"event_type":"logout","client_ip":"::1%eth0","user_id":1e400}}`,
		strings.Repeat("[", 100000), `{"audit_event":` + strings.Repeat(`{"a":`, 20000),
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		e, ok, err := audit.ParseFallback(line)
		if ok && (err != nil || e.Type.Validate() != nil) {
			t.Errorf("ParseFallback = %+v, %v, %v", e, ok, err)
		}
		if !ok && e.Type != "" {
			t.Errorf("not a record, yet an event %+v", e)
		}
		// Replay of the line never panics either.
		svc, _ := audit.NewService(memory.New().Audit(), audit.Config{})
		svc.Replay(context.Background(), bytes.NewReader(line))
	})
}
