package schema

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"path"
	"time"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// VersionTable is the table, created in the current schema, in which the
// migrator records applied versions. It has goose's layout, so the goose
// CLI can read and update it when given `-table cedrina_goose_db_version`.
// It is not goose's default name (goose_db_version) so that a host which
// versions its own tables with goose in the same schema keeps a separate
// history.
const VersionTable = "cedrina_goose_db_version"

// ErrNotAdopted is returned (wrapped) by [Migrate] and [MigrateTo] when
// the first migration fails on a schema that already holds its tables
// with no version recorded: the database of the original system, which
// [Adopt] takes over (`cedrina migrate adopt`).
var ErrNotAdopted = errors.New("schema: the tables exist, but no migration is recorded: " +
	"a database the original system wrote; adopt it first (schema.Adopt, `cedrina migrate adopt`)")

// notAdopted returns err, the failure of a migration run, joined with
// ErrNotAdopted when it failed at version 1 on a schema that holds a
// users table: the original system's database. Other failures, and a
// failure to tell, come back as they are.
func notAdopted(ctx context.Context, db *sql.DB, p *goose.Provider, err error) error {
	if v, verr := p.GetDBVersion(ctx); verr != nil || v != 0 {
		return err
	}
	var users sql.NullString
	if qerr := db.QueryRowContext(ctx, "SELECT to_regclass('users')::text").Scan(&users); qerr != nil || !users.Valid {
		return err
	}
	return fmt.Errorf("%w (%w)", ErrNotAdopted, err)
}

// ErrNothingApplied is returned (wrapped) by [Down] when no migration is
// applied, so there is nothing to roll back.
var ErrNothingApplied = errors.New("schema: no migration applied")

//go:embed migrations/*.sql
var embedded embed.FS

// Migrations returns the embedded migration files, named like
// 00001_initial.sql at the root of the returned file system. Operators can
// read or export them; [Migrate] applies exactly these files.
func Migrations() fs.FS {
	sub, err := fs.Sub(embedded, "migrations")
	if err != nil {
		// fs.Sub fails only on an invalid path; "migrations" is valid.
		panic("schema: " + err.Error())
	}
	return sub
}

// MigrationStatus describes one embedded migration as seen by a database.
type MigrationStatus struct {
	// Version is the numeric prefix of the file name (1 for 00001_initial.sql).
	Version int64
	// Source is the file name inside [Migrations], e.g. "00001_initial.sql".
	Source string
	// Applied reports whether the migration is recorded as applied.
	Applied bool
	// AppliedAt is when the migration was applied; zero when pending. The
	// version table stores a timestamp without time zone written by the
	// server's now(), so the value is the server's wall clock in its
	// TimeZone setting (UTC on a default installation); lib/pq returns it
	// with a zero UTC offset.
	AppliedAt time.Time
}

// advisoryLocker serialises migrations with a blocking PostgreSQL session
// advisory lock. goose's own session locker polls pg_try_advisory_lock at
// fixed intervals, so N processes starting together take about N polling
// intervals even when each migration takes milliseconds; pg_advisory_lock
// instead queues waiters in the server and wakes the next one the moment
// the lock is released. Waiting ends when ctx is done (lib/pq cancels the
// statement).
type advisoryLocker struct{ id int64 }

var _ lock.SessionLocker = advisoryLocker{}

func (l advisoryLocker) SessionLock(ctx context.Context, conn *sql.Conn) error {
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", l.id); err != nil {
		if ctx.Err() != nil {
			// lib/pq reports the cancelled statement; the cause is ctx.
			return fmt.Errorf("wait for advisory lock %d: %w", l.id, ctx.Err())
		}
		return fmt.Errorf("take advisory lock %d: %w", l.id, err)
	}
	return nil
}

func (l advisoryLocker) SessionUnlock(ctx context.Context, conn *sql.Conn) error {
	var released bool
	if err := conn.QueryRowContext(ctx, "SELECT pg_advisory_unlock($1)", l.id).Scan(&released); err != nil {
		return fmt.Errorf("release advisory lock %d: %w", l.id, err)
	}
	if !released {
		return fmt.Errorf("release advisory lock %d: not held", l.id)
	}
	return nil
}

// lockID returns the PostgreSQL advisory lock key that serialises
// migrations of the schema named current. Advisory locks are database-wide,
// while the migrated tables and the version table live in one schema, so
// the key is derived from the schema name: migrations of the same schema
// exclude each other, migrations of different schemas (tests, several
// tenants in one database) run in parallel.
func lockID(current string) int64 {
	h := fnv.New64a()
	h.Write([]byte("cedrina/schema:" + current))
	return int64(h.Sum64())
}

// newProvider builds a goose provider over the embedded migrations for the
// schema that db's connections resolve as current_schema().
func newProvider(ctx context.Context, db *sql.DB) (*goose.Provider, error) {
	if db == nil {
		return nil, errors.New("nil *sql.DB")
	}
	current, err := currentSchema(ctx, db)
	if err != nil {
		return nil, err
	}
	return migrator(db, goose.WithSessionLocker(advisoryLocker{id: lockID(current)}))
}

// queryRower is what currentSchema needs of a *sql.DB or a *sql.Conn.
type queryRower interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// currentSchema returns the name of the schema that db's unqualified
// names resolve to: the first existing schema of its search_path.
func currentSchema(ctx context.Context, db queryRower) (string, error) {
	var current sql.NullString
	if err := db.QueryRowContext(ctx, "SELECT current_schema()").Scan(&current); err != nil {
		return "", fmt.Errorf("read current schema: %w", err)
	}
	if !current.Valid {
		return "", errors.New("no current schema: search_path names no existing schema")
	}
	return current.String, nil
}

