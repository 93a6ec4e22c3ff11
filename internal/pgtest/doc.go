// Package pgtest gives every test that needs PostgreSQL its own empty
// schema on the server named by CEDRINA_TEST_DATABASE_URL.
//
//	func TestStore(t *testing.T) {
//		t.Parallel()
//		db := pgtest.DB(t) // *sqlx.DB, migrated, private to this test
//		...
//	}
//
// [URL] creates a schema t_<16 random hex digits> through a small shared
// admin pool and returns the server URL with the lib/pq connection
// parameter search_path set to it; every connection opened with that URL
// creates and reads unqualified tables in the new schema. [DB] opens a pool
// on that URL and applies the embedded migrations with schema.Migrate;
// [PgxDB] does the same with pgx's database/sql driver (the "pgx" driver
// of github.com/jackc/pgx/v5/stdlib, which sends search_path to the server
// as a run-time parameter just as lib/pq does), for the tests that check
// the SDK on a host's pgx pool. t.Cleanup closes the pool and then drops
// the schema with CASCADE.
//
// The package imports pgx, and only tests import the package: pgx is a
// test-only dependency of the module.
//
// # Enabling the tests
//
// Without CEDRINA_TEST_DATABASE_URL the tests skip and say so:
//
//	CEDRINA_TEST_DATABASE_URL='postgres://root@127.0.0.1:5432/test?sslmode=disable' go test ./...
//
// When the CI environment variable is non-empty, a missing
// CEDRINA_TEST_DATABASE_URL fails the test instead: in CI the PostgreSQL
// tests must never be skipped silently. The variable must be a
// postgres:// or postgresql:// URL, with or without a query string; any
// search_path already in it is replaced.
//
// # Concurrency
//
// Tests, and test binaries of different packages, may call URL and DB in
// parallel: schema names are random, and schema.Migrate locks per schema,
// so migrations of different tests never wait for each other. Each pool
// from DB uses database/sql defaults; a server's max_connections (100 by
// default) is shared by all packages running at once, so tests that open
// many connections should cap their pool with SetMaxOpenConns.
package pgtest
