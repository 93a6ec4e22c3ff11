package redisstore_test

import (
	"context"
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/cedrina/cedrina/ratelimit"
	"github.com/cedrina/cedrina/store/redisstore"
)

// bucketModel is the spec's token bucket in exact integers: level x in
// 1/W units, time a.
type bucketModel struct {
	w, l, b int64
	x       *big.Int
	a       int64
}

// take applies the spec's rule for n at t and returns the Result.
func (m *bucketModel) take(t int64, n int) ratelimit.Result {
	W, L := big.NewInt(m.w), big.NewInt(m.l)
	full := new(big.Int).Mul(big.NewInt(m.b), W)
	if t > m.a {
		m.x.Add(m.x, new(big.Int).Mul(big.NewInt(t-m.a), L))
		if m.x.Cmp(full) > 0 {
			m.x.Set(full)
		}
		m.a = t
	}
	res := ratelimit.Result{Limit: int(m.b)}
	cost := new(big.Int).Mul(big.NewInt(int64(n)), W)
	if m.x.Cmp(cost) >= 0 {
		m.x.Sub(m.x, cost)
		res.Allowed = true
	} else {
		res.RetryAfter = usec(m.a + ceilBig(new(big.Int).Sub(cost, m.x), L) - t)
	}
	res.Remaining = int(new(big.Int).Quo(m.x, W).Int64())
	res.Reset = usec(m.a + ceilBig(new(big.Int).Sub(full, m.x), L) - t)
	return res
}

// ceilBig returns ceil(a/b) for a >= 0, b > 0, as an int64.
func ceilBig(a, b *big.Int) int64 {
	q, r := new(big.Int).QuoRem(a, b, new(big.Int))
	if r.Sign() > 0 {
		q.Add(q, big.NewInt(1))
	}
	return q.Int64()
}

// usec converts as both stores do: past time.Duration's range it wraps.
func usec(n int64) time.Duration { return time.Duration(n) * time.Microsecond }

// TestBucketArithmetic puts random token bucket states in Redis, among
// them levels far beyond 2^53 units, checks them against the exact model
// and reads the state the script wrote back: the split of the level
// into whole tokens and a remainder must be exact, not only the Result
// it shows (a huge L hides a remainder's error in Reset's rounding).
func TestBucketArithmetic(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	prefix := newPrefix(t, c)
	s := newStore(t, c, redisstore.Config{Prefix: prefix, Linger: 24 * time.Hour})
	rng := rand.New(rand.NewPCG(1, 2))
	ctx := context.Background()
	const maxLevel = math.MaxInt64 / 4
	for i := range 3000 {
		w := 1000 + rng.Int64N(ratelimit.MaxWindow.Microseconds()-1000)
		if i%3 == 0 {
			w = 1000 + rng.Int64N(10_000_000)
		}
		l := 1 + rng.Int64N(ratelimit.MaxLimit)
		if i%4 == 0 {
			l = 1 + rng.Int64N(1000)
		}
		// Validate's bounds: B×W within 62 bits, refilled within
		// MaxWindow.
		refill := float64(ratelimit.MaxWindow.Microseconds()) * float64(l) / float64(w)
		b := 1 + rng.Int64N(max(1, min(ratelimit.MaxLimit, maxLevel/w, int64(min(refill, 1e18)))))
		p := ratelimit.Policy{Name: "b", Algorithm: ratelimit.TokenBucket, Limit: int(l), Window: time.Duration(w) * time.Microsecond, Burst: int(b)}
		for p.Validate() != nil && b > 1 { // the estimate's rounding
			b--
			p.Burst = int(b)
		}
		if err := p.Validate(); err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		q := rng.Int64N(b + 1)
		r := rng.Int64N(w)
		if q == b {
			r = 0
		}
		a := base + rng.Int64N(1e12)
		var el int64
		switch rng.IntN(4) {
		case 0: // back in time: no refill
			el = -rng.Int64N(1e9)
		case 1:
			el = rng.Int64N(w)
		case 2:
			el = rng.Int64N(4 * w)
		default: // up to the time to fill the bucket, and past it
			el = rng.Int64N(2*(b*w/l) + 1)
		}
		n := 1 + rng.IntN(int(b))
		if rng.IntN(2) == 0 {
			n = 1 + rng.IntN(int(min(b, 3)))
		}

		key := fmt.Sprint(i)
		rkey := prefix + "tb:" + ratelimit.HashKey(p, key).String()
		if err := c.Set(ctx, rkey, fmt.Sprintf("%d:%d:%d", q, r, a), time.Hour).Err(); err != nil {
			t.Fatal(err)
		}
		x := new(big.Int).Mul(big.NewInt(q), big.NewInt(w))
		x.Add(x, big.NewInt(r))
		m := &bucketModel{w: w, l: l, b: b, x: x, a: a}
		want := m.take(a+el, n)
		got, err := s.Take(ctx, p, key, n, time.UnixMicro(a+el))
		if err != nil {
			t.Fatal(err)
		}
		wq, wr := new(big.Int).QuoRem(m.x, big.NewInt(w), new(big.Int))
		wantState := fmt.Sprintf("%d:%d:%d", wq.Int64(), wr.Int64(), m.a)
		gotState, err := c.Get(ctx, rkey).Result()
		if err != nil {
			t.Fatal(err)
		}
		if got != want || gotState != wantState {
			t.Fatalf("case %d: W=%d L=%d B=%d, state %d:%d:%d, t=a%+d, n=%d:\n got  %+v, state %s\n want %+v, state %s",
				i, w, l, b, q, r, a, el, n, got, gotState, want, wantState)
		}
	}
}
