package postgres_test

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cedrina/cedrina/internal/pgtest"
	"github.com/cedrina/cedrina/ratelimit"
	"github.com/cedrina/cedrina/schema"
	"github.com/cedrina/cedrina/store/postgres"
)

// rlBenchGoroutines is how many goroutines check at once in the rate
// limit benchmarks: b.SetParallelism multiplies GOMAXPROCS, so it is set
// to the multiple that gives at least this many.
const rlBenchGoroutines = 16

// rlBenchKeys is the number of keys of the spread benchmarks.
const rlBenchKeys = 100_000

// rawUpsert is the baseline: the plain prepared upsert of a fixed window
// counter, with no limit, no denial and no state for the answer.
const rawUpsert = `INSERT INTO rate_limit_records (key_hash, algorithm, window_start, window_end, request_count, limit_value)
VALUES ($1, 'fixed_window', $2, $3, 1, 1000)
ON CONFLICT (key_hash, algorithm, window_start) DO UPDATE SET request_count = rate_limit_records.request_count + 1
RETURNING request_count`

// BenchmarkRateLimit measures checks per second of 16 goroutines over
// 100,000 keys and on one hot key, for each algorithm at 1,000 requests
// per minute, with durable (sync) and asynchronous (async) commits, and
// the raw upsert those statements are measured against. The pool is
// Open's default (up to 50 connections, 20 kept idle), on the real
// clock, the table holding 100,000 rows of an earlier window, analyzed.
// It reports checks/s, the fraction admitted, and the WAL flushes
// (fsyncs, server-wide) per check.
func BenchmarkRateLimit(b *testing.B) {
	algorithms := []struct {
		name   string
		policy ratelimit.Policy
	}{
		{"fixed", ratelimit.Policy{Name: "bench", Algorithm: ratelimit.FixedWindow, Limit: 1000, Window: time.Minute}},
		{"bucket", ratelimit.Policy{Name: "bench", Algorithm: ratelimit.TokenBucket, Limit: 1000, Window: time.Minute, Burst: 1000}},
		{"sliding", ratelimit.Policy{Name: "bench", Algorithm: ratelimit.SlidingWindow, Limit: 1000, Window: time.Minute}},
		{"raw", ratelimit.Policy{}},
	}
	keys := make([]string, rlBenchKeys)
	for i := range keys {
		keys[i] = fmt.Sprintf("user:%d", i)
	}
	for _, commit := range []string{"sync", "async"} {
		for _, a := range algorithms {
			for _, spread := range []string{"keys=100000", "hot"} {
				b.Run(fmt.Sprintf("%s/%s/%s", a.name, commit, spread), func(b *testing.B) {
					ctx := context.Background()
					url := pgtest.URL(b)
					if a.name == "raw" && commit == "async" {
						// The session default, as a host would set it for
						// the baseline.
						url += "&synchronous_commit=off"
					}
					db, err := postgres.Open(ctx, url, postgres.Config{})
					if err != nil {
						b.Fatal(err)
					}
					b.Cleanup(func() { db.Close() })
					if err := schema.Migrate(ctx, db.SQLX().DB); err != nil {
						b.Fatal(err)
					}
					// A table as it lives: the rows of an earlier window,
					// analyzed (autovacuum does it within a minute of the
					// first rows). On a new, unanalyzed table the checks'
					// prepared plans read it sequentially until then.
					if _, err := db.SQLX().ExecContext(ctx, `
INSERT INTO rate_limit_records (key_hash, algorithm, window_start, window_end, request_count, limit_value)
SELECT encode(sha256(g::text::bytea), 'hex'), 'fixed_window', date_trunc('minute', now()) - interval '1 minute',
	date_trunc('minute', now()), 1, 1000
FROM generate_series(1, $1) AS g`, rlBenchKeys); err != nil {
						b.Fatal(err)
					}
					if _, err := db.SQLX().ExecContext(ctx, `ANALYZE rate_limit_records`); err != nil {
						b.Fatal(err)
					}
					pick := func(r *rand.Rand) string { return keys[r.IntN(len(keys))] }
					if spread == "hot" {
						pick = func(*rand.Rand) string { return "hot" }
					}
					var check func(key string) (bool, error)
					if a.name == "raw" {
						stmt, err := db.SQLX().PrepareContext(ctx, rawUpsert)
						if err != nil {
							b.Fatal(err)
						}
						b.Cleanup(func() { stmt.Close() })
						p := algorithms[0].policy
						check = func(key string) (bool, error) {
							now := time.Now().UTC()
							start := now.Truncate(time.Minute)
							var c int
							err := stmt.QueryRowContext(ctx, ratelimit.HashKey(p, key).String(), start, start.Add(time.Minute)).Scan(&c)
							return true, err
						}
					} else {
						st := db.RateLimits(postgres.RateLimitConfig{AsyncCommit: commit == "async"})
						check = func(key string) (bool, error) {
							res, err := st.Take(ctx, a.policy, key, 1, time.Now().UTC().Truncate(time.Microsecond))
							return res.Allowed, err
						}
					}
					syncs := walSyncs(b, db.SQLX().DB)
					var admitted atomic.Int64
					var seed atomic.Uint64
					b.SetParallelism((rlBenchGoroutines + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
					b.ResetTimer()
					b.RunParallel(func(pb *testing.PB) {
						r := rand.New(rand.NewPCG(seed.Add(1), 1))
						for pb.Next() {
							ok, err := check(pick(r))
							if err != nil {
								b.Error(err)
								return
							}
							if ok {
								admitted.Add(1)
							}
						}
					})
					b.StopTimer()
					b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "checks/s")
					b.ReportMetric(float64(admitted.Load())/float64(b.N), "admitted/check")
					b.ReportMetric(float64(walSyncs(b, db.SQLX().DB)-syncs)/float64(b.N), "fsyncs/check")
				})
			}
		}
	}
}

// walSyncs returns the server's count of WAL flushes to disk.
func walSyncs(b *testing.B, db *sql.DB) int64 {
	b.Helper()
	var n int64
	// pg_stat_wal is updated by each backend at the end of a transaction
	// or when idle, and read from a snapshot: clear it so that each read
	// is fresh.
	if err := db.QueryRowContext(context.Background(),
		`SELECT wal_sync FROM pg_stat_wal, LATERAL (SELECT pg_stat_clear_snapshot()) c`).Scan(&n); err != nil {
		b.Fatal(err)
	}
	return n
}
