// Package worker runs jobs off the request path on a fixed number of
// goroutines, and stops within a deadline, handing back what it could not
// run.
package worker

import (
	"context"
	"errors"
	"sync"
	"time"
)

// Errors of Submit.
var (
	// ErrFull: the queue is full; the job was not taken.
	ErrFull = errors.New("queue full")
	// ErrClosed: Close was called; the job was not taken.
	ErrClosed = errors.New("closed")
	// ErrAbandoned is the reason given to Drop for a job still queued, or
	// still running, when Close's deadline passed.
	ErrAbandoned = errors.New("shutting down before the job ran")
)

// Job is a unit of work. Run does it, with a context that carries the
// submitter's values (not its cancellation), ends after the pool's job
// timeout, and is cancelled when Close gives up. Drop, if set, is called
// instead of Run, or after a Run that Close cancelled, with the reason the
// job did not (fully) run; it must not block.
type Job struct {
	Run  func(ctx context.Context)
	Drop func(reason error)
}

type item struct {
	ctx context.Context
	job Job
}

// Pool runs jobs on a fixed set of goroutines. It is safe for concurrent
// use.
type Pool struct {
	queue   chan item
	timeout time.Duration

	mu     sync.RWMutex // held shared by Submit, exclusively by Close
	closed bool

	abortCtx  context.Context // cancelled when Close gives up
	abort     context.CancelFunc
	done      chan struct{} // closed when every worker has returned
	closeOnce sync.Once
}

// New starts a pool of workers goroutines with room for size queued jobs;
// each job gets at most timeout.
func New(workers, size int, timeout time.Duration) *Pool {
	p := &Pool{queue: make(chan item, size), timeout: timeout, done: make(chan struct{})}
	p.abortCtx, p.abort = context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.work()
		}()
	}
	go func() {
		wg.Wait()
		close(p.done)
	}()
	return p
}

// Submit queues job. ctx's values (request info, correlation id) reach
// the job; its cancellation does not: the job runs after the request has
// ended. Errors: ErrFull, ErrClosed.
func (p *Pool) Submit(ctx context.Context, job Job) error {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.closed {
		return ErrClosed
	}
	select {
	case p.queue <- item{ctx: context.WithoutCancel(ctx), job: job}:
		return nil
	default:
		return ErrFull
	}
}

func (p *Pool) work() {
	for it := range p.queue {
		if p.abortCtx.Err() != nil {
			drop(it.job, ErrAbandoned)
			continue
		}
		p.run(it)
	}
}

func (p *Pool) run(it item) {
	ctx, cancel := context.WithTimeout(it.ctx, p.timeout)
	defer cancel()
	stop := context.AfterFunc(p.abortCtx, cancel)
	defer stop()
	it.job.Run(ctx)
	if p.abortCtx.Err() != nil {
		// Close gave up while the job ran: its work may be cut short.
		drop(it.job, ErrAbandoned)
	}
}

func drop(j Job, reason error) {
	if j.Drop != nil {
		j.Drop(reason)
	}
}

// Close stops taking jobs and waits until every queued job has run, or
// ctx ends. Then it cancels the jobs still running (each is dropped when
// it returns), drops those still queued (their Drop is called with
// ErrAbandoned) and returns ctx's error at once, without waiting for a
// job that ignores its context. Calling Close again behaves alike.
func (p *Pool) Close(ctx context.Context) error {
	p.closeOnce.Do(func() {
		p.mu.Lock()
		p.closed = true
		close(p.queue)
		p.mu.Unlock()
	})
	select {
	case <-p.done:
		return nil
	case <-ctx.Done():
	}
	p.abort()
	// The queue is closed: this loop and the workers take what is left,
	// each item once, and drop it.
	for it := range p.queue {
		drop(it.job, ErrAbandoned)
	}
	return ctx.Err()
}
