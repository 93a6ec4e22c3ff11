package storetest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/cedrina/cedrina/ratelimit"
)

// RunRateLimitStore checks a [ratelimit.Store] against the rule the
// Store's doc comment gives each algorithm: hand-computed Results of
// every field for fixed windows, sliding windows and token buckets;
// exactness under 1,000 concurrent Takes of one key at one instant (the
// limit admitted, no more, each admitted call seeing its own
// Remaining); a fixed window's boundary; the sliding window's promise
// that no interval of length Window holds more than Limit; a token
// bucket's burst and steady rate; thousands of random steps per
// algorithm compared, field by field, with a reference model written
// from the doc comment; keys and policies that never share counts; idle
// keys that behave as new; times in 2100, the largest windows and limits
// without overflow; and canceled contexts.
//
// Every time is injected (nothing sleeps): times in March 2026 and in
// 2100, whatever the real clock reads. A store that expires idle keys by
// its own clock (Redis TTLs) must therefore expire them after the
// duration the injected times give (idle time minus now), never at the
// injected instant itself. Every subtest uses keys of its own, so a
// store may be shared between subtests.
func RunRateLimitStore(t *testing.T, newStores Factory) {
	subtests(t, newStores, func(s Stores) bool { return s.RateLimits != nil }, rateLimitCases)
}

var rateLimitCases = map[string]func(*testing.T, Stores){
	"FixedTable":          testRateFixedTable,
	"FixedEpochAligned":   testRateFixedEpochAligned,
	"SlidingTable":        testRateSlidingTable,
	"SlidingOlderReading": testRateSlidingOlderReading,
	"BucketTable":         testRateBucketTable,
	"BucketRounding":      testRateBucketRounding,
	"BucketOlderReading":  testRateBucketOlderReading,
	"FixedConcurrent":     testRateFixedConcurrent,
	"SlidingConcurrent":   testRateSlidingConcurrent,
	"BucketConcurrent":    testRateBucketConcurrent,
	"ConcurrentN":         testRateConcurrentN,
	"FixedBoundary":       testRateFixedBoundary,
	"FixedAlignedWindows": testRateFixedAlignedWindows,
	"SlidingInterval":     testRateSlidingInterval,
	"FixedDifferential":   func(t *testing.T, st Stores) { testRateDifferential(t, st, fixedModelPolicies, 1) },
	"SlidingDifferential": func(t *testing.T, st Stores) { testRateDifferential(t, st, slidingModelPolicies, 2) },
	"BucketDifferential":  func(t *testing.T, st Stores) { testRateDifferential(t, st, bucketModelPolicies, 3) },
	"Independence":        testRateIndependence,
	"IdleFixed":           testRateIdleFixed,
	"IdleSliding":         testRateIdleSliding,
	"IdleBucket":          testRateIdleBucket,
	"Extremes":            testRateExtremes,
	"CanceledContext":     testRateCanceledContext,
}

// rlRun sets this process's keys apart from an earlier run's, for a
// store that outlives a test run (a Redis database nobody flushed).
var rlRun = strconv.FormatInt(time.Now().UnixNano(), 36)

// rlKey returns a key no other subtest uses. (p is where a store's
// counters differ: the same key under another policy is another
// counter.)
func rlKey(t *testing.T, _ ratelimit.Policy, label string) string {
	return rlRun + "/" + t.Name() + "/" + label
}

// rlPolicy returns a valid policy with its Burst filled in, as a Store
// receives it.
func rlPolicy(t *testing.T, name string, alg ratelimit.Algorithm, limit int, window time.Duration, burst int) ratelimit.Policy {
	t.Helper()
	p := ratelimit.Policy{Name: name, Algorithm: alg, Limit: limit, Window: window, Burst: burst}
	if err := p.Validate(); err != nil {
		t.Fatalf("storetest: %v", err)
	}
	if alg == ratelimit.TokenBucket && burst == 0 {
		p.Burst = limit
	}
	return p
}

// us is n microseconds.
func us(n int64) time.Duration { return time.Duration(n) * time.Microsecond }

// windowStart returns the start of the aligned window of length w
// holding at.
func windowStart(at time.Time, w time.Duration) time.Time {
	t, W := at.UnixMicro(), w.Microseconds()
	return time.UnixMicro(t - t%W).UTC()
}

// take is Take with a background context; a failure ends the test.
func take(t *testing.T, st Stores, key string, p ratelimit.Policy, n int, at time.Time) ratelimit.Result {
	t.Helper()
	res, err := st.RateLimits.Take(context.Background(), p, key, n, at)
	if err != nil {
		t.Fatalf("Take(%s, n=%d, at %v): %v", p.Name, n, at, err)
	}
	return res
}

// allowed and denied build expected Results.
func allowed(limit, remaining int, reset time.Duration) ratelimit.Result {
	return ratelimit.Result{Allowed: true, Limit: limit, Remaining: remaining, Reset: reset}
}

func denied(limit, remaining int, reset, retry time.Duration) ratelimit.Result {
	return ratelimit.Result{Limit: limit, Remaining: remaining, Reset: reset, RetryAfter: retry}
}

// diffResult describes how got differs from want, or returns "".
func diffResult(got, want ratelimit.Result) string {
	var d differ
	d.eq("Allowed", got.Allowed, want.Allowed)
	d.eq("Limit", got.Limit, want.Limit)
	d.eq("Remaining", got.Remaining, want.Remaining)
	d.eq("Reset", got.Reset, want.Reset)
	d.eq("RetryAfter", got.RetryAfter, want.RetryAfter)
	return d.String()
}

// rateStep is one Take of a table and the Result it must return.
type rateStep struct {
	at   time.Duration // after the table's start
	n    int
	want ratelimit.Result
}

// runSteps takes each step in turn on key and compares its Result.
func runSteps(t *testing.T, st Stores, key string, p ratelimit.Policy, t0 time.Time, steps []rateStep) {
	t.Helper()
	for i, s := range steps {
		got := take(t, st, key, p, s.n, t0.Add(s.at))
		if d := diffResult(got, s.want); d != "" {
			t.Errorf("%s step %d (n=%d at +%v): %s", p.Name, i, s.n, s.at, d)
		}
	}
}

