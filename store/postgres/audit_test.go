package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/jmoiron/sqlx"

	"github.com/cedrina/cedrina/audit"
	"github.com/cedrina/cedrina/internal/pgtest"
	"github.com/cedrina/cedrina/store/postgres"
	"github.com/cedrina/cedrina/store/storetest"
)

// auditDB returns a migrated schema, its store and an audit service.
func auditDB(t *testing.T) (*sqlx.DB, *postgres.DB, *audit.Service) {
	t.Helper()
	x := pgtest.DB(t)
	db, err := postgres.New(x, postgres.Config{})
	if err != nil {
		t.Fatal(err)
	}
	a, err := audit.NewService(db.Audit(), audit.Config{})
	if err != nil {
		t.Fatal(err)
	}
	return x, db, a
}

func recordN(t *testing.T, a *audit.Service, n int, uid *int64) {
	t.Helper()
	for i := range n {
		if err := a.Record(context.Background(), audit.Event{Type: audit.LoginSucceeded, UserID: uid, Data: map[string]any{"i": i}}); err != nil {
			t.Fatal(err)
		}
	}
}

// TestAuditTamperEvidence changes the table behind the service's back, as
// someone with write access to the database would, and checks that Verify
// names the first broken link.
func TestAuditTamperEvidence(t *testing.T) {
	cases := []struct {
		name   string
		sql    []string
		seq    int64
		reason audit.BreakReason
	}{
		{"changed data", []string{`UPDATE audit_logs SET event_data = '{"i": 99}' WHERE chain_seq = 4`}, 4, audit.Altered},
		{"changed type", []string{`UPDATE audit_logs SET event_type = 'login_failure' WHERE chain_seq = 2`}, 2, audit.Altered},
		{"changed time", []string{`UPDATE audit_logs SET created_at = created_at - interval '1 second' WHERE chain_seq = 7`}, 7, audit.Altered},
		{"changed actor", []string{`UPDATE audit_logs SET actor_id = NULL, user_id = NULL WHERE chain_seq = 5`}, 5, audit.Altered},
		{"user moved to another user", []string{`UPDATE audit_logs SET user_id = (SELECT max(id) FROM users) WHERE chain_seq = 3`}, 3, audit.Altered},
		{"deleted row", []string{`DELETE FROM audit_logs WHERE chain_seq = 6`}, 6, audit.Missing},
		{"swapped order", []string{
			`UPDATE audit_logs SET chain_seq = -1 WHERE chain_seq = 5`,
			`UPDATE audit_logs SET chain_seq = 5 WHERE chain_seq = 6`,
			`UPDATE audit_logs SET chain_seq = 6 WHERE chain_seq = -1`,
		}, 5, audit.Relinked},
		{"deleted newest", []string{`DELETE FROM audit_logs WHERE chain_seq = 10`}, 10, audit.Missing},
		{"deleted newest and end moved back", []string{
			`DELETE FROM audit_logs WHERE chain_seq = 10`,
			`UPDATE audit_chain SET end_seq = 9`,
		}, 9, audit.EndMismatch},
		{"deleted oldest", []string{`DELETE FROM audit_logs WHERE chain_seq = 1`}, 1, audit.Missing},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			x, db, a := auditDB(t)
			ctx := context.Background()
			u1, u2 := storetest.NewUser("u1"), storetest.NewUser("u2")
			if err := db.Users().Create(ctx, u1); err != nil {
				t.Fatal(err)
			}
			if err := db.Users().Create(ctx, u2); err != nil {
				t.Fatal(err)
			}
			recordN(t, a, 10, &u1.ID)
			if n, err := a.Verify(ctx, 0, 0); err != nil || n != 10 {
				t.Fatalf("before tampering: Verify = %d, %v", n, err)
			}
			for _, q := range tc.sql {
				if _, err := x.ExecContext(ctx, q); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
			_, err := a.Verify(ctx, 0, 0)
			var ce *audit.ChainError
			if !errors.Is(err, audit.ErrChainBroken) || !errors.As(err, &ce) {
				t.Fatalf("Verify after tampering = %v, want a *ChainError", err)
			}
			if ce.Seq != tc.seq || ce.Reason != tc.reason {
				t.Fatalf("Verify reports %v, want seq %d: %s", err, tc.seq, tc.reason)
			}
		})
	}
}