// migrator builds a goose provider over the embedded migrations and
// [VersionTable], with the options given (the advisory locker, unless the
// caller holds the lock itself).
func migrator(db *sql.DB, opts ...goose.ProviderOption) (*goose.Provider, error) {
	p, err := goose.NewProvider(goose.DialectPostgres, db, Migrations(), append([]goose.ProviderOption{
		goose.WithTableName(VersionTable),
		// Go migrations a host registers globally with goose belong to the
		// host, never to this schema.
		goose.WithDisableGlobalRegistry(true),
	}, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("create migrator: %w", err)
	}
	return p, nil
}

// Migrate applies every pending embedded migration to the current schema
// of db (the first schema of its search_path), up to the latest version.
// It is safe to call from many processes at once: a PostgreSQL advisory
// lock lets one of them migrate while the others wait (until ctx is done) and then find nothing left to do. Migrate on an
// up-to-date schema is a cheap no-op.
//
// Each migration runs in its own transaction; when one fails, the ones
// before it stay applied and the error, prefixed "schema: migrate:", names
// the failing version. Migrate also fails when the database has applied a
// version newer than a pending embedded one (an out-of-order history).
func Migrate(ctx context.Context, db *sql.DB) error {
	p, err := newProvider(ctx, db)
	if err != nil {
		return fmt.Errorf("schema: migrate: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("schema: migrate: %w", notAdopted(ctx, db, p, err))
	}
	return nil
}

// MigrateTo applies the pending embedded migrations up to and including
// version, under the same lock as [Migrate]; migrations already applied
// beyond it stay. Hosts pin a version with it while they roll out code that
// expects it; tests use it to check one version's schema.
func MigrateTo(ctx context.Context, db *sql.DB, version int64) error {
	p, err := newProvider(ctx, db)
	if err != nil {
		return fmt.Errorf("schema: migrate to %d: %w", version, err)
	}
	if _, err := p.UpTo(ctx, version); err != nil {
		return fmt.Errorf("schema: migrate to %d: %w", version, notAdopted(ctx, db, p, err))
	}
	return nil
}

// Down rolls back the most recently applied migration, holding the same
// advisory lock as [Migrate]. It returns an error wrapping
// [ErrNothingApplied] when no migration is applied. Rolling back the first
// migration drops every Cedrina table and its data.
func Down(ctx context.Context, db *sql.DB) error {
	p, err := newProvider(ctx, db)
	if err != nil {
		return fmt.Errorf("schema: down: %w", err)
	}
	if _, err := p.Down(ctx); err != nil {
		if errors.Is(err, goose.ErrNoNextVersion) {
			return fmt.Errorf("schema: down: %w", ErrNothingApplied)
		}
		return fmt.Errorf("schema: down: %w", err)
	}
	return nil
}

// Reset rolls back every applied migration, newest first, holding the same
// advisory lock as [Migrate]. It drops every Cedrina table and its data and
// leaves only [VersionTable]. Reset on a schema with nothing applied
// succeeds and does nothing. Errors are prefixed "schema: reset:".
func Reset(ctx context.Context, db *sql.DB) error {
	p, err := newProvider(ctx, db)
	if err != nil {
		return fmt.Errorf("schema: reset: %w", err)
	}
	if _, err := p.DownTo(ctx, 0); err != nil {
		return fmt.Errorf("schema: reset: %w", err)
	}
	return nil
}

// Status reports every embedded migration, in ascending version order, and
// whether the current schema of db has applied it. It waits for a running
// migration to finish, and creates [VersionTable] if it does not exist yet.
// Errors are prefixed "schema: status:".
func Status(ctx context.Context, db *sql.DB) ([]MigrationStatus, error) {
	p, err := newProvider(ctx, db)
	if err != nil {
		return nil, fmt.Errorf("schema: status: %w", err)
	}
	list, err := p.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("schema: status: %w", err)
	}
	out := make([]MigrationStatus, 0, len(list))
	for _, s := range list {
		out = append(out, MigrationStatus{
			Version:   s.Source.Version,
			Source:    path.Base(s.Source.Path),
			Applied:   s.State == goose.StateApplied,
			AppliedAt: s.AppliedAt,
		})
	}
	return out, nil
}

// Version returns the highest migration version applied to the current
// schema of db, or 0 when none is. Like [Status], it creates
// [VersionTable] if needed. Errors are prefixed "schema: version:".
func Version(ctx context.Context, db *sql.DB) (int64, error) {
	p, err := newProvider(ctx, db)
	if err != nil {
		return 0, fmt.Errorf("schema: version: %w", err)
	}
	v, err := p.GetDBVersion(ctx)
	if err != nil {
		return 0, fmt.Errorf("schema: version: %w", err)
	}
	return v, nil
}

// Latest returns the version of the newest embedded migration, the
// version [Migrate] brings a schema to.
func Latest() int64 {
	var latest int64
	entries, err := fs.ReadDir(Migrations(), ".")
	if err != nil {
		panic("schema: " + err.Error())
	}
	for _, e := range entries {
		v, err := goose.NumericComponent(e.Name())
		if err == nil && v > latest {
			latest = v
		}
	}
	return latest
}
