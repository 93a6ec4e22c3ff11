package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cedrina/cedrina/ratelimit"
)

// RateLimitConfig configures a [RateLimitStore]. The zero value is the
// default: every write is a durable commit.
type RateLimitConfig struct {
	// AsyncCommit commits the writes of Take asynchronously
	// (synchronous_commit off for that statement's own transaction only):
	// the server answers before the commit's WAL reaches the disk, which
	// roughly doubles the checks per second a busy server can take. The
	// cost is in a server crash (not an application crash, not a lost
	// connection): the admissions of the last moments before it, up to
	// three times the server's wal_writer_delay (600 ms by default), are
	// forgotten, so each key may be admitted that many requests more
	// after the restart than its limit allows. Nothing else is affected:
	// the database stays consistent, other tables and statements keep
	// their own setting, and Take inside a caller's transaction ([DB.InTx])
	// leaves that transaction's commit as the caller configured it.
	// Default false.
	AsyncCommit bool
}

// RateLimitStore implements [ratelimit.Store] on the rate_limit_records
// table, and [ratelimit.Expirer] for [ratelimit.Cleanup]. Each check is
// one statement, exact under any concurrency: see the package
// documentation's "Rate limits" section.
type RateLimitStore struct {
	db    *DB
	async bool
	// reruns counts the statements run again: the key's row was inserted
	// after the statement's snapshot, or the statement was a deadlock's
	// victim.
	reruns atomic.Int64
}

var (
	_ ratelimit.Store   = (*RateLimitStore)(nil)
	_ ratelimit.Expirer = (*RateLimitStore)(nil)
)

// RateLimits returns the rate limit store.
func (db *DB) RateLimits(cfg RateLimitConfig) *RateLimitStore {
	return &RateLimitStore{db: db, async: cfg.AsyncCommit}
}

// asyncMark stands in the statements' INSERT condition for the clause
// that turns synchronous_commit off for the statement's transaction; it
// is replaced with it in the asynchronous variants and removed in the
// others.
const asyncMark = "/*async*/"

// asyncClause sets synchronous_commit to off until the end of the
// current transaction (set_config's third argument, is_local), evaluated
// inside the statement: outside a transaction block the statement is its
// own transaction, whose commit then does not wait for the WAL flush.
const asyncClause = ` AND set_config('synchronous_commit', 'off', true) = 'off'`

// micros converts a bigint number of microseconds since the epoch to a
// timestamptz, exactly (below 2^53 µs, the year 2255).
func micros(expr string) string {
	return `(timestamptz 'epoch' + (` + expr + `) * interval '1 microsecond')`
}

// The statements. Each has three parts, and returns one row:
//
//   - cur reads the key's state in the statement's snapshot. When that
//     state denies the request and the denial would change nothing, the
//     answer is that state: no write, no lock, no WAL (a flood of refused
//     requests costs reads only). A denial is a read, so answering it from
//     a snapshot taken during the call is exact.
//   - up inserts the key's row, or, when it exists, updates it only if the
//     latest committed version of the row admits the request (ON CONFLICT
//     DO UPDATE locks that version, waiting for a concurrent writer, and
//     evaluates its WHERE on it). It returns a row only when it admitted.
//   - den runs when up did not admit: it reads (or, for a token bucket,
//     writes the refill into) the version up locked, with FOR UPDATE or
//     UPDATE, which follow the row from the version in the snapshot to
//     its latest one. They recheck their WHERE on the latest version only
//     for a row whose snapshot version passed it, so den selects the row
//     by its key alone: up has just found, on the version it locked, that
//     the request is denied. A row that a concurrent transaction inserted
//     after the snapshot is invisible to it, and then the statement
//     returns no row: Take runs it again, with a new snapshot (see run).
//
// NOT EXISTS of a CTE is a one-time filter, so den scans nothing when up
// admitted or cur answered.

