package audit

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cedrina/cedrina/internal/errs"
	"github.com/cedrina/cedrina/store"
)

// FullPolicy says what [Writer.Record] does when the queue is full.
type FullPolicy int

const (
	// Block waits for room in the queue, or until the caller's context is
	// done (then the event is not accepted and Record returns the
	// context's error) or Close starts (ErrClosed). A slow store slows
	// callers.
	Block FullPolicy = iota
	// Drop refuses the event at once with ErrQueueFull, counts it in
	// Stats().Dropped and logs a warning (at most once per flush). Callers
	// never wait; events are lost while the store cannot keep up. A
	// dropped event was never accepted, so it does not go to the
	// fallback.
	Drop
)

// WriterConfig configures a [Writer]. The zero value is a safe default
// for every field.
type WriterConfig struct {
	// QueueSize is how many accepted events may wait to be written.
	// Default 10,000.
	QueueSize int
	// BatchSize is the most events written in one store call. Default 500.
	BatchSize int
	// FlushInterval is the longest an accepted event waits before its
	// batch is written, when batches do not fill. Default 200 ms.
	FlushInterval time.Duration
	// OnFull is the policy when the queue is full. Default Block.
	OnFull FullPolicy
	// RetryDelay is the first wait before writing a batch again after the
	// store failed with an error matching store.ErrUnavailable. Each
	// further failure doubles it, up to MaxRetryDelay; every wait is
	// jittered to between half and all of it. Default 1 s.
	RetryDelay time.Duration
	// MaxRetryDelay caps the wait between retries. Default 30 s.
	MaxRetryDelay time.Duration
	// Fallback receives, once each, the accepted events the writer could
	// not store, with the reason: an event the store refused (an error not
	// matching store.ErrUnavailable), every event of a batch refused
	// because the chain is sealed under another key (ErrKeyMismatch), and
	// every event still unwritten when Close's context ends. It is called
	// from the writer's goroutine or from Close, must not block, and must
	// not call the Writer. Its events are redacted already.
	//
	// Default: one line at Error level, "audit: event not stored", on
	// Config.Logger if the Service has one, or else as JSON on standard
	// error, with the event as a JSON object under "audit_event" and the
	// reason under "reason": [Service.Replay] reads such lines back (from
	// a JSON handler's output) and records their events.
	Fallback func(e Event, err error)
}

// Errors of the Writer. ErrQueueFull is returned by Record under the Drop
// policy when the queue is full; ErrClosed by Record and Flush once Close
// has started. Flush and Close return an error matching ErrNotStored when
// accepted events went to the fallback instead of the store.
var (
	ErrQueueFull = errors.New("audit: queue full, event dropped")
	ErrClosed    = errors.New("audit: writer closed")
	ErrNotStored = errors.New("audit: events not stored")
)

// WriterStats counts what a [Writer] did since it started. Once Close has
// returned, Accepted == Written + Fallback, except in one case: when a
// store write that Close gave up on (the store ignored the cancelled
// context) succeeds afterwards, its events count in Written too (they
// went to the fallback and are stored, see [Writer.Close]).
type WriterStats struct {
	Accepted uint64 // events Record accepted
	Written  uint64 // events stored
	Fallback uint64 // accepted events handed to the fallback
	Dropped  uint64 // events refused because the queue was full (Drop policy)
	Failures uint64 // store writes that failed (retried, or split to isolate a refused event)
	Retries  uint64 // store writes retried after an error matching store.ErrUnavailable
	Queued   int    // events waiting now
}

