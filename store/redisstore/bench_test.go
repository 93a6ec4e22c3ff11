package redisstore_test

import (
	"context"
	"math/rand/v2"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cedrina/cedrina/ratelimit"
	"github.com/cedrina/cedrina/store/redisstore"
)

// The benchmarks check from 16 goroutines at once, as many app
// goroutines would, over 100,000 keys (each key a few checks) or on one
// hot key (all but the first Limit of each window refused), and report
// checks per second. BenchmarkRaw is the floor: the same round trips
// with a bare INCR and PEXPIRE pipeline instead of a script.
//
//	CEDRINA_TEST_REDIS_URL=redis://127.0.0.1:6379/0 go test -run '^$' -bench . -benchtime 5s ./store/redisstore

const (
	benchGoroutines = 16
	benchKeys       = 100_000
)

var benchPolicies = []ratelimit.Policy{
	{Name: "bench-fixed", Algorithm: ratelimit.FixedWindow, Limit: 1000, Window: time.Minute},
	{Name: "bench-sliding", Algorithm: ratelimit.SlidingWindow, Limit: 1000, Window: time.Minute},
	{Name: "bench-bucket", Algorithm: ratelimit.TokenBucket, Limit: 1000, Window: time.Minute, Burst: 1000},
}

// benchKeyNames are the keys of the spread benchmarks.
var benchKeyNames = func() []string {
	k := make([]string, benchKeys)
	for i := range k {
		k[i] = "bench:" + strconv.Itoa(i)
	}
	return k
}()

// parallel runs check on 16 goroutines, each walking the keys from its
// own random start (or on key 0 alone when hot), and reports checks/s.
func parallel(b *testing.B, hot bool, check func(ctx context.Context, key string) error) {
	b.SetParallelism((benchGoroutines + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
	var failed atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		i := rand.IntN(benchKeys)
		for pb.Next() {
			key := benchKeyNames[0]
			if !hot {
				key = benchKeyNames[i%benchKeys]
				i++
			}
			if err := check(ctx, key); err != nil {
				failed.Add(1)
			}
		}
	})
	b.StopTimer()
	if n := failed.Load(); n > 0 {
		b.Fatalf("%d checks failed", n)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "checks/s")
}

func benchClient(b *testing.B) *redis.Client {
	opt := redisOptions(b)
	opt.PoolSize = max(opt.PoolSize, benchGoroutines) // a connection per goroutine
	c := redis.NewClient(opt)
	b.Cleanup(func() { _ = c.Close() })
	if err := c.Ping(context.Background()).Err(); err != nil {
		b.Fatalf("redisstore: the server of %s does not answer: %v", envURL, err)
	}
	return c
}

func BenchmarkTake(b *testing.B) {
	c := benchClient(b)
	for _, p := range benchPolicies {
		for _, hot := range []bool{false, true} {
			name := p.Name[len("bench-"):] + "/keys=100k"
			if hot {
				name = p.Name[len("bench-"):] + "/hot"
			}
			b.Run(name, func(b *testing.B) {
				s := newStore(b, c, redisstore.Config{})
				parallel(b, hot, func(ctx context.Context, key string) error {
					_, err := s.Take(ctx, p, key, 1, time.Now().Truncate(time.Microsecond).UTC())
					return err
				})
			})
		}
	}
}

// BenchmarkRaw is a fixed window without a script: INCR and PEXPIRE in
// one pipeline (one round trip), the result unread.
func BenchmarkRaw(b *testing.B) {
	c := benchClient(b)
	for _, hot := range []bool{false, true} {
		name := "keys=100k"
		if hot {
			name = "hot"
		}
		b.Run(name, func(b *testing.B) {
			prefix := newPrefix(b, c)
			parallel(b, hot, func(ctx context.Context, key string) error {
				_, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
					p.Incr(ctx, prefix+key)
					p.PExpire(ctx, prefix+key, time.Minute)
					return nil
				})
				return err
			})
		})
	}
}