// rateLimitFixed: $1 key_hash, $2 now, $3 window start, $4 window end,
// $5 limit, $6 n. The row of the key's window counts request_count; a row
// whose window_end has passed (a shorter window before a policy change)
// counts as empty, as a deleted one would.
const rateLimitFixed = `
WITH cur AS (
	SELECT COALESCE(request_count, 0) AS c FROM rate_limit_records
	WHERE key_hash = $1 AND algorithm = 'fixed_window' AND window_start = $3::timestamptz
		AND window_end > $2::timestamptz
), up AS (
	INSERT INTO rate_limit_records AS r (key_hash, algorithm, window_start, window_end, request_count,
		limit_value, created_at, updated_at)
	SELECT $1, 'fixed_window', $3::timestamptz, $4::timestamptz, $6::int, $5::int, $2::timestamptz, $2::timestamptz
	WHERE NOT EXISTS (SELECT FROM cur WHERE c + $6::int > $5::int)` + asyncMark + `
	ON CONFLICT (key_hash, algorithm, window_start) DO UPDATE
	SET request_count = CASE WHEN r.window_end > EXCLUDED.updated_at THEN COALESCE(r.request_count, 0) ELSE 0 END
			+ EXCLUDED.request_count,
		limit_value = EXCLUDED.limit_value, window_end = EXCLUDED.window_end, updated_at = EXCLUDED.updated_at
	WHERE CASE WHEN r.window_end > EXCLUDED.updated_at THEN COALESCE(r.request_count, 0) ELSE 0 END
		+ EXCLUDED.request_count <= EXCLUDED.limit_value
	RETURNING request_count
), den AS (
	SELECT COALESCE(request_count, 0) AS c FROM rate_limit_records
	WHERE key_hash = $1 AND algorithm = 'fixed_window' AND window_start = $3::timestamptz
		AND NOT EXISTS (SELECT FROM cur WHERE c + $6::int > $5::int) AND NOT EXISTS (SELECT FROM up)
	FOR UPDATE
)
SELECT true, request_count FROM up
UNION ALL SELECT false, c FROM cur WHERE c + $6::int > $5::int
UNION ALL SELECT false, c FROM den`

// Sliding window: $1 key_hash, $2 now (µs), $3 now, $4 window (µs),
// $5 limit, $6 n. hits holds the admitted times, oldest first, one element
// per request. r = max(now, newest held) is the time the request counts
// at, and the times after r-window are live. width_bucket(x, hits) is the
// number of elements <= x (a binary search of the sorted array), so
// {d:h} = width_bucket(r-window, h) elements are no longer live and the
// live ones are h[{d:h}+1:]. The request's times are r, so hits stays
// sorted. The denied answer returns the newest time and the k-th oldest
// live one, k = c+n-limit, which is element cardinality+n-limit. {H} is
// the row's times, or none when its window_end has passed.
const rateLimitSliding = `
WITH cur AS (
	SELECT h, cardinality(h) - {d:h} AS c
	FROM (SELECT COALESCE(hits, '{}') AS h FROM rate_limit_records
		WHERE key_hash = $1 AND algorithm = 'sliding_window' AND window_start = timestamptz 'epoch'
			AND window_end > $3::timestamptz) x
), up AS (
	INSERT INTO rate_limit_records AS r (key_hash, algorithm, window_start, window_end, request_count,
		limit_value, hits, created_at, updated_at)
	SELECT $1, 'sliding_window', timestamptz 'epoch', {ts:$2::bigint + $4::bigint}, $6::int, $5::int,
		array_fill($2::bigint, ARRAY[$6::int]), $3::timestamptz, $3::timestamptz
	WHERE NOT EXISTS (SELECT FROM cur WHERE c + $6::int > $5::int)` + asyncMark + `
	ON CONFLICT (key_hash, algorithm, window_start) DO UPDATE
	SET (hits, request_count, window_end, limit_value, updated_at) = (
		SELECT s.live || array_fill(s.r, ARRAY[$6::int]), cardinality(s.live) + $6::int, {ts:s.r + $4::bigint},
			$5::int, $3::timestamptz
		FROM (SELECT h[{d:h} + 1:] AS live, GREATEST($2::bigint, h[cardinality(h)]) AS r
			FROM (SELECT {H} AS h) a) s)
	WHERE (SELECT cardinality(h) - {d:h} FROM (SELECT {H} AS h) a) + $6::int <= $5::int
	RETURNING request_count, (extract(epoch FROM window_end) * 1000000)::bigint - $4::bigint AS newest
), den AS (
	SELECT h, cardinality(h) - {d:h} AS c
	FROM (SELECT {H} AS h FROM rate_limit_records r
		WHERE key_hash = $1 AND algorithm = 'sliding_window' AND window_start = timestamptz 'epoch'
			AND NOT EXISTS (SELECT FROM cur WHERE c + $6::int > $5::int) AND NOT EXISTS (SELECT FROM up)
		FOR UPDATE) x
)
SELECT true, request_count::bigint, newest, NULL::bigint FROM up
UNION ALL SELECT false, c, h[cardinality(h)], h[cardinality(h) + $6::int - $5::int] FROM cur WHERE c + $6::int > $5::int
UNION ALL SELECT false, c, h[cardinality(h)], h[cardinality(h) + $6::int - $5::int] FROM den`

