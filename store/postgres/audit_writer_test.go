package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cedrina/cedrina/audit"
	"github.com/cedrina/cedrina/store/postgres"
)

// fallbackSink is a Writer fallback that keeps what it is given.
type fallbackSink struct {
	mu     sync.Mutex
	events []audit.Event
	errs   []error
}

func (s *fallbackSink) add(e audit.Event, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events = append(s.events, e)
	s.errs = append(s.errs, err)
}

// refusing is an audit store that appends a batch in a transaction and
// rolls it back when the batch holds an event with Data["poison"]: a
// refusal by the database, as far as the writer can tell.
type refusing struct {
	*postgres.AuditStore
	db *postgres.DB
}

var errPoison = errors.New("poison refused")

func (r refusing) Append(ctx context.Context, events []audit.Event, seal audit.Sealer) error {
	return r.db.InTx(ctx, func(ctx context.Context) error {
		if err := r.AuditStore.Append(ctx, events, seal); err != nil {
			return err
		}
		for _, e := range events {
			if e.Data["poison"] == true {
				return errPoison
			}
		}
		return nil
	})
}

// storedCorrelations returns the correlation ids of the stored events in
// chain order.
func storedCorrelations(t *testing.T, db *postgres.DB) []string {
	t.Helper()
	var ids []string
	if err := db.SQLX().SelectContext(context.Background(), &ids,
		`SELECT coalesce(correlation_id, '') FROM audit_logs ORDER BY chain_seq`); err != nil {
		t.Fatal(err)
	}
	return ids
}

// TestAuditWriterPoison: one event refused among 1,000 good ones, by a
// wrapper that rolls its transaction back and by PostgreSQL itself, is
// alone in the fallback; the 1,000 are stored in order, the chain
// verifies.
//
// Redaction replaces NUL and every other control character in keys and
// values before an event is queued, so no event_data is refused as
// jsonb; a time outside PostgreSQL's timestamptz range (year 300000) is
// refused (SQLSTATE 22008), while the memory store takes it.
func TestAuditWriterPoison(t *testing.T) {
	for _, tc := range []struct {
		name   string
		poison audit.Event
		check  func(error) bool
	}{
		{"refused by a wrapper", audit.Event{Type: audit.SessionCreated, Data: map[string]any{"poison": true}},
			func(err error) bool { return errors.Is(err, errPoison) }},
		{"refused by PostgreSQL", audit.Event{Type: audit.SessionCreated, Time: time.Date(300000, 1, 1, 0, 0, 0, 0, time.UTC)},
			func(err error) bool { return err != nil && strings.Contains(err.Error(), "SQLSTATE 22008") }},
		{"NUL in data is redacted, not refused", audit.Event{Type: audit.SessionCreated, Data: map[string]any{"a\x00b": "c\x00d"}},
			nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			_, db, _ := auditDB(t)
			a, err := audit.NewService(refusing{AuditStore: db.Audit(), db: db}, audit.Config{})
			if err != nil {
				t.Fatal(err)
			}
			fb := &fallbackSink{}
			w, err := a.NewWriter(audit.WriterConfig{QueueSize: 2000, BatchSize: 300, Fallback: fb.add})
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for i := range 1001 {
				e := audit.Event{Type: audit.SessionCreated, Data: map[string]any{"i": i}}
				if i == 437 {
					e = tc.poison
				}
				e.CorrelationID = fmt.Sprintf("%04d", i)
				if i != 437 || tc.check == nil {
					want = append(want, e.CorrelationID)
				}
				if err := w.Record(ctx, e); err != nil {
					t.Fatal(err)
				}
			}
			cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			err = w.Close(cctx)
			if got := storedCorrelations(t, db); !slices.Equal(got, want) {
				t.Errorf("stored %d events, want %d in order", len(got), len(want))
			}
			if n, err := a.Verify(ctx, 0, 0); err != nil || n != int64(len(want)) {
				t.Errorf("Verify = %d, %v; want %d", n, err, len(want))
			}
			s := w.Stats()
			if tc.check == nil {
				if err != nil || len(fb.events) != 0 || s.Written != 1001 {
					t.Errorf("Close = %v, %d in the fallback, Stats %+v", err, len(fb.events), s)
				}
				return
			}
			if !errors.Is(err, audit.ErrNotStored) {
				t.Errorf("Close = %v, want ErrNotStored", err)
			}
			if len(fb.events) != 1 || fb.events[0].CorrelationID != "0437" || !tc.check(fb.errs[0]) {
				t.Fatalf("fallback got %d events, errors %v; want the poison with the store's error", len(fb.events), fb.errs)
			}
			t.Logf("refused: %v", fb.errs[0])
			if s.Accepted != 1001 || s.Written != 1000 || s.Fallback != 1 || s.Retries != 0 {
				t.Errorf("Stats = %+v", s)
			}
		})
	}
}

