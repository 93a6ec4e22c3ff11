package audit_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cedrina/cedrina/audit"
	"github.com/cedrina/cedrina/store"
	"github.com/cedrina/cedrina/store/memory"
)

// syncBuffer is a log destination safe for the writer's goroutine.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func newWriter(tb testing.TB, svc *audit.Service, cfg audit.WriterConfig) *audit.Writer {
	tb.Helper()
	w, err := svc.NewWriter(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := w.Close(context.Background()); err != nil {
			tb.Error(err)
		}
	})
	return w
}

// noTick is a flush ticker that never fires.
func noTick() <-chan time.Time { return make(chan time.Time) }

// gatedStore blocks Append until release is closed, and reports each
// Append's batch size on entered before blocking and on appended after
// storing.
type gatedStore struct {
	*fakeStore
	entered  chan int
	appended chan int
	release  chan struct{}
}

func newGatedStore(gated bool) *gatedStore {
	mem := memory.New().Audit()
	g := &gatedStore{fakeStore: &fakeStore{Store: mem}, entered: make(chan int, 100), appended: make(chan int, 100), release: make(chan struct{})}
	if !gated {
		close(g.release)
	}
	g.AppendFn = func(ctx context.Context, events []audit.Event, seal audit.Sealer) error {
		g.entered <- len(events)
		<-g.release
		// Like a store that ignores its context once it has started.
		err := mem.Append(context.WithoutCancel(ctx), events, seal)
		g.appended <- len(events)
		return err
	}
	return g
}

// stored counts the events in svc's store.
func stored(tb testing.TB, svc *audit.Service) int {
	tb.Helper()
	return len(all(tb, svc))
}

// drained waits until w's loop has taken every queued item.
func drained(tb testing.TB, w *audit.Writer) {
	tb.Helper()
	for i := 0; w.Stats().Queued != 0; i++ {
		if i > 10_000_000 {
			tb.Fatal("the writer never drained its queue")
		}
		runtime.Gosched()
	}
}

func TestWriterConfigErrors(t *testing.T) {
	svc := newService(t, memory.New().Audit(), audit.Config{})
	for _, tc := range []struct {
		cfg   audit.WriterConfig
		field string
	}{
		{audit.WriterConfig{QueueSize: -1}, "QueueSize"},
		{audit.WriterConfig{BatchSize: -1}, "BatchSize"},
		{audit.WriterConfig{FlushInterval: -time.Second}, "FlushInterval"},
		{audit.WriterConfig{RetryDelay: -1}, "RetryDelay"},
		{audit.WriterConfig{OnFull: 2}, "OnFull"},
		{audit.WriterConfig{OnFull: -1}, "OnFull"},
	} {
		w, err := svc.NewWriter(tc.cfg)
		if err == nil || !strings.Contains(err.Error(), "WriterConfig."+tc.field) || w != nil {
			t.Errorf("NewWriter(%+v) = %v, %v; want an error naming %s", tc.cfg, w, err, tc.field)
		}
	}
	w := newWriter(t, svc, audit.WriterConfig{})
	record(t, context.Background(), w, audit.Event{Type: audit.Logout})
	if err := w.Flush(context.Background()); err != nil || stored(t, svc) != 1 {
		t.Errorf("zero WriterConfig: Flush = %v, %d stored", err, stored(t, svc))
	}
}

func TestWriterFlush(t *testing.T) {
	ctx := context.Background()
	svc := newService(t, memory.New().Audit(), audit.Config{})
	w := audit.NewWriterWithTick(svc, audit.WriterConfig{QueueSize: 100, BatchSize: 10}, noTick())
	defer w.Close(ctx)
	for range 25 {
		record(t, ctx, w, audit.Event{Type: audit.SessionCreated})
	}
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if n := stored(t, svc); n != 25 {
		t.Fatalf("after Flush, %d events stored, want 25", n)
	}
	if err := w.Flush(ctx); err != nil { // nothing to write
		t.Fatal(err)
	}
	record(t, ctx, w, audit.Event{Type: audit.Logout})
	if err := w.Flush(ctx); err != nil || stored(t, svc) != 26 {
		t.Fatalf("second Flush = %v, %d stored; want 26", err, stored(t, svc))
	}
	verify(t, svc, 26)
	if s := w.Stats(); s != (audit.WriterStats{Accepted: 26, Written: 26}) {
		t.Errorf("Stats = %+v", s)
	}
}

