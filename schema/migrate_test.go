package schema_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/lib/pq"

	"github.com/cedrina/cedrina/internal/pgtest"
	"github.com/cedrina/cedrina/schema"
)

// openEmpty returns a pool on a fresh, empty schema (nothing migrated).
func openEmpty(t *testing.T) *sql.DB {
	t.Helper()
	db, err := sql.Open("postgres", pgtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func mustVersion(t *testing.T, db *sql.DB, want int64) {
	t.Helper()
	got, err := schema.Version(t.Context(), db)
	if err != nil {
		t.Fatalf("Version: %v", err)
	}
	if got != want {
		t.Fatalf("Version = %d, want %d", got, want)
	}
}

// tables lists the base tables of the current schema.
func tables(t *testing.T, db *sql.DB) []string {
	t.Helper()
	rows, err := db.QueryContext(t.Context(), `
		SELECT table_name FROM information_schema.tables
		WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'
		ORDER BY table_name`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		out = append(out, name)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

var migrationName = regexp.MustCompile(`^[0-9]{5}_[a-z0-9_]+\.sql$`)

// TestMigrationFiles needs no database: every embedded file is a goose SQL
// migration with an up and a down part, and Latest is the newest version.
func TestMigrationFiles(t *testing.T) {
	entries, err := fs.ReadDir(schema.Migrations(), ".")
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) == 0 {
		t.Fatal("no embedded migrations")
	}
	if entries[0].Name() != "00001_initial.sql" {
		t.Errorf("first migration = %q, want 00001_initial.sql", entries[0].Name())
	}
	for i, e := range entries {
		if !migrationName.MatchString(e.Name()) {
			t.Errorf("%s: name does not match %s", e.Name(), migrationName)
		}
		if want := fmt.Sprintf("%05d_", i+1); !strings.HasPrefix(e.Name(), want) {
			t.Errorf("%s: want prefix %s (versions are consecutive)", e.Name(), want)
		}
		b, err := fs.ReadFile(schema.Migrations(), e.Name())
		if err != nil {
			t.Fatal(err)
		}
		text := string(b)
		up := strings.Index(text, "\n-- +goose Up\n")
		down := strings.Index(text, "\n-- +goose Down\n")
		if up < 0 || down < 0 || down < up {
			t.Errorf("%s: want a '-- +goose Up' part followed by a '-- +goose Down' part", e.Name())
		}
	}
	if got, want := schema.Latest(), int64(len(entries)); got != want {
		t.Errorf("Latest() = %d, want %d", got, want)
	}
}

// TestMigrationAnnotations needs no database: Adopt applies the Up part
// of every migration, as one statement string, inside a transaction of
// its own (a probe it rolls back), so every file must have exactly one Up
// and one Down part and no other goose annotation (no StatementBegin, no
// NO TRANSACTION).
func TestMigrationAnnotations(t *testing.T) {
	entries, err := fs.ReadDir(schema.Migrations(), ".")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := fs.ReadFile(schema.Migrations(), e.Name())
		if err != nil {
			t.Fatal(err)
		}
		var up, down int
		for _, line := range strings.Split(string(b), "\n") {
			rest, ok := strings.CutPrefix(strings.TrimSpace(line), "-- +goose")
			if !ok {
				continue
			}
			switch strings.TrimSpace(rest) {
			case "Up":
				up++
			case "Down":
				down++
			default:
				t.Errorf("%s: annotation %q; Adopt's probe handles only Up and Down", e.Name(), strings.TrimSpace(line))
			}
		}
		if up != 1 || down != 1 {
			t.Errorf("%s: %d Up and %d Down annotations, want one of each", e.Name(), up, down)
		}
	}
}

func TestNilDB(t *testing.T) {
	ctx := context.Background()
	checks := map[string]error{
		"migrate": schema.Migrate(ctx, nil),
		"down":    schema.Down(ctx, nil),
		"reset":   schema.Reset(ctx, nil),
	}
	_, checks["status"] = schema.Status(ctx, nil)
	_, checks["version"] = schema.Version(ctx, nil)
	for op, err := range checks {
		if err == nil || !strings.HasPrefix(err.Error(), "schema: "+op+": ") {
			t.Errorf("%s(nil db) error = %v, want a %q error", op, err, "schema: "+op+": ")
		}
	}
}

func TestLockIDPerSchema(t *testing.T) {
	if first, again := schema.LockID("a"), schema.LockID("a"); first != again {
		t.Error("LockID is not deterministic")
	}
	if schema.LockID("t_1") == schema.LockID("t_2") {
		t.Error("LockID gives two schemas the same key")
	}
}

func TestUpResetUp(t *testing.T) {
	t.Parallel()
	db := openEmpty(t)
	ctx := t.Context()

	mustVersion(t, db, 0)
	if err := schema.Migrate(ctx, db); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	mustVersion(t, db, schema.Latest())
	checkDesign(t, db)

	// A second Migrate on an up-to-date schema is a no-op.
	if err := schema.Migrate(ctx, db); err != nil {
		t.Fatalf("second Migrate: %v", err)
	}
	mustVersion(t, db, schema.Latest())

	if err := schema.Reset(ctx, db); err != nil {
		t.Fatalf("Reset: %v", err)
	}
	mustVersion(t, db, 0)
	if got := tables(t, db); len(got) != 1 || got[0] != schema.VersionTable {
		t.Fatalf("tables after Reset = %v, want only %s", got, schema.VersionTable)
	}
	// Reset with nothing applied succeeds.
	if err := schema.Reset(ctx, db); err != nil {
		t.Fatalf("Reset on empty schema: %v", err)
	}

	if err := schema.Migrate(ctx, db); err != nil {
		t.Fatalf("Migrate after Reset: %v", err)
	}
	mustVersion(t, db, schema.Latest())
	checkDesign(t, db)
}

func TestDownOneStep(t *testing.T) {
	t.Parallel()
	db := openEmpty(t)
	ctx := t.Context()

	if err := schema.Down(ctx, db); !errors.Is(err, schema.ErrNothingApplied) {
		t.Fatalf("Down on empty schema = %v, want ErrNothingApplied", err)
	}
	if err := schema.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	latest := schema.Latest()
	if err := schema.Down(ctx, db); err != nil {
		t.Fatalf("Down: %v", err)
	}
	mustVersion(t, db, latest-1)
	st, err := schema.Status(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range st {
		if want := s.Version < latest; s.Applied != want {
			t.Errorf("after Down, %s applied = %v, want %v", s.Source, s.Applied, want)
		}
	}
	if latest == 1 {
		if got := tables(t, db); len(got) != 1 || got[0] != schema.VersionTable {
			t.Errorf("tables after rolling back 00001 = %v, want only %s", got, schema.VersionTable)
		}
	}
	if err := schema.Migrate(ctx, db); err != nil {
		t.Fatalf("Migrate after Down: %v", err)
	}
	mustVersion(t, db, latest)
}

func TestStatus(t *testing.T) {
	t.Parallel()
	db := openEmpty(t)
	ctx := t.Context()

	st, err := schema.Status(ctx, db)
	if err != nil {
		t.Fatalf("Status: %v", err)
	}
	if int64(len(st)) != schema.Latest() {
		t.Fatalf("Status has %d entries, want %d", len(st), schema.Latest())
	}
	for i, s := range st {
		if s.Version != int64(i+1) {
			t.Errorf("entry %d: Version = %d, want %d", i, s.Version, i+1)
		}
		if s.Applied || !s.AppliedAt.IsZero() {
			t.Errorf("%s: fresh schema reports applied=%v at %v", s.Source, s.Applied, s.AppliedAt)
		}
	}
	if st[0].Source != "00001_initial.sql" {
		t.Errorf("first Source = %q, want 00001_initial.sql", st[0].Source)
	}

	if err := schema.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	// The version table stores the server's wall clock without a zone;
	// compare with the server's clock read the same way.
	var serverNow time.Time
	if err := db.QueryRowContext(ctx, "SELECT localtimestamp").Scan(&serverNow); err != nil {
		t.Fatal(err)
	}
	st, err = schema.Status(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range st {
		if !s.Applied {
			t.Errorf("%s: not applied after Migrate", s.Source)
		}
		if d := serverNow.Sub(s.AppliedAt); d < 0 || d > time.Minute {
			t.Errorf("%s: AppliedAt = %v, server clock %v", s.Source, s.AppliedAt, serverNow)
		}
	}
}

// TestConcurrentMigrate starts several migrators, each with its own pool
// as separate processes would have, on one schema: eight on a brand-new
// schema, and eight on a schema whose version table already exists (as
// after Reset). In the second case nothing but the advisory lock keeps the
// migrators from running 00001 at the same time (goose serialises the
// first case incidentally, while it retries creating its version table).
func TestConcurrentMigrate(t *testing.T) {
	t.Parallel()
	t.Run("empty schema", func(t *testing.T) {
		t.Parallel()
		concurrentMigrate(t, 8, false)
	})
	t.Run("version table exists", func(t *testing.T) {
		t.Parallel()
		concurrentMigrate(t, 8, true)
	})
}

func concurrentMigrate(t *testing.T, n int, withVersionTable bool) {
	url := pgtest.URL(t)
	var wg sync.WaitGroup
	errs := make([]error, n)
	start := make(chan struct{})
	for i := range n {
		db, err := sql.Open("postgres", url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		if err := db.PingContext(t.Context()); err != nil {
			t.Fatal(err)
		}
		if i == 0 && withVersionTable {
			mustVersion(t, db, 0) // creates the version table
		}
		wg.Go(func() {
			<-start
			errs[i] = schema.Migrate(t.Context(), db)
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("migrator %d: %v", i, err)
		}
	}

	db, err := sql.Open("postgres", url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	mustVersion(t, db, schema.Latest())
	checkDesign(t, db)
	// Each version was applied exactly once.
	rows, err := db.QueryContext(t.Context(),
		"SELECT version_id, count(*) FROM "+schema.VersionTable+" GROUP BY version_id ORDER BY version_id")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var seen int64
	for rows.Next() {
		var v, c int64
		if err := rows.Scan(&v, &c); err != nil {
			t.Fatal(err)
		}
		if c != 1 {
			t.Errorf("version %d recorded %d times, want once", v, c)
		}
		seen++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if want := schema.Latest() + 1; seen != want { // versions 0..latest
		t.Errorf("version table has %d versions, want %d", seen, want)
	}
}

// TestAdvisoryLock holds the migration lock of one schema: Migrate on that
// schema waits for it, Migrate on another schema does not.
func TestAdvisoryLock(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	locked := openEmpty(t)
	other := openEmpty(t)

	var name string
	if err := locked.QueryRowContext(ctx, "SELECT current_schema()").Scan(&name); err != nil {
		t.Fatal(err)
	}
	holder, err := locked.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	if _, err := holder.ExecContext(ctx, "SELECT pg_advisory_lock($1)", schema.LockID(name)); err != nil {
		t.Fatal(err)
	}
	released := false
	unlock := func() {
		if released {
			return
		}
		released = true
		if _, err := holder.ExecContext(context.Background(), "SELECT pg_advisory_unlock($1)", schema.LockID(name)); err != nil {
			t.Error(err)
		}
	}
	defer unlock()

	// Migrate on the locked schema must wait for the lock until its
	// context ends, and create nothing meanwhile. The deadline is the only
	// wait in this test; if the lock were ignored, Migrate would finish
	// long before it and the test would fail.
	waitCtx, cancel := context.WithTimeout(ctx, 1500*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- schema.Migrate(waitCtx, locked) }()

	// Meanwhile another schema migrates: its lock key is different.
	if err := schema.Migrate(ctx, other); err != nil {
		t.Fatalf("Migrate on another schema: %v", err)
	}
	mustVersion(t, other, schema.Latest())

	if err := <-done; !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Migrate while its lock was held = %v, want it to wait until the deadline", err)
	}
	var exists bool
	if err := holder.QueryRowContext(ctx, "SELECT to_regclass('users') IS NOT NULL").Scan(&exists); err != nil {
		t.Fatal(err)
	}
	if exists {
		t.Fatal("users was created while the migration lock was held")
	}

	unlock()
	if err := schema.Migrate(ctx, locked); err != nil {
		t.Fatalf("Migrate after the lock was released: %v", err)
	}
	mustVersion(t, locked, schema.Latest())
}

// TestEveryVersionUpDown applies the migrations one at a time, checking
// the schema after each, then rolls them back one at a time down to the
// design's version, checking the schema each migration's Down leaves, and
// migrates up again.
func TestEveryVersionUpDown(t *testing.T) {
	t.Parallel()
	db := openEmpty(t)
	ctx := t.Context()
	latest := schema.Latest()
	for v := int64(1); v <= latest; v++ {
		if err := schema.MigrateTo(ctx, db, v); err != nil {
			t.Fatalf("MigrateTo(%d): %v", v, err)
		}
		mustVersion(t, db, v)
		t.Run(fmt.Sprintf("up to %d", v), func(t *testing.T) { checkSchema(t, db, schemaAt(v)) })
	}
	for v := latest; v > 1; v-- {
		if err := schema.Down(ctx, db); err != nil {
			t.Fatalf("Down from %d: %v", v, err)
		}
		mustVersion(t, db, v-1)
		t.Run(fmt.Sprintf("down to %d", v-1), func(t *testing.T) { checkSchema(t, db, schemaAt(v-1)) })
	}
	if err := schema.Migrate(ctx, db); err != nil {
		t.Fatalf("Migrate after rolling back: %v", err)
	}
	mustVersion(t, db, latest)
	checkDesign(t, db)
}

// TestAuditKeyFingerprintMigration: a chain sealed before version 5 keeps
// its start and end, and its key fingerprint is NULL (unknown); Down drops
// the column and keeps the row; up again gives NULL again.
func TestAuditKeyFingerprintMigration(t *testing.T) {
	t.Parallel()
	db := openEmpty(t)
	ctx := t.Context()
	if err := schema.MigrateTo(ctx, db, 4); err != nil {
		t.Fatal(err)
	}
	// A chain of three events, as version 4 stored its head.
	const end = "e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3"
	if _, err := db.ExecContext(ctx, `UPDATE audit_chain SET end_seq = 3, end_hash = $1 WHERE id = 1`, end); err != nil {
		t.Fatal(err)
	}
	check := func(when string, wantColumn bool) {
		t.Helper()
		var seq int64
		var hash string
		if err := db.QueryRowContext(ctx, `SELECT end_seq, end_hash FROM audit_chain WHERE id = 1`).Scan(&seq, &hash); err != nil {
			t.Fatalf("%s: %v", when, err)
		}
		if seq != 3 || hash != end {
			t.Errorf("%s: chain end = %d %.8s…, want 3 %.8s…", when, seq, hash, end)
		}
		var fp sql.NullString
		err := db.QueryRowContext(ctx, `SELECT key_fingerprint FROM audit_chain WHERE id = 1`).Scan(&fp)
		switch {
		case !wantColumn && err == nil:
			t.Errorf("%s: audit_chain.key_fingerprint still exists", when)
		case wantColumn && err != nil:
			t.Errorf("%s: %v", when, err)
		case wantColumn && fp.Valid:
			t.Errorf("%s: key_fingerprint = %q, want NULL (unknown)", when, fp.String)
		}
	}
	if err := schema.MigrateTo(ctx, db, 5); err != nil {
		t.Fatal(err)
	}
	check("after up", true)
	if _, err := db.ExecContext(ctx, `UPDATE audit_chain SET key_fingerprint = 'none' WHERE id = 1`); err != nil {
		t.Fatal(err)
	}
	if err := schema.Down(ctx, db); err != nil {
		t.Fatal(err)
	}
	mustVersion(t, db, 4)
	check("after down", false)
	if err := schema.MigrateTo(ctx, db, 5); err != nil {
		t.Fatal(err)
	}
	check("after up again", true)
}
