package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/lib/pq"

	"github.com/cedrina/cedrina/internal/errs"
	"github.com/cedrina/cedrina/rbac"
	"github.com/cedrina/cedrina/store"
)

// PolicyChannel is the LISTEN/NOTIFY channel on which a [RuleStore]
// announces changes of the active rules, and on which a [PolicyWatcher]
// listens, unless both are given another ([DB.RulesOn],
// WatcherConfig.Channel).
const PolicyChannel = "cedrina_rbac"

// RuleStore implements [rbac.Store] on the casbin_rules table. See the
// package documentation's "Policy rules" section.
type RuleStore struct {
	db      *DB
	channel string
}

var _ rbac.Store = (*RuleStore)(nil)

// Rules returns the policy rule store, which notifies on [PolicyChannel].
func (db *DB) Rules() *RuleStore { return &RuleStore{db: db, channel: PolicyChannel} }

// RulesOn returns the policy rule store notifying on channel instead of
// [PolicyChannel]: stores and watchers that share a channel see each
// other's changes, so rules kept apart (another application, a test)
// need a channel of their own. channel is 1 to 63 bytes of UTF-8 without
// control characters (PostgreSQL's limit of an identifier), matched
// case-sensitively.
func (db *DB) RulesOn(channel string) (*RuleStore, error) {
	if err := validChannel(channel); err != nil {
		return nil, errs.ConfigErr("postgres", "RulesOn channel", err)
	}
	return &RuleStore{db: db, channel: channel}, nil
}