// Token bucket: $1 key_hash, $2 now (µs), $3 now, $4 limit (the refill
// per window), $5 full (burst×window), $6 cost (n×window), $7 burst,
// $8 window (µs). level is x, updated_at is a (the time of the last
// change); the statement returns both after the check. {x0} is the level capped at full (a NULL level is full), {a0}
// the time of the last change (NULL: now); {x1} and {a1} are the refill
// to now: full when the row's window_end has passed (as for a deleted
// row), else x0 + (now-a0)×limit capped at full, computed without
// overflow; a1 = max(a0, now). request_count is the whole tokens spent
// (burst - floor(x/window)), limit_value the burst, window_end the time
// the bucket is full again, a1 + ceil((full-x)/limit).
const rateLimitBucket = `
WITH cur AS (
	SELECT s.x0 AS level, s.a0 AS a FROM rate_limit_records r, LATERAL (SELECT {x0:r} AS x0, {a0:r} AS a0) s
	WHERE r.key_hash = $1 AND r.algorithm = 'token_bucket' AND r.window_start = timestamptz 'epoch'
		AND r.window_end > $3::timestamptz AND $2::bigint <= s.a0 AND s.x0 < $6::bigint
), up AS (
	INSERT INTO rate_limit_records AS r (key_hash, algorithm, window_start, window_end, request_count,
		limit_value, level, created_at, updated_at)
	SELECT $1, 'token_bucket', timestamptz 'epoch', {ts:$2::bigint + ($6::bigint + $4::bigint - 1) / $4::bigint},
		$7::bigint - ($5::bigint - $6::bigint) / $8::bigint, $7::int, $5::bigint - $6::bigint,
		$3::timestamptz, $3::timestamptz
	WHERE NOT EXISTS (SELECT FROM cur)` + asyncMark + `
	ON CONFLICT (key_hash, algorithm, window_start) DO UPDATE
	SET (level, updated_at, window_end, request_count, limit_value) = (
		SELECT s.x, {ts:s.a1}, {ts:s.a1 + ($5::bigint - s.x + $4::bigint - 1) / $4::bigint},
			$7::bigint - s.x / $8::bigint, $7::int
		FROM (SELECT {x1:r} - $6::bigint AS x, {a1:r} AS a1) s)
	WHERE {x1:r} >= $6::bigint
	RETURNING level, {a0:r} AS a
), den AS (
	UPDATE rate_limit_records AS r
	SET (level, updated_at, window_end, request_count, limit_value) = (
		SELECT s.x, {ts:s.a1}, {ts:s.a1 + ($5::bigint - s.x + $4::bigint - 1) / $4::bigint},
			$7::bigint - s.x / $8::bigint, $7::int
		FROM (SELECT {x1:r} AS x, {a1:r} AS a1) s)
	WHERE r.key_hash = $1 AND r.algorithm = 'token_bucket' AND r.window_start = timestamptz 'epoch'
		AND NOT EXISTS (SELECT FROM cur) AND NOT EXISTS (SELECT FROM up)
	RETURNING level, {a0:r} AS a
)
SELECT true, level, a FROM up
UNION ALL SELECT false, level, a FROM cur
UNION ALL SELECT false, level, a FROM den`

