package redisstore_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/cedrina/cedrina/ratelimit"
	"github.com/cedrina/cedrina/store/redisstore"
)

// base is the first check time of the generated sequences, in µs: a
// moment in 2023, so that times look like real ones.
const base = 1_700_000_000_000_000

// A step is one check of a generated sequence.
type step struct {
	key int   // which of the sequence's keys
	t   int64 // µs
	n   int
}

// steps generates count checks of p on keys keys, from seed: times
// mostly move forward by a little, sometimes not at all, sometimes by
// more than a window, and sometimes back (a caller whose clock reading
// is older than one already seen). For a fixed window a step back stays
// in the window of the newest time: the memory store counts an older
// window's request in the newest one, the Redis store in its own window
// (both allowed; see TestFixedWindowOlderWindow).
func steps(p ratelimit.Policy, keys, count int, seed uint64) []step {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	w := p.Window.Microseconds()
	newest := base + rng.Int64N(w)
	// Jumps of windows stay below the year 2253 (the store's bound) when
	// the window is long.
	jumps := 100
	if w > (1<<53-1<<46-base)/int64(16*count) {
		jumps = 65
	}
	out := make([]step, count)
	for i := range out {
		t := newest
		switch x := rng.IntN(100); {
		case x < 55:
			t += rng.Int64N(w/20 + 1)
		case x < 65: // the same time
		case x < 75 && x < jumps:
			t += w/2 + rng.Int64N(2*w)
		case x < 80 && x < jumps:
			t += 3*w + rng.Int64N(10*w)
		case x < 85 && x < jumps: // a jump to just before, at or after a window's end
			t += w - t%w - 2 + rng.Int64N(4)
		case x < 85:
			t += rng.Int64N(w/100 + 1)
		default:
			back := rng.Int64N(w/4 + 1)
			if p.Algorithm == ratelimit.FixedWindow {
				back = min(back, newest%w)
			}
			t -= back
		}
		newest = max(newest, t)
		n := 1
		if q := p.Quota(); rng.IntN(3) == 0 {
			n = 1 + rng.IntN(q)
		} else if rng.IntN(3) == 0 {
			n = 1 + rng.IntN(min(q, 3))
		}
		out[i] = step{key: rng.IntN(keys), t: t, n: n}
	}
	return out
}

// differentialPolicies are the policies checked against the memory
// store, with Burst filled in as Take requires: small and large limits, windows that L does not divide, and
// token buckets whose B×W is at the bound (2^61), past a Lua number's
// exact integers.
var differentialPolicies = []ratelimit.Policy{
	{Name: "fixed-small", Algorithm: ratelimit.FixedWindow, Limit: 5, Window: time.Second},
	{Name: "fixed-1ms", Algorithm: ratelimit.FixedWindow, Limit: 1, Window: time.Millisecond},
	{Name: "fixed-odd", Algorithm: ratelimit.FixedWindow, Limit: 100, Window: 61_000_007 * time.Microsecond},
	{Name: "fixed-max", Algorithm: ratelimit.FixedWindow, Limit: ratelimit.MaxLimit, Window: ratelimit.MaxWindow},
	{Name: "sliding-small", Algorithm: ratelimit.SlidingWindow, Limit: 5, Window: time.Second},
	{Name: "sliding-1ms", Algorithm: ratelimit.SlidingWindow, Limit: 1, Window: time.Millisecond},
	{Name: "sliding-api", Algorithm: ratelimit.SlidingWindow, Limit: 1000, Window: time.Minute},
	{Name: "sliding-odd", Algorithm: ratelimit.SlidingWindow, Limit: 37, Window: 1_000_003 * time.Microsecond},
	{Name: "bucket-small", Algorithm: ratelimit.TokenBucket, Limit: 5, Window: time.Second, Burst: 5},
	{Name: "bucket-burst", Algorithm: ratelimit.TokenBucket, Limit: 3, Window: 10 * time.Second, Burst: 7},
	{Name: "bucket-1ms", Algorithm: ratelimit.TokenBucket, Limit: 7, Window: time.Millisecond, Burst: 1000},
	{Name: "bucket-odd", Algorithm: ratelimit.TokenBucket, Limit: 999_999_937, Window: 1_000_003 * time.Microsecond, Burst: 999_999_999},
	// B×W at the bound: 10^9 × 2,305,843,009 µs ≈ 2^61.
	{Name: "bucket-huge", Algorithm: ratelimit.TokenBucket, Limit: 999_999_937, Window: 2_305_843_009 * time.Microsecond, Burst: ratelimit.MaxLimit},
	// ... refilling in about MaxWindow, the longest Validate allows.
	{Name: "bucket-huge-slow", Algorithm: ratelimit.TokenBucket, Limit: 73_000, Window: 2_305_843_009 * time.Microsecond, Burst: ratelimit.MaxLimit},
	{Name: "bucket-year", Algorithm: ratelimit.TokenBucket, Limit: 2, Window: ratelimit.MaxWindow, Burst: 2},
}

