package gormadapter_test

import (
	"context"
	"database/sql"
	"log"

	"github.com/casbin/casbin/v2"

	"github.com/cedrina/cedrina/audit"
	"github.com/cedrina/cedrina/rbac/gormadapter"
	"github.com/cedrina/cedrina/schema"
)

// A host with a lib/pq pool keeps Casbin's policy in casbin_rules. (The
// example is compiled, not run: it needs a PostgreSQL server.)
func Example() {
	ctx := context.Background()
	db, err := sql.Open("postgres", "postgres://app@db.internal/app?sslmode=verify-full")
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close() // the host's pool: the adapter never closes it
	if err := schema.Migrate(ctx, db); err != nil {
		log.Fatal(err)
	}
	a, err := gormadapter.New(db, gormadapter.Config{})
	if err != nil {
		log.Fatal(err) // for one, casbin_rules missing a column
	}
	e, err := casbin.NewContextEnforcer(rbacModelPath, a) // loads the active rules
	if err != nil {
		log.Fatal(err)
	}
	// Recorded as created_by "ops", in one transaction under the rules'
	// lock, announced to every instance on the "cedrina_rbac" channel.
	ctx = audit.ContextWithActor(ctx, audit.Actor{Name: "ops"})
	if _, err := e.AddPolicyCtx(ctx, "editor", "/docs", "PUT"); err != nil {
		log.Fatal(err)
	}
}

const rbacModelPath = "rbac_model.conf"
