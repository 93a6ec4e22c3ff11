package postgres_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/lib/pq"

	"github.com/cedrina/cedrina/internal/pgtest"
	"github.com/cedrina/cedrina/reset"
	"github.com/cedrina/cedrina/schema"
	"github.com/cedrina/cedrina/store/postgres"
	"github.com/cedrina/cedrina/user"
)

// BenchmarkByEmail looks users up by email in tables of 1,000 and
// 1,000,000 rows. The unique index on users.email serves the lookup, so
// the time per lookup should not grow with the table.
func BenchmarkByEmail(b *testing.B) {
	for _, n := range []int{1_000, 1_000_000} {
		b.Run(fmt.Sprintf("users=%d", n), func(b *testing.B) {
			ctx := context.Background()
			db, err := postgres.Open(ctx, pgtest.URL(b), postgres.Config{})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { db.Close() })
			if err := schema.Migrate(ctx, db.SQLX().DB); err != nil {
				b.Fatal(err)
			}
			x := db.SQLX()
			if _, err := x.ExecContext(ctx, `
INSERT INTO users (username, email, hashed_password)
SELECT 'user' || g, 'user' || g || '@example.com', 'x' FROM generate_series(1, $1) AS g`, n); err != nil {
				b.Fatal(err)
			}
			if _, err := x.ExecContext(ctx, `ANALYZE users`); err != nil {
				b.Fatal(err)
			}
			var plan string
			if err := x.GetContext(ctx, &plan, `EXPLAIN (COSTS OFF) SELECT id FROM users WHERE email = 'user1@example.com'`); err != nil {
				b.Fatal(err)
			}
			b.Logf("plan at %d users: %s", n, plan)
			users := db.Users()
			b.ReportAllocs()
			for b.Loop() {
				email := user.Email(fmt.Sprintf("user%d@example.com", rand.IntN(n)+1))
				if _, err := users.ByEmail(ctx, email); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// benchResets returns a reset store on a fresh, migrated schema, opened
// as hosts open it, and the ids of n users to own tokens.
func benchResets(b *testing.B, n int) (*postgres.ResetStore, *postgres.DB, []int64) {
	b.Helper()
	ctx := context.Background()
	db, err := postgres.Open(ctx, pgtest.URL(b), postgres.Config{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	if err := schemaMigrate(db); err != nil {
		b.Fatal(err)
	}
	var ids []int64
	if err := db.SQLX().SelectContext(ctx, &ids, `
INSERT INTO users (username, email, hashed_password)
SELECT 'user' || g, 'user' || g || '@example.com', 'x' FROM generate_series(1, $1) AS g
RETURNING id`, n); err != nil {
		b.Fatal(err)
	}
	return db.Resets(), db, ids
}

// BenchmarkResetIssue issues tokens for 1,000 users in turn: each Issue
// is a transaction that takes the user's advisory lock, spends the
// user's previous token and inserts the new one.
func BenchmarkResetIssue(b *testing.B) {
	resets, _, users := benchResets(b, 1_000)
	ctx := context.Background()
	now := time.Now()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		t := &reset.Token{
			UserID: users[i%len(users)], TokenHash: fmt.Sprintf("%064x", i), CreatedAt: now, ExpiresAt: now.Add(time.Hour),
			ClientIP: netip.MustParseAddr("192.0.2.1"), UserAgent: "Mozilla/5.0 (X11; Linux x86_64)", SecurityStamp: new(int64),
		}
		if err := resets.Issue(ctx, t); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkResetConsume consumes tokens that a prepared batch inserted
// before the timer started, each once: one conditional UPDATE through the
// unique index on token_hash.
func BenchmarkResetConsume(b *testing.B) {
	resets, db, users := benchResets(b, 1_000)
	ctx := context.Background()
	now := time.Now()
	if _, err := db.SQLX().ExecContext(ctx, `
INSERT INTO password_reset_tokens (user_id, token_hash, is_used, created_at, expires_at, security_context)
SELECT ($1::int[])[1 + g % cardinality($1::int[])], lpad(to_hex(g), 64, '0'), false, $2, $3, '{"security_stamp": 0}'
FROM generate_series(0, $4 - 1) AS g`, pq.Array(users), now, now.Add(time.Hour), b.N); err != nil {
		b.Fatal(err)
	}
	if _, err := db.SQLX().ExecContext(ctx, `ANALYZE password_reset_tokens`); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if _, err := resets.Consume(ctx, fmt.Sprintf("%064x", i), now); err != nil {
			b.Fatal(err)
		}
	}
}