func TestWriterRecordCompletesEvent(t *testing.T) {
	ctx := audit.ContextWithRequestInfo(context.Background(), audit.RequestInfo{UserAgent: "agent\nforged", CorrelationID: "c1"})
	svc := newService(t, memory.New().Audit(), audit.Config{Now: stepClock(t0, time.Second)})
	w := newWriter(t, svc, audit.WriterConfig{})
	record(t, ctx, w, audit.Event{Type: audit.LoginFailed, Data: map[string]any{"password": "hunter2", "n": 1}})
	if err := w.Record(ctx, audit.Event{Type: "Bad"}); !errors.Is(err, audit.ErrInvalidEvent) {
		t.Errorf("Record(bad type) = %v, want ErrInvalidEvent", err)
	}
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	e := only(t, svc)
	if e.UserAgent != "agent\uFFFDforged" || e.CorrelationID != "c1" || !e.Time.Equal(t0) || e.Severity != audit.Info ||
		e.Data["password"] != audit.Redacted || e.Data["n"] != 1.0 {
		t.Errorf("stored %+v", e)
	}
	if s := w.Stats(); s.Accepted != 1 || s.Written != 1 {
		t.Errorf("Stats = %+v; the invalid event must not count", s)
	}
}

func TestWriterClose(t *testing.T) {
	ctx := context.Background()
	svc := newService(t, memory.New().Audit(), audit.Config{})
	w := audit.NewWriterWithTick(svc, audit.WriterConfig{QueueSize: 5000, BatchSize: 100}, noTick())
	for range 1234 {
		record(t, ctx, w, audit.Event{Type: audit.SessionCreated})
	}
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if n := stored(t, svc); n != 1234 {
		t.Fatalf("after Close, %d events stored, want 1234", n)
	}
	verify(t, svc, 1234)
	if err := w.Record(ctx, audit.Event{Type: audit.Logout}); !errors.Is(err, audit.ErrClosed) {
		t.Errorf("Record after Close = %v, want ErrClosed", err)
	}
	if err := w.Flush(ctx); !errors.Is(err, audit.ErrClosed) {
		t.Errorf("Flush after Close = %v, want ErrClosed", err)
	}
	if err := w.Close(ctx); err != nil {
		t.Errorf("second Close = %v", err)
	}
	if s := w.Stats(); s != (audit.WriterStats{Accepted: 1234, Written: 1234}) {
		t.Errorf("Stats = %+v", s)
	}
}

