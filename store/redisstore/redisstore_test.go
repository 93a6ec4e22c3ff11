package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cedrina/cedrina/ratelimit"
	"github.com/cedrina/cedrina/store"
	"github.com/cedrina/cedrina/store/redisstore"
)

// at is a check time: t0 plus d.
func at(d time.Duration) time.Time { return time.UnixMicro(base).Add(d).UTC() }

// The policies of the tests below, one per algorithm.
var (
	fixed   = ratelimit.Policy{Name: "fixed", Algorithm: ratelimit.FixedWindow, Limit: 300, Window: time.Minute}
	sliding = ratelimit.Policy{Name: "sliding", Algorithm: ratelimit.SlidingWindow, Limit: 300, Window: time.Minute}
	bucket  = ratelimit.Policy{Name: "bucket", Algorithm: ratelimit.TokenBucket, Limit: 10, Window: time.Second, Burst: 300}
)

func TestNew(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer c.Close()
	for _, tc := range []struct {
		client redis.UniversalClient
		cfg    redisstore.Config
		want   string
	}{
		{nil, redisstore.Config{}, "redisstore: New: nil client"},
		{c, redisstore.Config{Linger: ratelimit.MaxWindow + time.Microsecond}, "redisstore: Config.Linger: 8784h0m0.000001s is over 8784h0m0s"},
	} {
		if _, err := redisstore.New(tc.client, tc.cfg); err == nil || err.Error() != tc.want {
			t.Errorf("New(%v, %+v) = %v, want %q", tc.client, tc.cfg, err, tc.want)
		}
	}
	for _, l := range []time.Duration{-time.Second, 0, ratelimit.MaxWindow} {
		if _, err := redisstore.New(c, redisstore.Config{Linger: l}); err != nil {
			t.Errorf("New with Linger %v: %v", l, err)
		}
	}
}

// TestTakeRefuses: arguments outside the contract are errors with the
// zero Result, before any command is sent (the client's server does not
// exist).
func TestTakeRefuses(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1})
	defer c.Close()
	s, err := redisstore.New(c, redisstore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		p    ratelimit.Policy
		n    int
		now  time.Time
		want string
	}{
		{fixed, 0, at(0), "redisstore: n=0 is outside 1..300"},
		{fixed, 301, at(0), "redisstore: n=301 is outside 1..300"},
		{bucket, 301, at(0), "redisstore: n=301 is outside 1..300"},
		{ratelimit.Policy{Name: "x", Algorithm: "leaky", Limit: 1, Window: time.Second}, 1, at(0), `ratelimit: Policy.Algorithm: unknown algorithm "leaky"`},
		{fixed, 1, time.UnixMicro(-1), "redisstore: time 1969-12-31 23:59:59.999999 +0000 UTC is outside 1970..2253"},
		{fixed, 1, time.UnixMicro(1<<53 - 1<<46), "redisstore: time 2253-03-13 12:55:10.563328 +0000 UTC is outside 1970..2253"},
	} {
		res, err := s.Take(context.Background(), tc.p, "k", tc.n, tc.now.UTC())
		if err == nil || err.Error() != tc.want || res != (ratelimit.Result{}) {
			t.Errorf("Take(%s, n=%d, %v) = %+v, %v; want the zero Result and %q", tc.p.Name, tc.n, tc.now, res, err, tc.want)
		}
	}
}

