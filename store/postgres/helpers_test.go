package postgres_test

import (
	"context"

	"github.com/cedrina/cedrina/schema"
	"github.com/cedrina/cedrina/store/postgres"
)

func schemaMigrate(db *postgres.DB) error { return schema.Migrate(context.Background(), db.SQLX().DB) }
