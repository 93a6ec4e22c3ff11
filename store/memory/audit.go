package memory

import (
	"context"
	"slices"
	"time"

	"github.com/cedrina/cedrina/audit"
)

// AuditStore implements [audit.Store] on a [DB].
type AuditStore struct{ db *DB }

var _ audit.Store = (*AuditStore)(nil)

// Audit returns the database's audit store.
func (db *DB) Audit() *AuditStore { return &AuditStore{db: db} }

type auditTable struct {
	rows   []audit.Event // in ID order; never mutated in place
	state  audit.ChainState
	nextID int64
}

func newAuditTable() auditTable {
	return auditTable{state: audit.ChainState{
		Start: audit.Head{Seq: 1, Hash: audit.Genesis},
		End:   audit.Head{Seq: 0, Hash: audit.Genesis},
	}}
}

// Append implements [audit.Store]. The database's lock serialises it
// with every other write. The chain's end, key fingerprint included, is
// replaced by what seal returns; when seal fails nothing changes.
func (s *AuditStore) Append(ctx context.Context, events []audit.Event, seal audit.Sealer) error {
	if len(events) == 0 {
		return nil
	}
	for i := range events {
		e := &events[i]
		var err error
		if e.Data, err = normalizeJSON(e.Data); err != nil {
			return err
		}
		if e.Metadata, err = normalizeJSON(e.Metadata); err != nil {
			return err
		}
		if e.UserID != nil {
			v := *e.UserID
			e.ActorID = &v
		} else {
			e.ActorID = nil
		}
	}
	return s.db.write(ctx, func(t *tx) error {
		tb := &s.db.audit
		end, err := seal(tb.state.End, events)
		if err != nil {
			return err
		}
		prevRows, prevState, prevID := tb.rows, tb.state, tb.nextID
		tb.state.End = end
		// Undo restores the shorter slice header; what was appended past
		// its length is unreachable then.
		for i := range events {
			e := &events[i]
			tb.nextID++
			e.ID = tb.nextID
			if e.UserID != nil {
				if _, ok := s.db.users.rows[*e.UserID]; !ok {
					e.UserID = nil // as the foreign key would: the user is gone
				}
			}
			tb.rows = append(tb.rows, copyEvent(e))
		}
		t.record(func() { tb.rows, tb.state, tb.nextID = prevRows, prevState, prevID })
		return nil
	})
}

// Query implements [audit.Store] with a scan of every event.
func (s *AuditStore) Query(ctx context.Context, f audit.Filter) ([]audit.Event, error) {
	var out []audit.Event
	err := s.db.read(ctx, func() {
		for i := range s.db.audit.rows {
			if e := &s.db.audit.rows[i]; matches(e, &f) {
				out = append(out, *e)
			}
		}
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b audit.Event) int {
		if c := b.Time.Compare(a.Time); c != 0 {
			return c
		}
		return cmpInt(b.ID, a.ID)
	})
	if f.Limit > 0 && len(out) > f.Limit {
		out = out[:f.Limit]
	}
	for i := range out {
		out[i] = copyEvent(&out[i])
	}
	if out == nil {
		out = []audit.Event{}
	}
	return out, nil
}