// TestHotKey: 1,000 goroutines check one key at one time, on each
// algorithm. Exactly Quota are admitted, each admitted check sees a
// different Remaining (the checks ran one at a time), and every refused
// one the exact wait.
func TestHotKey(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	for _, p := range []ratelimit.Policy{fixed, sliding, bucket} {
		t.Run(p.Name, func(t *testing.T) {
			t.Parallel()
			s := newStore(t, c, redisstore.Config{})
			now := time.Now().Truncate(time.Microsecond).UTC()
			results := make([]ratelimit.Result, 1000)
			errs := make([]error, 1000)
			var wg sync.WaitGroup
			start := make(chan struct{})
			for i := range results {
				wg.Go(func() {
					<-start
					results[i], errs[i] = s.Take(context.Background(), p, "hot", 1, now)
				})
			}
			close(start)
			wg.Wait()

			q := p.Quota()
			w := p.Window.Microseconds()
			t0 := now.UnixMicro()
			var seen []int
			for i, res := range results {
				if errs[i] != nil {
					t.Fatalf("check %d: %v", i, errs[i])
				}
				want := ratelimit.Result{Allowed: res.Allowed, Limit: q, Remaining: res.Remaining}
				switch p.Algorithm {
				case ratelimit.FixedWindow:
					want.Reset = usec(t0 - t0%w + w - t0)
				case ratelimit.SlidingWindow:
					want.Reset = p.Window
				case ratelimit.TokenBucket:
					want.Reset = usec(ceilDiv(int64(q-res.Remaining)*w, int64(p.Limit)))
				}
				if res.Allowed {
					seen = append(seen, res.Remaining)
				} else {
					want.Remaining = 0
					switch p.Algorithm {
					case ratelimit.FixedWindow, ratelimit.SlidingWindow:
						want.RetryAfter = want.Reset
					case ratelimit.TokenBucket:
						want.RetryAfter = usec(ceilDiv(w, int64(p.Limit)))
					}
				}
				if res != want {
					t.Errorf("check %d: %+v, want %+v", i, res, want)
				}
			}
			slices.Sort(seen)
			if len(seen) != q || !slices.Equal(seen, slices.Collect(func(yield func(int) bool) {
				for i := range q {
					if !yield(i) {
						return
					}
				}
			})) {
				t.Errorf("admitted %d with Remaining %v; want %d, each of 0..%d once", len(seen), seen, q, q-1)
			}
		})
	}
}

func ceilDiv(a, b int64) int64 { return (a + b - 1) / b }

// TestTwoInstances: two app instances, each with its own client and
// Store on the same prefix, share every key: their interleaved checks
// give what one memory store gives for the same sequence.
func TestTwoInstances(t *testing.T) {
	t.Parallel()
	c1, c2 := newClient(t), newClient(t)
	prefix := newPrefix(t, c1)
	for i, p := range []ratelimit.Policy{
		{Name: "fixed", Algorithm: ratelimit.FixedWindow, Limit: 7, Window: time.Second},
		{Name: "sliding", Algorithm: ratelimit.SlidingWindow, Limit: 7, Window: time.Second},
		{Name: "bucket", Algorithm: ratelimit.TokenBucket, Limit: 3, Window: time.Second, Burst: 7},
	} {
		s1 := newStore(t, c1, redisstore.Config{Prefix: prefix, Linger: 24 * time.Hour})
		s2 := newStore(t, c2, redisstore.Config{Prefix: prefix, Linger: 24 * time.Hour})
		rng := rand.New(rand.NewPCG(uint64(i), 5))
		t.Run(p.Name, func(t *testing.T) {
			compare(t, instances{s1, s2, rng}, p, steps(p, 2, 1000, uint64(i)+100))
		})
	}
}

// instances sends each check to one of two stores, at random.
type instances struct {
	a, b ratelimit.Store
	rng  *rand.Rand
}

func (in instances) Take(ctx context.Context, p ratelimit.Policy, key string, n int, now time.Time) (ratelimit.Result, error) {
	if in.rng.IntN(2) == 0 {
		return in.a.Take(ctx, p, key, n, now)
	}
	return in.b.Take(ctx, p, key, n, now)
}

// TestTwoInstancesConcurrent: two instances, 500 goroutines each, on one
// key: Quota admitted in all.
func TestTwoInstancesConcurrent(t *testing.T) {
	t.Parallel()
	c1, c2 := newClient(t), newClient(t)
	prefix := newPrefix(t, c1)
	for _, p := range []ratelimit.Policy{fixed, sliding, bucket} {
		stores := []*redisstore.Store{
			newStore(t, c1, redisstore.Config{Prefix: prefix}),
			newStore(t, c2, redisstore.Config{Prefix: prefix}),
		}
		now := time.Now().Truncate(time.Microsecond).UTC()
		var mu sync.Mutex
		var admitted int
		var wg sync.WaitGroup
		for i := range 1000 {
			wg.Go(func() {
				res, err := stores[i%2].Take(context.Background(), p, "shared", 1, now)
				if err != nil {
					t.Error(err)
				}
				mu.Lock()
				defer mu.Unlock()
				if res.Allowed {
					admitted++
				}
			})
		}
		wg.Wait()
		if admitted != p.Quota() {
			t.Errorf("%s: %d admitted, want %d", p.Name, admitted, p.Quota())
		}
	}
}

