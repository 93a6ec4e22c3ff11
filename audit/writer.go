package audit

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// FullPolicy says what [Writer.Record] does when the queue is full.
type FullPolicy int

const (
	// Block waits for room in the queue, or until the caller's context is
	// done (then the event is not accepted and Record returns the
	// context's error). Nothing is lost; a slow store slows callers.
	Block FullPolicy = iota
	// Drop refuses the event at once with ErrQueueFull, counts it in
	// Stats().Dropped and logs a warning (at most once per flush). Callers
	// never wait; events are lost while the store cannot keep up.
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
	// RetryDelay is the wait before writing a batch again after the store
	// failed. Default 1 s. A failed batch is retried until it is written
	// or Close gives up.
	RetryDelay time.Duration
}

// ErrQueueFull is returned by Record under the Drop policy when the queue
// is full; ErrClosed after Close.
var (
	ErrQueueFull = errors.New("audit: queue full, event dropped")
	ErrClosed    = errors.New("audit: writer closed")
)

// WriterStats counts what a [Writer] did since it started.
type WriterStats struct {
	Accepted uint64 // events Record accepted
	Written  uint64 // events stored
	Dropped  uint64 // events refused because the queue was full (Drop policy)
	Failures uint64 // store writes that failed and were retried
	Queued   int    // events waiting now
}

// Writer records events asynchronously: Record validates, redacts and
// queues the event and returns; one goroutine writes the queue to the
// store in batches (one multi-row insert each on PostgreSQL), when a batch
// is full or FlushInterval has passed. Every event Record accepted is in
// the store once Flush or Close returns nil.
//
// A Writer is safe for concurrent use. Make it with [Service.NewWriter]
// and call Close when done.
type Writer struct {
	svc   *Service
	cfg   WriterConfig
	queue chan item

	mu     sync.RWMutex // Record holds it shared while sending; Close exclusively
	closed bool
	done   chan struct{} // closed when the loop exits

	accepted, written, dropped, failures atomic.Uint64
	dropLogged                           atomic.Bool

	tick <-chan time.Time // for tests; nil means a real ticker
}

var _ Recorder = (*Writer)(nil)

// item is an event, or a flush request (done != nil) ordered behind every
// event queued before it.
type item struct {
	event Event
	done  chan error
	stop  bool
}

// NewWriter starts a Writer that stores through s. It fails only on a bad
// cfg, naming the field.
func (s *Service) NewWriter(cfg WriterConfig) (*Writer, error) {
	switch {
	case cfg.QueueSize < 0:
		return nil, errors.New("audit: WriterConfig.QueueSize is negative")
	case cfg.BatchSize < 0:
		return nil, errors.New("audit: WriterConfig.BatchSize is negative")
	case cfg.FlushInterval < 0:
		return nil, errors.New("audit: WriterConfig.FlushInterval is negative")
	case cfg.RetryDelay < 0:
		return nil, errors.New("audit: WriterConfig.RetryDelay is negative")
	case cfg.OnFull != Block && cfg.OnFull != Drop:
		return nil, fmt.Errorf("audit: WriterConfig.OnFull %d is not Block or Drop", cfg.OnFull)
	}
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
	return newWriter(s, cfg, nil), nil
}

// newWriter starts a Writer; tick replaces the flush ticker in tests.
func newWriter(s *Service, cfg WriterConfig, tick <-chan time.Time) *Writer {
	w := &Writer{svc: s, cfg: cfg, queue: make(chan item, cfg.QueueSize), done: make(chan struct{}), tick: tick}
	go w.loop()
	return w
}

// Record validates and queues e (see [Service.Record] for how e is
// completed). Errors: ErrInvalidEvent; ErrQueueFull under the Drop
// policy; the context's error while blocked under the Block policy;
// ErrClosed after Close.
func (w *Writer) Record(ctx context.Context, e Event) error {
	p, err := w.svc.prepare(ctx, e)
	if err != nil {
		return err
	}
	w.mu.RLock()
	defer w.mu.RUnlock()
	if w.closed {
		return ErrClosed
	}
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
		case <-ctx.Done():
			return fmt.Errorf("audit: waiting for room in the queue: %w", ctx.Err())
		}
	}
	w.accepted.Add(1)
	return nil
}

// Flush returns once every event accepted before the call is stored, or
// with ctx's error. After Close it returns ErrClosed.
func (w *Writer) Flush(ctx context.Context) error {
	w.mu.RLock()
	if w.closed {
		w.mu.RUnlock()
		return ErrClosed
	}
	done := make(chan error, 1)
	select {
	case w.queue <- item{done: done}:
		w.mu.RUnlock()
	case <-ctx.Done():
		w.mu.RUnlock()
		return ctx.Err()
	}
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close stops accepting events, writes every accepted one, and stops the
// writer. If ctx ends first, Close returns ctx's error and the writer
// keeps trying in the background until it has written everything (a later
// Close waits for it again).
func (w *Writer) Close(ctx context.Context) error {
	w.mu.Lock()
	first := !w.closed
	w.closed = true
	w.mu.Unlock()
	if first {
		// Record and Flush can no longer send, so room will come; until
		// it does (a stuck store, a full queue) Close must still honour ctx.
		go func() { w.queue <- item{stop: true} }()
	}
	select {
	case <-w.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("audit: close: %w (%d events not yet written)", ctx.Err(), len(w.queue))
	}
}

// Stats returns the writer's counters.
func (w *Writer) Stats() WriterStats {
	return WriterStats{
		Accepted: w.accepted.Load(), Written: w.written.Load(), Dropped: w.dropped.Load(),
		Failures: w.failures.Load(), Queued: len(w.queue),
	}
}

func (w *Writer) loop() {
	defer close(w.done)
	tick := w.tick
	if tick == nil {
		t := time.NewTicker(w.cfg.FlushInterval)
		defer t.Stop()
		tick = t.C
	}
	batch := make([]Event, 0, w.cfg.BatchSize)
	for {
		select {
		case it := <-w.queue:
			switch {
			case it.stop:
				w.write(batch)
				return
			case it.done != nil:
				w.write(batch)
				batch = batch[:0]
				w.dropLogged.Store(false)
				it.done <- nil
			default:
				batch = append(batch, it.event)
				if len(batch) == w.cfg.BatchSize {
					w.write(batch)
					batch = batch[:0]
				}
			}
		case <-tick:
			w.write(batch)
			batch = batch[:0]
		}
	}
}

// write stores batch, retrying after RetryDelay until the store takes it:
// an accepted event is never given up.
func (w *Writer) write(batch []Event) {
	if len(batch) == 0 {
		return
	}
	for {
		// A clone per attempt: a store may change the events it was given
		// (IDs, a vanished user's id) before a failed commit.
		err := w.svc.store.Append(context.Background(), slices.Clone(batch), w.svc.chain.seal)
		if err == nil {
			w.written.Add(uint64(len(batch)))
			return
		}
		w.failures.Add(1)
		w.svc.log.Error("audit: writing a batch failed; retrying", "events", len(batch), "error", err)
		time.Sleep(w.cfg.RetryDelay)
	}
}
