package postgres

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/lib/pq"

	"github.com/cedrina/cedrina/audit"
	"github.com/cedrina/cedrina/store"
)

// AuditStore implements [audit.Store] on audit_logs and audit_chain.
type AuditStore struct{ db *DB }

var _ audit.Store = (*AuditStore)(nil)

// Audit returns the audit store.
func (db *DB) Audit() *AuditStore { return &AuditStore{db: db} }

const auditColumns = `id, user_id, actor_id, event_type, event_data, host(client_ip) AS client_ip, user_agent,
	correlation_id, created_at, severity, source, metadata, chain_seq, prev_hash, hash`

// auditRow is an audit_logs row as scanned; nullable where the schema is.
type auditRow struct {
	ID            int64          `db:"id"`
	UserID        sql.NullInt64  `db:"user_id"`
	ActorID       sql.NullInt64  `db:"actor_id"`
	Type          string         `db:"event_type"`
	Data          []byte         `db:"event_data"`
	ClientIP      sql.NullString `db:"client_ip"`
	UserAgent     sql.NullString `db:"user_agent"`
	CorrelationID sql.NullString `db:"correlation_id"`
	Time          sql.NullTime   `db:"created_at"`
	Severity      sql.NullString `db:"severity"`
	Source        sql.NullString `db:"source"`
	Metadata      []byte         `db:"metadata"`
	Seq           sql.NullInt64  `db:"chain_seq"`
	PrevHash      sql.NullString `db:"prev_hash"`
	Hash          sql.NullString `db:"hash"`
}

func (r *auditRow) toEvent() (audit.Event, error) {
	e := audit.Event{
		ID: r.ID, UserID: int64Ptr(r.UserID), ActorID: int64Ptr(r.ActorID), Type: audit.EventType(r.Type),
		UserAgent: r.UserAgent.String, CorrelationID: r.CorrelationID.String, Time: utc(r.Time),
		Severity: audit.Severity(r.Severity.String), Source: r.Source.String,
		Seq: r.Seq.Int64, PrevHash: r.PrevHash.String, Hash: r.Hash.String,
	}
	if r.ClientIP.Valid {
		ip, err := netip.ParseAddr(r.ClientIP.String)
		if err != nil {
			return audit.Event{}, fmt.Errorf("postgres: audit event %d: client_ip %q: %w", r.ID, r.ClientIP.String, err)
		}
		e.ClientIP = ip
	}
	var err error
	if e.Data, err = decodeDoc(r.Data); err != nil {
		return audit.Event{}, err
	}
	if e.Metadata, err = decodeDoc(r.Metadata); err != nil {
		return audit.Event{}, err
	}
	return e, nil
}