// Writer records events asynchronously: Record validates, redacts and
// queues the event and returns; one goroutine writes the queue to the
// store in batches (one multi-row insert each on PostgreSQL), when a batch
// is full or FlushInterval has passed.
//
// No accepted event is lost silently. A write that fails with an error
// matching store.ErrUnavailable is retried, with exponential backoff,
// until it succeeds or Close gives up. A batch the store refuses for any
// other reason is split in halves, recursively, until the refused events
// are alone: each of those goes to WriterConfig.Fallback with the store's
// error, and the others are stored, in order. A batch refused because the
// chain is sealed under another key than the service's (ErrKeyMismatch)
// goes to the fallback whole, since every event would be refused alike,
// and the mismatch is logged once at Error level (again only after a
// write succeeded since): fix the key, then replay the fallback's events
// ([Service.Replay]). What Close cannot write by its context's deadline
// goes to the fallback too. [WriterStats] counts it all.
//
// A Writer is safe for concurrent use. Make it with [Service.NewWriter]
// and Close it when done.
type Writer struct {
	svc      *Service
	cfg      WriterConfig
	fallback func(Event, error)
	queue    chan item

	// Record and Flush register in senders under mu (shared) while closed
	// is false; Close sets closed under mu, closes closing (which wakes
	// every blocked sender), waits for senders, then closes sealed: after
	// that nothing enters the queue.
	mu        sync.RWMutex
	closed    bool
	senders   sync.WaitGroup
	closing   chan struct{}
	sealed    chan struct{}
	sealOnce  sync.Once
	abort     chan struct{} // closed when Close hands the unwritten events over
	abortOnce sync.Once
	done      chan struct{} // closed when the loop exits

	// recvMu is held by the loop while it takes items from the queue (never
	// while it calls the store), so that Close, holding it, knows the
	// loop holds no item that is not in the ledger.
	recvMu sync.Mutex
	// ledgerMu guards pending, the events taken from the queue and not yet
	// stored or handed to the fallback (the batch being gathered and the
	// batch being written), and handedOver.
	ledgerMu   sync.Mutex
	pending    []Event
	handedOver bool

	accepted, written, fellBack, dropped, failures, retries atomic.Uint64
	refused                                                 atomic.Uint64 // since Flush or Close last reported
	dropLogged                                              atomic.Bool
	keyLogged                                               atomic.Bool // a key mismatch was logged since the last stored write

	tick  <-chan time.Time                     // for tests; nil means a real ticker
	after func(time.Duration) <-chan time.Time // the backoff timer; tests replace it
}

var _ Recorder = (*Writer)(nil)

// item is an event, or a flush request (done != nil) ordered behind every
// event queued before it.
type item struct {
	event Event
	done  chan error
}

// NewWriter starts a Writer that stores through s. It fails only on a bad
// cfg, naming the field.
func (s *Service) NewWriter(cfg WriterConfig) (*Writer, error) {
	switch {
	case cfg.QueueSize < 0:
		return nil, errs.Configf("audit", "WriterConfig.QueueSize", "%d is negative", cfg.QueueSize)
	case cfg.BatchSize < 0:
		return nil, errs.Configf("audit", "WriterConfig.BatchSize", "%d is negative", cfg.BatchSize)
	case cfg.FlushInterval < 0:
		return nil, errs.Configf("audit", "WriterConfig.FlushInterval", "%v is negative", cfg.FlushInterval)
	case cfg.RetryDelay < 0:
		return nil, errs.Configf("audit", "WriterConfig.RetryDelay", "%v is negative", cfg.RetryDelay)
	case cfg.MaxRetryDelay < 0:
		return nil, errs.Configf("audit", "WriterConfig.MaxRetryDelay", "%v is negative", cfg.MaxRetryDelay)
	case cfg.OnFull != Block && cfg.OnFull != Drop:
		return nil, errs.Configf("audit", "WriterConfig.OnFull", "%d is not Block or Drop", cfg.OnFull)
	}
	return newWriter(s, cfg, nil, nil), nil
}

// newWriter starts a Writer; tick replaces the flush ticker and after the
// backoff timer in tests.
func newWriter(s *Service, cfg WriterConfig, tick <-chan time.Time, after func(time.Duration) <-chan time.Time) *Writer {
	if cfg.QueueSize == 0 {
		cfg.QueueSize = 10_000
	}
	if cfg.BatchSize == 0 {
		cfg.BatchSize = 500
	}
	if cfg.FlushInterval == 0 {
		cfg.FlushInterval = 200 * time.Millisecond
	}
	if cfg.RetryDelay == 0 {
		cfg.RetryDelay = time.Second
	}
	if cfg.MaxRetryDelay == 0 {
		cfg.MaxRetryDelay = 30 * time.Second
	}
	if after == nil {
		after = time.After
	}
	w := &Writer{
		svc: s, cfg: cfg, fallback: cfg.Fallback, queue: make(chan item, cfg.QueueSize),
		closing: make(chan struct{}), sealed: make(chan struct{}), abort: make(chan struct{}), done: make(chan struct{}),
		tick: tick, after: after,
	}
	if w.fallback == nil {
		w.fallback = s.logFallback
	}
	go w.loop()
	return w
}

