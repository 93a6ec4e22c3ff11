package ratelimit_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cedrina/cedrina/ratelimit"
)

// benchKeys are the keys the many-key benchmarks walk: client addresses,
// as a limiter of logins per address sees them.
var benchKeys = func() []string {
	ks := make([]string, 100_000)
	for i := range ks {
		ks[i] = fmt.Sprintf("ip:10.%d.%d.%d", i>>16, i>>8&0xff, i&0xff)
	}
	return ks
}()

// benchPolicies are, per algorithm, a policy that admits nearly every
// check of one key hammered by every CPU (and of 100,000 keys), and one
// that denies all but a key's first.
var benchPolicies = []struct {
	alg          ratelimit.Algorithm
	admit, refus ratelimit.Policy
}{
	{ratelimit.FixedWindow,
		ratelimit.Policy{Name: "admit", Algorithm: ratelimit.FixedWindow, Limit: ratelimit.MaxLimit, Window: time.Hour},
		ratelimit.Policy{Name: "deny", Algorithm: ratelimit.FixedWindow, Limit: 1, Window: time.Hour}},
	// A sliding window remembers each admitted microsecond: 100,000 a
	// millisecond never refuses, and holds at most 1,000 times a key.
	{ratelimit.SlidingWindow,
		ratelimit.Policy{Name: "admit", Algorithm: ratelimit.SlidingWindow, Limit: ratelimit.MaxSlidingLimit, Window: time.Millisecond},
		ratelimit.Policy{Name: "deny", Algorithm: ratelimit.SlidingWindow, Limit: 1, Window: time.Hour}},
	{ratelimit.TokenBucket,
		ratelimit.Policy{Name: "admit", Algorithm: ratelimit.TokenBucket, Limit: ratelimit.MaxLimit, Window: time.Millisecond},
		ratelimit.Policy{Name: "deny", Algorithm: ratelimit.TokenBucket, Limit: 1, Window: time.Hour}},
}

// BenchmarkAllow is Limiter.Allow on a MemoryStore with the real clock,
// from every CPU at once: on one key (every goroutine contends for one
// shard's lock) and on 100,000 keys, each goroutine walking them from a
// random offset. admitted% is the share of checks admitted.
func BenchmarkAllow(b *testing.B) {
	for _, bp := range benchPolicies {
		for _, p := range []ratelimit.Policy{bp.admit, bp.refus} {
			for _, keys := range []int{1, len(benchKeys)} {
				b.Run(fmt.Sprintf("%s/%s/keys=%d", bp.alg, p.Name, keys), func(b *testing.B) {
					benchAllow(b, p, benchKeys[:keys])
				})
			}
		}
	}
}

func benchAllow(b *testing.B, p ratelimit.Policy, keys []string) {
	st, err := ratelimit.NewMemoryStore(ratelimit.MemoryConfig{})
	if err != nil {
		b.Fatal(err)
	}
	lim, err := ratelimit.New(st, p, ratelimit.Config{})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for _, k := range keys { // every key held: the steady state
		if _, err := lim.Allow(ctx, k); err != nil {
			b.Fatal(err)
		}
	}
	var admitted atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i, n := rand.IntN(len(keys)), int64(0)
		for pb.Next() {
			res, err := lim.Allow(ctx, keys[i])
			if err != nil {
				b.Error(err)
				return
			}
			if res.Allowed {
				n++
			}
			if i++; i == len(keys) {
				i = 0
			}
		}
		admitted.Add(n)
	})
	b.ReportMetric(100*float64(admitted.Load())/float64(b.N), "admitted%")
}

// BenchmarkParts splits a check into its parts, on one goroutine:
// time.Now for reference, the store's Take of a held key, the whole
// Allow with the default clock and with an injected one (the difference
// is the default clock's cost), and HashKey, which the stores outside
// the process pay on top.
func BenchmarkParts(b *testing.B) {
	p := benchPolicies[0].admit
	const key = "ip:203.0.113.7"
	ctx := context.Background()
	b.Run("time.Now", func(b *testing.B) {
		b.ReportAllocs()
		var t time.Time
		for b.Loop() {
			t = time.Now().Truncate(time.Microsecond).UTC()
		}
		_ = t
	})
	b.Run("HashKey", func(b *testing.B) {
		b.ReportAllocs()
		var h ratelimit.KeyHash
		for b.Loop() {
			h = ratelimit.HashKey(p, key)
		}
		_ = h
	})
	for _, bp := range benchPolicies {
		for _, p := range []ratelimit.Policy{bp.admit, bp.refus} {
			b.Run(fmt.Sprintf("Take/%s/%s", bp.alg, p.Name), func(b *testing.B) {
				st := newMemory(b, ratelimit.MemoryConfig{})
				p := policy(b, p.Name, p.Algorithm, p.Limit, p.Window, p.Burst)
				now := time.Now().Truncate(time.Microsecond).UTC()
				st.Take(ctx, p, key, 1, now)
				b.ReportAllocs()
				for b.Loop() {
					st.Take(ctx, p, key, 1, now)
				}
			})
		}
	}
	for _, c := range []struct {
		name string
		cfg  ratelimit.Config
	}{
		{"Allow", ratelimit.Config{}},
		{"Allow/injectedClock", ratelimit.Config{Now: func() time.Time { return base }}},
	} {
		b.Run(c.name, func(b *testing.B) {
			lim, err := ratelimit.New(newMemory(b, ratelimit.MemoryConfig{}), p, c.cfg)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				lim.Allow(ctx, key)
			}
		})
	}
}

// BenchmarkMemoryPerKey measures what a MemoryStore holds per key, as
// heap bytes after a GC (B/key): a fixed window key, a token bucket key,
// and a sliding window key whose log is full, 1,000 admitted requests at
// 1,000 distinct microseconds. An op fills a new store with keys keys
// and runs two GCs: its ns/op is no cost figure.
func BenchmarkMemoryPerKey(b *testing.B) {
	for _, c := range []struct {
		name        string
		p           ratelimit.Policy
		keys, takes int
	}{
		{"fixed", ratelimit.Policy{Name: "m", Algorithm: ratelimit.FixedWindow, Limit: 1000, Window: time.Hour}, 10_000, 1},
		{"bucket", ratelimit.Policy{Name: "m", Algorithm: ratelimit.TokenBucket, Limit: 1000, Window: time.Hour, Burst: 1000}, 10_000, 1},
		{"sliding/L=1000/full", ratelimit.Policy{Name: "m", Algorithm: ratelimit.SlidingWindow, Limit: 1000, Window: time.Hour}, 1000, 1000},
	} {
		b.Run(c.name, func(b *testing.B) {
			keys := benchKeys[:c.keys]
			ctx := context.Background()
			var total uint64
			var before, after runtime.MemStats
			for b.Loop() {
				runtime.GC()
				runtime.ReadMemStats(&before)
				st, err := ratelimit.NewMemoryStore(ratelimit.MemoryConfig{})
				if err != nil {
					b.Fatal(err)
				}
				for _, k := range keys {
					for j := range c.takes {
						if res, err := st.Take(ctx, c.p, k, 1, base.Add(time.Duration(j)*time.Microsecond)); err != nil || !res.Allowed {
							b.Fatalf("Take: %+v, %v", res, err)
						}
					}
				}
				runtime.GC()
				runtime.ReadMemStats(&after)
				if st.Len() != c.keys {
					b.Fatalf("Len() = %d", st.Len())
				}
				runtime.KeepAlive(st)
				total += after.HeapAlloc - before.HeapAlloc
			}
			b.ReportMetric(float64(total)/float64(b.N*c.keys), "B/key")
		})
	}
}