// testRateFixedTable: 3 per minute, windows aligned to the minute; every
// field of every Result as the rule computes it.
func testRateFixedTable(t *testing.T, st Stores) {
	p := rlPolicy(t, "storetest-fixed", ratelimit.FixedWindow, 3, time.Minute, 0)
	t0 := time.Date(2026, 3, 14, 15, 9, 0, 0, time.UTC) // a window's start
	const s = time.Second
	runSteps(t, st, rlKey(t, p, "k"), p, t0, []rateStep{
		{20 * s, 1, allowed(3, 2, 40*s)},
		{30 * s, 1, allowed(3, 1, 30*s)},
		{45 * s, 2, denied(3, 1, 15*s, 15*s)}, // 2+2 > 3; nothing counted
		{45 * s, 1, allowed(3, 0, 15*s)},
		{60*s - time.Microsecond, 1, denied(3, 0, time.Microsecond, time.Microsecond)},
		{60 * s, 3, allowed(3, 0, time.Minute)}, // the next window: n = Limit at once
		{60*s + 500*time.Millisecond, 1, denied(3, 0, 59500*time.Millisecond, 59500*time.Millisecond)},
		{210 * s, 1, allowed(3, 2, 30*s)}, // a window skipped
		{210 * s, 2, allowed(3, 0, 30*s)},
	})
	// A key in its first window at an instant inside it.
	runSteps(t, st, rlKey(t, p, "fresh"), p, t0, []rateStep{
		{59*s + 999999*time.Microsecond, 3, allowed(3, 0, time.Microsecond)},
		{60 * s, 1, allowed(3, 2, time.Minute)},
	})
}

// testRateFixedEpochAligned: windows are aligned to the Unix epoch, not
// to the minute or to a key's first request.
func testRateFixedEpochAligned(t *testing.T, st Stores) {
	p := rlPolicy(t, "storetest-fixed7", ratelimit.FixedWindow, 2, 7*time.Second, 0)
	s := time.Unix(7*253357143, 0).UTC() // 2026-03-14T14:53:21Z, a multiple of 7 s
	const ms = time.Millisecond
	runSteps(t, st, rlKey(t, p, "k"), p, s, []rateStep{
		{2500 * ms, 2, allowed(2, 0, 4500*ms)},
		{6999 * ms, 1, denied(2, 0, ms, ms)},
		{7000 * ms, 1, allowed(2, 1, 7000*ms)},
		{13999999 * time.Microsecond, 1, allowed(2, 0, time.Microsecond)},
		{13999999 * time.Microsecond, 1, denied(2, 0, time.Microsecond, time.Microsecond)},
	})
	// Microsecond windows that do not divide a second.
	q := rlPolicy(t, "storetest-fixed1234567", ratelimit.FixedWindow, 1, 1234567*time.Microsecond, 0)
	w := windowStart(s, q.Window)
	runSteps(t, st, rlKey(t, q, "k"), q, w, []rateStep{
		{us(1234566), 1, allowed(1, 0, us(1))},
		{us(1234567), 1, allowed(1, 0, us(1234567))},
		{us(1234568), 1, denied(1, 0, us(1234566), us(1234566))},
	})
}

// testRateSlidingTable: 3 per minute in any minute; every field of every
// Result as the rule computes it.
func testRateSlidingTable(t *testing.T, st Stores) {
	p := rlPolicy(t, "storetest-sliding", ratelimit.SlidingWindow, 3, time.Minute, 0)
	t0 := base
	const s = time.Second
	runSteps(t, st, rlKey(t, p, "k"), p, t0, []rateStep{
		{0, 1, allowed(3, 2, time.Minute)},
		{10 * s, 1, allowed(3, 1, time.Minute)},
		// c=2: 2+2 > 3; the 1st oldest live time (t0) must leave: 40s.
		// Reset: the newest (t0+10s) leaves in 50s.
		{20 * s, 2, denied(3, 1, 50*s, 40*s)},
		{20 * s, 1, allowed(3, 0, time.Minute)},
		{30 * s, 1, denied(3, 0, 50*s, 30*s)},
		// t0 is no longer live at t0+60s: the window is (t-W, t].
		{60 * s, 1, allowed(3, 0, time.Minute)},
		// Live: t0+10s, t0+20s, t0+60s; n=3 waits for the 3rd oldest.
		{60 * s, 3, denied(3, 0, time.Minute, time.Minute)},
		{70 * s, 2, denied(3, 1, 50*s, 10*s)},
		{80 * s, 2, allowed(3, 0, time.Minute)},
		{80*s + time.Microsecond, 1, denied(3, 0, time.Minute-time.Microsecond, 40*s-time.Microsecond)},
		{200 * s, 3, allowed(3, 0, time.Minute)},
	})
}

// testRateSlidingOlderReading: a request whose time is older than the
// newest admitted one counts at the newest time.
func testRateSlidingOlderReading(t *testing.T, st Stores) {
	p := rlPolicy(t, "storetest-sliding", ratelimit.SlidingWindow, 3, 10*time.Second, 0)
	const s = time.Second
	runSteps(t, st, rlKey(t, p, "k"), p, base, []rateStep{
		{5 * s, 1, allowed(3, 2, 10*s)},
		{2 * s, 1, allowed(3, 1, 13*s)}, // counted at +5s
		// Live at +14s: both at +5s (one would have left, had it been
		// counted at +2s).
		{14 * s, 2, denied(3, 1, s, s)},
		{14 * s, 1, allowed(3, 0, 10*s)},
		{15 * s, 1, allowed(3, 1, 10*s)},
	})

	// A denied request changes nothing: a later caller with an older
	// reading still finds every time the newest admitted one keeps live.
	q := rlPolicy(t, "storetest-sliding", ratelimit.SlidingWindow, 2, 10*time.Second, 0)
	runSteps(t, st, rlKey(t, q, "denied"), q, base, []rateStep{
		{0, 1, allowed(2, 1, 10*s)},
		{5 * s, 1, allowed(2, 0, 10*s)},
		// At +10s, +0s is out (r = +10s): +5s alone is live, and 1+2 > 2.
		{10 * s, 2, denied(2, 1, 5*s, 5*s)},
		// At +3s (r = +5s) +0s and +5s are live: the denial above dropped
		// nothing.
		{3 * s, 1, denied(2, 0, 12*s, 7*s)},
		{12 * s, 1, allowed(2, 0, 10*s)},
		// At +11s (r = +12s): +5s and +12s.
		{11 * s, 1, denied(2, 0, 11*s, 4*s)},
	})
}