func copyInt64(p *int64) *int64 {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

func int64Ptr(n sql.NullInt64) *int64 {
	if !n.Valid {
		return nil
	}
	v := n.Int64
	return &v
}

// Append implements [audit.Store]: in one transaction (the caller's, or
// its own) it locks the audit_chain row, which serialises appends across
// every process, seals the events, and inserts them all with one
// multi-row INSERT (parameters as arrays, so the statement is the same
// for any batch size) that also records the chain's new end and key
// fingerprint (key_fingerprint; "" is stored as NULL, unknown). When seal
// fails (a key mismatch), nothing is written and its error is returned.
// A user id that names no user is stored as NULL.
func (s *AuditStore) Append(ctx context.Context, events []audit.Event, seal audit.Sealer) error {
	if len(events) == 0 {
		return nil
	}
	return s.db.InTx(ctx, func(ctx context.Context) error {
		return s.db.run(ctx, func(q querier) error {
			var end audit.Head
			var fp sql.NullString
			if err := q.QueryRowxContext(ctx, `SELECT end_seq, end_hash, key_fingerprint FROM audit_chain WHERE id = 1 FOR UPDATE`).
				Scan(&end.Seq, &end.Hash, &fp); err != nil {
				if errors.Is(err, sql.ErrNoRows) {
					return errNoChainRow
				}
				return fmt.Errorf("locking the audit chain: %w", err)
			}
			end.KeyFingerprint = fp.String
			for i := range events {
				events[i].ActorID = copyInt64(events[i].UserID)
			}
			end, err := seal(end, events)
			if err != nil {
				return err
			}
			cols, err := auditArrays(events)
			if err != nil {
				return err
			}
			rows, err := q.QueryxContext(ctx, `
WITH ins AS (
	INSERT INTO audit_logs (user_id, actor_id, event_type, event_data, client_ip, user_agent, correlation_id,
		created_at, severity, source, metadata, chain_seq, prev_hash, hash)
	SELECT u.id, v.actor_id, v.event_type, v.event_data::jsonb, NULLIF(v.client_ip, '')::inet,
		NULLIF(v.user_agent, ''), NULLIF(v.correlation_id, ''), v.created_at::timestamptz, v.severity,
		NULLIF(v.source, ''), v.metadata::jsonb, v.chain_seq, v.prev_hash, v.hash
	FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
		$9::text[], $10::text[], $11::bigint[], $12::text[], $13::text[])
		WITH ORDINALITY AS v(actor_id, event_type, event_data, client_ip, user_agent, correlation_id, created_at,
			severity, source, metadata, chain_seq, prev_hash, hash, ord)
	LEFT JOIN users u ON u.id = v.actor_id
	ORDER BY v.ord -- ids follow the events' order
	RETURNING id, chain_seq, user_id
), moved AS (
	UPDATE audit_chain SET end_seq = $14, end_hash = $15, key_fingerprint = NULLIF($16::text, '') WHERE id = 1
)
SELECT id, chain_seq, user_id FROM ins`, append(cols, end.Seq, end.Hash, end.KeyFingerprint)...)
			if err != nil {
				return err
			}
			defer rows.Close()
			bySeq := make(map[int64]int, len(events))
			for i := range events {
				bySeq[events[i].Seq] = i
			}
			for rows.Next() {
				var id, seq int64
				var uid sql.NullInt64
				if err := rows.Scan(&id, &seq, &uid); err != nil {
					return err
				}
				e := &events[bySeq[seq]]
				e.ID, e.UserID = id, int64Ptr(uid)
			}
			return rows.Err()
		})
	})
}

// auditArrays returns the events' columns as the array parameters of
// Append's INSERT. Text arrays carry every value (NULL as ""), cast in SQL.
func auditArrays(events []audit.Event) ([]any, error) {
	n := len(events)
	var (
		actor, seq                                  = make([]sql.NullInt64, n), make([]int64, n)
		typ, data, ip, ua, corr, at, sev, src, meta = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		prev, hash                                  = make([]string, n), make([]string, n)
	)
	for i := range events {
		e := &events[i]
		if e.ActorID != nil {
			actor[i] = sql.NullInt64{Int64: *e.ActorID, Valid: true}
		}
		d, err := json.Marshal(docOrEmpty(e.Data))
		if err != nil {
			return nil, fmt.Errorf("postgres: encoding event_data: %w", err)
		}
		m, err := json.Marshal(docOrEmpty(e.Metadata))
		if err != nil {
			return nil, fmt.Errorf("postgres: encoding metadata: %w", err)
		}
		if e.ClientIP.IsValid() {
			ip[i] = e.ClientIP.String()
		}
		typ[i], data[i], meta[i] = string(e.Type), string(d), string(m)
		ua[i], corr[i], src[i], sev[i] = e.UserAgent, e.CorrelationID, e.Source, string(e.Severity)
		at[i] = e.Time.UTC().Format(time.RFC3339Nano)
		seq[i], prev[i], hash[i] = e.Seq, e.PrevHash, e.Hash
	}
	return []any{pq.Array(actor), pq.Array(typ), pq.Array(data), pq.Array(ip), pq.Array(ua), pq.Array(corr),
		pq.Array(at), pq.Array(sev), pq.Array(src), pq.Array(meta), pq.Array(seq), pq.Array(prev), pq.Array(hash)}, nil
}

func docOrEmpty(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

// Query implements [audit.Store]. Filters become one WHERE clause of
// bound parameters; the order (created_at DESC, id DESC) and the keyset
// cursor match idx_audit_logs_user_created for a user's events.
func (s *AuditStore) Query(ctx context.Context, f audit.Filter) ([]audit.Event, error) {
	if f.UserID != nil && !isRowID(*f.UserID) {
		return nil, nil // no user has such an id, so no event names one
	}
	var where []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if f.UserID != nil {
		where = append(where, "user_id = "+arg(*f.UserID))
	}
	if len(f.Types) > 0 {
		types := make([]string, len(f.Types))
		for i, t := range f.Types {
			types[i] = string(t)
		}
		where = append(where, "event_type = ANY("+arg(pq.Array(types))+"::text[])")
	}
	if len(f.Severities) > 0 {
		sev := make([]string, len(f.Severities))
		for i, v := range f.Severities {
			sev[i] = string(v)
		}
		where = append(where, "severity = ANY("+arg(pq.Array(sev))+"::text[])")
	}
	if !f.From.IsZero() {
		where = append(where, "created_at >= "+arg(f.From))
	}
	if !f.To.IsZero() {
		where = append(where, "created_at < "+arg(f.To))
	}
	if f.CorrelationID != "" {
		where = append(where, "correlation_id = "+arg(f.CorrelationID))
	}
	if f.After != nil {
		where = append(where, "(created_at, id) < ("+arg(f.After.Time)+"::timestamptz, "+arg(f.After.ID)+"::bigint)")
	}
	query := `SELECT ` + auditColumns + ` FROM audit_logs`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, " AND ")
	}
	query += ` ORDER BY created_at DESC, id DESC`
	if f.Limit > 0 {
		query += ` LIMIT ` + arg(f.Limit)
	}
	return s.selectEvents(ctx, query, args...)
}

func (s *AuditStore) selectEvents(ctx context.Context, query string, args ...any) ([]audit.Event, error) {
	var rows []auditRow
	if err := s.db.run(ctx, func(q querier) error { return q.SelectContext(ctx, &rows, query, args...) }); err != nil {
		return nil, err
	}
	out := make([]audit.Event, len(rows))
	for i := range rows {
		e, err := rows[i].toEvent()
		if err != nil {
			return nil, err
		}
		out[i] = e
	}
	return out, nil
}

