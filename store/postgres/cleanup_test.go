package postgres_test

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cedrina/cedrina/internal/pgtest"
	"github.com/cedrina/cedrina/store/postgres"
)

// Categories of the sessions TestDeleteExpiredPlans1M loads, by g % 100
// of the generate_series row g: 3% expired, 2% idle, 2% ended (is_active
// false, or NULL as the original system may leave it), the rest live.
const cleanupFill = `
INSERT INTO sessions (user_id, session_token, refresh_token, is_active, created_at, expires_at, last_activity_at)
SELECT 1 + (g - 1) / 100, 's' || g, 'r' || g,
	CASE g % 100 WHEN 97 THEN false WHEN 98 THEN NULL ELSE true END,
	$1::timestamptz - interval '3 days',
	CASE WHEN g % 100 < 3 THEN $1::timestamptz - (g % 1440) * interval '1 minute'
		ELSE $1::timestamptz + (1 + g % 10080) * interval '1 minute' END,
	CASE WHEN g % 100 IN (95, 96) THEN $2::timestamptz - (g % 1440) * interval '1 minute'
		ELSE $1::timestamptz - (g % 720) * interval '1 minute' END
FROM generate_series(1, 1000000) AS g`

// cleanupCounts counts the sessions of each kind at (at, at-idle), and
// the rotation history of the live ones.
const cleanupCounts = `
SELECT count(*) FILTER (WHERE expires_at <= $1) AS expired,
	count(*) FILTER (WHERE expires_at > $1 AND last_activity_at <= $2) AS idle,
	count(*) FILTER (WHERE expires_at > $1 AND last_activity_at > $2 AND is_active IS NOT TRUE) AS ended,
	count(*) FILTER (WHERE expires_at > $1 AND last_activity_at > $2 AND is_active) AS live,
	(SELECT count(*) FROM session_refresh_history h JOIN sessions s ON s.id = h.session_id
		WHERE s.expires_at > $1 AND s.last_activity_at > $2 AND s.is_active) AS live_history,
	(SELECT count(*) FROM session_refresh_history) AS history
FROM sessions`

type cleanupCount struct {
	Expired     int `db:"expired"`
	Idle        int `db:"idle"`
	Ended       int `db:"ended"`
	Live        int `db:"live"`
	LiveHistory int `db:"live_history"`
	History     int `db:"history"`
}

// sqlLiteral writes a DeleteExpired argument as an SQL literal for
// EXECUTE.
func sqlLiteral(t *testing.T, v any) string {
	t.Helper()
	switch v := v.(type) {
	case time.Time:
		return "'" + v.UTC().Format(time.RFC3339Nano) + "'"
	case int:
		return strconv.Itoa(v)
	}
	t.Fatalf("no SQL literal for %T", v)
	return ""
}

// explainPass returns the plan of EXECUTE of the prepared statement name
// with args, under plan_cache_mode mode.
func explainPass(t *testing.T, conn *sql.Conn, name, mode string, args []any) string {
	t.Helper()
	ctx := t.Context()
	if _, err := conn.ExecContext(ctx, "SET plan_cache_mode = "+mode); err != nil {
		t.Fatal(err)
	}
	lits := make([]string, len(args))
	for i, a := range args {
		lits[i] = sqlLiteral(t, a)
	}
	rows, err := conn.QueryContext(ctx, "EXPLAIN EXECUTE "+name+"("+strings.Join(lits, ", ")+")")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var lines []string
	for rows.Next() {
		var l string
		if err := rows.Scan(&l); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, l)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return strings.Join(lines, "\n")
}

