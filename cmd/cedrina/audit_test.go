package main

import (
	"context"
	"database/sql"
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

// TestAuditVerifyAndArchive records events with a keyed service, verifies
// them with the CLI (the key read from a file), tampers with a row, and
// archives.
func TestAuditVerifyAndArchive(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	sqlDB, err := sql.Open("postgres", url)
	if err != nil {
		t.Fatal(err)
	}
	defer sqlDB.Close()
	ctx := context.Background()
	if err := schema.Migrate(ctx, sqlDB); err != nil {
		t.Fatal(err)
	}
	db, err := postgres.NewFromSQL(sqlDB, postgres.Config{})
	if err != nil {
		t.Fatal(err)
	}
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