// testRateBucketOlderReading: a reading older than the bucket's last
// change refills nothing.
func testRateBucketOlderReading(t *testing.T, st Stores) {
	p := rlPolicy(t, "storetest-bucket", ratelimit.TokenBucket, 1, time.Second, 2)
	const ms = time.Millisecond
	runSteps(t, st, rlKey(t, p, "k"), p, base, []rateStep{
		{0, 2, allowed(2, 0, 2000*ms)},
		{1000 * ms, 1, allowed(2, 0, 2000*ms)},
		{500 * ms, 1, denied(2, 0, 2500*ms, 1500*ms)},
		{2000 * ms, 1, allowed(2, 0, 2000*ms)},
	})
}

// testRateBucketTable: 5 per second from a bucket of 10: 10 at once,
// none more at that instant, 5 a second later, 1 more 200 ms after that.
func testRateBucketTable(t *testing.T, st Stores) {
	p := rlPolicy(t, "storetest-bucket", ratelimit.TokenBucket, 5, time.Second, 10)
	const ms = time.Millisecond
	runSteps(t, st, rlKey(t, p, "k"), p, base, []rateStep{
		{0, 10, allowed(10, 0, 2000*ms)},
		{0, 1, denied(10, 0, 2000*ms, 200*ms)},
		// A second refills 5 tokens: 5 go, one by one; Reset is the
		// time to refill what is missing at 200 ms a token.
		{1000 * ms, 1, allowed(10, 4, 1200*ms)},
		{1000 * ms, 1, allowed(10, 3, 1400*ms)},
		{1000 * ms, 1, allowed(10, 2, 1600*ms)},
		{1000 * ms, 1, allowed(10, 1, 1800*ms)},
		{1000 * ms, 1, allowed(10, 0, 2000*ms)},
		{1000 * ms, 1, denied(10, 0, 2000*ms, 200*ms)},
		{1200 * ms, 1, allowed(10, 0, 2000*ms)},
		{1200 * ms, 1, denied(10, 0, 2000*ms, 200*ms)},
		// Half a token.
		{1300 * ms, 1, denied(10, 0, 1900*ms, 100*ms)},
		{1300 * ms, 3, denied(10, 0, 1900*ms, 500*ms)},
		{1300*ms + time.Microsecond, 1, denied(10, 0, us(1899999), us(99999))},
		{1400 * ms, 1, allowed(10, 0, 2000*ms)},
		// Full again after 2 s: as new.
		{3400 * ms, 1, allowed(10, 9, 200*ms)},
		{3400 * ms, 10, denied(10, 9, 200*ms, 200*ms)},
		{3400 * ms, 9, allowed(10, 0, 2000*ms)},
	})
	// A burst below the rate.
	q := rlPolicy(t, "storetest-smallburst", ratelimit.TokenBucket, 10, time.Second, 2)
	runSteps(t, st, rlKey(t, q, "k"), q, base, []rateStep{
		{0, 2, allowed(2, 0, 200*ms)},
		{0, 1, denied(2, 0, 200*ms, 100*ms)},
		{50 * ms, 2, denied(2, 0, 150*ms, 150*ms)},
		{10 * time.Second, 2, allowed(2, 0, 200*ms)}, // never more than the burst
		{10 * time.Second, 1, denied(2, 0, 200*ms, 100*ms)},
	})
}

// testRateBucketRounding: Reset and RetryAfter round up to the next
// microsecond; Remaining rounds down.
func testRateBucketRounding(t *testing.T, st Stores) {
	p := rlPolicy(t, "storetest-bucket3", ratelimit.TokenBucket, 3, time.Second, 2)
	runSteps(t, st, rlKey(t, p, "k"), p, base, []rateStep{
		{0, 2, allowed(2, 0, us(666667))},            // ceil(2e6/3)
		{0, 1, denied(2, 0, us(666667), us(333334))}, // ceil(1e6/3)
		{us(1), 1, denied(2, 0, us(666666), us(333333))},
		{us(333333), 1, denied(2, 0, us(333334), us(1))},
		{us(333334), 1, allowed(2, 0, us(666666))},  // 2/1e6 of a token left
		{us(999999), 1, allowed(2, 0, us(333335))},  // 0.999997 of a token left: Remaining 0
		{us(1000000), 1, allowed(2, 0, us(666667))}, // exactly none left
		{us(1333334), 1, allowed(2, 0, us(666666))},
	})
}

// raceTakes runs count Takes of n on one key at one instant, released at
// once, and returns their Results.
func raceTakes(t *testing.T, st Stores, key string, p ratelimit.Policy, n int, at time.Time, count int) []ratelimit.Result {
	t.Helper()
	// One race at a time in the process: each fills its store's whole
	// connection pool, and a SQL server's connection limit is shared by
	// every subtest running in parallel.
	racing <- struct{}{}
	defer func() { <-racing }()
	res := make([]ratelimit.Result, count)
	errs := race(count, func(i int) (err error) {
		res[i], err = st.RateLimits.Take(context.Background(), p, key, n, at)
		return err
	})
	for i, err := range errs {
		if err != nil {
			t.Fatalf("concurrent Take %d: %v", i, err)
		}
	}
	return res
}

// racing admits one raceTakes at a time.
var racing = make(chan struct{}, 1)

