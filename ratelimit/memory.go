package ratelimit

import (
	"context"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cedrina/cedrina/internal/errs"
	"github.com/cedrina/cedrina/store"
)

// ErrFull is the error of a [MemoryStore] asked to hold a new key when it
// holds MaxKeys keys: those of the new key's shard that have been idle
// for SweepInterval are dropped first (at most once a second), those of
// other shards at their shard's next sweep. It matches
// store.ErrUnavailable: the limiter cannot decide, and callers fail
// closed.
var ErrFull = errs.Kind("ratelimit: memory store full", store.ErrUnavailable)

// MemoryConfig configures a [MemoryStore]. The zero value is the
// default.
type MemoryConfig struct {
	// MaxKeys bounds the keys held at once, across policies; a check of
	// a new key beyond it fails with ErrFull, and callers fail closed.
	// Size it for the keys one window of traffic can create: clients
	// that can mint keys (many addresses, many IPv6 /64s) and fill the
	// store deny every new key until windows pass, while letting keys be
	// evicted instead would hand a client that cycles keys a fresh budget.
	// A key is dropped once its state has been initial again (its window
	// passed, its bucket full) for SweepInterval, by the sweep of its
	// shard. Default 1,048,576. A fixed window or token bucket key costs
	// about 170 bytes; a sliding window key 16 bytes more per distinct
	// admitted time it remembers, and the spare room of a growing list
	// (a full log of 1,000 distinct times measured about 20 KB).
	MaxKeys int
	// Shards is the number of independently locked parts, a power of two.
	// Default 256.
	Shards int
}

// MemoryStore is the in-memory [Store]: exact, safe for concurrent use,
// and local to one process (every app instance counts on its own; share
// counters through PostgreSQL or Redis). Keys are spread over shards by
// their hash, each shard behind its own mutex, so checks of different
// keys rarely wait for each other. A check of a key the store holds
// allocates nothing (a sliding window's log grows now and then). Keys
// whose state is initial again are dropped by a sweep of their shard,
// at most once per shard per SweepInterval, in the course of a check.
type MemoryStore struct {
	shards  []memShard
	mask    uint64
	seed    maphash.Seed
	maxKeys int64
	keys    atomic.Int64 // held, across shards

	// Policies seen, interned: the first few in a list scanned without a
	// lock (a comparison of strings a Limiter passes every time, which
	// costs next to nothing), the rest in a map.
	policies atomic.Pointer[[]*memPolicy]
	more     sync.Map // memPolicy -> *memPolicy
	intern   sync.Mutex
}

// maxListedPolicies is how many policies a MemoryStore keeps in its list.
const maxListedPolicies = 16

// memPolicy identifies a policy's counters: its algorithm and name.
type memPolicy struct {
	alg  Algorithm
	name string
}

// SweepInterval is how often, at most, a shard of a [MemoryStore] drops
// its idle keys.
const SweepInterval = 10 * time.Second

type memShard struct {
	mu      sync.Mutex
	m       map[memKey]*memEntry
	sweepAt int64    // µs: the next sweep
	sweptAt int64    // µs: the last one
	_       [32]byte // one shard per cache line
}

// memKey identifies a key's counters: the policy, interned, and the key.
// Keys stay in the process, so they are kept as given, not hashed: a
// hash would cost more than the rest of a check.
type memKey struct {
	pol *memPolicy
	key string
}

// memEntry is one key's state. Fixed window: a is the window's start, b
// the count. Token bucket: a is the last change, b the level. Sliding
// window: log holds the admitted times, oldest first, from off on.
type memEntry struct {
	a, b int64
	// idle is when the state is initial again (µs): the entry may then
	// be dropped or reset.
	idle int64
	log  []hit
	off  int
	live int64 // the sum of log[off:].n
}

// hit is n requests admitted at time t (µs).
type hit struct{ t, n int64 }