// TestAuditWriterNoLoss records 100,000 events from 16 goroutines through
// the batched writer, closes it, and counts them in PostgreSQL.
func TestAuditWriterNoLoss(t *testing.T) {
	x, _, a := auditDB(t)
	w, err := a.NewWriter(audit.WriterConfig{})
	if err != nil {
		t.Fatal(err)
	}
	const producers, each = 16, 100_000 / 16
	var wg sync.WaitGroup
	for p := range producers {
		wg.Go(func() {
			for i := range each {
				if err := w.Record(context.Background(), audit.Event{Type: audit.LoginSucceeded, Data: map[string]any{"p": p, "i": i}}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := w.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	const total = producers * each
	var n int
	if err := x.GetContext(context.Background(), &n, `SELECT count(*) FROM audit_logs`); err != nil || n != total {
		t.Fatalf("%d rows in audit_logs (%v), want %d", n, err, total)
	}
	if st := w.Stats(); st.Accepted != total || st.Written != total || st.Dropped != 0 {
		t.Fatalf("stats %+v", st)
	}
	if checked, err := a.Verify(context.Background(), 0, 0); err != nil || checked != total {
		t.Fatalf("Verify = %d, %v", checked, err)
	}
}

// TestAuditRedactedAtRest searches the stored rows themselves, as text,
// for the secrets recorded.
func TestAuditRedactedAtRest(t *testing.T) {
	x, _, a := auditDB(t)
	secrets := map[string]string{
		"password": "pw-Secret-1", "new_password": "pw-Secret-2", "access_token": "tok-Secret-3",
		"refreshToken": "tok-Secret-4", "Authorization": "Bearer auth-Secret-5", "api_key": "key-Secret-6",
		"client_secret": "cs-Secret-7", "code": "code-Secret-8", "code_verifier": "ver-Secret-9",
		"Cookie": "sid=cookie-Secret-10",
	}
	data := map[string]any{"nested": map[string]any{}, "list": []any{}}
	for k, v := range secrets {
		data[k] = v
		data["nested"].(map[string]any)[k] = v
		data["list"] = append(data["list"].([]any), map[string]any{k: v})
	}
	data["note"] = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.jwt-Secret-11"
	if err := a.Record(context.Background(), audit.Event{Type: audit.PasswordChanged, Data: data, Metadata: data}); err != nil {
		t.Fatal(err)
	}
	var row string
	if err := x.GetContext(context.Background(), &row, `SELECT event_data::text || metadata::text FROM audit_logs`); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(row, audit.Redacted) {
		t.Fatalf("nothing redacted: %s", row)
	}
	for _, v := range append(mapValues(secrets), "jwt-Secret-11") {
		if strings.Contains(row, strings.TrimPrefix(v, "Bearer ")) {
			t.Errorf("stored row contains %q", v)
		}
	}
}

func mapValues(m map[string]string) []string {
	var out []string
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// TestAuditLegacyRows: rows written by the original system (no chain
// columns) are queried and archived but not chained.
func TestAuditLegacyRows(t *testing.T) {
	x, _, a := auditDB(t)
	ctx := context.Background()
	if _, err := x.ExecContext(ctx, `INSERT INTO audit_logs (event_type, event_data, created_at) VALUES ('legacy_event', '{"a": 1}', '2020-01-01T00:00:00Z')`); err != nil {
		t.Fatal(err)
	}
	recordN(t, a, 3, nil)
	p, err := a.Query(ctx, audit.Query{Types: []audit.EventType{"legacy_event"}})
	if err != nil || len(p.Events) != 1 || p.Events[0].Seq != 0 || p.Events[0].Severity != audit.Info {
		t.Fatalf("legacy query = %+v, %v", p, err)
	}
	if n, err := a.Verify(ctx, 0, 0); err != nil || n != 3 {
		t.Fatalf("Verify = %d, %v", n, err)
	}
	var sb strings.Builder
	n, err := a.Archive(ctx, p.Events[0].Time.AddDate(1, 0, 0), &sb)
	if err != nil || n != 1 || strings.Count(sb.String(), "\n") != 1 || !strings.Contains(sb.String(), "legacy_event") {
		t.Fatalf("Archive = %d, %v: %s", n, err, sb.String())
	}
	if n, err := a.Verify(ctx, 0, 0); err != nil || n != 3 {
		t.Fatalf("Verify after archiving the legacy row = %d, %v", n, err)
	}
}

// TestAuditConcurrentProcesses: two services on separate pools (as two
// app instances) append at once; the chain stays one valid chain.
func TestAuditConcurrentProcesses(t *testing.T) {
	url := pgtest.URL(t)
	var svcs []*audit.Service
	for range 2 {
		db, err := postgres.Open(context.Background(), url, postgres.Config{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		if err := schemaMigrate(db); err != nil {
			t.Fatal(err)
		}
		a, err := audit.NewService(db.Audit(), audit.Config{})
		if err != nil {
			t.Fatal(err)
		}
		svcs = append(svcs, a)
	}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			a := svcs[i%2]
			for j := range 25 {
				if err := a.Record(context.Background(), audit.Event{Type: audit.LoginSucceeded, Source: fmt.Sprint(i, "/", j)}); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if n, err := svcs[0].Verify(context.Background(), 0, 0); err != nil || n != 200 {
		t.Fatalf("Verify = %d, %v; want 200, nil", n, err)
	}
}