// expand replaces the {name:arg} fragments of a statement with their
// SQL.
func expand(q string) string {
	frag := map[string]func(arg string) string{
		"ts": micros,
		"d": func(h string) string {
			return `width_bucket(GREATEST($2::bigint, ` + h + `[cardinality(` + h + `)]) - $4::bigint, ` + h + `)`
		},
		"H": func(string) string {
			return `(CASE WHEN r.window_end > $3::timestamptz THEN COALESCE(r.hits, '{}') ELSE '{}' END)`
		},
		"x0": func(r string) string { return `LEAST(COALESCE(` + r + `.level, $5::bigint), $5::bigint)` },
		"a0": func(r string) string {
			return `COALESCE((extract(epoch FROM ` + r + `.updated_at) * 1000000)::bigint, $2::bigint)`
		},
	}
	frag["x1"] = func(r string) string {
		x0, a0 := frag["x0"](r), frag["a0"](r)
		return `(CASE WHEN ` + r + `.window_end <= $3::timestamptz THEN $5::bigint
		WHEN $2::bigint > ` + a0 + ` THEN LEAST($5::bigint, ` + x0 + ` + LEAST($2::bigint - ` + a0 + `,
			($5::bigint - ` + x0 + ` + $4::bigint - 1) / $4::bigint) * $4::bigint)
		ELSE ` + x0 + ` END)`
	}
	frag["a1"] = func(r string) string {
		return `(CASE WHEN ` + r + `.window_end <= $3::timestamptz THEN $2::bigint ELSE GREATEST(` + frag["a0"](r) + `, $2::bigint) END)`
	}
	return fragment.ReplaceAllStringFunc(q, func(m string) string {
		sub := fragment.FindStringSubmatch(m)
		f, ok := frag[sub[1]]
		if !ok {
			panic("postgres: rate limit statement: unknown fragment " + m)
		}
		return f(sub[2])
	})
}

// fragment matches {name} and {name:arg} in a statement; '{}', an empty
// array, is not one.
var fragment = regexp.MustCompile(`\{([A-Za-z]\w*)(?::([^}]*))?\}`)

// rateLimitStatements holds each algorithm's statement, synchronous
// ([0]) and asynchronous ([1]).
var rateLimitStatements = [...][2]string{
	rlFixed:   variants(rateLimitFixed),
	rlSliding: variants(rateLimitSliding),
	rlBucket:  variants(rateLimitBucket),
}

// Indexes of rateLimitStatements.
const (
	rlFixed = iota
	rlSliding
	rlBucket
)

func variants(q string) [2]string {
	q = expand(q)
	return [2]string{strings.Replace(q, asyncMark, "", 1), strings.Replace(q, asyncMark, asyncClause, 1)}
}

// rateLimitStmts are the statements of rateLimitStatements, prepared on
// the pool (database/sql prepares each on a connection the first time it
// runs there, and keeps it for the connection's life) the first time a
// check needs one, and shared by every RateLimitStore of the DB. Planning
// one of them costs more than running it, so they are prepared rather
// than sent as text with each check.
type rateLimitStmts struct {
	mu    sync.Mutex // held while preparing and closing
	stmts [len(rateLimitStatements)][2]atomic.Pointer[sql.Stmt]
}

// get returns statement i, variant v, preparing it if needed. A failed
// prepare is not kept: the next check tries again.
func (p *rateLimitStmts) get(ctx context.Context, db *DB, i, v int) (*sql.Stmt, error) {
	if st := p.stmts[i][v].Load(); st != nil {
		return st, nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if st := p.stmts[i][v].Load(); st != nil {
		return st, nil
	}
	actx, cancel := context.WithTimeout(ctx, db.acquireTimeout)
	defer cancel()
	st, err := db.x.PrepareContext(actx, rateLimitStatements[i][v])
	if err != nil {
		return nil, fmt.Errorf("postgres: rate limit: prepare: %w", translate(ctx, err))
	}
	p.stmts[i][v].Store(st)
	return st, nil
}

// close closes the prepared statements. A check that runs after it
// prepares its statement again.
func (p *rateLimitStmts) close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	var errs []error
	for i := range p.stmts {
		for v := range p.stmts[i] {
			if st := p.stmts[i][v].Swap(nil); st != nil {
				errs = append(errs, st.Close())
			}
		}
	}
	return errors.Join(errs...)
}

