package notify

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/cedrina/cedrina/internal/worker"
)

// QueueConfig configures a [Queue]. The zero value is a safe default for
// every field.
type QueueConfig struct {
	// Workers is the number of goroutines sending. Default 2.
	Workers int
	// Size is the number of messages (and jobs) that may wait. Default
	// 1024. When it is full, a message is handed to Undelivered at once.
	Size int
	// Timeout bounds each send (and each job). Default 30 seconds.
	Timeout time.Duration
	// Logger receives failures (never links). Default: discard.
	Logger *slog.Logger
	// Undelivered receives the messages that could not be sent. Default:
	// LogUndelivered(Logger).
	Undelivered Undelivered
}

// Errors a Queue hands to Undelivered with a message it could not send.
var (
	// ErrQueueFull: the queue had no room for the message.
	ErrQueueFull = errors.New("notify: queue full")
	// ErrClosed: the queue was closed before the message was sent.
	ErrClosed = errors.New("notify: queue closed")
)

// Queue sends messages through a Notifier on its own goroutines, so that
// nobody waits for a mail server on a request path. It is safe for
// concurrent use. The services that send messages (reset.Service,
// user.Service) each own one; call their Close at shutdown.
type Queue struct {
	n           Notifier
	pool        *worker.Pool
	log         *slog.Logger
	undelivered Undelivered
}

// NewQueue starts a Queue that sends through n. It returns an error
// naming the bad field of cfg.
func NewQueue(n Notifier, cfg QueueConfig) (*Queue, error) {
	if n == nil {
		return nil, errors.New("notify: NewQueue: nil Notifier")
	}
	switch {
	case cfg.Workers < 0:
		return nil, fmt.Errorf("notify: QueueConfig.Workers: %d is negative", cfg.Workers)
	case cfg.Size < 0:
		return nil, fmt.Errorf("notify: QueueConfig.Size: %d is negative", cfg.Size)
	case cfg.Timeout < 0:
		return nil, fmt.Errorf("notify: QueueConfig.Timeout: %v is negative", cfg.Timeout)
	}
	if cfg.Workers == 0 {
		cfg.Workers = 2
	}
	if cfg.Size == 0 {
		cfg.Size = 1024
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.Undelivered == nil {
		cfg.Undelivered = LogUndelivered(cfg.Logger)
	}
	return &Queue{n: n, pool: worker.New(cfg.Workers, cfg.Size, cfg.Timeout), log: cfg.Logger, undelivered: cfg.Undelivered}, nil
}

// Send queues m and returns at once. ctx's values (the request's
// correlation id, say) reach the Notifier; its cancellation does not. A
// message that cannot be queued, or is still queued when Close gives up,
// goes to Undelivered.
func (q *Queue) Send(ctx context.Context, m Message) {
	// A job is dropped either before it ran (never delivered) or after a
	// run Close cancelled; Deliver has then sent the message or handed it
	// over already, and it must not be handed over twice.
	ran := false
	err := q.pool.Submit(ctx, worker.Job{
		Run: func(ctx context.Context) {
			q.Deliver(ctx, m)
			ran = true
		},
		Drop: func(reason error) {
			if !ran {
				q.undelivered(m, fmt.Errorf("%w: %w", ErrClosed, reason))
			}
		},
	})
	q.handOff(m, err)
}

func (q *Queue) handOff(m Message, err error) {
	switch {
	case errors.Is(err, worker.ErrFull):
		q.undelivered(m, ErrQueueFull)
	case errors.Is(err, worker.ErrClosed):
		q.undelivered(m, ErrClosed)
	}
}

// Deliver sends m now, on the caller's goroutine: a failure is logged
// (without the link) and m handed to Undelivered. Jobs given to [Queue.Run]
// use it for the message they end in.
func (q *Queue) Deliver(ctx context.Context, m Message) {
	if err := q.n.Notify(ctx, m); err != nil {
		q.log.ErrorContext(ctx, "notify: sending failed", "message", m, "error", Scrub(m, err))
		q.undelivered(m, err)
	}
}

// Run queues fn, a job that ends in a message (a reset request looks the
// address up, issues a token and delivers the link), to run on the
// queue's goroutines with a context that carries ctx's values and ends
// after the queue's Timeout or when Close gives up. drop, if not nil, is
// called instead when the job is abandoned at Close, or after a run that
// Close cancelled. Errors: ErrQueueFull, ErrClosed.
func (q *Queue) Run(ctx context.Context, fn func(ctx context.Context), drop func(reason error)) error {
	err := q.pool.Submit(ctx, worker.Job{Run: fn, Drop: drop})
	switch {
	case errors.Is(err, worker.ErrFull):
		return ErrQueueFull
	case errors.Is(err, worker.ErrClosed):
		return ErrClosed
	}
	return err
}

// Close stops taking messages and waits until every queued one is sent,
// or ctx ends. Then it cancels the sends in progress and hands every
// message not sent to Undelivered, returns ctx's error, and does not wait
// for a Notifier that ignores its context. Give it a fresh context with a
// timeout at shutdown, as for http.Server.Shutdown.
func (q *Queue) Close(ctx context.Context) error {
	if err := q.pool.Close(ctx); err != nil {
		return fmt.Errorf("notify: close: messages not sent were handed over: %w", err)
	}
	return nil
}