// TestDeleteExpiredPlans1M loads 1,000,000 sessions of 10,000 users and
// checks that each statement of DeleteExpired, exactly as it sends it,
// is planned as an index scan of its index, with a custom plan (the
// arguments' values known) and with a generic one (planned once for any
// values), and never reads sessions sequentially. Then one DeleteExpired
// call deletes the expired, idle and (up to the batch) ended sessions and
// nothing else.
func TestDeleteExpiredPlans1M(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	x := pgtest.DB(t)
	db, err := postgres.New(x, postgres.Config{})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	const idle = 24 * time.Hour

	start := time.Now()
	if _, err := x.ExecContext(ctx, `INSERT INTO users (username, email, hashed_password)
SELECT 'u' || g, 'u' || g || '@example.com', 'x' FROM generate_series(1, 10000) AS g`); err != nil {
		t.Fatal(err)
	}
	if _, err := x.ExecContext(ctx, cleanupFill, at, at.Add(-idle)); err != nil {
		t.Fatal(err)
	}
	// Rotation history for about 1% of the sessions, of every kind.
	if _, err := x.ExecContext(ctx, `INSERT INTO session_refresh_history (token_hash, session_id, rotated_at)
SELECT 'h' || id, id, $1::timestamptz - interval '1 hour' FROM sessions WHERE id % 101 = 0`, at); err != nil {
		t.Fatal(err)
	}
	if _, err := x.ExecContext(ctx, `ANALYZE users, sessions, session_refresh_history`); err != nil {
		t.Fatal(err)
	}
	t.Logf("loaded 1,000,000 sessions in %v", time.Since(start).Round(time.Millisecond))

	var before cleanupCount
	if err := x.GetContext(ctx, &before, cleanupCounts, at, at.Add(-idle)); err != nil {
		t.Fatal(err)
	}
	want := cleanupCount{Expired: 30000, Idle: 20000, Ended: 20000, Live: 930000}
	if before.Expired != want.Expired || before.Idle != want.Idle || before.Ended != want.Ended || before.Live != want.Live {
		t.Fatalf("loaded %+v, want %+v", before, want)
	}

	conn, err := x.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// The connection goes back to the pool without the prepared
	// statements and the setting.
	defer conn.ExecContext(context.Background(), "DISCARD ALL")
	for i, p := range postgres.CleanupPasses(at, idle, 1000) {
		name := fmt.Sprintf("cleanup_pass_%d", i+1)
		if _, err := conn.ExecContext(ctx, "PREPARE "+name+" AS "+p.Query); err != nil {
			t.Fatalf("pass %d: %v", i+1, err)
		}
		inner := regexp.MustCompile(`(Index Scan|Index Only Scan) using ` + p.Index + ` on sessions\b|Bitmap Index Scan on ` + p.Index + `\b`)
		for _, mode := range []string{"force_custom_plan", "force_generic_plan"} {
			plan := explainPass(t, conn, name, mode, p.Args)
			t.Logf("pass %d (%s), plan_cache_mode = %s:\n%s", i+1, p.Index, mode, plan)
			if !inner.MatchString(plan) {
				t.Errorf("pass %d, %s: no index scan of %s", i+1, mode, p.Index)
			}
			if strings.Contains(plan, "Seq Scan") {
				t.Errorf("pass %d, %s: sequential scan", i+1, mode)
			}
		}
	}

	// One call: the expired and idle sessions, and 15,000 of the 20,000
	// ended ones.
	batch := want.Expired + want.Idle + 15000
	start = time.Now()
	n, err := db.Sessions().DeleteExpired(ctx, at, idle, batch)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("DeleteExpired(batch %d) deleted %d in %v", batch, n, time.Since(start).Round(time.Millisecond))
	if n != batch {
		t.Errorf("DeleteExpired deleted %d, want %d", n, batch)
	}
	var after cleanupCount
	if err := x.GetContext(ctx, &after, cleanupCounts, at, at.Add(-idle)); err != nil {
		t.Fatal(err)
	}
	want = cleanupCount{Ended: 5000, Live: want.Live, LiveHistory: before.LiveHistory}
	if after.Expired != want.Expired || after.Idle != want.Idle || after.Ended != want.Ended ||
		after.Live != want.Live || after.LiveHistory != want.LiveHistory {
		t.Errorf("after DeleteExpired: %+v, want %+v (before: %+v)", after, want, before)
	}
	if before.History <= before.LiveHistory || after.History >= before.History {
		t.Errorf("rotation history: %d rows before, %d after, want the deleted sessions' history gone", before.History, after.History)
	}
}
