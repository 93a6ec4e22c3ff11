package postgres_test

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/lib/pq"

	"github.com/cedrina/cedrina/internal/pgtest"
	"github.com/cedrina/cedrina/ratelimit"
	"github.com/cedrina/cedrina/store"
	"github.com/cedrina/cedrina/store/postgres"
)

// rlRow is a rate_limit_records row as the tests read it.
type rlRow struct {
	KeyHash      string        `db:"key_hash"`
	Algorithm    string        `db:"algorithm"`
	WindowStart  time.Time     `db:"window_start"`
	WindowEnd    time.Time     `db:"window_end"`
	RequestCount int           `db:"request_count"`
	LimitValue   int           `db:"limit_value"`
	Hits         pq.Int64Array `db:"hits"`
	Level        *int64        `db:"level"`
	CreatedAt    time.Time     `db:"created_at"`
	UpdatedAt    time.Time     `db:"updated_at"`
}

func (r rlRow) String() string {
	level := "NULL"
	if r.Level != nil {
		level = fmt.Sprint(*r.Level)
	}
	return fmt.Sprintf("%.8s… %s [%v, %v) count %d limit %d hits %v level %s created %v updated %v",
		r.KeyHash, r.Algorithm, r.WindowStart.UTC(), r.WindowEnd.UTC(), r.RequestCount, r.LimitValue, r.Hits, level,
		r.CreatedAt.UTC(), r.UpdatedAt.UTC())
}

// rlRows returns the rows of rate_limit_records, by algorithm and window.
func rlRows(t *testing.T, db *postgres.DB) []rlRow {
	t.Helper()
	var rows []rlRow
	if err := db.SQLX().SelectContext(t.Context(), &rows, `SELECT key_hash, algorithm, window_start, window_end,
		request_count, limit_value, hits, level, created_at, updated_at
		FROM rate_limit_records ORDER BY algorithm, window_start, key_hash`); err != nil {
		t.Fatal(err)
	}
	return rows
}

// sha256Hex is the key_hash the rows must hold: the SHA-256 of the
// algorithm, the policy's name and the key, NUL-separated, in lower-case
// hex, computed here without ratelimit.HashKey.
func sha256Hex(alg, name, key string) string {
	sum := sha256.Sum256([]byte(alg + "\x00" + name + "\x00" + key))
	return hex.EncodeToString(sum[:])
}

