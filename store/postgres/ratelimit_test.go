package postgres_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/cedrina/cedrina/internal/pgtest"
	"github.com/cedrina/cedrina/ratelimit"
	"github.com/cedrina/cedrina/schema"
	"github.com/cedrina/cedrina/store/postgres"
)

// rlBase is the time the rate limit tests start at: a whole minute, so
// that fixed windows of a divisor of a minute start on it.
var rlBase = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// rateLimits returns a rate limit store with cfg on a fresh, migrated
// schema (lib/pq), and the DB.
func rateLimits(t testing.TB, cfg postgres.RateLimitConfig) (*postgres.RateLimitStore, *postgres.DB) {
	t.Helper()
	db, err := postgres.New(pgtest.DB(t), postgres.Config{})
	if err != nil {
		t.Fatal(err)
	}
	return db.RateLimits(cfg), db
}

// rlPolicies are the policies the differential tests drive: small limits
// and odd windows, so that every rounding (ceil of a refill, a window's
// alignment) shows.
var rlPolicies = []ratelimit.Policy{
	{Name: "fixed", Algorithm: ratelimit.FixedWindow, Limit: 5, Window: 10 * time.Millisecond},
	{Name: "fixed.odd", Algorithm: ratelimit.FixedWindow, Limit: 3, Window: 7*time.Millisecond + 3*time.Microsecond},
	{Name: "sliding", Algorithm: ratelimit.SlidingWindow, Limit: 5, Window: 10 * time.Millisecond},
	{Name: "sliding.odd", Algorithm: ratelimit.SlidingWindow, Limit: 4, Window: 7*time.Millisecond + 3*time.Microsecond},
	{Name: "bucket", Algorithm: ratelimit.TokenBucket, Limit: 3, Window: 10 * time.Millisecond, Burst: 5},
	{Name: "bucket.odd", Algorithm: ratelimit.TokenBucket, Limit: 7, Window: time.Second + 13*time.Microsecond, Burst: 2},
	{Name: "bucket.slow", Algorithm: ratelimit.TokenBucket, Limit: 1, Window: 3 * time.Millisecond, Burst: 1},
}

// rlStep is one check of a differential sequence.
type rlStep struct {
	key string
	n   int
	at  time.Time
}

// rlSequence returns count random checks of p on three keys. Times move
// forward by random steps from 0 to twice the window, often by nothing or
// by a microsecond, now and then by three to five windows; with back set, one step in four goes back by up to
// half a window instead, never to more than a window before the latest
// time so far.
func rlSequence(r *rand.Rand, p ratelimit.Policy, count int, back bool) []rlStep {
	w := p.Window.Microseconds()
	at := rlBase.UnixMicro() + r.Int64N(w)
	hi := at
	steps := make([]rlStep, count)
	for i := range steps {
		hi = max(hi, at)
		switch k := r.IntN(8); {
		case back && k < 2:
			at = max(at-r.Int64N(w/2+1), hi-w)
		case k < 3:
			// the same time
		case k < 4:
			at++
		case k < 7:
			at += r.Int64N(w/3 + 1)
		case r.IntN(4) == 0:
			at += 3*w + r.Int64N(2*w+1) // every key idle
		default:
			at += r.Int64N(2*w + 1)
		}
		n := 1
		if r.IntN(4) == 0 {
			n = 1 + r.IntN(p.Quota())
		}
		steps[i] = rlStep{key: fmt.Sprintf("k%d", r.IntN(3)), n: n, at: time.UnixMicro(at).UTC()}
	}
	return steps
}