// checkRace checks concurrent Results: exactly admit were admitted, their
// Remaining values are exactly first, first-step, ..., one each (the
// calls saw each other's counts, one at a time), each admitted Result is
// ok(its Remaining), and each denied one is no.
func checkRace(t *testing.T, res []ratelimit.Result, admit, first, step int, ok func(remaining int) ratelimit.Result, no ratelimit.Result) {
	t.Helper()
	var remaining []int
	for i, r := range res {
		want := no
		if r.Allowed {
			remaining = append(remaining, r.Remaining)
			want = ok(r.Remaining)
		}
		if d := diffResult(r, want); d != "" {
			t.Errorf("concurrent Take %d: %s", i, d)
		}
	}
	var want []int
	for i := range admit {
		want = append(want, first-i*step)
	}
	slices.Sort(remaining)
	slices.Sort(want)
	if !slices.Equal(remaining, want) {
		t.Errorf("%d concurrent Takes: %d admitted with Remaining %v; want %d admitted with Remaining %v", len(res), len(remaining), remaining, admit, want)
	}
}

const racers = 1000

// testRateFixedConcurrent: 1,000 Takes of one key at one instant admit
// exactly Limit.
func testRateFixedConcurrent(t *testing.T, st Stores) {
	p := rlPolicy(t, "storetest-fixed", ratelimit.FixedWindow, 100, time.Minute, 0)
	at := time.Date(2026, 3, 14, 15, 9, 15, 250000000, time.UTC)
	reset := 44750 * time.Millisecond
	res := raceTakes(t, st, rlKey(t, p, "k"), p, 1, at, racers)
	checkRace(t, res, 100, 99, 1, func(r int) ratelimit.Result { return allowed(100, r, reset) }, denied(100, 0, reset, reset))
}

func testRateSlidingConcurrent(t *testing.T, st Stores) {
	p := rlPolicy(t, "storetest-sliding", ratelimit.SlidingWindow, 100, time.Minute, 0)
	res := raceTakes(t, st, rlKey(t, p, "k"), p, 1, base, racers)
	checkRace(t, res, 100, 99, 1, func(r int) ratelimit.Result { return allowed(100, r, time.Minute) },
		denied(100, 0, time.Minute, time.Minute))
}

// testRateBucketConcurrent: a bucket of 100 refilled at 10 a second
// admits 100 of 1,000 concurrent Takes, then exactly 37 of 1,000 after
// 3.7 s.
func testRateBucketConcurrent(t *testing.T, st Stores) {
	p := rlPolicy(t, "storetest-bucket", ratelimit.TokenBucket, 10, time.Second, 100)
	key := rlKey(t, p, "k")
	// With r tokens left, Reset is the 100-r missing at 100 ms each.
	ok := func(r int) ratelimit.Result { return allowed(100, r, time.Duration(100-r)*100*time.Millisecond) }
	no := denied(100, 0, 10*time.Second, 100*time.Millisecond)
	res := raceTakes(t, st, key, p, 1, base, racers)
	checkRace(t, res, 100, 99, 1, ok, no)
	const k = 37
	res = raceTakes(t, st, key, p, 1, base.Add(k*p.Window/time.Duration(p.Limit)), racers)
	checkRace(t, res, k, k-1, 1, ok, no)
}

// testRateConcurrentN: 1,000 concurrent Takes of 3 against 100 admit 33,
// in every algorithm.
func testRateConcurrentN(t *testing.T, st Stores) {
	const n = 3
	fixed := rlPolicy(t, "storetest-fixed", ratelimit.FixedWindow, 100, time.Minute, 0)
	at := time.Date(2026, 3, 14, 15, 9, 15, 0, time.UTC)
	res := raceTakes(t, st, rlKey(t, fixed, "k"), fixed, n, at, racers)
	checkRace(t, res, 33, 97, n, func(r int) ratelimit.Result { return allowed(100, r, 45*time.Second) },
		denied(100, 1, 45*time.Second, 45*time.Second))

	sliding := rlPolicy(t, "storetest-sliding", ratelimit.SlidingWindow, 100, time.Minute, 0)
	res = raceTakes(t, st, rlKey(t, sliding, "k"), sliding, n, at, racers)
	checkRace(t, res, 33, 97, n, func(r int) ratelimit.Result { return allowed(100, r, time.Minute) },
		denied(100, 1, time.Minute, time.Minute))

	bucket := rlPolicy(t, "storetest-bucket", ratelimit.TokenBucket, 10, time.Second, 100)
	res = raceTakes(t, st, rlKey(t, bucket, "k"), bucket, n, at, racers)
	// One token left, two missing: 200 ms.
	checkRace(t, res, 33, 97, n, func(r int) ratelimit.Result { return allowed(100, r, time.Duration(100-r)*100*time.Millisecond) },
		denied(100, 1, 9900*time.Millisecond, 200*time.Millisecond))
}

// testRateFixedBoundary: Limit at the very end of a window and Limit at
// the start of the next are all admitted (2×Limit within a microsecond),
// and nothing more until the window after.
func testRateFixedBoundary(t *testing.T, st Stores) {
	p := rlPolicy(t, "storetest-fixed", ratelimit.FixedWindow, 10, time.Minute, 0)
	key := rlKey(t, p, "k")
	end := windowStart(base, p.Window).Add(p.Window) // the next window's start
	last := end.Add(-time.Microsecond)
	res := raceTakes(t, st, key, p, 1, last, racers)
	checkRace(t, res, 10, 9, 1, func(r int) ratelimit.Result { return allowed(10, r, time.Microsecond) },
		denied(10, 0, time.Microsecond, time.Microsecond))
	res = raceTakes(t, st, key, p, 1, end, racers)
	checkRace(t, res, 10, 9, 1, func(r int) ratelimit.Result { return allowed(10, r, time.Minute) },
		denied(10, 0, time.Minute, time.Minute))
	// The rest of that window admits nothing.
	for _, off := range []time.Duration{time.Microsecond, time.Second, 30 * time.Second, p.Window - time.Microsecond} {
		want := denied(10, 0, p.Window-off, p.Window-off)
		if d := diffResult(take(t, st, key, p, 1, end.Add(off)), want); d != "" {
			t.Errorf("Take at the window's start + %v: %s", off, d)
		}
	}
	if d := diffResult(take(t, st, key, p, 1, end.Add(p.Window)), allowed(10, 9, time.Minute)); d != "" {
		t.Errorf("Take in the window after: %s", d)
	}
}

