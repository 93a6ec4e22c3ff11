package rbac

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// MemoryStore is the in-memory [Store]: the rules of one process, for
// tests, prototypes and single-process tools. It is safe for concurrent
// use, keeps what the casbin_rules table keeps (is_active, created_by,
// updated_by, created_at, updated_at; ids counting up from 1), stores
// times in UTC truncated to the microsecond as PostgreSQL holds them, and
// returns copies: a caller that changes a returned rule or a slice it
// passed in changes nothing in the store.
//
// A MemoryStore is its own [Watcher]: after each change that alters the
// set of active rules it calls every subscriber, after releasing its
// lock, on the goroutine that made the change.
//
// It lives in package rbac, not in store/memory with the other memory
// stores, so that importing store/memory never links Casbin into a host
// that does not use rbac.
type MemoryStore struct {
	mu      sync.Mutex
	rules   []Rule // in id order
	lastID  int64
	subs    []subscriber // in the order they subscribed
	lastSub int
}

type subscriber struct {
	id      int
	changed func()
}

var (
	_ Store   = (*MemoryStore)(nil)
	_ Watcher = (*MemoryStore)(nil)
)

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{}
}

// memTime is a time as the store keeps it: UTC, whole microseconds
// (truncated, not rounded, as every store does).
func memTime(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

func cloneRule(r Rule) Rule {
	r.Values = slices.Clone(r.Values)
	return r
}

// Rules implements [Store].
func (m *MemoryStore) Rules(ctx context.Context, f Filter) ([]Rule, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	out := []Rule{}
	for _, r := range m.rules {
		if f.Match(r) {
			out = append(out, cloneRule(r))
		}
	}
	return out, nil
}

// lineKey identifies a valid rule's policy line: its type and values
// joined by NUL, which neither may contain.
func lineKey(r Rule) string { return r.Type + "\x00" + strings.Join(r.Values, "\x00") }

// validBatch checks every rule and the actor before anything is written,
// and returns the rules without duplicates (the first of each), copied,
// and the set of their lines.
func validBatch(rules []Rule, by string) ([]Rule, map[string]bool, error) {
	if err := ValidActor(by); err != nil {
		return nil, nil, err
	}
	out := make([]Rule, 0, len(rules))
	lines := make(map[string]bool, len(rules))
	for i, r := range rules {
		if err := r.Validate(); err != nil {
			return nil, nil, fmt.Errorf("%w (rule %d of %d)", err, i+1, len(rules))
		}
		if k := lineKey(r); !lines[k] {
			lines[k] = true
			out = append(out, Rule{Type: r.Type, Values: slices.Clone(r.Values)})
		}
	}
	return out, lines, nil
}

// Add implements [Store].
func (m *MemoryStore) Add(ctx context.Context, rules []Rule, by string, now time.Time) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	batch, _, err := validBatch(rules, by)
	if err != nil {
		return 0, err
	}
	return m.change(func() int { return m.add(batch, by, memTime(now)) }), nil
}

// change runs fn under m.mu; when fn reports a change of the active set
// (a count above 0), it then calls the subscribers, without the lock.
func (m *MemoryStore) change(fn func() int) int {
	m.mu.Lock()
	n := fn()
	var subs []subscriber
	if n > 0 {
		subs = slices.Clone(m.subs)
	}
	m.mu.Unlock()
	for _, s := range subs {
		s.changed()
	}
	return n
}

// add adds batch (valid, without duplicates) as [Store.Add] says, under
// m.mu, and returns how many rules it inserted or reactivated.
func (m *MemoryStore) add(batch []Rule, by string, now time.Time) int {
	// Each stored line: active, or the index of its lowest inactive row.
	type state struct {
		active   bool
		inactive int
	}
	have := make(map[string]state, len(m.rules))
	for i, r := range m.rules {
		k := lineKey(r)
		st, ok := have[k]
		switch {
		case !ok:
			st = state{active: r.Active, inactive: -1}
			if !r.Active {
				st.inactive = i
			}
		case r.Active:
			st.active = true
		case st.inactive < 0:
			st.inactive = i
		}
		have[k] = st
	}
	n := 0
	for _, r := range batch {
		st, ok := have[lineKey(r)]
		switch {
		case ok && st.active:
			continue
		case ok && st.inactive >= 0:
			s := &m.rules[st.inactive]
			s.Active, s.UpdatedBy, s.UpdatedAt = true, by, now
		default:
			m.lastID++
			m.rules = append(m.rules, Rule{
				ID: m.lastID, Type: r.Type, Values: r.Values, Active: true,
				CreatedAt: now, UpdatedAt: now, CreatedBy: by, UpdatedBy: by,
			})
		}
		n++
	}
	return n
}

// Remove implements [Store]. An empty f.Type is an error matching
// ErrInvalidRule.
func (m *MemoryStore) Remove(ctx context.Context, f Filter, by string, now time.Time) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if f.Type == "" {
		return 0, fmt.Errorf("%w: Remove needs a filter with a Type", ErrInvalidRule)
	}
	if err := ValidActor(by); err != nil {
		return 0, err
	}
	f.Inactive = false
	return m.change(func() int {
		before := len(m.rules)
		m.rules = slices.DeleteFunc(m.rules, f.Match)
		return before - len(m.rules)
	}), nil
}

// SetActive implements [Store].
func (m *MemoryStore) SetActive(ctx context.Context, id int64, active bool, by string, now time.Time) (Rule, error) {
	if err := ctx.Err(); err != nil {
		return Rule{}, err
	}
	if err := ValidActor(by); err != nil {
		return Rule{}, err
	}
	var out Rule
	found := false
	m.change(func() int {
		i, ok := slices.BinarySearchFunc(m.rules, id, func(r Rule, id int64) int { return cmp.Compare(r.ID, id) })
		if !ok {
			return 0
		}
		found = true
		r := &m.rules[i]
		if r.Active == active {
			out = cloneRule(*r)
			return 0
		}
		r.Active, r.UpdatedBy, r.UpdatedAt = active, by, memTime(now)
		out = cloneRule(*r)
		return 1
	})
	if !found {
		return Rule{}, fmt.Errorf("%w: id %d", ErrNotFound, id)
	}
	return out, nil
}

// Replace implements [Store].
func (m *MemoryStore) Replace(ctx context.Context, rules []Rule, by string, now time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	batch, lines, err := validBatch(rules, by)
	if err != nil {
		return err
	}
	m.change(func() int {
		before := len(m.rules)
		m.rules = slices.DeleteFunc(m.rules, func(r Rule) bool { return r.Active && !lines[lineKey(r)] })
		return before - len(m.rules) + m.add(batch, by, memTime(now))
	})
	return nil
}

// Subscribe implements [Watcher]: changed is called, on the goroutine
// that made the change and after the store's lock is released, after
// every change that alters the set of active rules, until cancel is
// called. A call that has begun when cancel is called may still run.
// changed may call the store.
func (m *MemoryStore) Subscribe(changed func()) (cancel func()) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.lastSub++
	id := m.lastSub
	m.subs = append(m.subs, subscriber{id: id, changed: changed})
	return func() {
		m.mu.Lock()
		defer m.mu.Unlock()
		m.subs = slices.DeleteFunc(m.subs, func(s subscriber) bool { return s.id == id })
	}
}
