package main

import (
	"context"
	"database/sql"
	"encoding/hex"
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

	cli(t, env, "audit", "verify").expect(t, exitOK,
		`^chain intact: 6 events verified; chain holds seq 1 to 6, end hash [0-9a-f]{64}, key fingerprint `+audit.KeyFingerprint(key)+`\n$`, "")
	cli(t, env, "audit", "verify", "--from", "2", "--to", "4").expect(t, exitOK, `^chain intact: 3 events verified`, "")
	// Without the key: a key mismatch, not a broken chain.
	cli(t, map[string]string{"DATABASE_URL": url}, "audit", "verify").
		expect(t, exitKeyMismatch, `^$`, `wrong key: the chain is sealed with a key \(fingerprint `+audit.KeyFingerprint(key)+`\), and no key was given: `+
			`pass the key the application uses \(audit.Config.Key\), as hex in a file, with --key-file or \$CEDRINA_AUDIT_KEY_FILE`)

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

// writeKey writes key, in hex, to a new file and returns its path.
func writeKey(t *testing.T, key []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "audit.key")
	if err := os.WriteFile(path, []byte(hex.EncodeToString(key)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestAuditVerifyKeys: verify tells a wrong or missing key (exit 4, both
// fingerprints named) from a broken chain (exit 3), and prints the chain's
// key fingerprint when it is intact (exit 0).
func TestAuditVerifyKeys(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	key, other := []byte(strings.Repeat("k", 32)), []byte(strings.Repeat("o", 32))
	keyFP, otherFP := audit.KeyFingerprint(key), audit.KeyFingerprint(other)
	keyFile, otherFile := writeKey(t, key), writeKey(t, other)
	recordWith := func(db *postgres.DB, key []byte, n int) {
		t.Helper()
		svc, err := audit.NewService(db.Audit(), audit.Config{Key: key})
		if err != nil {
			t.Fatal(err)
		}
		for range n {
			if err := svc.Record(ctx, audit.Event{Type: audit.LoginSucceeded}); err != nil {
				t.Fatal(err)
			}
		}
	}

	t.Run("keyed chain", func(t *testing.T) {
		t.Parallel()
		url, db, sqlDB := migratedDB(t)
		recordWith(db, key, 3)
		env := map[string]string{"DATABASE_URL": url}
		cli(t, env, "audit", "verify", "--key-file", keyFile).
			expect(t, exitOK, `^chain intact: 3 events verified; chain holds seq 1 to 3, end hash [0-9a-f]{64}, key fingerprint `+keyFP+`\n$`, "")
		cli(t, env, "audit", "verify", "--key-file", otherFile).
			expect(t, exitKeyMismatch, `^$`, `^cedrina: audit verify: wrong key: the chain is sealed with a key of fingerprint `+keyFP+
				`, the key given has fingerprint `+otherFP+`: pass the key the application uses .* --key-file or \$CEDRINA_AUDIT_KEY_FILE\n$`)
		cli(t, map[string]string{"DATABASE_URL": url, "CEDRINA_AUDIT_KEY_FILE": otherFile}, "audit", "verify").
			expect(t, exitKeyMismatch, `^$`, `fingerprint `+keyFP+`, the key given has fingerprint `+otherFP)
		cli(t, env, "audit", "verify").
			expect(t, exitKeyMismatch, `^$`, `sealed with a key \(fingerprint `+keyFP+`\), and no key was given`)
		// Tampering under the right key is exit 3.
		if _, err := sqlDB.ExecContext(ctx, `UPDATE audit_logs SET source = 'forged' WHERE chain_seq = 2`); err != nil {
			t.Fatal(err)
		}
		cli(t, env, "audit", "verify", "--key-file", keyFile).
			expect(t, exitBroken, `^$`, `^cedrina: audit verify: audit: chain broken at seq 2 \(event \d+\): content altered \(after 1 intact events\)\n$`)
		// The wrong key is still a key mismatch, checked first.
		cli(t, env, "audit", "verify", "--key-file", otherFile).expect(t, exitKeyMismatch, `^$`, `wrong key`)
	})

	t.Run("unkeyed chain", func(t *testing.T) {
		t.Parallel()
		url, db, _ := migratedDB(t)
		env := map[string]string{"DATABASE_URL": url}
		// A fresh chain has recorded no fingerprint yet.
		cli(t, env, "audit", "verify").
			expect(t, exitOK, `^chain intact: 0 events verified; chain holds seq 1 to 0, end hash 0{64}, key fingerprint not recorded yet\n$`, "")
		recordWith(db, nil, 2)
		cli(t, env, "audit", "verify").expect(t, exitOK, `^chain intact: 2 events verified; .*, no key\n$`, "")
		cli(t, env, "audit", "verify", "--key-file", keyFile).
			expect(t, exitKeyMismatch, `^$`, `wrong key: the chain is sealed without a key, but a key was given \(fingerprint `+keyFP+`\): give no key`)
	})

	t.Run("chain from before fingerprints", func(t *testing.T) {
		t.Parallel()
		url, db, sqlDB := migratedDB(t)
		recordWith(db, key, 2)
		// What migration 00005 leaves for a chain sealed before it.
		if _, err := sqlDB.ExecContext(ctx, `UPDATE audit_chain SET key_fingerprint = NULL`); err != nil {
			t.Fatal(err)
		}
		env := map[string]string{"DATABASE_URL": url}
		cli(t, env, "audit", "verify").expect(t, exitBroken, `^$`,
			`chain broken at seq 1 \(event \d+\): content altered, or the key is wrong: this chain predates key fingerprints \(after 0 intact events\); `+
				`if the application sets audit.Config.Key, pass that key with --key-file or \$CEDRINA_AUDIT_KEY_FILE`)
		cli(t, env, "audit", "verify", "--key-file", keyFile).
			expect(t, exitOK, `^chain intact: 2 events verified; .*, key fingerprint not recorded yet\n$`, "")
		// The next append records the key's fingerprint.
		recordWith(db, key, 1)
		cli(t, env, "audit", "verify", "--key-file", keyFile).expect(t, exitOK, `^chain intact: 3 events verified; .*, key fingerprint `+keyFP+`\n$`, "")
	})
}

// TestAuditReplayWrongKey: replay under another key than the chain's
// records nothing and exits 4; under the right key it records the events.
func TestAuditReplayWrongKey(t *testing.T) {
	t.Parallel()
	url, db, _ := migratedDB(t)
	ctx := context.Background()
	key, other := []byte(strings.Repeat("k", 32)), []byte(strings.Repeat("o", 32))
	svc, err := audit.NewService(db.Audit(), audit.Config{Key: key})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Record(ctx, audit.Event{Type: audit.LoginSucceeded}); err != nil {
		t.Fatal(err)
	}
	// A writer under the other key: its events go to its fallback log.
	logFile := filepath.Join(t.TempDir(), "app.log")
	f, err := os.Create(logFile)
	if err != nil {
		t.Fatal(err)
	}
	wrong, err := audit.NewService(db.Audit(), audit.Config{Key: other, Logger: slog.New(slog.NewJSONHandler(f, nil))})
	if err != nil {
		t.Fatal(err)
	}
	w, err := wrong.NewWriter(audit.WriterConfig{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if err := w.Record(ctx, audit.Event{Type: audit.LoginFailed, CorrelationID: fmt.Sprintf("wrong-key-%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := w.Close(cctx); !errors.Is(err, audit.ErrNotStored) {
		t.Fatalf("Close under the wrong key: %v, want ErrNotStored", err)
	}
	f.Close()

	env := map[string]string{"DATABASE_URL": url}
	cli(t, env, "audit", "replay", "--in", logFile, "--key-file", writeKey(t, other)).
		expect(t, exitKeyMismatch, `^$`, `^cedrina: audit replay: wrong key: .*fingerprint `+audit.KeyFingerprint(key)+`.* \(0 events recorded before\)\n$`)
	keyFile := writeKey(t, key)
	cli(t, env, "audit", "replay", "--in", logFile, "--key-file", keyFile).expect(t, exitOK, `replayed 2 events`, "")
	cli(t, env, "audit", "verify", "--key-file", keyFile).expect(t, exitOK, `^chain intact: 3 events verified`, "")
}

// TestAuditVerifyUnchained: rows stored outside the chain (as an adopted
// database holds the original system's) are reported as unchained, and
// the chain still verifies.
func TestAuditVerifyUnchained(t *testing.T) {
	t.Parallel()
	url, db, sqlDB := migratedDB(t)
	ctx := context.Background()
	for range 3 {
		if _, err := sqlDB.ExecContext(ctx, `INSERT INTO audit_logs (event_type, event_data) VALUES ('UserLoggedInEvent', '{}')`); err != nil {
			t.Fatal(err)
		}
	}
	svc, err := audit.NewService(db.Audit(), audit.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Record(ctx, audit.Event{Type: audit.LoginSucceeded}); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"DATABASE_URL": url}
	cli(t, env, "audit", "verify").expect(t, exitOK,
		`^chain intact: 1 events verified; chain holds seq 1 to 1, end hash [0-9a-f]{64}, no key\n`+
			`3 earlier events are unchained: stored before the chain began; kept, not verified\n$`, "")
	if n, err := svc.Unchained(ctx); err != nil || n != 3 {
		t.Errorf("Unchained = %d, %v; want 3", n, err)
	}
}