func matches(e *audit.Event, f *audit.Filter) bool {
	switch {
	case f.UserID != nil && (e.UserID == nil || *e.UserID != *f.UserID),
		len(f.Types) > 0 && !slices.Contains(f.Types, e.Type),
		len(f.Severities) > 0 && !slices.Contains(f.Severities, e.Severity),
		!f.From.IsZero() && e.Time.Before(f.From),
		!f.To.IsZero() && !e.Time.Before(f.To),
		f.CorrelationID != "" && e.CorrelationID != f.CorrelationID:
		return false
	case f.After != nil:
		return e.Time.Before(f.After.Time) || e.Time.Equal(f.After.Time) && e.ID < f.After.ID
	}
	return true
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// State implements [audit.Store].
func (s *AuditStore) State(ctx context.Context) (audit.ChainState, error) {
	var st audit.ChainState
	err := s.db.read(ctx, func() { st = s.db.audit.state })
	return st, err
}

// chainBatch is how many events Chain hands to fn at once.
const chainBatch = 1000

// Chain implements [audit.Store]. Rows are in ID order, which is Seq
// order for chained rows: both are assigned under the same lock.
func (s *AuditStore) Chain(ctx context.Context, from, to int64, fn func([]audit.Event) error) error {
	var sel []audit.Event
	err := s.db.read(ctx, func() {
		for i := range s.db.audit.rows {
			if e := &s.db.audit.rows[i]; e.Seq != 0 && e.Seq >= from && e.Seq <= to {
				sel = append(sel, copyEvent(e))
			}
		}
	})
	if err != nil {
		return err
	}
	for len(sel) > 0 {
		n := min(len(sel), chainBatch)
		if err := fn(sel[:n]); err != nil {
			return err
		}
		sel = sel[n:]
	}
	return nil
}

// TrimChain implements [audit.Store]. Each batch is one write under the
// database's lock, calling fn inside it.
func (s *AuditStore) TrimChain(ctx context.Context, before time.Time, batch int, fn func([]audit.Event) error) (int64, error) {
	if batch <= 0 {
		batch = chainBatch
	}
	var total int64
	for _, chained := range []bool{true, false} {
		for {
			n := 0
			err := s.db.write(ctx, func(t *tx) error {
				tb := &s.db.audit
				var idx []int
				for i := range tb.rows {
					e := &tb.rows[i]
					if (e.Seq != 0) != chained {
						continue
					}
					if !e.Time.Before(before) {
						if chained {
							break // keep the rest of the chain unbroken
						}
						continue
					}
					if idx = append(idx, i); len(idx) == batch {
						break
					}
				}
				if len(idx) == 0 {
					return nil
				}
				out := make([]audit.Event, len(idx))
				for j, i := range idx {
					out[j] = copyEvent(&tb.rows[i])
				}
				if fn != nil {
					if err := fn(out); err != nil {
						return err
					}
				}
				prevRows, prevState := tb.rows, tb.state
				kept := make([]audit.Event, 0, len(tb.rows)-len(idx))
				for i := range tb.rows {
					if _, gone := slices.BinarySearch(idx, i); !gone {
						kept = append(kept, tb.rows[i])
					}
				}
				tb.rows = kept
				if chained {
					last := out[len(out)-1]
					tb.state.Start = audit.Head{Seq: last.Seq + 1, Hash: last.Hash}
				}
				t.record(func() { tb.rows, tb.state = prevRows, prevState })
				n = len(idx)
				return nil
			})
			total += int64(n)
			if err != nil {
				return total, err
			}
			if n < batch {
				break
			}
		}
	}
	return total, nil
}

// detachUser sets the user id of a deleted user's events to nil, as the
// schema's ON DELETE SET NULL does. The caller holds the write lock.
func (tb *auditTable) detachUser(t *tx, id int64) {
	var changed bool
	prev := tb.rows
	for i := range tb.rows {
		if u := tb.rows[i].UserID; u != nil && *u == id {
			if !changed {
				tb.rows = slices.Clone(tb.rows)
				changed = true
			}
			tb.rows[i].UserID = nil
		}
	}
	if changed {
		t.record(func() { tb.rows = prev })
	}
}

// copyEvent returns a copy of e sharing no memory with it.
func copyEvent(e *audit.Event) audit.Event {
	c := *e
	c.Data, c.Metadata = deepCopy(e.Data), deepCopy(e.Metadata)
	if e.UserID != nil {
		v := *e.UserID
		c.UserID = &v
	}
	if e.ActorID != nil {
		v := *e.ActorID
		c.ActorID = &v
	}
	c.Time = dbTime(e.Time)
	return c
}