// errNoChainRow reports that audit_chain, which the migrations create
// with its one row, has none.
var errNoChainRow = errors.New("postgres: audit_chain has no row: " + notMigrated)

// State implements [audit.Store].
func (s *AuditStore) State(ctx context.Context) (audit.ChainState, error) {
	var st audit.ChainState
	var fp sql.NullString
	err := s.db.run(ctx, func(q querier) error {
		return q.QueryRowxContext(ctx, `SELECT start_seq, start_hash, end_seq, end_hash, key_fingerprint FROM audit_chain WHERE id = 1`).
			Scan(&st.Start.Seq, &st.Start.Hash, &st.End.Seq, &st.End.Hash, &fp)
	})
	st.End.KeyFingerprint = fp.String
	if errors.Is(err, store.ErrNotFound) {
		return st, errNoChainRow
	}
	return st, err
}

// CountUnchained implements [audit.UnchainedCounter]: the rows with no
// chain_seq, which only the original system's rows of an adopted database
// are (Append chains every event it stores).
func (s *AuditStore) CountUnchained(ctx context.Context) (int64, error) {
	var n int64
	err := s.db.run(ctx, func(q querier) error {
		return q.QueryRowxContext(ctx, `SELECT count(*) FROM audit_logs WHERE chain_seq IS NULL`).Scan(&n)
	})
	return n, err
}

var _ audit.UnchainedCounter = (*AuditStore)(nil)

// chainBatch is how many events Chain reads per query.
const chainBatch = 1000

// Chain implements [audit.Store], reading by keyset on chain_seq (its
// unique index) a batch at a time.
func (s *AuditStore) Chain(ctx context.Context, from, to int64, fn func([]audit.Event) error) error {
	next := from
	for next <= to {
		batch, err := s.selectEvents(ctx, `SELECT `+auditColumns+` FROM audit_logs
WHERE chain_seq >= $1 AND chain_seq <= $2 ORDER BY chain_seq LIMIT $3`, next, to, chainBatch)
		if err != nil {
			return err
		}
		if len(batch) == 0 {
			return nil
		}
		if err := fn(batch); err != nil {
			return err
		}
		next = batch[len(batch)-1].Seq + 1
	}
	return nil
}

// TrimChain implements [audit.Store]. Each batch is one transaction: it
// locks the chain row (so appends wait only for this batch), selects the
// oldest chained events with FOR UPDATE, hands them to fn, deletes them and
// moves the chain's start. Unchained rows go the same way afterwards.
func (s *AuditStore) TrimChain(ctx context.Context, before time.Time, batch int, fn func([]audit.Event) error) (int64, error) {
	if batch <= 0 {
		batch = chainBatch
	}
	var total int64
	for _, chained := range []bool{true, false} {
		for {
			var n int
			cut := false
			err := s.db.InTx(ctx, func(ctx context.Context) error {
				var events []audit.Event
				err := s.db.run(ctx, func(q querier) error {
					var err error
					if chained {
						var start int64
						if err := q.QueryRowxContext(ctx, `SELECT start_seq FROM audit_chain WHERE id = 1 FOR UPDATE`).Scan(&start); err != nil {
							if errors.Is(err, sql.ErrNoRows) {
								return errNoChainRow
							}
							return err
						}
						// The chain's oldest events, cut at the first one that
						// is not older than before.
						events, err = s.selectEvents(ctx, `SELECT `+auditColumns+` FROM audit_logs
WHERE chain_seq >= $1 ORDER BY chain_seq LIMIT $2 FOR UPDATE`, start, batch)
						for i := range events {
							if !events[i].Time.Before(before) {
								events, cut = events[:i], true
								break
							}
						}
					} else {
						events, err = s.selectEvents(ctx, `SELECT `+auditColumns+` FROM audit_logs
WHERE chain_seq IS NULL AND created_at < $1 ORDER BY created_at, id LIMIT $2 FOR UPDATE`, before, batch)
					}
					return err
				})
				if err != nil || len(events) == 0 {
					return err
				}
				if fn != nil {
					if err := fn(events); err != nil {
						return err
					}
				}
				ids := make([]int64, len(events))
				for i := range events {
					ids[i] = events[i].ID
				}
				return s.db.run(ctx, func(q querier) error {
					if _, err := q.ExecContext(ctx, `DELETE FROM audit_logs WHERE id = ANY($1::bigint[])`, pq.Array(ids)); err != nil {
						return err
					}
					if chained {
						last := events[len(events)-1]
						if _, err := q.ExecContext(ctx, `UPDATE audit_chain SET start_seq = $1, start_hash = $2 WHERE id = 1`, last.Seq+1, last.Hash); err != nil {
							return err
						}
					}
					n = len(events)
					return nil
				})
			})
			total += int64(n)
			if err != nil {
				return total, err
			}
			if n < batch || cut {
				break
			}
		}
	}
	return total, nil
}
