package ratelimit_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/cedrina/cedrina/ratelimit"
	"github.com/cedrina/cedrina/store"
	"github.com/cedrina/cedrina/store/storetest"
)

func TestMemoryConformance(t *testing.T) {
	storetest.RunRateLimitStore(t, func(t *testing.T) storetest.Stores {
		return storetest.Stores{RateLimits: newMemory(t, ratelimit.MemoryConfig{})}
	})
}

// base is the tests' clock reading, a whole number of microseconds
// 26.535897 s into a minute.
var base = time.Date(2026, 3, 14, 15, 9, 26, 535897000, time.UTC)

func newMemory(t testing.TB, cfg ratelimit.MemoryConfig) *ratelimit.MemoryStore {
	t.Helper()
	st, err := ratelimit.NewMemoryStore(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// policy returns p valid and with its Burst filled in, as a Store
// receives it.
func policy(t testing.TB, name string, alg ratelimit.Algorithm, limit int, window time.Duration, burst int) ratelimit.Policy {
	t.Helper()
	p := ratelimit.Policy{Name: name, Algorithm: alg, Limit: limit, Window: window, Burst: burst}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	if alg == ratelimit.TokenBucket && burst == 0 {
		p.Burst = limit
	}
	return p
}

// takeAll takes n of each key's label under p at at; every Take must
// succeed.
func takeAll(t *testing.T, st *ratelimit.MemoryStore, p ratelimit.Policy, labels []string, n int, at time.Time) {
	t.Helper()
	for _, l := range labels {
		if _, err := st.Take(context.Background(), p, l, n, at); err != nil {
			t.Fatalf("Take(%s, %s): %v", p.Name, l, err)
		}
	}
}

func labels(prefix string, n int) []string {
	s := make([]string, n)
	for i := range s {
		s[i] = fmt.Sprintf("%s%d", prefix, i)
	}
	return s
}

// TestMemoryDropsIdleKeys: keys are dropped once their state has been
// initial again (a fixed window's window over, a sliding window's newest
// time Window old, a bucket full) for SweepInterval, by the sweep of
// their shard, which runs at most once per SweepInterval of the times
// the Takes carry.
func TestMemoryDropsIdleKeys(t *testing.T) {
	st := newMemory(t, ratelimit.MemoryConfig{Shards: 4})
	fixed := policy(t, "fixed", ratelimit.FixedWindow, 5, time.Minute, 0)       // idle at 15:10:00, base+33.464103s
	sliding := policy(t, "sliding", ratelimit.SlidingWindow, 5, time.Minute, 0) // idle a minute after its newest time
	bucket := policy(t, "bucket", ratelimit.TokenBucket, 5, time.Second, 10)    // 10 taken: full after 2s
	short := policy(t, "short", ratelimit.FixedWindow, 5, time.Millisecond, 0)
	check := func(when string, want int) {
		t.Helper()
		if n := st.Len(); n != want {
			t.Fatalf("%s: Len() = %d, want %d", when, n, want)
		}
	}
	check("new", 0)
	a := labels("a", 100)
	takeAll(t, st, fixed, a, 1, base)
	takeAll(t, st, sliding, a, 1, base)
	takeAll(t, st, bucket, a, 10, base)
	check("300 keys", 300)

	// The buckets are full again from base+2s, but every shard swept at
	// base (its first Take) and sweeps next at base+SweepInterval.
	takeAll(t, st, sliding, labels("b", 100), 1, base.Add(ratelimit.SweepInterval-time.Microsecond))
	check("before the sweep interval is over", 400)

	// 50 Takes reach every one of the 4 shards: each sweeps, but the
	// buckets have been full for less than SweepInterval.
	takeAll(t, st, short, labels("c", 50), 1, base.Add(ratelimit.SweepInterval))
	check("a sweep interval on", 450)

	// Another interval on, the buckets go.
	takeAll(t, st, short, labels("e", 50), 1, base.Add(2*ratelimit.SweepInterval))
	check("two sweep intervals on", 450-100+50)

	// At base+65s (sweeping what was idle at base+55s): the fixed windows
	// and the short ones go; the sliding keys (idle at base+60s and
	// base+70s) stay.
	d := labels("d", 50)
	takeAll(t, st, fixed, d, 1, base.Add(65*time.Second))
	check("at base+65s", 400-100-50-50+50)

	// At base+80s (idle at base+70s): the sliding keys go.
	takeAll(t, st, fixed, d, 1, base.Add(80*time.Second))
	check("at base+80s", 50)

	// A dropped key starts anew.
	res, err := st.Take(context.Background(), bucket, a[0], 10, base.Add(80*time.Second))
	if err != nil || !res.Allowed || res.Remaining != 0 {
		t.Errorf("a dropped bucket: %+v, %v; want 10 admitted", res, err)
	}
}

// TestMemoryFull: a store of MaxKeys live keys refuses a new key with
// ErrFull (a store.ErrUnavailable) and the zero Result, keeps counting
// the keys it holds, and makes room for a new key once one has been
// idle for SweepInterval, without waiting for the shard's next sweep
// (a full shard sweeps at most once a second).
func TestMemoryFull(t *testing.T) {
	st := newMemory(t, ratelimit.MemoryConfig{MaxKeys: 3, Shards: 1})
	ctx := context.Background()
	second := policy(t, "second", ratelimit.FixedWindow, 1, time.Second, 0) // idle at base+464103µs
	hour := policy(t, "hour", ratelimit.FixedWindow, 1, time.Hour, 0)
	takeAll(t, st, second, []string{"k1"}, 1, base)
	takeAll(t, st, hour, []string{"k2", "k3"}, 1, base)

	full := func(at time.Time, label string) {
		t.Helper()
		res, err := st.Take(ctx, hour, label, 1, at)
		if !errors.Is(err, ratelimit.ErrFull) || !errors.Is(err, store.ErrUnavailable) || res != (ratelimit.Result{}) {
			t.Errorf("Take of a 4th key at +%v = %+v, %v; want the zero Result, ErrFull", at.Sub(base), res, err)
		}
		if err != nil && err.Error() != "ratelimit: memory store full" {
			t.Errorf("ErrFull reads %q", err)
		}
		if n := st.Len(); n != 3 {
			t.Errorf("Len() = %d, want 3", n)
		}
	}
	full(base, "k4")
	full(base.Add(464102*time.Microsecond), "k4")                                          // k1's window not over yet
	full(base.Add(464103*time.Microsecond+ratelimit.SweepInterval-time.Microsecond), "k4") // the grace not over yet
	// The keys held still count: k2 is at its limit.
	if res, err := st.Take(ctx, hour, "k2", 1, base); err != nil || res.Allowed {
		t.Errorf("a held key when full: %+v, %v; want denied", res, err)
	}
	// k1 idle for SweepInterval: its place goes to k4, at the first
	// check a second after the last sweep of the full shard.
	at := base.Add(464103*time.Microsecond + ratelimit.SweepInterval)
	full(at, "k4")
	at = at.Add(time.Second - time.Microsecond)
	if res, err := st.Take(ctx, hour, "k4", 1, at); err != nil || !res.Allowed {
		t.Errorf("a 4th key once the 1st is idle: %+v, %v; want admitted", res, err)
	}
	full(at, "k5")
	// k1 was dropped: as new.
	if res, err := st.Take(ctx, second, "k1", 1, at); !errors.Is(err, ratelimit.ErrFull) {
		t.Errorf("k1 after it was dropped for k4: %+v, %v; want ErrFull", res, err)
	}
}

// TestNewMemoryStoreConfig: a bad setting is refused with an error
// naming it.
func TestNewMemoryStoreConfig(t *testing.T) {
	bad := []struct {
		cfg  ratelimit.MemoryConfig
		want string
	}{
		{ratelimit.MemoryConfig{MaxKeys: -1}, "ratelimit: MemoryConfig.MaxKeys: -1 is negative"},
		{ratelimit.MemoryConfig{Shards: 3}, "ratelimit: MemoryConfig.Shards: 3 is not a power of two"},
		{ratelimit.MemoryConfig{Shards: 6}, "ratelimit: MemoryConfig.Shards: 6 is not a power of two"},
		{ratelimit.MemoryConfig{Shards: 1000}, "ratelimit: MemoryConfig.Shards: 1000 is not a power of two"},
		{ratelimit.MemoryConfig{Shards: -2}, "ratelimit: MemoryConfig.Shards: -2 is not a power of two"},
		{ratelimit.MemoryConfig{MaxKeys: 10, Shards: -1}, "ratelimit: MemoryConfig.Shards: -1 is not a power of two"},
	}
	for _, c := range bad {
		st, err := ratelimit.NewMemoryStore(c.cfg)
		if err == nil || err.Error() != c.want || st != nil {
			t.Errorf("NewMemoryStore(%+v) = %v, %v; want %q", c.cfg, st, err, c.want)
		}
	}
	for _, cfg := range []ratelimit.MemoryConfig{{}, {MaxKeys: 1}, {Shards: 1}, {Shards: 2}, {MaxKeys: 1 << 30, Shards: 1024}} {
		st, err := ratelimit.NewMemoryStore(cfg)
		if err != nil || st == nil || st.Len() != 0 {
			t.Errorf("NewMemoryStore(%+v) = %v, %v", cfg, st, err)
		}
	}
}

// TestMemoryNoAllocs: a check of a key the store holds allocates
// nothing, admitted or denied, through the Limiter.
func TestMemoryNoAllocs(t *testing.T) {
	for _, p := range []ratelimit.Policy{
		{Name: "fixed", Algorithm: ratelimit.FixedWindow, Limit: ratelimit.MaxLimit, Window: time.Hour},
		{Name: "sliding", Algorithm: ratelimit.SlidingWindow, Limit: ratelimit.MaxSlidingLimit, Window: time.Hour},
		{Name: "bucket", Algorithm: ratelimit.TokenBucket, Limit: 1, Window: time.Millisecond, Burst: ratelimit.MaxLimit},
	} {
		for _, admitted := range []bool{true, false} {
			q := p
			if !admitted {
				q.Limit, q.Burst = 1, 0
			}
			lim, err := ratelimit.New(newMemory(t, ratelimit.MemoryConfig{}), q, ratelimit.Config{Now: func() time.Time { return base }})
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			lim.Allow(ctx, "203.0.113.7")
			var res ratelimit.Result
			allocs := testing.AllocsPerRun(1000, func() { res, _ = lim.Allow(ctx, "203.0.113.7") })
			if allocs != 0 || res.Allowed != admitted {
				t.Errorf("%s, admitted %v: %v allocations a check, Result %+v", p.Algorithm, admitted, allocs, res)
			}
		}
	}
}