// NewMemoryStore returns an empty MemoryStore, or an error naming the bad
// field of cfg.
func NewMemoryStore(cfg MemoryConfig) (*MemoryStore, error) {
	switch {
	case cfg.MaxKeys < 0:
		return nil, errs.Configf("ratelimit", "MemoryConfig.MaxKeys", "%d is negative", cfg.MaxKeys)
	case cfg.Shards < 0 || cfg.Shards&(cfg.Shards-1) != 0:
		return nil, errs.Configf("ratelimit", "MemoryConfig.Shards", "%d is not a power of two", cfg.Shards)
	}
	if cfg.MaxKeys == 0 {
		cfg.MaxKeys = 1 << 20
	}
	if cfg.Shards == 0 {
		cfg.Shards = 256
	}
	s := &MemoryStore{shards: make([]memShard, cfg.Shards), mask: uint64(cfg.Shards - 1),
		seed: maphash.MakeSeed(), maxKeys: int64(cfg.MaxKeys)}
	for i := range s.shards {
		s.shards[i].m = make(map[memKey]*memEntry)
	}
	return s, nil
}

// Len returns the number of keys held.
func (s *MemoryStore) Len() int {
	n := 0
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		n += len(sh.m)
		sh.mu.Unlock()
	}
	return n
}

// Take implements [Store].
func (s *MemoryStore) Take(ctx context.Context, p Policy, key string, n int, now time.Time) (Result, error) {
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	switch p.Algorithm {
	case FixedWindow, SlidingWindow, TokenBucket:
	default:
		return Result{}, errs.Configf("ratelimit", "Policy.Algorithm", "unknown algorithm %q", string(p.Algorithm))
	}
	t := now.UnixMicro()
	k := memKey{pol: s.policy(p), key: key}
	sh := &s.shards[maphash.String(s.seed, key)&s.mask]
	sh.mu.Lock()
	if t >= sh.sweepAt {
		s.sweep(sh, t)
	}
	e := sh.m[k]
	if e == nil {
		if s.keys.Load() >= s.maxKeys {
			// Full: sweep this shard now, but at most once a second, so
			// that a flood of new keys does not scan it on every check.
			if t-sh.sweptAt >= time.Second.Microseconds() {
				s.sweep(sh, t)
			}
			if s.keys.Load() >= s.maxKeys {
				sh.mu.Unlock()
				return Result{}, ErrFull
			}
		}
		e = &memEntry{idle: t}
		sh.m[k] = e
		s.keys.Add(1)
	}
	w, limit, n64 := p.Window.Microseconds(), int64(p.Limit), int64(n)
	var res Result
	switch p.Algorithm {
	case FixedWindow:
		res = e.fixed(t, w, limit, n64)
	case SlidingWindow:
		res = e.sliding(t, w, limit, n64)
	default:
		res = e.bucket(t, w, limit, int64(p.Quota()), n64)
	}
	sh.mu.Unlock()
	return res, nil
}

// policy returns p's interned identity.
func (s *MemoryStore) policy(p Policy) *memPolicy {
	if list := s.policies.Load(); list != nil {
		for _, q := range *list {
			if q.name == p.Name && q.alg == p.Algorithm {
				return q
			}
		}
		if len(*list) == maxListedPolicies {
			if q, ok := s.more.Load(memPolicy{alg: p.Algorithm, name: p.Name}); ok {
				return q.(*memPolicy)
			}
		}
	}
	s.intern.Lock()
	defer s.intern.Unlock()
	var list []*memPolicy
	if l := s.policies.Load(); l != nil {
		list = *l
	}
	for _, q := range list {
		if q.name == p.Name && q.alg == p.Algorithm {
			return q
		}
	}
	q := &memPolicy{alg: p.Algorithm, name: p.Name}
	if len(list) == maxListedPolicies {
		v, _ := s.more.LoadOrStore(*q, q)
		return v.(*memPolicy)
	}
	list = append(list[:len(list):len(list)], q)
	s.policies.Store(&list)
	return q
}