// enter registers a sender, or reports that Close has started.
func (w *Writer) enter() bool {
	w.mu.RLock()
	defer w.mu.RUnlock()
	if w.closed {
		return false
	}
	w.senders.Add(1)
	return true
}

// Record validates and queues e (see [Service.Record] for how e is
// completed). Errors: ErrInvalidEvent; ErrQueueFull under the Drop
// policy; under the Block policy, the context's error, or ErrClosed when
// Close starts while Record waits for room; ErrClosed after Close.
func (w *Writer) Record(ctx context.Context, e Event) error {
	p, err := w.svc.prepare(ctx, e)
	if err != nil {
		return err
	}
	if !w.enter() {
		return ErrClosed
	}
	defer w.senders.Done()
	it := item{event: p}
	if w.cfg.OnFull == Drop {
		select {
		case w.queue <- it:
		default:
			w.dropped.Add(1)
			if !w.dropLogged.Swap(true) {
				w.svc.log.WarnContext(ctx, "audit: queue full, dropping events", "queue_size", w.cfg.QueueSize)
			}
			return ErrQueueFull
		}
	} else {
		select {
		case w.queue <- it:
		case <-w.closing:
			return ErrClosed
		case <-ctx.Done():
			return fmt.Errorf("audit: waiting for room in the queue: %w", ctx.Err())
		}
	}
	w.accepted.Add(1)
	return nil
}

