package postgres_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/cedrina/cedrina/internal/pgtest"
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