// TestAuditWriterCloseLockedChain: another transaction holds the
// audit_chain row, so the writer's INSERT waits in PostgreSQL; Close with
// a 100 ms deadline cancels it, returns, and hands every event to the
// fallback; none is stored once the lock is gone.
func TestAuditWriterCloseLockedChain(t *testing.T) {
	ctx := context.Background()
	x, db, _ := auditDB(t)
	st := &counting{AuditStore: db.Audit(), returned: make(chan struct{}, 100)}
	a, err := audit.NewService(st, audit.Config{})
	if err != nil {
		t.Fatal(err)
	}
	tx, err := x.BeginTxx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `SELECT 1 FROM audit_chain WHERE id = 1 FOR UPDATE`); err != nil {
		t.Fatal(err)
	}
	fb := &fallbackSink{}
	w, err := a.NewWriter(audit.WriterConfig{QueueSize: 20, BatchSize: 5, Fallback: fb.add})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 25 {
		if err := w.Record(ctx, audit.Event{Type: audit.SessionCreated, CorrelationID: fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
	}
	cctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = w.Close(cctx)
	if d := time.Since(start); d > time.Second {
		t.Errorf("Close took %v", d)
	}
	if !errors.Is(err, audit.ErrNotStored) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Close = %v", err)
	}
	tx.Rollback()
	for range st.begun.Load() { // the cancelled INSERT has returned
		<-st.returned
	}
	s := w.Stats()
	stored := storedCorrelations(t, db)
	if s.Accepted != 25 || int(s.Written) != len(stored) || s.Written+s.Fallback != 25 || len(fb.events) != int(s.Fallback) {
		t.Errorf("Stats = %+v, %d stored, %d in the fallback", s, len(stored), len(fb.events))
	}
	if _, err := a.Verify(ctx, 0, 0); err != nil {
		t.Error(err)
	}
}

// counting is an audit store that counts the Appends begun and signals
// each one's end.
type counting struct {
	*postgres.AuditStore
	begun    atomic.Int64
	returned chan struct{}
}

func (c *counting) Append(ctx context.Context, events []audit.Event, seal audit.Sealer) error {
	c.begun.Add(1)
	defer func() { c.returned <- struct{}{} }()
	return c.AuditStore.Append(ctx, events, seal)
}

// TestAuditKeyFingerprintColumn: audit_chain.key_fingerprint holds the
// key's fingerprint; set to NULL, as 00005 leaves a chain sealed before
// it, Verify under a wrong key hedges and the next append under the right
// key records it again; a writer under another key then hands its events
// to the fallback without retries, and nothing changes.
func TestAuditKeyFingerprintColumn(t *testing.T) {
	t.Parallel()
	x, db, _ := auditDB(t)
	ctx := context.Background()
	key, other := []byte(strings.Repeat("k", 32)), []byte(strings.Repeat("o", 32))
	svc, err := audit.NewService(db.Audit(), audit.Config{Key: key})
	if err != nil {
		t.Fatal(err)
	}
	wrong, err := audit.NewService(db.Audit(), audit.Config{Key: other})
	if err != nil {
		t.Fatal(err)
	}
	recordN(t, svc, 3, nil)
	column := func() string {
		t.Helper()
		var fp *string
		if err := x.GetContext(ctx, &fp, `SELECT key_fingerprint FROM audit_chain WHERE id = 1`); err != nil {
			t.Fatal(err)
		}
		if fp == nil {
			return "NULL"
		}
		return *fp
	}
	if got := column(); got != audit.KeyFingerprint(key) {
		t.Fatalf("key_fingerprint = %s, want %s", got, audit.KeyFingerprint(key))
	}

	if _, err := x.ExecContext(ctx, `UPDATE audit_chain SET key_fingerprint = NULL`); err != nil {
		t.Fatal(err)
	}
	_, err = wrong.Verify(ctx, 0, 0)
	var ce *audit.ChainError
	if !errors.As(err, &ce) || ce.Seq != 1 || !ce.KeyUnknown {
		t.Fatalf("Verify under a wrong key of a chain without fingerprint = %v, want a break at seq 1 that may be the key", err)
	}
	if n, err := svc.Verify(ctx, 0, 0); err != nil || n != 3 {
		t.Fatalf("Verify = %d, %v; want 3", n, err)
	}
	recordN(t, svc, 1, nil)
	if got := column(); got != audit.KeyFingerprint(key) {
		t.Fatalf("after an append key_fingerprint = %s, want %s", got, audit.KeyFingerprint(key))
	}

	sink := &fallbackSink{}
	w, err := wrong.NewWriter(audit.WriterConfig{Fallback: sink.add})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if err := w.Record(ctx, audit.Event{Type: audit.LoginFailed, Data: map[string]any{"i": i}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(ctx); !errors.Is(err, audit.ErrNotStored) {
		t.Fatalf("Close = %v, want ErrNotStored", err)
	}
	if st := w.Stats(); st.Fallback != 5 || st.Written != 0 || st.Retries != 0 {
		t.Fatalf("Stats = %+v, want 5 in the fallback, no retries", st)
	}
	for _, err := range sink.errs {
		if !errors.Is(err, audit.ErrKeyMismatch) {
			t.Fatalf("fallback reason %v, want ErrKeyMismatch", err)
		}
	}
	if got := column(); got != audit.KeyFingerprint(key) {
		t.Fatalf("after the refused writes key_fingerprint = %s", got)
	}
	if n, err := svc.Verify(ctx, 0, 0); err != nil || n != 4 {
		t.Fatalf("Verify = %d, %v; want 4", n, err)
	}
}
