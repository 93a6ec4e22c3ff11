package reset

import (
	"context"
	"sync"
	"time"
)

// Limiter decides whether one more request under key may go ahead. The
// service asks two: one keyed by the address asked for, one by the
// client's IP address. Allow reports whether the request may go ahead
// and, when not, how long until it may; an error refuses the request
// (the service fails closed). The ratelimit package's limiters fit it
// through a small adapter.
type Limiter interface {
	Allow(ctx context.Context, key string) (ok bool, retryAfter time.Duration, err error)
}

// NoLimit is a Limiter that allows everything. Use it only where another
// layer limits these requests.
var NoLimit Limiter = noLimit{}

type noLimit struct{}

func (noLimit) Allow(context.Context, string) (bool, time.Duration, error) { return true, 0, nil }

// MemoryLimiter allows at most Limit requests per key in each fixed
// window of Window, in one process's memory. It is the stand-in the reset
// flow uses by default; it is safe for concurrent use, and forgets keys
// whose window has passed.
type MemoryLimiter struct {
	limit  int
	window time.Duration
	now    func() time.Time

	mu        sync.Mutex
	counts    map[string]*window
	lastSweep time.Time
}

type window struct {
	start time.Time
	n     int
}

// NewMemoryLimiter returns a MemoryLimiter of limit requests per window
// (both must be positive), on clock now (nil: time.Now).
func NewMemoryLimiter(limit int, per time.Duration, now func() time.Time) *MemoryLimiter {
	if now == nil {
		now = time.Now
	}
	return &MemoryLimiter{limit: limit, window: per, now: now, counts: make(map[string]*window)}
}

// Allow implements [Limiter].
func (l *MemoryLimiter) Allow(_ context.Context, key string) (bool, time.Duration, error) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.lastSweep) >= l.window {
		for k, w := range l.counts {
			if now.Sub(w.start) >= l.window {
				delete(l.counts, k)
			}
		}
		l.lastSweep = now
	}
	w := l.counts[key]
	if w == nil || now.Sub(w.start) >= l.window {
		w = &window{start: now.Truncate(l.window)}
		l.counts[key] = w
	}
	if w.n >= l.limit {
		return false, w.start.Add(l.window).Sub(now), nil
	}
	w.n++
	return true, 0, nil
}

// Len returns the number of keys the limiter remembers.
func (l *MemoryLimiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.counts)
}
