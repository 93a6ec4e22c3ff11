package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cedrina/cedrina/audit"
	"github.com/cedrina/cedrina/internal/pgtest"
	"github.com/cedrina/cedrina/schema"
	"github.com/cedrina/cedrina/store/postgres"
)

func TestAuditUsage(t *testing.T) {
	t.Parallel()
	cli(t, nil, "help", "audit").expect(t, exitOK, `cedrina audit verify`, "")
	cli(t, nil, "audit").expect(t, exitUsage, `^$`, `want one action`)
	cli(t, nil, "audit", "sideways").expect(t, exitUsage, `^$`, `want one action`)
	cli(t, nil, "audit", "archive", "--out", "x").expect(t, exitUsage, `^$`, `--before is required`)
	cli(t, nil, "audit", "archive", "--before", "yesterday", "--out", "x").expect(t, exitUsage, `^$`, `neither an RFC 3339 time`)
	cli(t, nil, "audit", "archive", "--before", "24h").expect(t, exitUsage, `^$`, `--out is required`)
	cli(t, nil, "audit", "verify").expect(t, exitUsage, `^$`, `no database URL`)
	short := filepath.Join(t.TempDir(), "key")
	os.WriteFile(short, []byte("abcd\n"), 0o600)
	cli(t, nil, "audit", "verify", "--key-file", short).expect(t, exitUsage, `^$`, `at least 64 hex digits`)
}

// migratedDB returns the URL of a fresh, migrated schema and the stores
// on a pool of it, closed when the test ends.
func migratedDB(t *testing.T) (string, *postgres.DB, *sql.DB) {
	t.Helper()
	url := pgtest.URL(t)
	sqlDB, err := sql.Open("postgres", url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sqlDB.Close() })
	if err := schema.Migrate(context.Background(), sqlDB); err != nil {
		t.Fatal(err)
	}
	db, err := postgres.NewFromSQL(sqlDB, postgres.Config{})
	if err != nil {
		t.Fatal(err)
	}
	return url, db, sqlDB
}

// TestAuditVerifyAndArchive records events with a keyed service, verifies
// them with the CLI (the key read from a file), tampers with a row, and
// archives.
func TestAuditVerifyAndArchive(t *testing.T) {
	t.Parallel()
	url, db, sqlDB := migratedDB(t)
	ctx := context.Background()
	key := []byte(strings.Repeat("k", 32))
	svc, err := audit.NewService(db.Audit(), audit.Config{Key: key})
	if err != nil {
		t.Fatal(err)
	}
	old := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 5 {
		if err := svc.Record(ctx, audit.Event{Type: audit.LoginSucceeded, Time: old.Add(time.Duration(i) * time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := svc.Record(ctx, audit.Event{Type: audit.LoginSucceeded}); err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "audit.key")
	if err := os.WriteFile(keyFile, []byte(strings.Repeat("6b", 32)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"DATABASE_URL": url, "CEDRINA_AUDIT_KEY_FILE": keyFile}

	cli(t, env, "audit", "verify").expect(t, exitOK, `^chain intact: 6 events verified; chain holds seq 1 to 6, end hash [0-9a-f]{64}\n$`, "")
	cli(t, env, "audit", "verify", "--from", "2", "--to", "4").expect(t, exitOK, `^chain intact: 3 events verified`, "")
	// Without the key, the hashes do not match.
	cli(t, map[string]string{"DATABASE_URL": url}, "audit", "verify").
		expect(t, exitBroken, `^$`, `chain broken at seq 1 \(event \d+\): content altered \(after 0 intact events\)`)

	out := filepath.Join(t.TempDir(), "archive.jsonl")
	cli(t, env, "audit", "archive", "--before", "2025-06-01T00:00:00Z", "--out", out).
		expect(t, exitOK, `^archived 5 events older than 2025-06-01T00:00:00Z to `, "")
	b, err := os.ReadFile(out)
	if err != nil || strings.Count(string(b), "\n") != 5 || !strings.Contains(string(b), `"hash":`) {
		t.Fatalf("archive file (%v):\n%s", err, b)
	}
	cli(t, env, "audit", "archive", "--before", "2025-06-01T00:00:00Z", "--out", out).
		expect(t, exitFailure, `^$`, `file exists`)
	cli(t, env, "audit", "verify").expect(t, exitOK, `^chain intact: 1 events verified; chain holds seq 6 to 6`, "")

	if _, err := sqlDB.ExecContext(ctx, `UPDATE audit_logs SET source = 'forged' WHERE chain_seq = 6`); err != nil {
		t.Fatal(err)
	}
	cli(t, env, "audit", "verify").expect(t, exitBroken, `^$`, `chain broken at seq 6 \(event \d+\): content altered`)
}

// refusingStore is an audit store that refuses every event, so that a
// writer hands them all to its fallback.
type refusingStore struct{ audit.Store }

func (refusingStore) Append(context.Context, []audit.Event, audit.Sealer) error {
	return errors.New("refused for the test")
}

// TestAuditReplay: events a writer could not store are logged by its
// fallback; `cedrina audit replay` records them from the log file, which
// also holds other lines, and the chain verifies.
func TestAuditReplay(t *testing.T) {
	t.Parallel()
	cli(t, nil, "audit", "replay").expect(t, exitUsage, `^$`, `--in is required`)
	url, db, _ := migratedDB(t)
	ctx := context.Background()
	logFile := filepath.Join(t.TempDir(), "app.log")
	f, err := os.Create(logFile)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewJSONHandler(f, nil))
	log.Info("an unrelated line")
	svc, err := audit.NewService(refusingStore{db.Audit()}, audit.Config{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	w, err := svc.NewWriter(audit.WriterConfig{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := w.Record(ctx, audit.Event{Type: audit.LoginFailed, CorrelationID: fmt.Sprintf("replay-%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := w.Close(cctx); !errors.Is(err, audit.ErrNotStored) {
		t.Fatalf("Close with a refusing store: %v, want ErrNotStored", err)
	}
	f.Close()
	if st := w.Stats(); st.Fallback != 3 {
		t.Fatalf("%d events in the fallback, want 3", st.Fallback)
	}

	cli(t, map[string]string{"DATABASE_URL": url}, "audit", "replay", "--in", logFile).expect(t, exitOK, `replayed 3 events`, "")
	stored, err := audit.NewService(db.Audit(), audit.Config{})
	if err != nil {
		t.Fatal(err)
	}
	page, err := stored.Query(ctx, audit.Query{Types: []audit.EventType{audit.LoginFailed}})
	if err != nil || len(page.Events) != 3 {
		t.Fatalf("%d events stored after the replay, %v; want 3", len(page.Events), err)
	}
	cli(t, map[string]string{"DATABASE_URL": url}, "audit", "verify").expect(t, exitOK, `chain intact: 3 events`, "")
}