// sweep drops the shard's entries that have been idle for SweepInterval
// as of t. The grace keeps a key for a caller whose clock reading is
// older than t (it read the clock before another caller got the lock):
// as of its reading the key may not be idle yet.
func (s *MemoryStore) sweep(sh *memShard, t int64) {
	cut := t - SweepInterval.Microseconds()
	n := 0
	for k, e := range sh.m {
		if e.idle <= cut {
			delete(sh.m, k)
			n++
		}
	}
	s.keys.Add(int64(-n))
	sh.sweptAt, sh.sweepAt = t, t+SweepInterval.Microseconds()
}

func (e *memEntry) fixed(t, w, limit, n int64) Result {
	start := t - t%w
	switch {
	case e.idle <= t:
		e.a, e.b = start, 0
	case start > e.a:
		e.a, e.b = start, 0
	case start < e.a:
		// A clock reading from before the window counting now (a
		// goroutine that read the clock before another that got here
		// first): counted in the newer window, which only one window is
		// kept for.
		start = e.a
	}
	res := Result{Limit: int(limit), Reset: usec(start + w - t)}
	if e.b+n <= limit {
		e.b += n
		res.Allowed = true
	} else {
		res.RetryAfter = res.Reset
	}
	res.Remaining = int(limit - e.b)
	e.idle = start + w
	return res
}

func (e *memEntry) sliding(t, w, limit, n int64) Result {
	r := t
	if len(e.log) > e.off {
		r = max(t, e.log[len(e.log)-1].t)
	}
	// The live times start at i. Only an admitted request drops the
	// older ones: a denied one changes nothing, so a later caller with an
	// older clock reading still finds them.
	i, live := e.off, e.live
	for i < len(e.log) && e.log[i].t <= r-w {
		live -= e.log[i].n
		i++
	}
	res := Result{Limit: int(limit)}
	if live+n <= limit {
		e.off, e.live = i, live+n
		if e.off == len(e.log) {
			e.log, e.off = e.log[:0], 0
		}
		if last := len(e.log) - 1; last >= e.off && e.log[last].t == r {
			e.log[last].n += n
		} else {
			if len(e.log) == cap(e.log) && e.off > 0 {
				k := copy(e.log, e.log[e.off:])
				e.log, e.off = e.log[:k], 0
			}
			e.log = append(e.log, hit{t: r, n: n})
		}
		live = e.live
		res.Allowed = true
	} else {
		k := live + n - limit
		for _, h := range e.log[i:] {
			if k -= h.n; k <= 0 {
				res.RetryAfter = usec(h.t + w - t)
				break
			}
		}
	}
	res.Remaining = int(limit - live)
	newest := e.log[len(e.log)-1].t
	res.Reset = usec(newest + w - t)
	e.idle = newest + w
	return res
}

func (e *memEntry) bucket(t, w, limit, burst, n int64) Result {
	full := burst * w
	switch {
	case e.idle <= t:
		// Full, or new: a full bucket as of now.
		e.a, e.b = t, full
	case t > e.a:
		e.b = min(e.b, full) // the policy's burst may have shrunk
		if el := t - e.a; el >= ceilDiv(full-e.b, limit) {
			e.b = full
		} else {
			e.b += el * limit
		}
		e.a = t
	}
	e.b = min(e.b, full)
	res := Result{Limit: int(burst)}
	if cost := n * w; e.b >= cost {
		e.b -= cost
		res.Allowed = true
	} else {
		res.RetryAfter = usec(e.a + ceilDiv(cost-e.b, limit) - t)
	}
	res.Remaining = int(e.b / w)
	e.idle = e.a + ceilDiv(full-e.b, limit)
	res.Reset = usec(e.idle - t)
	return res
}

func ceilDiv(a, b int64) int64 { return (a + b - 1) / b }

func usec(n int64) time.Duration { return time.Duration(n) * time.Microsecond }