// Flush returns once every event accepted before the call is stored or
// handed to the fallback, or with ctx's error. It returns an error
// matching ErrNotStored when events the store refused went to the
// fallback since the last Flush, and ErrClosed once Close has started.
func (w *Writer) Flush(ctx context.Context) error {
	if !w.enter() {
		return ErrClosed
	}
	done := make(chan error, 1)
	select {
	case w.queue <- item{done: done}:
		w.senders.Done()
	case <-w.closing:
		w.senders.Done()
		return ErrClosed
	case <-ctx.Done():
		w.senders.Done()
		return ctx.Err()
	}
	select {
	case err := <-done:
		return err
	case <-w.abort:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close stops accepting events (a Record or Flush waiting for room in the
// queue returns ErrClosed at once), writes every accepted event, and stops
// the writer.
//
// Close returns by ctx's deadline, whatever the store does. When ctx ends
// first, Close cancels the store write in progress and hands every event
// not yet stored (queued, gathered into a batch, or in the write it
// cancelled) to the fallback, and returns an error matching ErrNotStored
// and ctx's error that says how many. Should the cancelled write succeed
// all the same (a store that ignores its context), its events are stored
// and in the fallback: they appear twice (Stats counts them as written
// too, and a warning is logged). Delivery is at least once: nothing is
// lost.
//
// Give Close a fresh context with a timeout, as for http.Server.Shutdown,
// not a context that is already cancelled at shutdown (then everything
// still queued goes to the fallback):
//
//	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
//	defer cancel()
//	if err := w.Close(ctx); err != nil {
//		log.Print(err) // the events not stored are in the fallback
//	}
//
// With a context that never ends, Close waits as long as the store keeps
// failing with errors matching store.ErrUnavailable. Close also returns an
// error matching ErrNotStored when events the store refused went to the
// fallback since the last Flush. Calling Close again returns nil.
func (w *Writer) Close(ctx context.Context) error {
	w.sealOnce.Do(func() {
		w.mu.Lock()
		w.closed = true
		w.mu.Unlock()
		close(w.closing)
		// Every sender past the closed check now finishes at once.
		w.senders.Wait()
		close(w.sealed)
	})
	select {
	case <-w.done:
		return w.refusedError("close")
	case <-w.abort:
		return nil // an earlier Close handed everything over
	default:
	}
	select {
	case <-w.done:
		return w.refusedError("close")
	case <-w.abort:
		return nil
	case <-ctx.Done():
		n := w.handOver(fmt.Errorf("audit: writer closed before the event was stored: %w", ctx.Err()))
		if n == 0 {
			return w.refusedError("close")
		}
		return fmt.Errorf("%w: %d handed to the fallback at close: %w", ErrNotStored, n, ctx.Err())
	}
}

// refusedError reports the events the store refused since the last
// report, or nil.
func (w *Writer) refusedError(op string) error {
	if n := w.refused.Swap(0); n > 0 {
		return fmt.Errorf("%w: %s: %d refused by the store, handed to the fallback", ErrNotStored, op, n)
	}
	return nil
}

// handOver gives up on the loop: it cancels the store write in progress,
// takes every event not yet stored (the ledger and the queue) and hands
// them to the fallback with reason. It returns how many.
func (w *Writer) handOver(reason error) int {
	w.ledgerMu.Lock()
	w.handedOver = true // from now on the loop stores nothing in the ledger's name
	w.ledgerMu.Unlock()
	w.abortOnce.Do(func() { close(w.abort) })
	// The loop holds recvMu only while it takes items, and abort ends
	// that; once Close holds it, the loop takes nothing more.
	w.recvMu.Lock()
	w.ledgerMu.Lock()
	taken := w.pending
	w.pending = nil
	w.ledgerMu.Unlock()
	for more := true; more; {
		select {
		case it := <-w.queue:
			if it.done != nil {
				it.done <- ErrClosed
			} else {
				taken = append(taken, it.event)
			}
		default:
			more = false
		}
	}
	w.recvMu.Unlock()
	w.fellBack.Add(uint64(len(taken)))
	for _, e := range taken {
		w.fallback(e, reason)
	}
	if len(taken) > 0 {
		w.svc.log.Error("audit: close deadline passed; unwritten events handed to the fallback", "events", len(taken))
	}
	return len(taken)
}

// Stats returns the writer's counters.
func (w *Writer) Stats() WriterStats {
	return WriterStats{
		Accepted: w.accepted.Load(), Written: w.written.Load(), Fallback: w.fellBack.Load(),
		Dropped: w.dropped.Load(), Failures: w.failures.Load(), Retries: w.retries.Load(), Queued: len(w.queue),
	}
}

// loop gathers queued events into the ledger and writes them.
func (w *Writer) loop() {
	defer close(w.done)
	tick := w.tick
	if tick == nil {
		t := time.NewTicker(w.cfg.FlushInterval)
		defer t.Stop()
		tick = t.C
	}
	// Store writes use ctx, which Close cancels when it gives up.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-w.abort:
			cancel()
		case <-w.done:
		}
	}()
	var flushes []chan error
	for {
		w.recvMu.Lock()
		select {
		case <-w.abort:
			w.recvMu.Unlock()
			return
		default:
		}
		write, final := false, false
		select {
		case it := <-w.queue:
			write = w.take(it, &flushes)
		case <-tick:
			write = true
		case <-w.sealed:
			// Nothing enters the queue any more: take all of it.
			for more := true; more; {
				select {
				case it := <-w.queue:
					w.take(it, &flushes)
				default:
					more = false
				}
			}
			write, final = true, true
		case <-w.abort:
			w.recvMu.Unlock()
			return
		}
		w.recvMu.Unlock()
		ok := true
		if write {
			ok = w.writePending(ctx)
		}
		for _, done := range flushes {
			if ok {
				done <- w.refusedError("flush")
			} else {
				done <- ErrClosed
			}
		}
		flushes = flushes[:0]
		if !ok || final {
			return
		}
	}
}

// take puts a queued item in the ledger, and then what else is queued,
// up to a full batch or a flush request. The caller holds recvMu. It
// reports whether the ledger should be written now.
func (w *Writer) take(it item, flushes *[]chan error) bool {
	w.ledgerMu.Lock()
	defer w.ledgerMu.Unlock()
	for {
		if it.done != nil {
			w.dropLogged.Store(false)
			*flushes = append(*flushes, it.done)
			return true
		}
		w.pending = append(w.pending, it.event)
		if len(w.pending) >= w.cfg.BatchSize {
			return true
		}
		select {
		case it = <-w.queue:
		default:
			return false
		}
	}
}

// writePending writes the ledger, a batch at a time. It returns false
// when Close handed the events over.
func (w *Writer) writePending(ctx context.Context) bool {
	for {
		w.ledgerMu.Lock()
		if w.handedOver {
			w.ledgerMu.Unlock()
			return false
		}
		n := min(len(w.pending), w.cfg.BatchSize)
		batch := slices.Clone(w.pending[:n])
		w.ledgerMu.Unlock()
		if n == 0 {
			return true
		}
		if !w.store(ctx, batch) {
			return false
		}
	}
}

// store writes batch, the head of the ledger: retrying while the store is
// unavailable, splitting it when the store refuses it, so that only the
// refused events go to the fallback. It returns false when Close handed
// the events over.
func (w *Writer) store(ctx context.Context, batch []Event) bool {
	delay := min(w.cfg.RetryDelay, w.cfg.MaxRetryDelay)
	for {
		// A clone per attempt: a store may change the events it was given
		// (IDs, a vanished user's id) before a failed commit.
		err := w.svc.store.Append(ctx, slices.Clone(batch), w.svc.chain.seal)
		if err == nil {
			w.keyLogged.Store(false)
			return w.commit(batch, nil)
		}
		if ctx.Err() != nil {
			// Close cancelled the write: not the events' fault. They
			// are the fallback's already.
			return false
		}
		w.failures.Add(1)
		if errors.Is(err, ErrKeyMismatch) {
			// Every event would be refused alike, and retrying cannot
			// help: the whole batch goes to the fallback, with one loud
			// log record rather than one per event.
			if !w.keyLogged.Swap(true) {
				w.svc.log.Error("audit: the chain is sealed with another key; events go to the fallback until the key is fixed, then replay them",
					"events", len(batch), "error", err)
			}
			return w.commit(batch, err)
		}
		if transient(err) {
			w.retries.Add(1)
			wait := delay/2 + rand.N(delay/2+1)
			w.svc.log.Error("audit: writing a batch failed; retrying", "events", len(batch), "retry_in", wait, "error", err)
			select {
			case <-w.after(wait):
			case <-ctx.Done():
				return false
			}
			delay = min(2*delay, w.cfg.MaxRetryDelay)
			continue
		}
		if len(batch) == 1 {
			w.svc.log.Error("audit: the store refused an event; handed to the fallback", "error", err)
			return w.commit(batch, err)
		}
		w.svc.log.Warn("audit: the store refused a batch; splitting it", "events", len(batch), "error", err)
		mid := len(batch) / 2
		return w.store(ctx, batch[:mid]) && w.store(ctx, batch[mid:])
	}
}

// transient reports whether a failed store write may succeed later:
// errors matching store.ErrUnavailable, and context errors (the writer's
// own context was not cancelled, so a store's internal timeout).
func transient(err error) bool {
	return errors.Is(err, store.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)
}

// commit removes batch, the head of the ledger, now stored (refused ==
// nil) or refused by the store (its events go to the fallback). It
// returns false when Close handed the events over meanwhile.
func (w *Writer) commit(batch []Event, refused error) bool {
	w.ledgerMu.Lock()
	if w.handedOver {
		w.ledgerMu.Unlock()
		if refused == nil {
			w.written.Add(uint64(len(batch)))
			w.svc.log.Warn("audit: a write Close gave up on succeeded after all; its events are stored and in the fallback",
				"events", len(batch))
		}
		return false
	}
	defer w.ledgerMu.Unlock()
	w.pending = slices.Delete(w.pending, 0, len(batch))
	if refused == nil {
		w.written.Add(uint64(len(batch)))
		return true
	}
	// Under the lock, so that once Close returns the fallback has them.
	w.fellBack.Add(uint64(len(batch)))
	w.refused.Add(uint64(len(batch)))
	reason := fmt.Errorf("audit: the store refused the event: %w", refused)
	for _, e := range batch {
		w.fallback(e, reason)
	}
	return true
}