// TestExpiry reads each key's time to live right after a check: the
// time until its state is initial again by the check's clock (the
// window's end, the newest time plus W, the bucket full), plus Linger
// (none with a negative one, a second by default), rounded up to a
// millisecond. The server's clock moves while the test
// runs, so PTTL may be lower by the milliseconds the test took.
func TestExpiry(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	ctx := context.Background()
	type check struct {
		p   ratelimit.Policy
		d   time.Duration // after the start of a minute
		n   int
		ttl time.Duration // what PTTL should say
	}
	sec := time.Second
	for _, tc := range []struct {
		name   string
		linger time.Duration
		checks []check
	}{
		{"fixed", -1, []check{
			{fixed, 12_345_678 * time.Microsecond, 1, 47_655 * time.Millisecond},        // 47,654,322 µs to the window's end
			{fixed, 12_345_678*time.Microsecond + 1, 2, 47_655 * time.Millisecond},      // INCRBY keeps the expiry
			{fixed, time.Minute + 59_999_000*time.Microsecond, 1, time.Millisecond},     // the next window's key
			{fixed, 2*time.Minute + 999*time.Microsecond, 1, 60_000 * time.Millisecond}, // 59,999,001 µs
		}},
		{"fixed-linger", 1500 * time.Millisecond, []check{
			{fixed, 30 * sec, 1, 31_500 * time.Millisecond},
		}},
		{"fixed-default-linger", 0, []check{
			{fixed, 30 * sec, 1, 31 * sec},
		}},
		{"sliding", -1, []check{
			{sliding, sec, 1, time.Minute},
			// An older clock reading counts at the newest time: the key
			// lives until that time plus W.
			{sliding, sec - 300_500*time.Microsecond, 1, time.Minute + 301*time.Millisecond},
			{sliding, 20 * sec, 3, time.Minute},
		}},
		{"bucket", -1, []check{
			// 300 tokens, 10 a second: after 3 the bucket is full in
			// 300 ms; after 1 more, 1 µs later (0.00001 token back), in
			// 399,999 µs.
			{bucket, sec, 3, 300 * time.Millisecond},
			{bucket, sec + time.Microsecond, 1, 400 * time.Millisecond},
			// An older clock reading refills nothing and leaves the
			// time of the last change, a second later: the bucket is
			// full 499,999 µs after it, 1,499,999 µs after this check.
			{bucket, time.Microsecond, 1, 1500 * time.Millisecond},
		}},
		{"bucket-linger", 2 * sec, []check{
			{bucket, sec, 300, 32 * sec},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			prefix := newPrefix(t, c)
			s := newStore(t, c, redisstore.Config{Prefix: prefix, Linger: tc.linger})
			minute := time.UnixMicro(base).Truncate(time.Minute).Add(time.Hour)
			for i, ck := range tc.checks {
				now := minute.Add(ck.d).UTC()
				start := time.Now()
				res, err := s.Take(ctx, ck.p, "k", ck.n, now)
				if err != nil || !res.Allowed {
					t.Fatalf("check %d: %+v, %v", i, res, err)
				}
				rkey := rawKey(prefix, ck.p, "k", now)
				ttl, err := c.PTTL(ctx, rkey).Result()
				// Redis reads its clock once per command (and a script's
				// time is frozen at its start), so its TTL may run a few
				// milliseconds ahead of this test's own clock: allow 25 ms
				// beyond the time the test took, well below the 100 ms that
				// separate the cases.
				took := time.Since(start).Round(time.Millisecond) + 25*time.Millisecond
				if err != nil {
					t.Fatal(err)
				}
				if ttl > ck.ttl || ttl < ck.ttl-took {
					t.Errorf("check %d: PTTL %s = %v, want %v (less at most the %v the test took)", i, rkey, ttl, ck.ttl, took)
				}
			}
		})
	}
}