// testRateFixedAlignedWindows: across six windows, three times Limit
// requests spread over each admit exactly the first Limit of each window.
func testRateFixedAlignedWindows(t *testing.T, st Stores) {
	p := rlPolicy(t, "storetest-fixed", ratelimit.FixedWindow, 7, 10*time.Second, 0)
	key := rlKey(t, p, "k")
	s0 := windowStart(base, p.Window)
	rng := rand.New(rand.NewPCG(7, 0))
	W := p.Window.Microseconds()
	for w := range int64(6) {
		// 21 sorted offsets within window w, first and last µs included.
		offs := []int64{0, W - 1}
		for len(offs) < 3*p.Limit {
			offs = append(offs, rng.Int64N(W))
		}
		slices.Sort(offs)
		admitted := 0
		for i, off := range offs {
			at := s0.Add(us(w*W + off))
			got := take(t, st, key, p, 1, at)
			if got.Allowed {
				admitted++
			}
			if got.Allowed != (i < p.Limit) || got.Remaining != max(p.Limit-i-1, 0) || got.Reset != us(W-off) {
				t.Errorf("window %d request %d at +%dµs: %+v; want Allowed %v, Remaining %d, Reset %v",
					w, i, off, got, i < p.Limit, max(p.Limit-i-1, 0), us(W-off))
			}
		}
		if admitted != p.Limit {
			t.Errorf("window %d admitted %d of %d, want %d", w, admitted, len(offs), p.Limit)
		}
	}
}

// testRateSlidingInterval: a seeded random sequence of times and sizes
// on one key; each admission is the model's, and no interval (t-W, t]
// ever holds more than Limit admitted requests.
func testRateSlidingInterval(t *testing.T, st Stores) {
	p := rlPolicy(t, "storetest-sliding", ratelimit.SlidingWindow, 10, time.Second, 0)
	key := rlKey(t, p, "k")
	W := p.Window.Microseconds()
	rng := rand.New(rand.NewPCG(10, 0))
	model := newRateModel()
	type hit struct{ t, n int64 }
	var hits []hit // admitted, in order
	at := base
	for i := range 1500 {
		switch r := rng.IntN(10); {
		case r < 2: // the same instant
		case r < 9:
			at = at.Add(us(rng.Int64N(W / 5)))
		default:
			at = at.Add(us(W - 2 + rng.Int64N(5))) // a whole window, give or take
		}
		n := 1
		if rng.IntN(4) == 0 {
			n = 1 + rng.IntN(p.Limit)
		}
		got := take(t, st, key, p, n, at)
		want := model.take(key, p, n, at)
		if got.Allowed != want.Allowed {
			t.Fatalf("step %d (n=%d at +%v): got %+v, want %+v", i, n, at.Sub(base), got, want)
		}
		if got.Allowed {
			hits = append(hits, hit{at.UnixMicro(), int64(n)})
		}
	}
	// Every interval (t-W, t] ending at an admitted time.
	lo, sum := 0, int64(0)
	for _, h := range hits {
		sum += h.n
		for hits[lo].t <= h.t-W {
			sum -= hits[lo].n
			lo++
		}
		if sum > int64(p.Limit) {
			end := time.UnixMicro(h.t).Sub(base)
			t.Fatalf("%d admitted in (+%v, +%v], want at most %d", sum, end-p.Window, end, p.Limit)
		}
	}
	if len(hits) < 100 {
		t.Errorf("only %d admissions: the sequence tests little", len(hits))
	}
}

// The differential tests' policies: odd windows and limits, bursts above
// and below the rate.
var (
	fixedModelPolicies = []ratelimit.Policy{
		{Name: "storetest-f1", Algorithm: ratelimit.FixedWindow, Limit: 1, Window: time.Millisecond},
		{Name: "storetest-f2", Algorithm: ratelimit.FixedWindow, Limit: 5, Window: time.Second},
		{Name: "storetest-f3", Algorithm: ratelimit.FixedWindow, Limit: 50, Window: 1234567 * time.Microsecond},
		{Name: "storetest-f4", Algorithm: ratelimit.FixedWindow, Limit: 4, Window: time.Minute},
	}
	slidingModelPolicies = []ratelimit.Policy{
		{Name: "storetest-s1", Algorithm: ratelimit.SlidingWindow, Limit: 1, Window: time.Millisecond},
		{Name: "storetest-s2", Algorithm: ratelimit.SlidingWindow, Limit: 5, Window: time.Second},
		{Name: "storetest-s3", Algorithm: ratelimit.SlidingWindow, Limit: 30, Window: 1234567 * time.Microsecond},
		{Name: "storetest-s4", Algorithm: ratelimit.SlidingWindow, Limit: 4, Window: time.Minute},
	}
	bucketModelPolicies = []ratelimit.Policy{
		{Name: "storetest-b1", Algorithm: ratelimit.TokenBucket, Limit: 1, Window: time.Millisecond, Burst: 1},
		{Name: "storetest-b2", Algorithm: ratelimit.TokenBucket, Limit: 5, Window: time.Second, Burst: 10},
		{Name: "storetest-b3", Algorithm: ratelimit.TokenBucket, Limit: 7, Window: 1234567 * time.Microsecond, Burst: 3},
		{Name: "storetest-b4", Algorithm: ratelimit.TokenBucket, Limit: 1000, Window: time.Hour, Burst: 20},
		{Name: "storetest-b5", Algorithm: ratelimit.TokenBucket, Limit: 3, Window: time.Second, Burst: 3},
	}
)