// TestRateLimitDifferential runs the same random checks on the
// PostgreSQL store (durable and asynchronous commits) and on the memory
// store, the reference: every Result must be equal, field by field. Every
// fifth check, a cleanup deletes what was initial a window before the
// latest time so far (no check goes back further), which must change no
// answer.
// Times go back now and then (older clock readings) for sliding windows
// and token buckets; for fixed windows they only move forward, since the
// memory store counts an older window's request in the newest window and
// this store in that window's own row (the rule allows both; see
// TestRateLimitOlderTimes).
func TestRateLimitDifferential(t *testing.T) {
	t.Parallel()
	for _, async := range []bool{false, true} {
		for _, p := range rlPolicies {
			t.Run(fmt.Sprintf("%s/async=%v", p.Name, async), func(t *testing.T) {
				t.Parallel()
				pg, _ := rateLimits(t, postgres.RateLimitConfig{AsyncCommit: async})
				mem, err := ratelimit.NewMemoryStore(ratelimit.MemoryConfig{})
				if err != nil {
					t.Fatal(err)
				}
				seed := uint64(time.Now().UnixNano())
				r := rand.New(rand.NewPCG(seed, 7))
				ctx := t.Context()
				allowed, deleted := 0, 0
				hi := rlBase
				for i, s := range rlSequence(r, p, 300, p.Algorithm != ratelimit.FixedWindow) {
					if i%5 == 4 {
						n, err := pg.DeleteExpired(ctx, hi.Add(-p.Window), 1000)
						if err != nil {
							t.Fatal(err)
						}
						deleted += n
					}
					if s.at.After(hi) {
						hi = s.at
					}
					want, err := mem.Take(ctx, p, s.key, s.n, s.at)
					if err != nil {
						t.Fatal(err)
					}
					got, err := pg.Take(ctx, p, s.key, s.n, s.at)
					if err != nil {
						t.Fatalf("step %d: %v", i, err)
					}
					if got != want {
						t.Fatalf("seed %d, step %d (key %s, n %d, at +%dµs): postgres %+v, memory %+v",
							seed, i, s.key, s.n, s.at.Sub(rlBase).Microseconds(), got, want)
					}
					if got.Allowed {
						allowed++
					}
				}
				if allowed < 30 || allowed > 270 {
					t.Errorf("%d of 300 checks admitted: the sequence does not exercise both answers", allowed)
				}
				if deleted == 0 {
					t.Error("the cleanups deleted nothing: the sequence does not exercise them")
				}
			})
		}
	}
}

// newMemory returns an empty memory store, the reference.
func newMemory(t testing.TB) *ratelimit.MemoryStore {
	t.Helper()
	mem, err := ratelimit.NewMemoryStore(ratelimit.MemoryConfig{})
	if err != nil {
		t.Fatal(err)
	}
	return mem
}

// take runs one check that must not fail.
func take(t testing.TB, ctx context.Context, st ratelimit.Store, p ratelimit.Policy, key string, n int, at time.Time) ratelimit.Result {
	t.Helper()
	res, err := st.Take(ctx, p, key, n, at)
	if err != nil {
		t.Fatalf("Take(%s, %q, %d, +%v): %v", p.Name, key, n, at.Sub(rlBase), err)
	}
	return res
}

// rlRacePolicies are one policy of each algorithm with room for one
// request of one.
var rlRacePolicies = []ratelimit.Policy{
	{Name: "race", Algorithm: ratelimit.FixedWindow, Limit: 1, Window: time.Minute},
	{Name: "race", Algorithm: ratelimit.SlidingWindow, Limit: 1, Window: time.Minute},
	{Name: "race", Algorithm: ratelimit.TokenBucket, Limit: 1, Window: time.Minute, Burst: 1},
}