// TestDifferential runs the same generated checks on the Redis store and
// on the memory store and wants identical Results, field by field.
func TestDifferential(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	for i, p := range differentialPolicies {
		if err := p.Validate(); err != nil {
			t.Fatalf("%s: %v", p.Name, err)
		}
		t.Run(p.Name, func(t *testing.T) {
			t.Parallel()
			// Linger keeps every key for the whole test: the sequences
			// run on made-up times, hours of them in milliseconds, and
			// Redis expires keys by its own clock.
			rs := newStore(t, c, redisstore.Config{Linger: 24 * time.Hour})
			seed := uint64(i)*1_000_003 + 7
			compare(t, rs, p, steps(p, 3, 2000, seed))
		})
	}
}

// compare runs seq on rs and on a fresh memory store, and fails at the
// first Result that differs.
func compare(t *testing.T, rs ratelimit.Store, p ratelimit.Policy, seq []step) {
	t.Helper()
	ms, err := ratelimit.NewMemoryStore(ratelimit.MemoryConfig{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var allowed int
	for i, s := range seq {
		key := fmt.Sprint("key", s.key)
		now := time.UnixMicro(s.t).UTC()
		want, err := ms.Take(ctx, p, key, s.n, now)
		if err != nil {
			t.Fatalf("step %d: memory store: %v", i, err)
		}
		got, err := rs.Take(ctx, p, key, s.n, now)
		if err != nil {
			t.Fatalf("step %d (key%d, t=%d, n=%d): %v", i, s.key, s.t, s.n, err)
		}
		if got != want {
			t.Fatalf("step %d (key%d, t=%d, n=%d):\n got  %+v\n want %+v", i, s.key, s.t, s.n, got, want)
		}
		if got.Allowed {
			allowed++
		}
	}
	// A sequence that admits everything or nothing checks little.
	if allowed == 0 || allowed == len(seq) {
		t.Errorf("%d of %d checks admitted; want a mix", allowed, len(seq))
	}
}

// TestSlidingRenumber lowers the bound at which a sliding window's unit
// numbers are renumbered so that it is passed many times, and checks the
// store still agrees with the memory store.
func TestSlidingRenumber(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	for _, p := range []ratelimit.Policy{
		{Name: "sliding-small", Algorithm: ratelimit.SlidingWindow, Limit: 5, Window: time.Second},
		{Name: "sliding-mid", Algorithm: ratelimit.SlidingWindow, Limit: 40, Window: time.Second},
	} {
		t.Run(p.Name, func(t *testing.T) {
			t.Parallel()
			rs := newStore(t, c, redisstore.Config{Linger: 24 * time.Hour})
			redisstore.SetRebaseAt(rs, 50)
			compare(t, rs, p, steps(p, 2, 2000, 99))
		})
	}
}