// rawKey is the documented key of key under p at now: prefix, a tag of
// the algorithm, the key's hash in hex and, for a fixed window, the
// window's start in µs.
func rawKey(prefix string, p ratelimit.Policy, k string, now time.Time) string {
	key := ratelimit.HashKey(p, k)
	switch p.Algorithm {
	case ratelimit.FixedWindow:
		t, w := now.UnixMicro(), p.Window.Microseconds()
		return fmt.Sprintf("%sfw:%s:%d", prefix, key, t-t%w)
	case ratelimit.SlidingWindow:
		return prefix + "sw:" + key.String()
	}
	return prefix + "tb:" + key.String()
}

// TestKeysHoldOnlyTheHash: what Redis holds names a client only by the
// hash of its key, never the key (an IP, an address).
func TestKeysHoldOnlyTheHash(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	ctx := context.Background()
	prefix := newPrefix(t, c)
	s := newStore(t, c, redisstore.Config{Prefix: prefix})
	now := time.Now().Truncate(time.Microsecond).UTC()
	var want []string
	for _, p := range []ratelimit.Policy{fixed, sliding, bucket} {
		for _, k := range []string{"ip:203.0.113.7", "alice@example.com"} {
			if _, err := s.Take(ctx, p, k, 1, now); err != nil {
				t.Fatal(err)
			}
			want = append(want, rawKey(prefix, p, k, now))
		}
	}
	got, err := scanKeys(ctx, c, prefix)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("keys:\n got  %q\n want %q", got, want)
	}
	for _, k := range got {
		dump, err := c.Dump(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		for _, raw := range []string{"203.0.113.7", "alice", "example.com"} {
			if strings.Contains(k, raw) || strings.Contains(dump, raw) {
				t.Errorf("key %s or its value holds %q", k, raw)
			}
		}
	}
}

// TestServerDown: a server that cannot be reached gives an error that
// matches store.ErrUnavailable, with the zero Result, through the store
// and through a Limiter.
func TestServerDown(t *testing.T) {
	t.Parallel()
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialerRetries: 1})
	defer c.Close()
	s, err := redisstore.New(c, redisstore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []ratelimit.Policy{fixed, sliding, bucket} {
		res, err := s.Take(context.Background(), p, "k", 1, time.Now().UTC())
		if !errors.Is(err, store.ErrUnavailable) || res != (ratelimit.Result{}) {
			t.Errorf("%s: Take = %+v, %v; want the zero Result and store.ErrUnavailable", p.Name, res, err)
		}
		if err != nil && !strings.HasPrefix(err.Error(), "redisstore: ") {
			t.Errorf("%s: error %q does not start with the package's name", p.Name, err)
		}
		l, err := ratelimit.New(s, p, ratelimit.Config{})
		if err != nil {
			t.Fatal(err)
		}
		res, err = l.Allow(context.Background(), "k")
		if !errors.Is(err, store.ErrUnavailable) || res.Allowed {
			t.Errorf("%s: Allow = %+v, %v; want a denial and store.ErrUnavailable", p.Name, res, err)
		}
	}
}

// TestServerErrors: replies that say Redis cannot serve now match
// store.ErrUnavailable; others (a script error, a key of another type)
// do not, and keep the server's message.
func TestServerErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		reply       string
		unavailable bool
	}{
		{"-LOADING Redis is loading the dataset in memory\r\n", true},
		{"-BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.\r\n", true},
		{"-READONLY You can't write against a read only replica.\r\n", true},
		{"-MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.\r\n", true},
		{"-CLUSTERDOWN The cluster is down\r\n", true},
		{"-TRYAGAIN Multiple keys request during rehashing of slot\r\n", true},
		{"-NOREPLICAS Not enough good replicas to write.\r\n", true},
		{"-MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk.\r\n", true},
		{"-OOM command not allowed when used memory > 'maxmemory'.\r\n", true},
		{"-ERR max number of clients reached\r\n", true},
		{"", true}, // the connection closes before the reply
		{"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n", false},
		{"-ERR user_script:3: Script attempted to access nonexistent global variable 'x'\r\n", false},
		{"*1\r\n:1\r\n", false}, // a reply of the wrong shape
	} {
		srv := newFakeServer(t, tc.reply, false)
		c := redis.NewClient(&redis.Options{Addr: srv.addr(), MaxRetries: -1})
		s, err := redisstore.New(c, redisstore.Config{})
		if err != nil {
			t.Fatal(err)
		}
		res, err := s.Take(context.Background(), sliding, "k", 1, time.Now().UTC())
		_ = c.Close()
		if err == nil || errors.Is(err, store.ErrUnavailable) != tc.unavailable || res != (ratelimit.Result{}) {
			t.Errorf("reply %q: Take = %+v, %v; want the zero Result and an error, matching store.ErrUnavailable: %v", tc.reply, res, err, tc.unavailable)
			continue
		}
		if msg := strings.TrimSuffix(tc.reply, "\r\n"); strings.HasPrefix(msg, "-") && err.Error() != "redisstore: "+msg[1:] {
			t.Errorf("reply %q: error %q, want the server's message after the package's name", tc.reply, err)
		}
	}
}