// TestRateLimitInsertRace: a check whose key's row another transaction
// inserts, and commits, while the check's statement waits for it, so
// that the row is newer than the statement's snapshot, is denied with the
// state that row holds. The statement cannot read that row, returns
// nothing, and runs once more.
func TestRateLimitInsertRace(t *testing.T) {
	t.Parallel()
	for _, p := range rlRacePolicies {
		t.Run(string(p.Algorithm), func(t *testing.T) {
			t.Parallel()
			st, db := rateLimits(t, postgres.RateLimitConfig{})
			mem := newMemory(t)
			at := rlBase.Add(90*time.Second + 7*time.Microsecond)
			want := []ratelimit.Result{
				take(t, t.Context(), mem, p, "k", 1, at),
				take(t, t.Context(), mem, p, "k", 1, at),
			}
			var got [2]ratelimit.Result
			before := postgres.RateLimitReruns(st)
			err := interleave(t, db, func(ctx context.Context) (err error) {
				got[0], err = st.Take(ctx, p, "k", 1, at)
				return err
			}, func(context.Context) error { return nil }, func(ctx context.Context) (err error) {
				got[1], err = st.Take(ctx, p, "k", 1, at)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			for i := range got {
				if got[i] != want[i] {
					t.Errorf("check %d: %+v, want %+v", i+1, got[i], want[i])
				}
			}
			if n := postgres.RateLimitReruns(st) - before; n != 1 {
				t.Errorf("%d reruns, want 1", n)
			}
		})
	}
}

// TestRateLimitLatestVersion: a check that reads the key's row in its
// snapshot while another transaction updates it, and finds that the
// update denies it, answers from the updated row (FOR UPDATE and UPDATE
// follow the row to its latest version) in one statement, whether the
// version in its snapshot admitted the request or had expired.
func TestRateLimitLatestVersion(t *testing.T) {
	t.Parallel()
	at := rlBase.Add(90*time.Second + 7*time.Microsecond)
	for _, c := range []struct {
		name string
		p    ratelimit.Policy
		// before: checks committed first; hold: the check of the other
		// transaction; call: the check that waits for it.
		before     []time.Time
		hold, call time.Time
	}{
		{"fixed", ratelimit.Policy{Name: "latest", Algorithm: ratelimit.FixedWindow, Limit: 2, Window: time.Minute},
			[]time.Time{at}, at, at.Add(time.Millisecond)},
		{"sliding", ratelimit.Policy{Name: "latest", Algorithm: ratelimit.SlidingWindow, Limit: 2, Window: time.Minute},
			[]time.Time{at}, at, at.Add(time.Millisecond)},
		{"sliding expired", ratelimit.Policy{Name: "latest", Algorithm: ratelimit.SlidingWindow, Limit: 1, Window: time.Minute},
			[]time.Time{at}, at.Add(time.Minute), at.Add(time.Minute)},
		{"bucket", ratelimit.Policy{Name: "latest", Algorithm: ratelimit.TokenBucket, Limit: 1, Window: time.Minute, Burst: 2},
			[]time.Time{at}, at, at.Add(time.Millisecond)},
		{"bucket expired", ratelimit.Policy{Name: "latest", Algorithm: ratelimit.TokenBucket, Limit: 1, Window: time.Minute, Burst: 1},
			[]time.Time{at}, at.Add(time.Minute), at.Add(time.Minute + time.Millisecond)},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			st, db := rateLimits(t, postgres.RateLimitConfig{})
			mem := newMemory(t)
			var want, got []ratelimit.Result
			for _, b := range c.before {
				want = append(want, take(t, t.Context(), mem, c.p, "k", 1, b))
				got = append(got, take(t, t.Context(), st, c.p, "k", 1, b))
			}
			want = append(want, take(t, t.Context(), mem, c.p, "k", 1, c.hold), take(t, t.Context(), mem, c.p, "k", 1, c.call))
			if want[len(want)-1].Allowed {
				t.Fatal("the memory store admitted the last check: the case tests nothing")
			}
			var hold, call ratelimit.Result
			before := postgres.RateLimitReruns(st)
			err := interleave(t, db, func(ctx context.Context) (err error) {
				hold, err = st.Take(ctx, c.p, "k", 1, c.hold)
				return err
			}, func(context.Context) error { return nil }, func(ctx context.Context) (err error) {
				call, err = st.Take(ctx, c.p, "k", 1, c.call)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, hold, call)
			for i := range got {
				if got[i] != want[i] {
					t.Errorf("check %d: %+v, want %+v", i+1, got[i], want[i])
				}
			}
			if n := postgres.RateLimitReruns(st) - before; n != 0 {
				t.Errorf("%d reruns, want 0", n)
			}
		})
	}
}

// rlHotPolicies are the policies the hot key tests drive: 100 requests a
// minute.
var rlHotPolicies = []ratelimit.Policy{
	{Name: "hot", Algorithm: ratelimit.FixedWindow, Limit: 100, Window: time.Minute},
	{Name: "hot", Algorithm: ratelimit.SlidingWindow, Limit: 100, Window: time.Minute},
	{Name: "hot", Algorithm: ratelimit.TokenBucket, Limit: 100, Window: time.Minute, Burst: 100},
}

// hotKey runs 1,000 checks of 1 to 3 requests on one new key at one
// time, at once, spread over stores that share one database, and checks
// that every one got an exact answer: the admitted ones, in the order of
// what they left, each added its n to the count, and the count never
// passed the limit; each denied one was denied by a count its n did not
// fit; the counts, Reset and RetryAfter are those of the rule.
func hotKey(t *testing.T, p ratelimit.Policy, stores ...ratelimit.Store) {
	t.Helper()
	const goroutines = 1000
	at := rlBase.Add(17*time.Second + 123*time.Microsecond)
	limit := p.Quota()
	results := make([]ratelimit.Result, goroutines)
	errs := make([]error, goroutines)
	ctx := t.Context()
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range goroutines {
		wg.Go(func() {
			<-start
			results[i], errs[i] = stores[i%len(stores)].Take(ctx, p, "hot", 1+i%3, at)
		})
	}
	close(start)
	wg.Wait()
	type admission struct{ after, n int }
	var admitted []admission
	w := p.Window.Microseconds()
	for i, res := range results {
		n := 1 + i%3
		if errs[i] != nil {
			t.Fatalf("check %d: %v", i, errs[i])
		}
		c := limit - res.Remaining // the count after the check
		if res.Limit != limit || c < 0 || c > limit {
			t.Fatalf("check %d: %+v", i, res)
		}
		var reset, retry time.Duration
		switch p.Algorithm {
		case ratelimit.FixedWindow:
			reset = time.Duration(w-at.UnixMicro()%w) * time.Microsecond
			retry = reset
		case ratelimit.SlidingWindow:
			reset, retry = p.Window, p.Window
		case ratelimit.TokenBucket:
			x := int64(res.Remaining) * w // no refill at one time: whole tokens
			reset = time.Duration((int64(limit)*w-x+int64(p.Limit)-1)/int64(p.Limit)) * time.Microsecond
			retry = time.Duration((int64(n)*w-x+int64(p.Limit)-1)/int64(p.Limit)) * time.Microsecond
		}
		if !res.Allowed {
			if res.Remaining >= n || res.Reset != reset || res.RetryAfter != retry {
				t.Errorf("check %d (n %d): denied with %+v; want Remaining < n, Reset %v, RetryAfter %v", i, n, res, reset, retry)
			}
			continue
		}
		if res.Reset != reset || res.RetryAfter != 0 {
			t.Errorf("check %d (n %d): admitted with %+v; want Reset %v", i, n, res, reset)
		}
		admitted = append(admitted, admission{c, n})
	}
	slices.SortFunc(admitted, func(a, b admission) int { return a.after - b.after })
	total := 0
	for _, a := range admitted {
		if a.after != total+a.n {
			t.Fatalf("admissions in order %v: one leaves %d after %d, with n %d", admitted, a.after, total, a.n)
		}
		total = a.after
	}
	// No denied check saw a count above the final one.
	for i, res := range results {
		if !res.Allowed && limit-res.Remaining > total {
			t.Errorf("check %d denied at a count of %d, above the final %d", i, limit-res.Remaining, total)
		}
	}
	// A request of the whole quota is denied (the key has admitted some)
	// and reads the final count.
	final := take(t, ctx, stores[0], p, "hot", limit, at)
	if final.Allowed || final.Remaining != limit-total {
		t.Errorf("after the storm: %+v, want denied with Remaining %d", final, limit-total)
	}
	if total < limit-2 {
		t.Errorf("only %d of %d admitted", total, limit)
	}
}

// TestRateLimitHotKey: 1,000 goroutines on one key, through lib/pq with
// durable commits and through pgx's database/sql driver with
// asynchronous ones, each get an exact answer, without a storage error
// (no deadlock, no serialization failure).
func TestRateLimitHotKey(t *testing.T) {
	t.Parallel()
	drivers := []struct {
		name  string
		async bool
		open  func(t *testing.T) *postgres.DB
	}{
		{"lib/pq", false, func(t *testing.T) *postgres.DB {
			db, err := postgres.New(pgtest.DB(t), postgres.Config{})
			if err != nil {
				t.Fatal(err)
			}
			return db
		}},
		{"pgx", true, func(t *testing.T) *postgres.DB {
			db, err := postgres.NewFromSQL(pgtest.PgxDB(t), postgres.Config{})
			if err != nil {
				t.Fatal(err)
			}
			return db
		}},
	}
	for _, d := range drivers {
		for _, p := range rlHotPolicies {
			t.Run(fmt.Sprintf("%s/%s/async=%v", d.name, p.Algorithm, d.async), func(t *testing.T) {
				t.Parallel()
				hotKey(t, p, d.open(t).RateLimits(postgres.RateLimitConfig{AsyncCommit: d.async}))
			})
		}
	}
}

// TestRateLimitTwoInstances: two pools on one schema, one through lib/pq
// and one through pgx, as two app instances, share one key exactly.
func TestRateLimitTwoInstances(t *testing.T) {
	t.Parallel()
	for _, p := range rlHotPolicies {
		t.Run(string(p.Algorithm), func(t *testing.T) {
			t.Parallel()
			url := pgtest.URL(t)
			x, err := sqlx.Open("postgres", url)
			if err != nil {
				t.Fatal(err)
			}
			x.SetMaxOpenConns(10)
			t.Cleanup(func() { x.Close() })
			if err := schema.Migrate(t.Context(), x.DB); err != nil {
				t.Fatal(err)
			}
			px := pgtest.OpenPgx(t, url)
			px.SetMaxOpenConns(10)
			one, err := postgres.New(x, postgres.Config{})
			if err != nil {
				t.Fatal(err)
			}
			two, err := postgres.NewFromSQL(px, postgres.Config{})
			if err != nil {
				t.Fatal(err)
			}
			hotKey(t, p, one.RateLimits(postgres.RateLimitConfig{}), two.RateLimits(postgres.RateLimitConfig{AsyncCommit: true}))
		})
	}
}

// TestRateLimitOlderTimes: checks whose clock reading is older than one
// the key has seen get the answers of the rule in ratelimit.Store.
//
//   - A sliding window counts an older reading at its newest time, and
//     counts as live the times after that minus the window, even after a
//     denied check with a later reading (a denial changes nothing).
//   - A fixed window counts a reading of an older window in that window's
//     row, which this store keeps (the memory store counts it in the
//     newest window; the rule allows either).
//   - A token bucket never refills backwards: a denied check moves the
//     time of its last change forward too, and Reset and RetryAfter
//     count from that time.
func TestRateLimitOlderTimes(t *testing.T) {
	t.Parallel()
	sec := func(n int) time.Time { return rlBase.Add(time.Duration(n) * time.Second) }
	deny := func(limit, remaining int, reset, retry time.Duration) ratelimit.Result {
		return ratelimit.Result{Limit: limit, Remaining: remaining, Reset: reset, RetryAfter: retry}
	}
	admit := func(limit, remaining int, reset time.Duration) ratelimit.Result {
		return ratelimit.Result{Allowed: true, Limit: limit, Remaining: remaining, Reset: reset}
	}
	type check struct {
		at   time.Time
		n    int
		want ratelimit.Result
	}
	for _, c := range []struct {
		name   string
		p      ratelimit.Policy
		checks []check
	}{
		{"sliding after a denied later reading",
			ratelimit.Policy{Name: "older", Algorithm: ratelimit.SlidingWindow, Limit: 2, Window: 10 * time.Second},
			[]check{
				{sec(0), 1, admit(2, 1, 10*time.Second)},
				{sec(5), 1, admit(2, 0, 10*time.Second)},
				// r = 10: live after 0, +5 only; 1+2 > 2.
				{sec(10), 2, deny(2, 1, 5*time.Second, 5*time.Second)},
				// r = max(3, 5) = 5: live after -5, +0 and +5; 2+1 > 2,
				// and the first of them leaves at +10.
				{sec(3), 1, deny(2, 0, 12*time.Second, 7*time.Second)},
			}},
		{"sliding older reading counts at the newest",
			ratelimit.Policy{Name: "older", Algorithm: ratelimit.SlidingWindow, Limit: 2, Window: 10 * time.Second},
			[]check{
				{sec(5), 1, admit(2, 1, 10*time.Second)},
				{sec(3), 1, admit(2, 0, 12*time.Second)}, // held at +5
				{sec(14), 1, deny(2, 0, time.Second, time.Second)},
				{sec(15), 1, admit(2, 1, 10*time.Second)},
			}},
		{"fixed older window",
			ratelimit.Policy{Name: "older", Algorithm: ratelimit.FixedWindow, Limit: 1, Window: 10 * time.Second},
			[]check{
				{sec(15), 1, admit(1, 0, 5*time.Second)},
				{sec(21), 1, admit(1, 0, 9*time.Second)},
				{sec(19), 1, deny(1, 0, time.Second, time.Second)}, // window [10, 20)
				{sec(22), 1, deny(1, 0, 8*time.Second, 8*time.Second)},
			}},
		{"bucket after a denied later reading",
			ratelimit.Policy{Name: "older", Algorithm: ratelimit.TokenBucket, Limit: 1, Window: 10 * time.Second, Burst: 2},
			[]check{
				{sec(0), 2, admit(2, 0, 20*time.Second)},
				// Refilled to half a token at +5, denied; a = +5.
				{sec(5), 1, deny(2, 0, 15*time.Second, 5*time.Second)},
				// No refill from +5 back to +3: still half a token, which
				// is full at +20 and has a token at +10.
				{sec(3), 1, deny(2, 0, 17*time.Second, 7*time.Second)},
				{sec(10), 1, admit(2, 0, 20*time.Second)},
			}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			st, _ := rateLimits(t, postgres.RateLimitConfig{})
			for i, ch := range c.checks {
				if got := take(t, t.Context(), st, c.p, "k", ch.n, ch.at); got != ch.want {
					t.Errorf("check %d (n %d at +%v): %+v, want %+v", i+1, ch.n, ch.at.Sub(rlBase), got, ch.want)
				}
			}
		})
	}
}