// testRateDifferential: 2,500 seeded random steps over 3 keys of each
// policy (time moving on by 0, a microsecond, a fraction of a window, or
// a window or more), each Result equal, field by field, to the model's.
func testRateDifferential(t *testing.T, st Stores, policies []ratelimit.Policy, seed uint64) {
	const keys, steps = 3, 2500
	type target struct {
		p   ratelimit.Policy
		key string
		i   int
	}
	var targets []target
	for _, p := range policies {
		p = rlPolicy(t, p.Name, p.Algorithm, p.Limit, p.Window, p.Burst)
		for i := range keys {
			targets = append(targets, target{p, rlKey(t, p, strconv.Itoa(i)), i})
		}
	}
	rng := rand.New(rand.NewPCG(seed, 0))
	model := newRateModel()
	at := base
	for step := range steps {
		tg := targets[rng.IntN(len(targets))]
		W := tg.p.Window.Microseconds()
		switch r := rng.IntN(20); {
		case r < 5: // the same instant
		case r < 6:
			at = at.Add(time.Microsecond)
		case r < 16:
			at = at.Add(us(1 + rng.Int64N(W/4)))
		case r < 18:
			at = at.Add(us(W - 1 + rng.Int64N(3)))
		default:
			at = at.Add(us(rng.Int64N(3 * W)))
		}
		n := 1
		if rng.IntN(2) == 0 {
			n = 1 + rng.IntN(tg.p.Quota())
		}
		got := take(t, st, tg.key, tg.p, n, at)
		want := model.take(tg.key, tg.p, n, at)
		if d := diffResult(got, want); d != "" {
			t.Fatalf("step %d: %s key %d, n=%d at +%v: %s", step, tg.p, tg.i, n, at.Sub(base), d)
		}
	}
}

// testRateIndependence: keys, policy names and algorithms never share
// counts.
func testRateIndependence(t *testing.T, st Stores) {
	const m = time.Minute
	at := time.Date(2026, 3, 14, 15, 9, 30, 0, time.UTC)
	a := rlPolicy(t, "storetest-a", ratelimit.FixedWindow, 2, m, 0)
	b := rlPolicy(t, "storetest-b", ratelimit.FixedWindow, 2, m, 0)
	sliding := rlPolicy(t, "storetest-a", ratelimit.SlidingWindow, 2, m, 0)
	bucket := rlPolicy(t, "storetest-a", ratelimit.TokenBucket, 2, m, 0)
	key := rlRun + "/" + t.Name() + "/k"
	check := func(what string, p ratelimit.Policy, k string, n int, want ratelimit.Result) {
		t.Helper()
		if d := diffResult(take(t, st, k, p, n, at), want); d != "" {
			t.Errorf("%s: %s", what, d)
		}
	}
	check("a, k", a, key, 2, allowed(2, 0, 30*time.Second))
	check("a, k again", a, key, 1, denied(2, 0, 30*time.Second, 30*time.Second))
	check("a, another key", a, key+"2", 1, allowed(2, 1, 30*time.Second))
	check("b, k", b, key, 1, allowed(2, 1, 30*time.Second))
	check("sliding a, k", sliding, key, 2, allowed(2, 0, m))
	check("bucket a, k", bucket, key, 1, allowed(2, 1, 30*time.Second))
	check("bucket a, k", bucket, key, 1, allowed(2, 0, m))
	check("bucket a, k", bucket, key, 1, denied(2, 0, m, 30*time.Second))
	// Each still where it was.
	check("a, k", a, key, 1, denied(2, 0, 30*time.Second, 30*time.Second))
	check("a, another key", a, key+"2", 1, allowed(2, 0, 30*time.Second))
	check("b, k", b, key, 1, allowed(2, 0, 30*time.Second))
	check("sliding a, k", sliding, key, 1, denied(2, 0, m, m))
}

// idleCheck takes n on key and on a key never used, at at, and wants
// both to return want: the key behaves as new.
func idleCheck(t *testing.T, st Stores, key string, p ratelimit.Policy, n int, at time.Time, want ratelimit.Result) {
	t.Helper()
	if d := diffResult(take(t, st, rlKey(t, p, "never used"), p, n, at), want); d != "" {
		t.Errorf("a new key at +%v: %s", at.Sub(base), d)
	}
	if d := diffResult(take(t, st, key, p, n, at), want); d != "" {
		t.Errorf("an idle key at +%v: %s", at.Sub(base), d)
	}
}

// testRateIdleFixed: from its next window on, a key is as new.
func testRateIdleFixed(t *testing.T, st Stores) {
	p := rlPolicy(t, "storetest-fixed", ratelimit.FixedWindow, 2, time.Minute, 0)
	key := rlKey(t, p, "k")
	end := windowStart(base, p.Window).Add(p.Window)
	take(t, st, key, p, 2, base)
	if d := diffResult(take(t, st, key, p, 1, end.Add(-time.Microsecond)), denied(2, 0, time.Microsecond, time.Microsecond)); d != "" {
		t.Errorf("at the window's last microsecond: %s", d)
	}
	idleCheck(t, st, key, p, 2, end, allowed(2, 0, time.Minute))
	// And after many windows.
	take(t, st, key, p, 1, end.Add(time.Second))
	idleCheck(t, st, key, p, 2, end.Add(100*time.Hour+time.Second), allowed(2, 0, time.Minute-time.Second))
}

// testRateIdleSliding: once its newest time is Window old, a key is as
// new.
func testRateIdleSliding(t *testing.T, st Stores) {
	p := rlPolicy(t, "storetest-sliding", ratelimit.SlidingWindow, 2, time.Minute, 0)
	key := rlKey(t, p, "k")
	take(t, st, key, p, 1, base)
	newest := base.Add(30 * time.Second)
	take(t, st, key, p, 1, newest)
	at := newest.Add(p.Window - time.Microsecond)
	if d := diffResult(take(t, st, key, p, 2, at), denied(2, 1, time.Microsecond, time.Microsecond)); d != "" {
		t.Errorf("a microsecond before the newest time leaves: %s", d)
	}
	idleCheck(t, st, key, p, 2, newest.Add(p.Window), allowed(2, 0, time.Minute))
	idleCheck(t, st, key, p, 1, newest.Add(1000*time.Hour), allowed(2, 1, time.Minute))
}

