package gormadapter_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	_ "github.com/lib/pq"              // registers the "postgres" driver

	"github.com/cedrina/cedrina/rbac/gormadapter"
	"github.com/cedrina/cedrina/schema"
)

// envURL names the environment variable with the URL of the PostgreSQL
// server the tests use (the main module's tests use the same one).
const envURL = "CEDRINA_TEST_DATABASE_URL"

// drivers are the database/sql drivers a host may hand the adapter.
var drivers = []string{"postgres", "pgx"}

// admin is one small pool per test binary that creates and drops the
// test schemas.
var admin struct {
	once sync.Once
	db   *sql.DB
	err  error
}

// schemaURL returns the URL of a fresh, empty schema t_<16 hex digits>
// (the name CI's cleanup of interrupted runs looks for) on the server of
// CEDRINA_TEST_DATABASE_URL: its search_path parameter names the schema,
// which lib/pq and pgx both send to the server. The schema is dropped in
// t.Cleanup. Without the variable the test skips, or fails when CI is set.
func schemaURL(t testing.TB) string {
	t.Helper()
	base := os.Getenv(envURL)
	if base == "" {
		msg := "PostgreSQL tests need " + envURL + ", e.g. " + envURL +
			"='postgres://root@127.0.0.1:5432/test?sslmode=disable' go test ./..."
		if os.Getenv("CI") != "" {
			t.Fatal(msg + " (CI is set, so PostgreSQL tests must not skip)")
		}
		t.Skip(msg)
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		t.Fatalf("%s: want a postgres:// URL", envURL)
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	name := "t_" + hex.EncodeToString(b[:]) // needs no quoting
	q := u.Query()
	q.Set("search_path", name)
	u.RawQuery = q.Encode()

	admin.once.Do(func() {
		admin.db, admin.err = sql.Open("postgres", base)
		if admin.err == nil {
			admin.db.SetMaxOpenConns(4)
		}
	})
	if admin.err != nil {
		t.Fatalf("open %s: %v", envURL, admin.err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := admin.db.ExecContext(ctx, "CREATE SCHEMA "+name); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := admin.db.ExecContext(ctx, "DROP SCHEMA "+name+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", name, err)
		}
	})
	return u.String()
}

// open opens a pool of driver ("postgres" or "pgx") on url, closed in
// t.Cleanup (before the schema is dropped).
func open(t testing.TB, driver, url string) *sql.DB {
	t.Helper()
	db, err := sql.Open(driver, url)
	if err != nil {
		t.Fatalf("open %s: %T", driver, err) // the error may quote the URL
	}
	db.SetMaxOpenConns(10)
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// migrated returns a pool of driver on a fresh schema migrated with
// schema.Migrate.
func migrated(t testing.TB, driver string) *sql.DB {
	t.Helper()
	db, _ := migratedURL(t, driver)
	return db
}

// migratedURL is migrated that also returns the schema's URL.
func migratedURL(t testing.TB, driver string) (*sql.DB, string) {
	t.Helper()
	url := schemaURL(t)
	db := open(t, driver, url)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := schema.Migrate(ctx, db); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return db, url
}

// channel returns a NOTIFY channel of the test's own.
func channel(t testing.TB) string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "cedrina_rbac_test_" + hex.EncodeToString(b[:])
}

// newAdapter returns an adapter on a fresh migrated schema with its own
// channel, and its pool.
func newAdapter(t testing.TB, driver string) (*gormadapter.Adapter, *sql.DB) {
	t.Helper()
	db := migrated(t, driver)
	a, err := gormadapter.New(db, gormadapter.Config{Channel: channel(t)})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return a, db
}
