package pgtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	"github.com/jmoiron/sqlx"
	_ "github.com/lib/pq" // registers the "postgres" driver

	"github.com/cedrina/cedrina/schema"
)

// EnvURL names the environment variable that holds the URL of the
// PostgreSQL server the tests use, e.g.
// postgres://root@127.0.0.1:5432/test?sslmode=disable.
const EnvURL = "CEDRINA_TEST_DATABASE_URL"

// Time limits for the helper's own statements. A test that leaks an open
// transaction makes DROP SCHEMA wait for its locks; the limit turns that
// hang into a test error.
const (
	ddlTimeout     = 30 * time.Second
	migrateTimeout = 2 * time.Minute
)

// admin is one small pool per test binary, used only to create and drop
// schemas. It is opened on first use and lives until the process exits.
var admin = struct {
	once sync.Once
	db   *sql.DB
	url  string
}{}

func adminDB(t testing.TB, base string) *sql.DB {
	t.Helper()
	admin.once.Do(func() {
		db, err := sql.Open("postgres", base)
		if err != nil {
			// Open only validates the driver name; keep db nil.
			return
		}
		db.SetMaxOpenConns(4)
		db.SetMaxIdleConns(2)
		admin.db, admin.url = db, base
	})
	if admin.db == nil {
		t.Fatalf("pgtest: cannot open %s", EnvURL)
	}
	if admin.url != base {
		t.Fatalf("pgtest: %s changed while the tests ran", EnvURL)
	}
	return admin.db
}

// URL returns the URL of a fresh, empty PostgreSQL schema for this test:
// the server of CEDRINA_TEST_DATABASE_URL with the lib/pq connection
// parameter search_path set to a new schema named t_<random hex>. Every
// connection opened with the URL creates and finds its tables there. The
// schema is dropped with everything in it (DROP SCHEMA ... CASCADE) in
// t.Cleanup.
//
// When CEDRINA_TEST_DATABASE_URL is unset, URL skips the test with a
// message saying how to enable it, except when the CI environment variable
// is non-empty: in CI PostgreSQL tests must run, so URL fails the test.
//
// URL is safe to call from parallel tests and packages.
func URL(t testing.TB) string {
	t.Helper()
	base := os.Getenv(EnvURL)
	if base == "" {
		msg := "pgtest: PostgreSQL tests need " + EnvURL +
			", e.g. " + EnvURL + "='postgres://root@127.0.0.1:5432/test?sslmode=disable' go test ./..."
		if os.Getenv("CI") != "" {
			t.Fatal(msg + " (CI is set, so PostgreSQL tests must not skip)")
		}
		t.Skip(msg)
	}
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatalf("pgtest: random schema name: %v", err)
	}
	// Lower-case letters, digits and "_" only: a valid identifier that
	// needs no quoting and cannot inject SQL.
	name := "t_" + hex.EncodeToString(b[:])
	u, err := withSearchPath(base, name)
	if err != nil {
		t.Fatalf("pgtest: %s: %v", EnvURL, err)
	}

	db := adminDB(t, base)
	ctx, cancel := context.WithTimeout(context.Background(), ddlTimeout)
	defer cancel()
	if _, err := db.ExecContext(ctx, "CREATE SCHEMA "+name); err != nil {
		t.Fatalf("pgtest: create schema: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), ddlTimeout)
		defer cancel()
		if _, err := db.ExecContext(ctx, "DROP SCHEMA "+name+" CASCADE"); err != nil {
			t.Errorf("pgtest: drop schema %s: %v", name, err)
		}
	})
	return u
}

// withSearchPath returns base with its search_path query parameter set to
// schema, keeping every other parameter. base must be a postgres:// or
// postgresql:// URL, with or without a query string. The error never
// contains base, which may hold a password.
func withSearchPath(base, schema string) (string, error) {
	u, err := url.Parse(base)
	if err != nil {
		return "", errors.New("not a valid URL")
	}
	if u.Scheme != "postgres" && u.Scheme != "postgresql" {
		return "", errors.New("want a postgres:// or postgresql:// URL")
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// MaxOpenConns bounds each pool DB opens. Test packages run in parallel,
// each with parallel tests of up to a hundred goroutines; unbounded pools
// would together exceed the server's max_connections (100 by default),
// and tests would fail with "too many clients". Goroutines beyond the
// bound queue for a connection, so concurrency tests still run 20
// statements at once on the server.
const MaxOpenConns = 20

// DB opens a *sqlx.DB (driver "postgres", lib/pq) on [URL] with at most
// [MaxOpenConns] connections, applies every migration with
// [schema.Migrate], closes the pool in t.Cleanup (before the schema is
// dropped) and returns it. Like URL, it skips the test when
// CEDRINA_TEST_DATABASE_URL is unset outside CI.
func DB(t testing.TB) *sqlx.DB {
	t.Helper()
	db, err := sqlx.Open("postgres", URL(t))
	if err != nil {
		t.Fatalf("pgtest: open: %v", err)
	}
	db.SetMaxOpenConns(MaxOpenConns)
	t.Cleanup(func() { _ = db.Close() })
	migrate(t, db.DB)
	return db
}

// PgxDB is [DB] with pgx's database/sql driver ("pgx", from
// github.com/jackc/pgx/v5/stdlib) instead of lib/pq: a *sql.DB on a fresh,
// migrated schema, with at most [MaxOpenConns] connections, closed in
// t.Cleanup. It is what a host that uses pgx passes to
// postgres.NewFromSQL.
func PgxDB(t testing.TB) *sql.DB {
	t.Helper()
	db := OpenPgx(t, URL(t))
	migrate(t, db)
	return db
}

// OpenPgx opens a *sql.DB with pgx's database/sql driver on url (a URL
// from [URL]: pgx sends its search_path query parameter to the server as
// a run-time parameter, as lib/pq does), with at most [MaxOpenConns]
// connections, and closes it in t.Cleanup. It does not migrate.
func OpenPgx(t testing.TB, url string) *sql.DB {
	t.Helper()
	db, err := sql.Open("pgx", url)
	if err != nil {
		// The error can quote the URL; the URL can hold a password.
		t.Fatalf("pgtest: open with pgx: %T", err)
	}
	db.SetMaxOpenConns(MaxOpenConns)
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// migrate applies every migration to db or fails the test.
func migrate(t testing.TB, db *sql.DB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), migrateTimeout)
	defer cancel()
	if err := schema.Migrate(ctx, db); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
}
