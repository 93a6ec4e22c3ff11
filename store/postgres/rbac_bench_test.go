package postgres_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/cedrina/cedrina/internal/pgtest"
	"github.com/cedrina/cedrina/rbac"
	"github.com/cedrina/cedrina/store/postgres"
)

// BenchmarkPolicyChange is the cost of a policy change on PostgreSQL with
// 10,000 rules (100 roles of 88 rules, 1,100 role links for 1,000 users,
// as rbac's decision benchmark): reload is the active rules' read and
// the index's rebuild; change is a grant as a host makes it (the write
// with its notification, the reload, the rebuild), before it returns.
func BenchmarkPolicyChange(b *testing.B) {
	ctx := context.Background()
	db, err := postgres.New(pgtest.DB(b), postgres.Config{})
	if err != nil {
		b.Fatal(err)
	}
	st := rulesOn(b, db)
	acts := []string{"GET", "POST", "PUT", "DELETE"}
	var rules []rbac.Rule
	add := func(typ string, v ...string) { rules = append(rules, rbac.Rule{Type: typ, Values: v}) }
	for i := 1; i < 100; i++ {
		add("g", fmt.Sprintf("r%d", i), fmt.Sprintf("r%d", i/10))
	}
	for i := range 100 {
		role := fmt.Sprintf("r%d", i)
		for k := range 70 {
			add("p", role, fmt.Sprintf("/res/%s/%d", role, k), acts[k%4])
		}
		for k := range 9 {
			add("p", role, fmt.Sprintf("/res/%s/p%d/:id", role, k), acts[k%4])
			add("p", role, fmt.Sprintf("/api/%s/%d/*", role, k), "*")
		}
	}
	for u := range 1000 {
		add("g", rbac.UserSubject(int64(u)), fmt.Sprintf("r%d", u%100))
		if u%10 == 0 {
			add("g", rbac.UserSubject(int64(u)), fmt.Sprintf("r%d", (u/10)%100))
		}
	}
	for len(rules) < 10000 {
		add("p", "r99", fmt.Sprintf("/extra/%d", len(rules)), "GET")
	}
	if _, err := st.Add(ctx, rules, "bench", time.Now()); err != nil {
		b.Fatal(err)
	}
	if _, err := db.SQLX().ExecContext(ctx, "ANALYZE casbin_rules"); err != nil {
		b.Fatal(err)
	}
	az, err := rbac.New(ctx, rbac.Config{Store: st})
	if err != nil {
		b.Fatal(err)
	}
	defer az.Close(ctx)
	b.Run("reload", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := az.Reload(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("change", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			i++
			if _, err := az.Grant(ctx, "r1", fmt.Sprintf("/bench/%d", i), "GET"); err != nil {
				b.Fatal(err)
			}
		}
	})
}
