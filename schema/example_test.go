package schema_test

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"log"

	"github.com/cedrina/cedrina/schema"
)

// The embedded files can be listed and read like any fs.FS.
func ExampleMigrations() {
	entries, err := fs.ReadDir(schema.Migrations(), ".")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(entries[0].Name())
	fmt.Println(schema.Latest() >= 1)
	// Output:
	// 00001_initial.sql
	// true
}

// A host migrates explicitly at start-up, before building its stores.
func ExampleMigrate() {
	ctx := context.Background()
	db, err := sql.Open("postgres", "postgres://app@db:5432/app?sslmode=require")
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	if err := schema.Migrate(ctx, db); err != nil {
		log.Fatal(err) // e.g. "schema: migrate: ..."
	}
	v, err := schema.Version(ctx, db)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("schema version", v)
}
