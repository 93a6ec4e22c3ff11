package postgres_test

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/cedrina/cedrina/internal/pgtest"
	"github.com/cedrina/cedrina/ratelimit"
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
// by a microsecond; with back set, one step in four goes back by up to
// half a window instead.
func rlSequence(r *rand.Rand, p ratelimit.Policy, count int, back bool) []rlStep {
	w := p.Window.Microseconds()
	at := rlBase.UnixMicro() + r.Int64N(w)
	steps := make([]rlStep, count)
	for i := range steps {
		switch k := r.IntN(8); {
		case back && k < 2:
			at -= r.Int64N(w/2 + 1)
		case k < 3:
			// the same time
		case k < 4:
			at++
		case k < 7:
			at += r.Int64N(w/3 + 1)
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
// store, the reference: every Result must be equal, field by field.
// Times only move forward here, except for the token bucket, whose rule
// for an older time (no refill, a stays) both stores apply alike; see
// TestRateLimitOlderTimes for the windows.
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
				allowed := 0
				for i, s := range rlSequence(r, p, 300, p.Algorithm == ratelimit.TokenBucket) {
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
			})
		}
	}
}