// validChannel checks a LISTEN/NOTIFY channel name.
func validChannel(ch string) error {
	switch {
	case ch == "":
		return errors.New("empty")
	case len(ch) > 63:
		return fmt.Errorf("%d bytes, at most 63", len(ch))
	case !utf8.ValidString(ch):
		return errors.New("not valid UTF-8")
	case strings.ContainsFunc(ch, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return errors.New("contains a control character")
	}
	return nil
}

// rulesLock is the first key of the advisory lock that serialises the
// changes of casbin_rules (the second is 0).
const rulesLock int32 = 0x0cab

const ruleColumns = `id, ptype, v0, v1, v2, v3, v4, v5, is_active, created_at, updated_at, created_by, updated_by`

// ruleRow is a casbin_rules row as scanned; every nullable column is
// scanned as nullable, so rows written by other systems load.
type ruleRow struct {
	ID        int64          `db:"id"`
	Type      string         `db:"ptype"`
	V0        sql.NullString `db:"v0"`
	V1        sql.NullString `db:"v1"`
	V2        sql.NullString `db:"v2"`
	V3        sql.NullString `db:"v3"`
	V4        sql.NullString `db:"v4"`
	V5        sql.NullString `db:"v5"`
	IsActive  sql.NullBool   `db:"is_active"`
	CreatedAt sql.NullTime   `db:"created_at"`
	UpdatedAt sql.NullTime   `db:"updated_at"`
	CreatedBy sql.NullString `db:"created_by"`
	UpdatedBy sql.NullString `db:"updated_by"`
}

// toRule converts a row: a NULL value reads as "", trailing "" are
// dropped; a NULL is_active reads as inactive, a NULL time as the zero
// time, a NULL actor as "".
func (r *ruleRow) toRule() rbac.Rule {
	return rbac.Rule{
		ID: r.ID, Type: r.Type,
		Values:    rbac.Trim([]string{r.V0.String, r.V1.String, r.V2.String, r.V3.String, r.V4.String, r.V5.String}),
		Active:    r.IsActive.Valid && r.IsActive.Bool,
		CreatedAt: utc(r.CreatedAt), UpdatedAt: utc(r.UpdatedAt),
		CreatedBy: r.CreatedBy.String, UpdatedBy: r.UpdatedBy.String,
	}
}

// ruleFilter returns the WHERE clause (with its leading space, or "")
// and arguments that select f's rules, active ones only unless
// f.Inactive. ok is false when no row can match f: a value beyond v5, or
// a string PostgreSQL cannot hold (NUL, invalid UTF-8), which the server
// would refuse rather than compare. With f.Exact, every position is
// compared, a missing or empty value matching NULL and the empty string.
func ruleFilter(f rbac.Filter) (where string, args []any, ok bool) {
	var conds []string
	if !f.Inactive {
		conds = append(conds, "is_active")
	}
	if f.Type != "" {
		if !storable(f.Type) {
			return "", nil, false
		}
		args = append(args, f.Type)
		conds = append(conds, fmt.Sprintf("ptype = $%d", len(args)))
	}
	values := f.Values
	if f.Exact {
		values = rbac.Trim(values)
		if len(values) > rbac.MaxValues {
			return "", nil, false
		}
		values = append(values, make([]string, rbac.MaxValues-len(values))...)
	}
	for i, v := range values {
		if v == "" {
			if f.Exact {
				conds = append(conds, fmt.Sprintf("COALESCE(v%d, '') = ''", i))
			}
			continue
		}
		if i >= rbac.MaxValues || !storable(v) {
			return "", nil, false
		}
		args = append(args, v)
		conds = append(conds, fmt.Sprintf("v%d = $%d", i, len(args)))
	}
	if len(conds) > 0 {
		where = " WHERE " + strings.Join(conds, " AND ")
	}
	return where, args, true
}

// storable reports whether a text column can hold s.
func storable(s string) bool { return utf8.ValidString(s) && !strings.ContainsRune(s, 0) }

// Rules implements [rbac.Store]. A rule whose is_active is NULL is
// inactive.
func (s *RuleStore) Rules(ctx context.Context, f rbac.Filter) ([]rbac.Rule, error) {
	where, args, ok := ruleFilter(f)
	if !ok {
		return []rbac.Rule{}, ctx.Err()
	}
	var rows []ruleRow
	if err := s.db.run(ctx, func(q querier) error {
		return q.SelectContext(ctx, &rows, `SELECT `+ruleColumns+` FROM casbin_rules`+where+` ORDER BY id`, args...)
	}); err != nil {
		return nil, err
	}
	out := make([]rbac.Rule, len(rows))
	for i := range rows {
		out[i] = rows[i].toRule()
	}
	return out, nil
}

// ruleBatch validates the actor and every rule before anything is
// written, and returns the rules without duplicates, in the order given.
func ruleBatch(rules []rbac.Rule, by string) ([]rbac.Rule, error) {
	if err := rbac.ValidActor(by); err != nil {
		return nil, err
	}
	out := make([]rbac.Rule, 0, len(rules))
	seen := make(map[string]bool, len(rules))
	for i, r := range rules {
		if err := r.Validate(); err != nil {
			return nil, fmt.Errorf("%w (rule %d of %d)", err, i+1, len(rules))
		}
		// Type and values joined by NUL, which none of them holds.
		if k := r.Type + "\x00" + strings.Join(r.Values, "\x00"); !seen[k] {
			seen[k] = true
			out = append(out, r)
		}
	}
	return out, nil
}

// ruleArrays returns the batch as the array parameters of ruleAdd and
// ruleReplaceDelete: ptype, v0 to v5 (a missing value as ""), and the
// number of values.
func ruleArrays(batch []rbac.Rule) []any {
	typ := make([]string, len(batch))
	n := make([]int64, len(batch))
	var v [rbac.MaxValues][]string
	for i := range v {
		v[i] = make([]string, len(batch))
	}
	for i, r := range batch {
		typ[i], n[i] = r.Type, int64(len(r.Values))
		for j, x := range r.Values {
			v[j][i] = x // value j of rule i
		}
	}
	args := []any{pq.Array(typ)}
	for j := range v {
		args = append(args, pq.Array(v[j]))
	}
	return append(args, pq.Array(n))
}

// ruleSame is the condition that row r holds the line of u, an element
// of the batch's arrays: NULL and "" are the same missing value.
const ruleSame = `r.ptype = u.ptype AND COALESCE(r.v0, '') = u.v0 AND COALESCE(r.v1, '') = u.v1
	AND COALESCE(r.v2, '') = u.v2 AND COALESCE(r.v3, '') = u.v3 AND COALESCE(r.v4, '') = u.v4
	AND COALESCE(r.v5, '') = u.v5`

// ruleAdd adds a batch without duplicates, as rbac.Store.Add says, and
// returns how many rules it inserted or reactivated: $1 ptype, $2-$7
// v0-v5, $8 the number of values (the arrays of ruleArrays), $9 the
// actor, $10 the time. A rule that matches no active row is reactivated
// in the inactive row with the lowest id (is_active false or NULL), or
// inserted, with its missing values NULL, in the order of the batch.
const ruleAdd = `
WITH u AS (
	SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::int[])
		WITH ORDINALITY AS u(ptype, v0, v1, v2, v3, v4, v5, n, ord)
), m AS (
	SELECT u.ord, r.id, r.is_active IS TRUE AS active FROM u JOIN casbin_rules r ON ` + ruleSame + `
), todo AS (
	SELECT * FROM u WHERE NOT EXISTS (SELECT FROM m WHERE m.ord = u.ord AND m.active)
), react AS (
	UPDATE casbin_rules r SET is_active = true, updated_by = NULLIF($9::text, ''), updated_at = $10::timestamptz
	FROM (SELECT DISTINCT ON (m.ord) m.id FROM m JOIN todo USING (ord) ORDER BY m.ord, m.id) p
	WHERE r.id = p.id
	RETURNING r.id
), ins AS (
	INSERT INTO casbin_rules (ptype, v0, v1, v2, v3, v4, v5, is_active, created_at, updated_at, created_by, updated_by)
	SELECT ptype, CASE WHEN n > 0 THEN v0 END, CASE WHEN n > 1 THEN v1 END, CASE WHEN n > 2 THEN v2 END,
		CASE WHEN n > 3 THEN v3 END, CASE WHEN n > 4 THEN v4 END, CASE WHEN n > 5 THEN v5 END,
		true, $10::timestamptz, $10::timestamptz, NULLIF($9::text, ''), NULLIF($9::text, '')
	FROM todo WHERE NOT EXISTS (SELECT FROM m WHERE m.ord = todo.ord)
	ORDER BY ord
	RETURNING id
)
SELECT (SELECT count(*) FROM react) + (SELECT count(*) FROM ins)`

// ruleReplaceDelete deletes the active rules that are not in the batch
// ($1-$7 of ruleArrays).
const ruleReplaceDelete = `
DELETE FROM casbin_rules r WHERE r.is_active AND NOT EXISTS (
	SELECT FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[])
		AS u(ptype, v0, v1, v2, v3, v4, v5)
	WHERE ` + ruleSame + `)`

// change runs fn in a transaction (the context's, or its own) under the
// advisory lock of the rules, so that changes of the rules from every
// connection take turns and each sees what the previous one committed.
// When fn reports a change of the active rules (n > 0), the notification
// is sent in the same transaction: PostgreSQL delivers it at commit, and
// not at all on rollback.
func (s *RuleStore) change(ctx context.Context, op string, fn func(ctx context.Context, q querier) (n int, err error)) (n int, err error) {
	err = s.db.InTx(ctx, func(ctx context.Context) error {
		return s.db.run(ctx, func(q querier) error {
			if _, err := q.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1, 0)`, rulesLock); err != nil {
				return err
			}
			var err error
			if n, err = fn(ctx, q); err != nil || n == 0 {
				return err
			}
			_, err = q.ExecContext(ctx, `SELECT pg_notify($1, $2)`, s.channel, fmt.Sprintf(`{"op":%q,"rules":%d}`, op, n))
			return err
		})
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

// ruleTime is a change's time as stored: UTC, truncated to the
// microsecond (PostgreSQL would round).
func ruleTime(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// Add implements [rbac.Store] in one transaction (the context's, or its
// own) under the rules' advisory lock: concurrent Adds of one rule, from
// any connection, leave one active row. Missing values are stored as
// NULL, an empty actor as NULL.
func (s *RuleStore) Add(ctx context.Context, rules []rbac.Rule, by string, now time.Time) (int, error) {
	batch, err := ruleBatch(rules, by)
	if err != nil {
		return 0, err
	}
	if len(batch) == 0 {
		return 0, ctx.Err()
	}
	return s.change(ctx, "add", func(ctx context.Context, q querier) (int, error) {
		return addRules(ctx, q, batch, by, now)
	})
}

func addRules(ctx context.Context, q querier, batch []rbac.Rule, by string, now time.Time) (int, error) {
	var n int
	err := q.GetContext(ctx, &n, ruleAdd, append(ruleArrays(batch), by, ruleTime(now))...)
	return n, err
}

// Remove implements [rbac.Store]: one DELETE of the active rules that
// match f, in a transaction under the rules' advisory lock. An empty
// f.Type is an error matching rbac.ErrInvalidRule; by is checked with
// rbac.ValidActor but not recorded (the rows are gone).
func (s *RuleStore) Remove(ctx context.Context, f rbac.Filter, by string, now time.Time) (int, error) {
	if f.Type == "" {
		return 0, fmt.Errorf("%w: Remove needs a filter with a Type", rbac.ErrInvalidRule)
	}
	if err := rbac.ValidActor(by); err != nil {
		return 0, err
	}
	f.Inactive = false
	where, args, ok := ruleFilter(f)
	if !ok {
		return 0, ctx.Err()
	}
	return s.change(ctx, "remove", func(ctx context.Context, q querier) (int, error) {
		res, err := q.ExecContext(ctx, `DELETE FROM casbin_rules`+where, args...)
		if err != nil {
			return 0, err
		}
		n, err := res.RowsAffected()
		return int(n), err
	})
}

// SetActive implements [rbac.Store] in a transaction under the rules'
// advisory lock. A rule whose is_active is NULL is inactive: setting it
// inactive changes nothing.
func (s *RuleStore) SetActive(ctx context.Context, id int64, active bool, by string, now time.Time) (rbac.Rule, error) {
	if err := rbac.ValidActor(by); err != nil {
		return rbac.Rule{}, err
	}
	if !isRowID(id) {
		if err := ctx.Err(); err != nil {
			return rbac.Rule{}, err
		}
		return rbac.Rule{}, fmt.Errorf("%w: id %d", rbac.ErrNotFound, id)
	}
	var row ruleRow
	_, err := s.change(ctx, "set_active", func(ctx context.Context, q querier) (int, error) {
		if err := q.GetContext(ctx, &row, `SELECT `+ruleColumns+` FROM casbin_rules WHERE id = $1 FOR UPDATE`, id); err != nil {
			return 0, err
		}
		if row.toRule().Active == active {
			return 0, nil
		}
		return 1, q.GetContext(ctx, &row, `
UPDATE casbin_rules SET is_active = $2, updated_by = NULLIF($3::text, ''), updated_at = $4::timestamptz
WHERE id = $1 RETURNING `+ruleColumns, id, active, by, ruleTime(now))
	})
	if errors.Is(err, store.ErrNotFound) {
		return rbac.Rule{}, fmt.Errorf("%w: id %d", rbac.ErrNotFound, id)
	}
	if err != nil {
		return rbac.Rule{}, err
	}
	return row.toRule(), nil
}

// Replace implements [rbac.Store] in one transaction under the rules'
// advisory lock: one DELETE of the active rules not in rules, then the
// statement of Add.
func (s *RuleStore) Replace(ctx context.Context, rules []rbac.Rule, by string, now time.Time) error {
	batch, err := ruleBatch(rules, by)
	if err != nil {
		return err
	}
	_, err = s.change(ctx, "replace", func(ctx context.Context, q querier) (int, error) {
		res, err := q.ExecContext(ctx, ruleReplaceDelete, ruleArrays(batch)[:7]...)
		if err != nil {
			return 0, err
		}
		deleted, err := res.RowsAffected()
		if err != nil {
			return 0, err
		}
		added := 0
		if len(batch) > 0 {
			if added, err = addRules(ctx, q, batch, by, now); err != nil {
				return 0, err
			}
		}
		return int(deleted) + added, nil
	})
	return err
}