// TestContext: a done context stops Take before it sends anything, and
// the error is the context's, not store.ErrUnavailable.
func TestContext(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	prefix := newPrefix(t, c)
	s := newStore(t, c, redisstore.Config{Prefix: prefix})
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	expired, cancel2 := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel2()
	for _, p := range []ratelimit.Policy{fixed, sliding, bucket} {
		for ctx, want := range map[context.Context]error{cancelled: context.Canceled, expired: context.DeadlineExceeded} {
			res, err := s.Take(ctx, p, "k", 1, time.Now().UTC())
			if !errors.Is(err, want) || errors.Is(err, store.ErrUnavailable) || res != (ratelimit.Result{}) {
				t.Errorf("%s: Take = %+v, %v; want the zero Result and %v", p.Name, res, err, want)
			}
		}
	}
	if keys, err := scanKeys(context.Background(), c, prefix); err != nil || len(keys) != 0 {
		t.Errorf("keys after checks with done contexts: %q, %v; want none", keys, err)
	}
}

// TestContextDeadlineInFlight: with the client's ContextTimeoutEnabled,
// a context that ends while the script runs ends Take with the
// context's error; without it, the client's own read timeout ends it
// with one that matches store.ErrUnavailable. The server never answers.
func TestContextDeadlineInFlight(t *testing.T) {
	t.Parallel()
	srv := newFakeServer(t, "", true)
	for _, ctxTimeout := range []bool{true, false} {
		c := redis.NewClient(&redis.Options{Addr: srv.addr(), MaxRetries: -1, ContextTimeoutEnabled: ctxTimeout, ReadTimeout: 200 * time.Millisecond})
		s, err := redisstore.New(c, redisstore.Config{})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		if !ctxTimeout {
			ctx, cancel = context.WithCancel(context.Background())
		}
		res, err := s.Take(ctx, bucket, "k", 1, time.Now().UTC())
		cancel()
		_ = c.Close()
		select {
		case <-srv.got:
		default:
			t.Errorf("ContextTimeoutEnabled %v: the script never reached the server (%v)", ctxTimeout, err)
		}
		switch {
		case res != (ratelimit.Result{}):
			t.Errorf("ContextTimeoutEnabled %v: Result %+v, want the zero Result", ctxTimeout, res)
		case ctxTimeout && (!errors.Is(err, context.DeadlineExceeded) || errors.Is(err, store.ErrUnavailable)):
			t.Errorf("ContextTimeoutEnabled: %v; want context.DeadlineExceeded", err)
		case !ctxTimeout && !errors.Is(err, store.ErrUnavailable):
			t.Errorf("client's timeout: %v; want store.ErrUnavailable", err)
		}
	}
}

