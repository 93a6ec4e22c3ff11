package postgres_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cedrina/cedrina/audit"
	"github.com/cedrina/cedrina/internal/pgtest"
	"github.com/cedrina/cedrina/store/postgres"
)

func benchAudit(b *testing.B) (*postgres.DB, *audit.Service) {
	b.Helper()
	db, err := postgres.Open(context.Background(), pgtest.URL(b), postgres.Config{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	if err := schemaMigrate(db); err != nil {
		b.Fatal(err)
	}
	a, err := audit.NewService(db.Audit(), audit.Config{})
	if err != nil {
		b.Fatal(err)
	}
	return db, a
}

func benchEvent(i int) audit.Event {
	return audit.Event{Type: audit.LoginFailed, Severity: audit.Warning, Source: "user", UserAgent: "Mozilla/5.0 (X11; Linux x86_64)",
		CorrelationID: "c0ffee", Data: map[string]any{"reason": "wrong_password", "attempts": i % 5}}
}

// BenchmarkAuditRecordSync stores one event per Record call: a transaction
// that locks the chain, inserts and moves its end.
func BenchmarkAuditRecordSync(b *testing.B) {
	_, a := benchAudit(b)
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		if err := a.Record(ctx, benchEvent(i)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAuditWriter16 has 16 producers record b.N events in all
// through the batched writer, then closes it (so every event is stored):
// events per second into PostgreSQL, with no loss.
func BenchmarkAuditWriter16(b *testing.B) {
	db, a := benchAudit(b)
	ctx := context.Background()
	w, err := a.NewWriter(audit.WriterConfig{})
	if err != nil {
		b.Fatal(err)
	}
	const producers = 16
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for p := range producers {
		n := b.N / producers
		if p < b.N%producers {
			n++
		}
		wg.Go(func() {
			for i := range n {
				if err := w.Record(ctx, benchEvent(i)); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := w.Close(ctx); err != nil {
		b.Fatal(err)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	var stored int
	if err := db.SQLX().GetContext(ctx, &stored, `SELECT count(*) FROM audit_logs`); err != nil {
		b.Fatal(err)
	}
	if stored != b.N {
		b.Fatalf("%d events stored, want %d", stored, b.N)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
}

// BenchmarkAuditUserQuery lists one user's 50 newest events in a time
// range from a table of 1,000,000 events (1,000 users), and checks that
// the plan is an index scan, not a sequential one.
func BenchmarkAuditUserQuery(b *testing.B) {
	db, a := benchAudit(b)
	ctx := context.Background()
	x := db.SQLX()
	if _, err := x.ExecContext(ctx, `
INSERT INTO users (username, email, hashed_password)
SELECT 'user' || g, 'user' || g || '@example.com', 'x' FROM generate_series(1, 1000) AS g`); err != nil {
		b.Fatal(err)
	}
	if _, err := x.ExecContext(ctx, `
INSERT INTO audit_logs (user_id, actor_id, event_type, event_data, created_at, severity)
SELECT u.id, u.id, 'login_success', '{}', timestamptz '2026-01-01' + g * interval '1 second', 'INFO'
FROM generate_series(1, 1000000) AS g
JOIN users u ON u.id = (SELECT min(id) FROM users) + (g % 1000)`); err != nil {
		b.Fatal(err)
	}
	if _, err := x.ExecContext(ctx, `ANALYZE audit_logs`); err != nil {
		b.Fatal(err)
	}
	var uid int64
	if err := x.GetContext(ctx, &uid, `SELECT min(id) + 500 FROM users`); err != nil {
		b.Fatal(err)
	}
	from, to := time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC), time.Date(2026, 1, 9, 0, 0, 0, 0, time.UTC)
	var plan []string
	if err := x.SelectContext(ctx, &plan, `EXPLAIN SELECT * FROM audit_logs
WHERE user_id = $1 AND created_at >= $2 AND created_at < $3 ORDER BY created_at DESC, id DESC LIMIT 51`, uid, from, to); err != nil {
		b.Fatal(err)
	}
	b.Logf("plan:\n%s", strings.Join(plan, "\n"))
	if strings.Contains(strings.Join(plan, "\n"), "Seq Scan") {
		b.Fatal("a user's events in a time range are read with a sequential scan")
	}
	q := audit.Query{UserID: &uid, From: from, To: to, Limit: 50}
	b.ReportAllocs()
	for b.Loop() {
		p, err := a.Query(ctx, q)
		if err != nil {
			b.Fatal(err)
		}
		if len(p.Events) != 50 {
			b.Fatalf("%d events", len(p.Events))
		}
	}
}