// TestRateLimitRows checks what the rows hold, column by column: the
// key's hash, never the key; one row per window for a fixed window, one
// per key under the epoch for the others; the state and the times in
// microseconds.
func TestRateLimitRows(t *testing.T) {
	t.Parallel()
	st, db := rateLimits(t, postgres.RateLimitConfig{})
	ctx := t.Context()
	const key = "ip:203.0.113.7"
	fixed := ratelimit.Policy{Name: "login", Algorithm: ratelimit.FixedWindow, Limit: 5, Window: time.Minute}
	sliding := ratelimit.Policy{Name: "api", Algorithm: ratelimit.SlidingWindow, Limit: 10, Window: time.Minute}
	bucket := ratelimit.Policy{Name: "premium", Algorithm: ratelimit.TokenBucket, Limit: 3, Window: time.Minute, Burst: 5}
	t1 := rlBase.Add(90*time.Second + 5*time.Microsecond)
	t2 := t1.Add(10 * time.Second)
	take(t, ctx, st, fixed, key, 2, t1)
	take(t, ctx, st, fixed, key, 1, t1.Add(time.Minute)) // the next window
	take(t, ctx, st, sliding, key, 2, t1)
	take(t, ctx, st, sliding, key, 1, t2)
	take(t, ctx, st, bucket, key, 2, t1)
	take(t, ctx, st, bucket, key, 1, t2)

	epoch := time.Unix(0, 0)
	level := func(x int64) *int64 { return &x }
	want := []rlRow{
		{KeyHash: sha256Hex("fixed_window", "login", key), Algorithm: "fixed_window", WindowStart: rlBase.Add(time.Minute),
			WindowEnd: rlBase.Add(2 * time.Minute), RequestCount: 2, LimitValue: 5, CreatedAt: t1, UpdatedAt: t1},
		{KeyHash: sha256Hex("fixed_window", "login", key), Algorithm: "fixed_window", WindowStart: rlBase.Add(2 * time.Minute),
			WindowEnd: rlBase.Add(3 * time.Minute), RequestCount: 1, LimitValue: 5, CreatedAt: t1.Add(time.Minute),
			UpdatedAt: t1.Add(time.Minute)},
		{KeyHash: sha256Hex("sliding_window", "api", key), Algorithm: "sliding_window", WindowStart: epoch,
			WindowEnd: t2.Add(time.Minute), RequestCount: 3, LimitValue: 10,
			Hits: pq.Int64Array{t1.UnixMicro(), t1.UnixMicro(), t2.UnixMicro()}, CreatedAt: t1, UpdatedAt: t2},
		// 2 of 5 tokens taken at t1: 3 left, in 1/60,000,000 of a token;
		// full again in 2×60s/3 = 40s. At t2, 10s×3 per 60s refilled
		// (half a token), one taken: 2.5 tokens, full again in 50s.
		{KeyHash: sha256Hex("token_bucket", "premium", key), Algorithm: "token_bucket", WindowStart: epoch,
			WindowEnd: t2.Add(50 * time.Second), RequestCount: 3, LimitValue: 5, Level: level(150_000_000),
			CreatedAt: t1, UpdatedAt: t2},
	}
	got := rlRows(t, db)
	if len(got) != len(want) {
		t.Fatalf("%d rows:\n%v\nwant %d", len(got), got, len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.KeyHash != w.KeyHash || g.Algorithm != w.Algorithm || !g.WindowStart.Equal(w.WindowStart) ||
			!g.WindowEnd.Equal(w.WindowEnd) || g.RequestCount != w.RequestCount || g.LimitValue != w.LimitValue ||
			fmt.Sprint(g.Hits) != fmt.Sprint(w.Hits) || (g.Level == nil) != (w.Level == nil) ||
			(g.Level != nil && *g.Level != *w.Level) || !g.CreatedAt.Equal(w.CreatedAt) || !g.UpdatedAt.Equal(w.UpdatedAt) {
			t.Errorf("row %d:\n got  %v\n want %v", i+1, g, w)
		}
		if strings.Contains(g.KeyHash, "203.0.113.7") || !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(g.KeyHash) {
			t.Errorf("row %d: key_hash %q is not a lower-case hex SHA-256", i+1, g.KeyHash)
		}
		if g.KeyHash != ratelimit.HashKey(ratelimit.Policy{Name: []string{"login", "login", "api", "premium"}[i],
			Algorithm: ratelimit.Algorithm(g.Algorithm)}, key).String() {
			t.Errorf("row %d: key_hash is not HashKey's", i+1)
		}
	}
}

// TestRateLimitForeignRows: rows another writer left with NULL in the
// columns it may leave NULL (the original system knows neither hits nor
// level) read as the rule's initial state.
func TestRateLimitForeignRows(t *testing.T) {
	t.Parallel()
	st, db := rateLimits(t, postgres.RateLimitConfig{})
	ctx := t.Context()
	at := rlBase.Add(90*time.Second + 5*time.Microsecond)
	fixed := ratelimit.Policy{Name: "f", Algorithm: ratelimit.FixedWindow, Limit: 5, Window: time.Minute}
	sliding := ratelimit.Policy{Name: "s", Algorithm: ratelimit.SlidingWindow, Limit: 5, Window: time.Minute}
	bucket := ratelimit.Policy{Name: "b", Algorithm: ratelimit.TokenBucket, Limit: 5, Window: time.Minute, Burst: 5}
	for _, q := range []struct {
		query string
		args  []any
	}{
		// A fixed window's counter left NULL: no request counted.
		{`INSERT INTO rate_limit_records (key_hash, algorithm, window_start, window_end, request_count, limit_value)
			VALUES ($1, 'fixed_window', $2, $3, NULL, 99)`,
			[]any{ratelimit.HashKey(fixed, "k").String(), rlBase.Add(time.Minute), rlBase.Add(2 * time.Minute)}},
		// A sliding window's row without hits: no admitted time.
		{`INSERT INTO rate_limit_records (key_hash, algorithm, window_start, window_end, request_count, limit_value, updated_at)
			VALUES ($1, 'sliding_window', 'epoch', $2, 4, 5, NULL)`,
			[]any{ratelimit.HashKey(sliding, "k").String(), at.Add(time.Hour)}},
		// A bucket without a level nor a time: full as of the check.
		{`INSERT INTO rate_limit_records (key_hash, algorithm, window_start, window_end, limit_value, level, updated_at)
			VALUES ($1, 'token_bucket', 'epoch', $2, 5, NULL, NULL)`,
			[]any{ratelimit.HashKey(bucket, "k").String(), at.Add(time.Hour)}},
		// A bucket with a level but no time: as of the check, no refill.
		{`INSERT INTO rate_limit_records (key_hash, algorithm, window_start, window_end, limit_value, level, updated_at)
			VALUES ($1, 'token_bucket', 'epoch', $2, 5, 60000000, NULL)`,
			[]any{ratelimit.HashKey(bucket, "k2").String(), at.Add(time.Hour)}},
	} {
		if _, err := db.SQLX().ExecContext(ctx, q.query, q.args...); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		p    ratelimit.Policy
		key  string
		want ratelimit.Result
	}{
		{fixed, "k", ratelimit.Result{Allowed: true, Limit: 5, Remaining: 4, Reset: 30*time.Second - 5*time.Microsecond}},
		{sliding, "k", ratelimit.Result{Allowed: true, Limit: 5, Remaining: 4, Reset: time.Minute}},
		{bucket, "k", ratelimit.Result{Allowed: true, Limit: 5, Remaining: 4, Reset: 12 * time.Second}},
		{bucket, "k2", ratelimit.Result{Allowed: true, Limit: 5, Remaining: 0, Reset: time.Minute}},
	} {
		if got := take(t, ctx, st, c.p, c.key, 1, at); got != c.want {
			t.Errorf("%s %s: %+v, want %+v", c.p.Algorithm, c.key, got, c.want)
		}
	}
}

// TestRateLimitCleanup: DeleteExpired, through ratelimit.Cleanup,
// deletes exactly the rows whose state is initial again at the cleanup's
// time (of every algorithm, and rows of other writers), in batches, and
// nothing live; the checks after it get the answers they would have got.
func TestRateLimitCleanup(t *testing.T) {
	t.Parallel()
	st, db := rateLimits(t, postgres.RateLimitConfig{})
	ctx := t.Context()
	at := rlBase.Add(10 * time.Minute)
	fixed := ratelimit.Policy{Name: "f", Algorithm: ratelimit.FixedWindow, Limit: 5, Window: time.Minute}
	sliding := ratelimit.Policy{Name: "s", Algorithm: ratelimit.SlidingWindow, Limit: 5, Window: time.Minute}
	bucket := ratelimit.Policy{Name: "b", Algorithm: ratelimit.TokenBucket, Limit: 1, Window: time.Minute, Burst: 1}
	mem := newMemory(t)
	both := func(p ratelimit.Policy, key string, when time.Time) {
		take(t, ctx, st, p, key, 1, when)
		take(t, ctx, mem, p, key, 1, when)
	}
	both(fixed, "a", at.Add(-90*time.Second))                   // window ended at -1m: deleted
	both(fixed, "a", at.Add(-30*time.Second))                   // window ends at 0: deleted
	both(fixed, "a", at)                                        // window ends at +1m: kept
	both(sliding, "old", at.Add(-time.Minute))                  // initial at 0: deleted
	both(sliding, "new", at.Add(-time.Minute+time.Microsecond)) // initial at +1µs: kept
	both(bucket, "old", at.Add(-time.Minute))                   // full at 0: deleted
	both(bucket, "new", at.Add(-30*time.Second))                // full at +30s: kept
	if _, err := db.SQLX().ExecContext(ctx, `INSERT INTO rate_limit_records (key_hash, algorithm, window_start, window_end, limit_value)
		VALUES ('legacy', 'fixed_window', $1, $2, 10)`, at.Add(-2*time.Hour), at.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	before := rlRows(t, db)
	if len(before) != 8 {
		t.Fatalf("%d rows before the cleanup, want 8", len(before))
	}

	n, err := ratelimit.Cleanup(ctx, st, ratelimit.CleanupConfig{Batch: 2, Pause: -1, Now: func() time.Time { return at }, Grace: -1})
	if n != 5 || err != nil {
		t.Fatalf("Cleanup = %d, %v; want 5", n, err)
	}
	var kept []string
	for _, r := range rlRows(t, db) {
		kept = append(kept, fmt.Sprintf("%s %v", r.Algorithm, r.WindowEnd.UTC().Sub(at)))
	}
	want := []string{"fixed_window 1m0s", "sliding_window 1µs", "token_bucket 30s"}
	if fmt.Sprint(kept) != fmt.Sprint(want) {
		t.Errorf("kept %v, want %v", kept, want)
	}
	if n, err := ratelimit.Cleanup(ctx, st, ratelimit.CleanupConfig{Pause: -1, Now: func() time.Time { return at }, Grace: -1}); n != 0 || err != nil {
		t.Errorf("Cleanup again = %d, %v; want 0", n, err)
	}
	// The default grace keeps what was initial less than a minute ago.
	if n, err := ratelimit.Cleanup(ctx, st, ratelimit.CleanupConfig{Pause: -1, Now: func() time.Time { return at.Add(time.Minute) }}); n != 0 || err != nil {
		t.Errorf("Cleanup a minute later, with the default grace = %d, %v; want 0", n, err)
	}
	for _, c := range []struct {
		p   ratelimit.Policy
		key string
	}{{fixed, "a"}, {sliding, "old"}, {sliding, "new"}, {bucket, "old"}, {bucket, "new"}} {
		if got, want := take(t, ctx, st, c.p, c.key, 1, at), take(t, ctx, mem, c.p, c.key, 1, at); got != want {
			t.Errorf("%s %s after the cleanup: %+v, want %+v", c.p.Algorithm, c.key, got, want)
		}
	}
}

// TestRateLimitCleanupConcurrent: a row that a check is changing when the
// cleanup runs is skipped, not waited for (the cleanup takes the other
// rows), and once the check made it live again it is not deleted.
func TestRateLimitCleanupConcurrent(t *testing.T) {
	t.Parallel()
	st, db := rateLimits(t, postgres.RateLimitConfig{})
	ctx := t.Context()
	at := rlBase.Add(10 * time.Minute)
	p := ratelimit.Policy{Name: "s", Algorithm: ratelimit.SlidingWindow, Limit: 5, Window: time.Minute}
	take(t, ctx, st, p, "busy", 1, at.Add(-time.Minute))
	take(t, ctx, st, p, "idle", 1, at.Add(-time.Minute))
	err := db.InTx(ctx, func(ctx context.Context) error {
		// The check holds the row of "busy" (initial at `at`, so it starts
		// over) until the transaction commits.
		if res := take(t, ctx, st, p, "busy", 1, at); res.Remaining != 4 {
			t.Errorf("check in the transaction: %+v", res)
		}
		n, err := st.DeleteExpired(context.Background(), at, 10)
		if n != 1 || err != nil {
			t.Errorf("DeleteExpired while a check holds a row = %d, %v; want 1 (the idle key)", n, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := st.DeleteExpired(ctx, at, 10); n != 0 || err != nil {
		t.Errorf("DeleteExpired after the check committed = %d, %v; want 0", n, err)
	}
	rows := rlRows(t, db)
	if len(rows) != 1 || fmt.Sprint(rows[0].Hits) != fmt.Sprint(pq.Int64Array{at.UnixMicro()}) {
		t.Errorf("rows %v, want the busy key's, with the check's time", rows)
	}
}

// TestRateLimitContext: a canceled context fails a check, before it
// starts or while it waits for a row another transaction holds, with the
// context's error and the zero Result, and counts nothing.
func TestRateLimitContext(t *testing.T) {
	t.Parallel()
	st, db := rateLimits(t, postgres.RateLimitConfig{})
	p := ratelimit.Policy{Name: "ctx", Algorithm: ratelimit.FixedWindow, Limit: 2, Window: time.Minute}
	at := rlBase.Add(90 * time.Second)
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	if res, err := st.Take(canceled, p, "k", 1, at); !errors.Is(err, context.Canceled) || res != (ratelimit.Result{}) {
		t.Errorf("Take with a canceled context = %+v, %v; want the zero Result, context.Canceled", res, err)
	}

	ctx, cancelWait := context.WithCancel(context.Background())
	defer cancelWait()
	var res ratelimit.Result
	err := interleave(t, db, func(ctx context.Context) error {
		_, err := st.Take(ctx, p, "k", 1, at)
		return err
	}, func(ctx context.Context) error {
		cancelWait()
		// Commit once the server has ended the waiting statement, so
		// that it cannot go on after the commit.
		var pid int
		if err := postgres.TxFromContext(ctx).GetContext(ctx, &pid, `SELECT pg_backend_pid()`); err != nil {
			return err
		}
		for {
			var waiting bool
			if err := db.SQLX().GetContext(ctx, &waiting,
				`SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE $1 = ANY (pg_blocking_pids(pid)))`, pid); err != nil || !waiting {
				return err
			}
		}
	}, func(context.Context) (err error) {
		res, err = st.Take(ctx, p, "k", 1, at)
		return err
	})
	if !errors.Is(err, context.Canceled) || errors.Is(err, store.ErrUnavailable) || res != (ratelimit.Result{}) {
		t.Errorf("Take canceled while waiting = %+v, %v; want the zero Result, context.Canceled", res, err)
	}
	if got := take(t, t.Context(), st, p, "k", 1, at); !got.Allowed || got.Remaining != 0 {
		t.Errorf("after: %+v; want the second request admitted (the canceled one counted nothing)", got)
	}
}

// TestRateLimitAsyncCommit: with AsyncCommit, synchronous_commit is off
// for the check's own statement only: the connection's setting is
// unchanged after it, and a check in a caller's transaction leaves that
// transaction's setting alone.
func TestRateLimitAsyncCommit(t *testing.T) {
	t.Parallel()
	x := pgtest.DB(t)
	x.SetMaxOpenConns(1) // every statement on one connection
	db, err := postgres.New(x, postgres.Config{})
	if err != nil {
		t.Fatal(err)
	}
	st := db.RateLimits(postgres.RateLimitConfig{AsyncCommit: true})
	ctx := t.Context()
	p := ratelimit.Policy{Name: "async", Algorithm: ratelimit.TokenBucket, Limit: 5, Window: time.Minute}
	show := func(q interface {
		GetContext(context.Context, any, string, ...any) error
	}) string {
		var v string
		if err := q.GetContext(ctx, &v, `SHOW synchronous_commit`); err != nil {
			t.Fatal(err)
		}
		return v
	}
	take(t, ctx, st, p, "k", 1, rlBase)
	if v := show(x); v != "on" {
		t.Errorf("synchronous_commit after an asynchronous check = %s, want on", v)
	}
	err = db.InTx(ctx, func(ctx context.Context) error {
		take(t, ctx, st, p, "k", 1, rlBase) // the statement is not prepared on the pool's only connection yet
		take(t, ctx, st, p, "k", 1, rlBase)
		if v := show(postgres.TxFromContext(ctx)); v != "on" {
			t.Errorf("synchronous_commit in the caller's transaction after a check = %s, want on", v)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestRateLimitPlans: on 300,000 rows, without statistics and analyzed,
// each check statement, exactly as Take prepares it, finds the key's row
// through the unique index (key_hash, algorithm, window_start), with the
// plan made for the arguments and with the generic plan a prepared
// statement switches to;
// the cleanup statement picks its rows through
// idx_rate_limit_records_window_end and deletes them through the primary
// key. None reads the table sequentially.
func TestRateLimitPlans(t *testing.T) {
	t.Parallel()
	_, db := rateLimits(t, postgres.RateLimitConfig{})
	ctx := t.Context()
	x := db.SQLX()
	if _, err := x.ExecContext(ctx, `
INSERT INTO rate_limit_records (key_hash, algorithm, window_start, window_end, request_count, limit_value, hits, level)
SELECT md5(g::text) || md5(g::text), a, CASE a WHEN 'fixed_window' THEN $1::timestamptz ELSE 'epoch' END,
	$1::timestamptz + (g % 120) * interval '1 second', 1, 10,
	CASE a WHEN 'sliding_window' THEN ARRAY[g]::bigint[] END, CASE a WHEN 'token_bucket' THEN g END
FROM generate_series(1, 100000) AS g, unnest(ARRAY['fixed_window', 'sliding_window', 'token_bucket']) AS a`, rlBase); err != nil {
		t.Fatal(err)
	}
	conn, err := x.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	defer conn.ExecContext(context.Background(), "DISCARD ALL")
	at := rlBase.Add(30 * time.Second)
	ts := func(t time.Time) string { return "'" + t.UTC().Format(time.RFC3339Nano) + "'" }
	key := "'" + strings.Repeat("ab", 32) + "'"
	stmts := postgres.RateLimitStatements()
	cases := []struct {
		name, query, args, index string
		also                     string // another index the statement may use
	}{
		{"fixed_window", stmts["fixed_window"][0],
			fmt.Sprintf("%s, %s, %s, %s, 10, 1", key, ts(at), ts(rlBase), ts(rlBase.Add(time.Minute))),
			"rate_limit_records_key_hash_algorithm_window_start_key", ""},
		{"sliding_window", stmts["sliding_window"][1],
			fmt.Sprintf("%s, %d, %s, 60000000, 10, 1", key, at.UnixMicro(), ts(at)),
			"rate_limit_records_key_hash_algorithm_window_start_key", ""},
		{"token_bucket", stmts["token_bucket"][0],
			fmt.Sprintf("%s, %d, %s, 10, 600000000, 60000000, 10, 60000000", key, at.UnixMicro(), ts(at)),
			"rate_limit_records_key_hash_algorithm_window_start_key", ""},
		{"cleanup", postgres.RateLimitCleanup, fmt.Sprintf("%s, 1000", ts(at)), "idx_rate_limit_records_window_end",
			"rate_limit_records_pkey"},
	}
	for _, c := range cases {
		if _, err := conn.ExecContext(ctx, "PREPARE "+c.name+" AS "+c.query); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
	}
	// First on the table as loaded, without statistics (a new table, or
	// one grown since its last ANALYZE), then analyzed.
	for _, phase := range []string{"without statistics", "analyzed"} {
		if phase == "analyzed" {
			if _, err := conn.ExecContext(ctx, `ANALYZE rate_limit_records`); err != nil {
				t.Fatal(err)
			}
		}
		for _, c := range cases {
			planRateLimit(t, conn, phase, c.name, c.args, c.index, c.also)
		}
	}
}

// planRateLimit checks the plans of the prepared statement name for args
// under both plan cache modes: every scan of rate_limit_records goes
// through index or also, and one through index.
func planRateLimit(t *testing.T, conn *sql.Conn, phase, name, args, index, also string) {
	t.Helper()
	ctx := t.Context()
	seq := regexp.MustCompile(`Seq Scan on rate_limit_records\b`)
	used := regexp.MustCompile(`(?:Index Scan|Index Only Scan) using (\S+) on rate_limit_records\b|Bitmap Index Scan on (\S+)`)
	for _, mode := range []string{"force_custom_plan", "force_generic_plan"} {
		if _, err := conn.ExecContext(ctx, "SET plan_cache_mode = "+mode); err != nil {
			t.Fatal(err)
		}
		rows, err := conn.QueryContext(ctx, "EXPLAIN EXECUTE "+name+"("+args+")")
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var lines []string
		for rows.Next() {
			var l string
			if err := rows.Scan(&l); err != nil {
				t.Fatal(err)
			}
			lines = append(lines, l)
		}
		rows.Close()
		plan := strings.Join(lines, "\n")
		if seq.MatchString(plan) {
			t.Errorf("%s, %s, %s: reads rate_limit_records sequentially:\n%s", phase, name, mode, plan)
		}
		through := false
		for _, m := range used.FindAllStringSubmatch(plan, -1) {
			switch ix := m[1] + m[2]; ix {
			case index:
				through = true
			case also:
			default:
				t.Errorf("%s, %s, %s: a scan through %s, want %s:\n%s", phase, name, mode, ix, index, plan)
			}
		}
		if !through {
			t.Errorf("%s, %s, %s: no scan through %s:\n%s", phase, name, mode, index, plan)
		}
	}
}
