package postgres_test

import (
	"testing"

	"github.com/cedrina/cedrina/internal/pgtest"
	"github.com/cedrina/cedrina/store/postgres"
	"github.com/cedrina/cedrina/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Stores {
		db, err := postgres.New(pgtest.DB(t), postgres.Config{})
		if err != nil {
			t.Fatal(err)
		}
		return storetest.Stores{Tx: db, Users: db.Users(), Audit: db.Audit(), Sessions: db.Sessions(), Resets: db.Resets(),
			RateLimits: db.RateLimits(postgres.RateLimitConfig{}), Rules: rulesOn(t, db), OAuth: db.OAuth()}
	})
}

// TestConformancePgx runs the same suite on a pool of pgx's database/sql
// driver, as a host that uses pgx passes it to NewFromSQL.
func TestConformancePgx(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Stores {
		db, err := postgres.NewFromSQL(pgtest.PgxDB(t), postgres.Config{})
		if err != nil {
			t.Fatal(err)
		}
		return storetest.Stores{Tx: db, Users: db.Users(), Audit: db.Audit(), Sessions: db.Sessions(), Resets: db.Resets(),
			RateLimits: db.RateLimits(postgres.RateLimitConfig{}), Rules: rulesOn(t, db), OAuth: db.OAuth()}
	})
}