// TestScriptFlush: after SCRIPT FLUSH (as after a restart or a failover
// to a server that never ran the scripts), EVALSHA fails with NOSCRIPT
// and the check falls back to EVAL, which caches the script again; the
// counts go on.
func TestScriptFlush(t *testing.T) {
	c := newClient(t)
	s := newStore(t, c, redisstore.Config{})
	ctx := context.Background()
	now := time.Now().Truncate(time.Microsecond).UTC()
	for _, p := range []ratelimit.Policy{fixed, sliding, bucket} {
		for i := range 3 {
			if err := c.ScriptFlush(ctx).Err(); err != nil {
				t.Fatal(err)
			}
			res, err := s.Take(ctx, p, "k", 1, now)
			if err != nil || !res.Allowed || res.Remaining != p.Quota()-1-i {
				t.Fatalf("%s: check %d after SCRIPT FLUSH: %+v, %v; want admitted with %d remaining", p.Name, i, res, err, p.Quota()-1-i)
			}
		}
	}
}

// TestFixedWindowOlderWindow: a check whose time falls in the window
// before the newest one counts in its own window, whose key is still
// there: exactly the spec's rule. (The memory store, which keeps only
// the newest window, counts it in that one instead; the spec allows
// both.)
func TestFixedWindowOlderWindow(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	s := newStore(t, c, redisstore.Config{Linger: time.Hour})
	p := ratelimit.Policy{Name: "f", Algorithm: ratelimit.FixedWindow, Limit: 2, Window: time.Second}
	sec := time.UnixMicro(base).Truncate(time.Second)
	ctx := context.Background()
	for i, ck := range []struct {
		d    time.Duration
		want ratelimit.Result
	}{
		{900 * time.Millisecond, ratelimit.Result{Allowed: true, Limit: 2, Remaining: 1, Reset: 100 * time.Millisecond}},
		{time.Second, ratelimit.Result{Allowed: true, Limit: 2, Remaining: 1, Reset: time.Second}},
		// Back in the first window: its second request.
		{999 * time.Millisecond, ratelimit.Result{Allowed: true, Limit: 2, Remaining: 0, Reset: time.Millisecond}},
		{999 * time.Millisecond, ratelimit.Result{Limit: 2, Remaining: 0, Reset: time.Millisecond, RetryAfter: time.Millisecond}},
		{1500 * time.Millisecond, ratelimit.Result{Allowed: true, Limit: 2, Remaining: 0, Reset: 500 * time.Millisecond}},
	} {
		res, err := s.Take(ctx, p, "k", 1, sec.Add(ck.d).UTC())
		if err != nil || res != ck.want {
			t.Errorf("check %d at +%v: %+v, %v; want %+v", i, ck.d, res, err, ck.want)
		}
	}
}

// TestSlidingOlderClock: a refused check changes nothing, even one whose
// clock is ahead of the newest admitted time and finds older times no
// longer live: a later check with an older clock reading may find them
// live. Here L=2, W=10ms: 0 and 5 admitted; at 12 a request of 2 is
// refused (only 5 is live then); at 8, 0 and 5 are both live (after
// -2), so a request is refused: admitting it would put 0, 5 and 8 in
// (-1, 9].
func TestSlidingOlderClock(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	s := newStore(t, c, redisstore.Config{})
	p := ratelimit.Policy{Name: "s", Algorithm: ratelimit.SlidingWindow, Limit: 2, Window: 10 * time.Millisecond}
	ms := func(d int64) time.Duration { return time.Duration(d) * time.Millisecond }
	t0 := time.Now().Truncate(time.Millisecond)
	for i, ck := range []struct {
		at   int64 // ms after t0
		n    int
		want ratelimit.Result
	}{
		{0, 1, ratelimit.Result{Allowed: true, Limit: 2, Remaining: 1, Reset: ms(10)}},
		{5, 1, ratelimit.Result{Allowed: true, Limit: 2, Remaining: 0, Reset: ms(10)}},
		{12, 2, ratelimit.Result{Limit: 2, Remaining: 1, Reset: ms(3), RetryAfter: ms(3)}},
		{8, 1, ratelimit.Result{Limit: 2, Remaining: 0, Reset: ms(7), RetryAfter: ms(2)}},
		{10, 1, ratelimit.Result{Allowed: true, Limit: 2, Remaining: 0, Reset: ms(10)}},
	} {
		res, err := s.Take(context.Background(), p, "k", ck.n, t0.Add(ms(ck.at)).UTC())
		if err != nil || res != ck.want {
			t.Errorf("check %d at %d ms, n=%d: %+v, %v; want %+v", i, ck.at, ck.n, res, err, ck.want)
		}
	}
}