// testRateIdleBucket: once refilled, a bucket is as new.
func testRateIdleBucket(t *testing.T, st Stores) {
	p := rlPolicy(t, "storetest-bucket", ratelimit.TokenBucket, 5, time.Second, 10)
	key := rlKey(t, p, "k")
	if d := diffResult(take(t, st, key, p, 10, base), allowed(10, 0, 2*time.Second)); d != "" {
		t.Fatalf("the first 10: %s", d)
	}
	full := base.Add(2 * time.Second)
	if d := diffResult(take(t, st, key, p, 10, full.Add(-time.Microsecond)), denied(10, 9, time.Microsecond, time.Microsecond)); d != "" {
		t.Errorf("a microsecond before full: %s", d)
	}
	idleCheck(t, st, key, p, 10, full, allowed(10, 0, 2*time.Second))
	// One token taken is back after 200 ms.
	take(t, st, key, p, 1, full.Add(time.Hour))
	idleCheck(t, st, key, p, 10, full.Add(time.Hour+200*time.Millisecond), allowed(10, 0, 2*time.Second))
}

// testRateExtremes: times in 2100, the largest window, limit and burst;
// no overflow, in whatever arithmetic the store does.
func testRateExtremes(t *testing.T, st Stores) {
	t2100 := time.Date(2100, 6, 30, 23, 59, 59, 999999000, time.UTC)
	W := ratelimit.MaxWindow
	Wus := W.Microseconds()
	t.Run("FixedMaxWindow", func(t *testing.T) {
		p := rlPolicy(t, "storetest-fixed", ratelimit.FixedWindow, ratelimit.MaxLimit, W, 0)
		key := rlKey(t, p, "k")
		s := windowStart(t2100, W)
		reset := s.Add(W).Sub(t2100)
		runSteps(t, st, key, p, t2100, []rateStep{
			{0, ratelimit.MaxLimit - 1, allowed(ratelimit.MaxLimit, 1, reset)},
			{0, 2, denied(ratelimit.MaxLimit, 1, reset, reset)},
			{0, 1, allowed(ratelimit.MaxLimit, 0, reset)},
			{reset, ratelimit.MaxLimit, allowed(ratelimit.MaxLimit, 0, W)},
		})
	})
	t.Run("FixedMaxLimit", func(t *testing.T) {
		p := rlPolicy(t, "storetest-fixed1ms", ratelimit.FixedWindow, ratelimit.MaxLimit, time.Millisecond, 0)
		s := windowStart(t2100, time.Millisecond)
		runSteps(t, st, rlKey(t, p, "k"), p, s, []rateStep{
			{0, ratelimit.MaxLimit, allowed(ratelimit.MaxLimit, 0, time.Millisecond)},
			{999 * time.Microsecond, ratelimit.MaxLimit, denied(ratelimit.MaxLimit, 0, time.Microsecond, time.Microsecond)},
			{time.Millisecond, ratelimit.MaxLimit, allowed(ratelimit.MaxLimit, 0, time.Millisecond)},
		})
	})
	t.Run("SlidingMax", func(t *testing.T) {
		L := ratelimit.MaxSlidingLimit
		p := rlPolicy(t, "storetest-sliding", ratelimit.SlidingWindow, L, W, 0)
		h := time.Hour
		runSteps(t, st, rlKey(t, p, "k"), p, t2100, []rateStep{
			{0, L - 1, allowed(L, 1, W)},
			{h, 2, denied(L, 1, W-h, W-h)},
			{h, 1, allowed(L, 0, W)},
			{W, L, denied(L, L-1, h, h)}, // the first L-1 have left; the one at +1h has not
			{W, L - 1, allowed(L, 0, W)},
			{3 * W, L, allowed(L, 0, W)},
		})
	})
	t.Run("BucketMaxBurst", func(t *testing.T) {
		// The largest burst Validate accepts over MaxWindow, refilled at
		// MaxLimit per window: B×W just under 2^61.
		B := int(math.MaxInt64 / 4 / Wus)
		p := rlPolicy(t, "storetest-bucket", ratelimit.TokenBucket, ratelimit.MaxLimit, W, B)
		full := int64(B) * Wus
		L := int64(ratelimit.MaxLimit)
		reset := us((full + L - 1) / L)
		retry := us((Wus + L - 1) / L) // one token
		runSteps(t, st, rlKey(t, p, "k"), p, base, []rateStep{
			{0, B, allowed(B, 0, reset)},
			{0, 1, denied(B, 0, reset, retry)},
			// 74 years on: the elapsed time times the rate is far beyond
			// 64 bits, the level just full.
			{t2100.Sub(base), B, allowed(B, 0, reset)},
			{t2100.Sub(base) + time.Microsecond, 1, denied(B, 0, us((full-L+L-1)/L), us((Wus-L+L-1)/L))},
		})
	})
	t.Run("BucketMaxLimit", func(t *testing.T) {
		p := rlPolicy(t, "storetest-bucket1ms", ratelimit.TokenBucket, ratelimit.MaxLimit, time.Millisecond, 0)
		B := ratelimit.MaxLimit
		runSteps(t, st, rlKey(t, p, "k"), p, base, []rateStep{
			{0, B, allowed(B, 0, time.Millisecond)},
			{0, 1, denied(B, 0, time.Millisecond, time.Microsecond)},
			{time.Millisecond / 2, B, denied(B, B/2, time.Millisecond/2, time.Millisecond/2)},
			{t2100.Sub(base), B, allowed(B, 0, time.Millisecond)},
		})
		// A slow refill of a large burst: a token per millisecond, a
		// billion of them; the time to refill is 11.6 days.
		q := rlPolicy(t, "storetest-bucketslow", ratelimit.TokenBucket, 1, time.Millisecond, ratelimit.MaxLimit)
		runSteps(t, st, rlKey(t, q, "k"), q, base, []rateStep{
			{0, B, allowed(B, 0, us(int64(B)*1000))},
			{0, 2, denied(B, 0, us(int64(B)*1000), 2*time.Millisecond)},
			{t2100.Sub(base), B, allowed(B, 0, us(int64(B)*1000))},
		})
	})
}