// maxRateLimitRuns bounds the statements one check runs. A rerun needs
// the key's row to be inserted after the statement's snapshot was taken
// and then to deny (the next statement's snapshot sees that row, so a
// second rerun only happens if a cleanup deleted the row and another
// instance inserted it again in between), or a deadlock of two first
// inserts of one key (see scan).
const maxRateLimitRuns = 4

// errRateLimitRaced is the error of a check whose every run raced with a
// concurrent insert of its key's row, or was a deadlock's victim. It
// matches store.ErrUnavailable.
var errRateLimitRaced = &unavailableError{cause: errors.New("postgres: rate limit: no answer after 4 runs (the key's row inserted under each, or a deadlock)")}

// Take implements [ratelimit.Store] with one statement (see the package
// documentation). The row's key_hash is [ratelimit.HashKey](p, key) in
// lower-case hex; the key itself is never sent. An n outside
// 1..p.Quota() is an error.
//
// With a context that carries a transaction of the DB ([DB.InTx]), the
// statement runs in it, with its durability, and the key's row stays
// locked until it ends. Otherwise it runs on a pooled connection, and
// Config.AcquireTimeout bounds the whole check (the wait for a connection
// and the statement): a single-row statement that has not answered by
// then is as unavailable as a pool without a free connection.
func (s *RateLimitStore) Take(ctx context.Context, p ratelimit.Policy, key string, n int, now time.Time) (ratelimit.Result, error) {
	q := p.Quota()
	if n < 1 || n > q {
		return ratelimit.Result{}, fmt.Errorf("postgres: rate limit: n=%d is outside 1..%d", n, q)
	}
	if p.Limit < 1 || p.Window < time.Microsecond {
		return ratelimit.Result{}, fmt.Errorf("postgres: rate limit: invalid policy %v", p)
	}
	now = now.UTC().Truncate(time.Microsecond)
	t, w, limit, nn := now.UnixMicro(), p.Window.Microseconds(), int64(p.Limit), int64(n)
	hash := ratelimit.HashKey(p, key).String()
	res := ratelimit.Result{Limit: q}
	var err error
	switch p.Algorithm {
	case ratelimit.FixedWindow:
		start := t - t%w
		var c int64
		err = s.run(ctx, rlFixed, []any{hash, now, time.UnixMicro(start).UTC(), time.UnixMicro(start + w).UTC(), limit, nn},
			&res.Allowed, &c)
		res.Remaining = int(limit - c)
		res.Reset = usec(start + w - t)
		if !res.Allowed {
			res.RetryAfter = res.Reset
		}
	case ratelimit.SlidingWindow:
		var c, newest int64
		var kth sql.NullInt64
		err = s.run(ctx, rlSliding, []any{hash, t, now, w, limit, nn}, &res.Allowed, &c, &newest, &kth)
		res.Remaining = int(limit - c)
		res.Reset = usec(newest + w - t)
		if !res.Allowed {
			res.RetryAfter = usec(kth.Int64 + w - t)
		}
	case ratelimit.TokenBucket:
		burst := int64(q)
		full, cost := burst*w, nn*w
		var x, a int64
		err = s.run(ctx, rlBucket, []any{hash, t, now, limit, full, cost, burst, w}, &res.Allowed, &x, &a)
		res.Remaining = int(x / w)
		res.Reset = usec(a + ceilDiv(full-x, limit) - t)
		if !res.Allowed {
			res.RetryAfter = usec(a + ceilDiv(cost-x, limit) - t)
		}
	default:
		return ratelimit.Result{}, fmt.Errorf("postgres: rate limit: unknown algorithm %q", string(p.Algorithm))
	}
	if err != nil {
		return ratelimit.Result{}, err
	}
	return res, nil
}