func TestWriterConcurrent(t *testing.T) {
	// 100,000 events from 16 goroutines, a Service recording beside the
	// writer on the same store: one valid chain holding every event once.
	const goroutines, perG = 16, 100_000 / 16
	ctx := context.Background()
	st := memory.New().Audit()
	svc := newService(t, st, audit.Config{})
	w, err := svc.NewWriter(audit.WriterConfig{BatchSize: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range perG {
				e := audit.Event{Type: audit.SessionCreated, CorrelationID: strconv.Itoa(g*perG + i)}
				if err := w.Record(ctx, e); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Go(func() {
		for range 100 {
			if err := svc.Record(ctx, audit.Event{Type: audit.Logout}); err != nil {
				t.Error(err)
				return
			}
		}
	})
	wg.Wait()
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	const total = goroutines*perG + 100
	if s := w.Stats(); s.Accepted != goroutines*perG || s.Written != s.Accepted || s.Dropped != 0 || s.Failures != 0 || s.Queued != 0 {
		t.Errorf("Stats = %+v; want %d accepted and written", s, goroutines*perG)
	}
	verify(t, svc, total)
	// Every event once, in one pass over the chain (paging through Query
	// would sort the whole table a hundred times).
	seen := make(map[string]bool, total)
	err = st.Chain(ctx, 1, total, func(events []audit.Event) error {
		for _, e := range events {
			if e.Type == audit.Logout {
				continue
			}
			if seen[e.CorrelationID] {
				t.Fatalf("event %s stored twice", e.CorrelationID)
			}
			seen[e.CorrelationID] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) != goroutines*perG {
		t.Errorf("%d distinct writer events stored, want %d", len(seen), goroutines*perG)
	}
	page, err := svc.Query(ctx, audit.Query{Types: []audit.EventType{audit.Logout}, Limit: 1000})
	if err != nil || len(page.Events) != 100 || page.Next != "" {
		t.Errorf("Query(logout) = %d events, Next %q, %v; want the service's 100", len(page.Events), page.Next, err)
	}
	page, err = svc.Query(ctx, audit.Query{Limit: 1000})
	if err != nil || len(page.Events) != 1000 || page.Next == "" || page.Events[0].Time.Before(page.Events[999].Time) {
		t.Errorf("Query = %d events, Next %q, %v; want a first page of 1000, newest first", len(page.Events), page.Next, err)
	}
}

func TestWriterBatchSize(t *testing.T) {
	ctx := context.Background()
	st := newGatedStore(false)
	svc := newService(t, st, audit.Config{})
	w := audit.NewWriterWithTick(svc, audit.WriterConfig{BatchSize: 10}, noTick())
	defer w.Close(ctx)
	for range 10 {
		record(t, ctx, w, audit.Event{Type: audit.SessionCreated})
	}
	// No Flush, no tick: a full batch is written by itself.
	if n := <-st.appended; n != 10 {
		t.Fatalf("first write had %d events, want 10", n)
	}
	if n := stored(t, svc); n != 10 {
		t.Fatalf("%d events stored, want 10", n)
	}
	for range 25 {
		record(t, ctx, w, audit.Event{Type: audit.SessionCreated})
	}
	for range 2 {
		if n := <-st.appended; n != 10 {
			t.Fatalf("write of %d events, want 10", n)
		}
	}
	drained(t, w)
	select {
	case n := <-st.appended:
		t.Fatalf("a partial batch of %d was written without a tick or Flush", n)
	default:
	}
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if n := <-st.appended; n != 5 {
		t.Fatalf("Flush wrote %d events, want 5", n)
	}
	verify(t, svc, 35)
}

func TestWriterFlushInterval(t *testing.T) {
	ctx := context.Background()
	st := newGatedStore(false)
	svc := newService(t, st, audit.Config{})
	tick := make(chan time.Time)
	w := audit.NewWriterWithTick(svc, audit.WriterConfig{BatchSize: 10}, tick)
	defer w.Close(ctx)
	tick <- time.Now() // an empty batch: nothing to write
	for range 3 {
		record(t, ctx, w, audit.Event{Type: audit.SessionCreated})
	}
	drained(t, w)
	tick <- time.Now()
	if n := <-st.appended; n != 3 {
		t.Fatalf("the tick wrote %d events, want 3", n)
	}
	if n := stored(t, svc); n != 3 {
		t.Fatalf("%d events stored, want 3", n)
	}
	verify(t, svc, 3)
	if len(st.appended) != 0 {
		t.Errorf("%d more writes", len(st.appended))
	}
}

// fill makes a writer with a queue of 2 and batches of 1 whose store is
// stuck in an Append of the first event, with two more events queued.
func fill(t *testing.T, policy audit.FullPolicy, log *syncBuffer) (*gatedStore, *audit.Service, *audit.Writer) {
	t.Helper()
	ctx := context.Background()
	st := newGatedStore(true)
	cfg := audit.Config{}
	if log != nil {
		cfg.Logger = slog.New(slog.NewTextHandler(log, nil))
	}
	svc := newService(t, st, cfg)
	w := audit.NewWriterWithTick(svc, audit.WriterConfig{QueueSize: 2, BatchSize: 1, OnFull: policy}, noTick())
	record(t, ctx, w, audit.Event{Type: audit.SessionCreated})
	<-st.entered // the loop holds event 1 and waits for the store
	record(t, ctx, w, audit.Event{Type: audit.SessionCreated}, audit.Event{Type: audit.SessionCreated})
	return st, svc, w
}

func TestWriterDrop(t *testing.T) {
	ctx := context.Background()
	var log syncBuffer
	st, svc, w := fill(t, audit.Drop, &log)
	for range 5 {
		if err := w.Record(ctx, audit.Event{Type: audit.Logout}); !errors.Is(err, audit.ErrQueueFull) {
			t.Fatalf("Record on a full queue = %v, want ErrQueueFull", err)
		}
	}
	if s := w.Stats(); s != (audit.WriterStats{Accepted: 3, Dropped: 5, Queued: 2}) {
		t.Errorf("Stats = %+v", s)
	}
	if n := strings.Count(log.String(), "queue full"); n != 1 {
		t.Errorf("%d warnings logged, want 1:\n%s", n, log.String())
	}
	close(st.release)
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if n := stored(t, svc); n != 3 {
		t.Errorf("%d events stored, want the 3 accepted", n)
	}
	for _, e := range all(t, svc) {
		if e.Type != audit.SessionCreated {
			t.Errorf("a dropped event was stored: %+v", e)
		}
	}
	verify(t, svc, 3)
	if s := w.Stats(); s != (audit.WriterStats{Accepted: 3, Written: 3, Dropped: 5}) {
		t.Errorf("Stats = %+v", s)
	}
}

func TestWriterBlock(t *testing.T) {
	ctx := context.Background()
	st, svc, w := fill(t, audit.Block, nil)

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := w.Record(cctx, audit.Event{Type: audit.Logout}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Record with a cancelled context on a full queue = %v, want context.Canceled", err)
	}
	if s := w.Stats(); s.Accepted != 3 || s.Dropped != 0 {
		t.Errorf("Stats = %+v; the refused event must not count", s)
	}

	// A Record with a live context waits for room and is accepted.
	done := make(chan error)
	go func() { done <- w.Record(ctx, audit.Event{Type: audit.AccountLocked}) }()
	close(st.release)
	if err := <-done; err != nil {
		t.Fatalf("blocked Record = %v", err)
	}
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	events := all(t, svc)
	if len(events) != 4 || events[0].Type != audit.AccountLocked {
		t.Errorf("stored %d events, newest %q; want 4, the blocked one last", len(events), events[0].Type)
	}
	for _, e := range events {
		if e.Type == audit.Logout {
			t.Error("the refused event was stored")
		}
	}
	verify(t, svc, 4)
	if s := w.Stats(); s != (audit.WriterStats{Accepted: 4, Written: 4}) {
		t.Errorf("Stats = %+v", s)
	}
}

func TestWriterFlushContext(t *testing.T) {
	st, _, w := fill(t, audit.Drop, nil)
	cctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := w.Flush(cctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Flush with a cancelled context on a stuck store = %v", err)
	}
	close(st.release)
	if err := w.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestWriterRetries(t *testing.T) {
	// A store unavailable twice: the batch is retried after RetryDelay,
	// then twice that, and stored once; nothing goes to the fallback.
	ctx := context.Background()
	var log syncBuffer
	mem := memory.New().Audit()
	var calls atomic.Int64
	st := &fakeStore{Store: mem, AppendFn: func(ctx context.Context, events []audit.Event, seal audit.Sealer) error {
		if calls.Add(1) <= 2 {
			// A store that fails may have sealed the batch first.
			seal(audit.Head{Seq: 41, Hash: "bogus"}, events)
			return fmt.Errorf("connection reset: %w", store.ErrUnavailable)
		}
		return mem.Append(ctx, events, seal)
	}}
	svc := newService(t, st, audit.Config{Logger: slog.New(slog.NewTextHandler(&log, nil))})
	var waits []time.Duration
	now := func(d time.Duration) <-chan time.Time {
		waits = append(waits, d) // only the writer's goroutine calls it
		c := make(chan time.Time, 1)
		c <- time.Time{}
		return c
	}
	fb := &sink{}
	w := audit.NewWriterWithHooks(svc, audit.WriterConfig{BatchSize: 100, RetryDelay: time.Second, Fallback: fb.add}, noTick(), now)
	for range 7 {
		record(t, ctx, w, audit.Event{Type: audit.SessionCreated})
	}
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if n := stored(t, svc); n != 7 {
		t.Fatalf("%d events stored, want 7 (each once)", n)
	}
	verify(t, svc, 7)
	if s := w.Stats(); s != (audit.WriterStats{Accepted: 7, Written: 7, Failures: 2, Retries: 2}) {
		t.Errorf("Stats = %+v", s)
	}
	if n := strings.Count(log.String(), "connection reset"); n != 2 {
		t.Errorf("%d failures logged, want 2:\n%s", n, log.String())
	}
	if len(waits) != 2 || waits[0] < time.Second/2 || waits[0] > time.Second || waits[1] < time.Second || waits[1] > 2*time.Second {
		t.Errorf("backoff waits %v; want about 1 s, then 2 s (jittered to half to all of it)", waits)
	}
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if n := fb.len(); n != 0 {
		t.Errorf("%d events in the fallback, want none", n)
	}
}

func TestWriterCloseContext(t *testing.T) {
	// Close with a cancelled context on a stuck store that ignores its
	// context: it returns at once, the three unwritten events go to the
	// fallback, and the write it gave up on, succeeding later, counts as
	// written too (at least once).
	var log syncBuffer
	st, svc, w := fill(t, audit.Drop, &log)
	cctx, cancel := context.WithCancel(context.Background())
	cancel()
	closed := make(chan error, 1)
	go func() { closed <- w.Close(cctx) }()
	select {
	case err := <-closed:
		if !errors.Is(err, context.Canceled) || !errors.Is(err, audit.ErrNotStored) || !strings.Contains(err.Error(), "3 handed to the fallback") {
			t.Errorf("Close = %v, want ErrNotStored for 3 events and context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		close(st.release)
		<-closed
		t.Fatal("Close with a cancelled context did not return while the store was stuck")
	}
	if s := w.Stats(); s != (audit.WriterStats{Accepted: 3, Fallback: 3}) {
		t.Errorf("Stats = %+v; want 3 accepted, 3 in the fallback", s)
	}
	if !strings.Contains(log.String(), "audit: event not stored") || strings.Count(log.String(), "audit_event=") != 3 {
		t.Errorf("the default fallback did not log the 3 events on Config.Logger:\n%s", log.String())
	}
	if err := w.Record(context.Background(), audit.Event{Type: audit.Logout}); !errors.Is(err, audit.ErrClosed) {
		t.Errorf("Record after an unfinished Close = %v, want ErrClosed", err)
	}
	if err := w.Close(context.Background()); err != nil {
		t.Errorf("second Close = %v", err)
	}
	close(st.release) // the abandoned write of event 1 succeeds after all
	<-st.appended
	for i := 0; w.Stats().Written != 1; i++ {
		if i > 10_000_000 {
			t.Fatal("the late write was not counted")
		}
		runtime.Gosched()
	}
	if s := w.Stats(); s != (audit.WriterStats{Accepted: 3, Written: 1, Fallback: 3}) {
		t.Errorf("Stats = %+v", s)
	}
	for i := 0; !strings.Contains(log.String(), "succeeded after all"); i++ {
		if i > 10_000_000 {
			t.Fatalf("no warning about the double:\n%s", log.String())
		}
		runtime.Gosched()
	}
	verify(t, svc, 1)
}

// TestWriterKeyMismatch: a writer whose key is not the chain's has every
// event refused. Each event is offered to the store once (no retry, no
// splitting of batches), goes to the fallback, and the mismatch is logged
// once; replayed under the chain's key, the events join the chain.
func TestWriterKeyMismatch(t *testing.T) {
	ctx := context.Background()
	mem := memory.New().Audit()
	chainKey, otherKey := bytes.Repeat([]byte("k"), 32), bytes.Repeat([]byte("o"), 32)
	right := newService(t, mem, audit.Config{Key: chainKey})
	record(t, ctx, right, audit.Event{Type: audit.Logout})

	var mu sync.Mutex
	var sizes []int
	release := make(chan struct{})
	st := &fakeStore{Store: mem, AppendFn: func(ctx context.Context, events []audit.Event, seal audit.Sealer) error {
		<-release // the events queue up meanwhile, so later batches are full
		mu.Lock()
		sizes = append(sizes, len(events))
		mu.Unlock()
		return mem.Append(ctx, events, seal)
	}}
	var log syncBuffer
	wrong := newService(t, st, audit.Config{Key: otherKey, Logger: slog.New(slog.NewJSONHandler(&log, nil))})
	w := audit.NewWriterWithTick(wrong, audit.WriterConfig{BatchSize: 4}, noTick())
	const n = 10
	for i := range n {
		record(t, ctx, w, audit.Event{Type: audit.LoginFailed, CorrelationID: fmt.Sprint("mismatch-", i)})
	}
	close(release)
	if err := w.Flush(ctx); !errors.Is(err, audit.ErrNotStored) {
		t.Fatalf("Flush = %v, want ErrNotStored", err)
	}
	if err := w.Close(ctx); err != nil {
		t.Fatalf("Close = %v", err)
	}
	if s := w.Stats(); s.Accepted != n || s.Written != 0 || s.Fallback != n || s.Retries != 0 {
		t.Fatalf("Stats = %+v, want %d accepted, all in the fallback, no retries", s, n)
	}
	mu.Lock()
	total, largest := 0, 0
	for _, k := range sizes {
		total += k
		largest = max(largest, k)
	}
	mu.Unlock()
	if total != n || largest < 2 {
		t.Fatalf("Append was given batches of %v; want each event once, in batches not split", sizes)
	}

	text := log.String()
	if c := strings.Count(text, "the chain is sealed with another key"); c != 1 {
		t.Errorf("the mismatch was logged %d times, want once:\n%s", c, text)
	}
	if c := strings.Count(text, `"msg":"audit: event not stored"`); c != n {
		t.Errorf("%d fallback records, want %d", c, n)
	}
	if strings.Contains(text, "splitting") || strings.Contains(text, "retrying") || strings.Contains(text, "refused an event") {
		t.Errorf("the log shows retries or splits:\n%s", text)
	}
	if c := strings.Count(text, "audit: chain sealed with another key: the chain's key fingerprint is "+audit.KeyFingerprint(chainKey)); c < n {
		t.Errorf("%d records name the chain's fingerprint, want at least %d:\n%s", c, n, text)
	}

	// With the right key the fallback's events are recorded.
	got, err := right.Replay(ctx, strings.NewReader(text))
	if err != nil || got != n {
		t.Fatalf("Replay = %d, %v; want %d", got, err, n)
	}
	verify(t, right, n+1)
}