// testRateCanceledContext: a canceled context fails the Take with
// context.Canceled and the zero Result, and counts nothing.
func testRateCanceledContext(t *testing.T, st Stores) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, p := range []ratelimit.Policy{
		rlPolicy(t, "storetest-fixed", ratelimit.FixedWindow, 2, time.Minute, 0),
		rlPolicy(t, "storetest-sliding", ratelimit.SlidingWindow, 2, time.Minute, 0),
		rlPolicy(t, "storetest-bucket", ratelimit.TokenBucket, 2, time.Minute, 0),
	} {
		key := rlKey(t, p, "k")
		at := time.Date(2026, 3, 14, 15, 9, 0, 0, time.UTC)
		take(t, st, key, p, 1, at)
		got, err := st.RateLimits.Take(ctx, p, key, 1, at)
		if !errors.Is(err, context.Canceled) || got != (ratelimit.Result{}) {
			t.Errorf("%s: Take with a canceled context = %+v, %v; want the zero Result, context.Canceled", p.Algorithm, got, err)
		}
		if d := diffResult(take(t, st, key, p, 1, at), allowed(2, 0, time.Minute)); d != "" {
			t.Errorf("%s: the Take after: %s", p.Algorithm, d)
		}
	}
}

// rateModel is the rule the Store doc comment gives each algorithm,
// written out as literally as it reads: every admitted time of a sliding
// window, every window's count of a fixed one, a bucket's level in
// exact integers. It is the reference the differential tests hold a
// store to: slow, simple, and free of any store's shortcuts. Times
// passed to it never go back.
type rateModel struct {
	keys map[ratelimit.KeyHash]*modelKey // by HashKey(p, key): one counter per policy and key
}

type modelKey struct {
	windows map[int64]int64 // fixed: the count admitted in each window, by its start (µs)
	times   []int64         // sliding: every admitted time, in order, a request of n n times
	x, a    *big.Int        // bucket: the level (1/W of a token) and the time of its last change
}

func newRateModel() *rateModel { return &rateModel{keys: map[ratelimit.KeyHash]*modelKey{}} }

func (m *rateModel) take(key string, p ratelimit.Policy, n int, now time.Time) ratelimit.Result {
	h := ratelimit.HashKey(p, key)
	k := m.keys[h]
	if k == nil {
		k = &modelKey{windows: map[int64]int64{}}
		m.keys[h] = k
	}
	t, W, L, N := now.UnixMicro(), p.Window.Microseconds(), int64(p.Limit), int64(n)
	res := ratelimit.Result{Limit: p.Quota()}
	switch p.Algorithm {
	case ratelimit.FixedWindow:
		s := t - t%W
		c := k.windows[s]
		if c+N <= L {
			c += N
			k.windows[s] = c
			res.Allowed = true
		}
		res.Remaining = int(L - c)
		res.Reset = us(s + W - t)
		if !res.Allowed {
			res.RetryAfter = res.Reset
		}
	case ratelimit.SlidingWindow:
		first := sort.Search(len(k.times), func(i int) bool { return k.times[i] > t-W })
		live := k.times[first:]
		c := int64(len(live))
		if c+N <= L {
			r := t
			if len(k.times) > 0 {
				r = max(t, k.times[len(k.times)-1])
			}
			for range n {
				k.times = append(k.times, r)
			}
			c += N
			res.Allowed = true
		} else {
			v := live[int(c+N-L)-1] // the (c+n-L)-th oldest
			res.RetryAfter = us(v + W - t)
		}
		res.Remaining = int(L - c)
		res.Reset = us(k.times[len(k.times)-1] + W - t)
	case ratelimit.TokenBucket:
		bw := func(v int64) *big.Int { return new(big.Int).Mul(big.NewInt(v), big.NewInt(W)) }
		full := bw(int64(p.Burst))
		bt, bL := big.NewInt(t), big.NewInt(L)
		if k.x == nil {
			k.x, k.a = new(big.Int).Set(full), new(big.Int).Set(bt)
		}
		// x = min(B×W, x + max(0, t-a)×L); a = max(a, t)
		el := new(big.Int).Sub(bt, k.a)
		if el.Sign() < 0 {
			el.SetInt64(0)
		}
		k.x.Add(k.x, el.Mul(el, bL))
		if k.x.Cmp(full) > 0 {
			k.x.Set(full)
		}
		if k.a.Cmp(bt) < 0 {
			k.a.Set(bt)
		}
		if cost := bw(N); k.x.Cmp(cost) >= 0 {
			k.x.Sub(k.x, cost)
			res.Allowed = true
		} else {
			res.RetryAfter = us(ceilDivBig(cost.Sub(cost, k.x), bL))
		}
		res.Remaining = int(new(big.Int).Quo(k.x, big.NewInt(W)).Int64())
		res.Reset = us(ceilDivBig(new(big.Int).Sub(full, k.x), bL))
	default:
		panic(fmt.Sprintf("storetest: no model of %q", p.Algorithm))
	}
	return res
}

// ceilDivBig returns ceil(a/b) for a >= 0, b > 0, as an int64.
func ceilDivBig(a, b *big.Int) int64 {
	q, r := new(big.Int).QuoRem(a, b, new(big.Int))
	if r.Sign() > 0 {
		q.Add(q, big.NewInt(1))
	}
	if !q.IsInt64() || q.Int64() > math.MaxInt64/int64(time.Microsecond) {
		panic(fmt.Sprintf("storetest: %v µs does not fit a time.Duration", q))
	}
	return q.Int64()
}