// run runs statement i of a check and scans its row into dest, running
// it again when it returns none: the key's row was inserted after the
// statement's snapshot and denied the request, so the statement could not
// read it. A statement that returns no row changed nothing, so running
// it again is the same check.
func (s *RateLimitStore) run(ctx context.Context, i int, args []any, dest ...any) error {
	if st, ok := ctx.Value(txKey{}).(*txState); ok && st.db == s.db {
		// The transaction holds a connection; preparing on the pool would
		// need another, which a full pool might never free. The prepared
		// statement is used when there is one, else the text.
		query := func() *sql.Row { return st.tx.QueryRowContext(ctx, rateLimitStatements[i][0], args...) }
		if stmt := s.db.rateLimit.stmts[i][0].Load(); stmt != nil {
			ts := st.tx.StmtContext(ctx, stmt)
			defer ts.Close()
			query = func() *sql.Row { return ts.QueryRowContext(ctx, args...) }
		}
		return translate(ctx, s.scan(query, dest, false))
	}
	v := 0
	if s.async {
		v = 1
	}
	stmt, err := s.db.rateLimit.get(ctx, s.db, i, v)
	if err != nil {
		return err
	}
	actx, cancel := context.WithTimeout(ctx, s.db.acquireTimeout)
	defer cancel()
	err = s.scan(func() *sql.Row { return stmt.QueryRowContext(actx, args...) }, dest, true)
	if err != nil && ctx.Err() == nil && actx.Err() != nil {
		return translate(ctx, fmt.Errorf("postgres: rate limit: no answer within %v: %w", s.db.acquireTimeout, ErrPoolTimeout))
	}
	return translate(ctx, err)
}

// scan runs query until it returns a row, at most maxRateLimitRuns times,
// and scans the row into dest. With own set (the statement is its own
// transaction), a deadlock runs it again too: two checks that insert one
// new key's row at once can deadlock inside PostgreSQL's speculative
// insertion (INSERT ... ON CONFLICT), rarely, and the victim's statement
// changed nothing. In a caller's transaction the deadlock aborted the
// transaction, and the error goes back to the caller.
func (s *RateLimitStore) scan(query func() *sql.Row, dest []any, own bool) error {
	for range maxRateLimitRuns {
		err := query().Scan(dest...)
		if se, ok := asServerError(err); own && ok && se.code == "40P01" {
			s.reruns.Add(1)
			continue
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		s.reruns.Add(1)
	}
	return errRateLimitRaced
}

// rateLimitCleanup deletes at most $2 rows whose window_end is at or
// before $1, picked through idx_rate_limit_records_window_end, locked and
// skipping rows other transactions hold (a check updating one), and
// deleted through the primary key, as the other cleanup passes do. A
// check that changed a picked row before the lock was taken made it live
// again: the lock's recheck of window_end <= $1 on the latest version
// leaves it out.
const rateLimitCleanup = `DELETE FROM rate_limit_records WHERE id = ANY (ARRAY(
	SELECT id FROM rate_limit_records WHERE window_end <= $1
	ORDER BY window_end LIMIT $2
	FOR UPDATE SKIP LOCKED))`

// DeleteExpired implements [ratelimit.Expirer]: it deletes at most limit
// rows whose window_end is at or before before (rows of any algorithm,
// the original system's too), in one short statement, and returns how
// many it deleted. A row whose window_end has passed is in its initial
// state for every check at or after that time, so deleting it changes no
// check's answer.
func (s *RateLimitStore) DeleteExpired(ctx context.Context, before time.Time, limit int) (int, error) {
	var n int64
	err := s.db.run(ctx, func(q querier) error {
		res, err := q.ExecContext(ctx, rateLimitCleanup, before, limit)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return int(n), err
}

func ceilDiv(a, b int64) int64 { return (a + b - 1) / b }

func usec(n int64) time.Duration { return time.Duration(n) * time.Microsecond }
