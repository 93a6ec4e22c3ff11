package gormadapter

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"

	"github.com/cedrina/cedrina/rbac"
)

// row is a casbin_rules row as gorm maps it. Unused values (v0 to v5) and
// an absent actor are NULL.
type row struct {
	ID        int64          `gorm:"column:id;primaryKey;autoIncrement"`
	Ptype     string         `gorm:"column:ptype"`
	V0        sql.NullString `gorm:"column:v0"`
	V1        sql.NullString `gorm:"column:v1"`
	V2        sql.NullString `gorm:"column:v2"`
	V3        sql.NullString `gorm:"column:v3"`
	V4        sql.NullString `gorm:"column:v4"`
	V5        sql.NullString `gorm:"column:v5"`
	CreatedAt sql.NullTime   `gorm:"column:created_at;autoCreateTime:false"`
	UpdatedAt sql.NullTime   `gorm:"column:updated_at;autoUpdateTime:false"`
	CreatedBy sql.NullString `gorm:"column:created_by"`
	UpdatedBy sql.NullString `gorm:"column:updated_by"`
	IsActive  sql.NullBool   `gorm:"column:is_active"`
}

// TableName tells gorm the table.
func (row) TableName() string { return table }

// values returns v0 to v5, NULL as "", without trailing empty values.
func (r row) values() []string {
	return rbac.Trim([]string{r.V0.String, r.V1.String, r.V2.String, r.V3.String, r.V4.String, r.V5.String})
}

// key identifies the policy line of r.
func (r row) key() string { return lineKey(r.Ptype, r.values()) }

// rule converts r.
func (r row) rule() rbac.Rule {
	return rbac.Rule{
		ID:        r.ID,
		Type:      r.Ptype,
		Values:    r.values(),
		Active:    r.IsActive.Valid && r.IsActive.Bool,
		CreatedAt: utc(r.CreatedAt),
		UpdatedAt: utc(r.UpdatedAt),
		CreatedBy: r.CreatedBy.String,
		UpdatedBy: r.UpdatedBy.String,
	}
}

func utc(t sql.NullTime) time.Time {
	if !t.Valid {
		return time.Time{}
	}
	return t.Time.UTC()
}

// newRow is the row an insert of r by by at now writes.
func newRow(r rbac.Rule, by string, now time.Time) row {
	var v [rbac.MaxValues]sql.NullString
	for i, s := range r.Values {
		// A middle empty value is "", a trailing one (there is none after
		// Validate) or an unused one NULL.
		v[i] = sql.NullString{String: s, Valid: true}
	}
	t := sql.NullTime{Time: now, Valid: true}
	return row{
		Ptype: r.Type,
		V0:    v[0], V1: v[1], V2: v[2], V3: v[3], V4: v[4], V5: v[5],
		CreatedAt: t, UpdatedAt: t,
		CreatedBy: actor(by), UpdatedBy: actor(by),
		IsActive: sql.NullBool{Bool: true, Valid: true},
	}
}

// actor is by as created_by / updated_by hold it: NULL for none.
func actor(by string) sql.NullString { return sql.NullString{String: by, Valid: by != ""} }

// lineKey identifies a policy line (values without trailing empty ones;
// no value contains NUL).
func lineKey(typ string, values []string) string {
	return typ + "\x00" + strings.Join(values, "\x00")
}

// selectRows is the start of every read of rows.
const selectRows = `SELECT id, ptype, v0, v1, v2, v3, v4, v5, created_at, updated_at, created_by, updated_by, is_active FROM ` + table

// lineMatch is the condition that a row is the policy line of its
// arguments (ptype and six values, "" for an unused one): NULL and "" are
// the same unused value.
const lineMatch = `(ptype, COALESCE(v0, ''), COALESCE(v1, ''), COALESCE(v2, ''), COALESCE(v3, ''), COALESCE(v4, ''), COALESCE(v5, ''))`

// chunk bounds the rules or ids of one statement (PostgreSQL takes at
// most 65535 parameters; a line has 7).
const chunk = 1000

// Rules returns the rules that match f, in id order (rbac.Store).
// f.Values has at most rbac.MaxValues positions that can match; a
// non-empty value beyond them matches no rule.
func (a *Adapter) Rules(ctx context.Context, f rbac.Filter) ([]rbac.Rule, error) {
	rows, err := selectMatching(a.db.WithContext(ctx), f)
	if err != nil {
		return nil, fmt.Errorf("gormadapter: rules: %w", translate(ctx, err))
	}
	rules := make([]rbac.Rule, len(rows))
	for i, r := range rows {
		rules[i] = r.rule()
	}
	return rules, nil
}

// where returns the condition and arguments that select the rows of f.
// ok is false when f matches no row: a value at a position beyond v5, or
// a type or value that no row can hold (NUL, invalid UTF-8; the server
// would refuse them as arguments).
func where(f rbac.Filter) (cond string, args []any, ok bool) {
	if !storable(f.Type) || !all(f.Values, storable) {
		return "", nil, false
	}
	var conds []string
	if f.Type != "" {
		conds, args = append(conds, "ptype = ?"), append(args, f.Type)
	}
	if f.Exact {
		values := rbac.Trim(f.Values)
		if len(values) > rbac.MaxValues {
			return "", nil, false
		}
		for i := range rbac.MaxValues {
			v := ""
			if i < len(values) {
				v = values[i]
			}
			conds, args = append(conds, "COALESCE(v"+strconv.Itoa(i)+", '') = ?"), append(args, v)
		}
	} else {
		for i, v := range f.Values {
			if v == "" {
				continue
			}
			if i >= rbac.MaxValues {
				return "", nil, false
			}
			conds, args = append(conds, "v"+strconv.Itoa(i)+" = ?"), append(args, v)
		}
	}
	if !f.Inactive {
		conds = append(conds, "is_active")
	}
	if len(conds) == 0 {
		return "TRUE", nil, true
	}
	return strings.Join(conds, " AND "), args, true
}

// storable reports whether s can be a PostgreSQL text argument.
func storable(s string) bool { return utf8.ValidString(s) && !strings.ContainsRune(s, 0) }

// all reports whether every one of values passes ok.
func all(values []string, ok func(string) bool) bool {
	return !slices.ContainsFunc(values, func(v string) bool { return !ok(v) })
}

// stamp is now as the table keeps it: UTC, truncated to the microsecond
// (PostgreSQL would round).
func stamp(now time.Time) time.Time { return now.UTC().Truncate(time.Microsecond) }

// selectMatching reads the rows of f in id order.
func selectMatching(db *gorm.DB, f rbac.Filter) ([]row, error) {
	cond, args, ok := where(f)
	if !ok {
		return nil, nil
	}
	q := selectRows + " WHERE " + cond + " ORDER BY id"
	var rows []row
	err := db.Raw(q, args...).Scan(&rows).Error
	return rows, err
}

// Add makes each of rules an active rule, in one transaction
// (rbac.Store): an active rule of the same line is left alone, the
// inactive one of lowest id is made active again (updated_by = by,
// updated_at = now), any other is inserted (created_by = updated_by = by,
// created_at = updated_at = now; unused values NULL). It returns how many
// rules it inserted or reactivated; duplicates within rules count once.
// Errors match rbac.ErrInvalidRule for an invalid rule or actor, and
// nothing is written.
func (a *Adapter) Add(ctx context.Context, rules []rbac.Rule, by string, now time.Time) (int, error) {
	if err := check(rules, by); err != nil {
		return 0, fmt.Errorf("gormadapter: add: %w", err)
	}
	if len(rules) == 0 {
		return 0, ctx.Err()
	}
	return a.change(ctx, "add", by, func(tx *gorm.DB) (int, error) {
		return add(tx, rules, by, now)
	})
}

// Remove deletes the active rules that match f (f.Inactive is ignored:
// inactive rules are kept), in one statement of one transaction, and
// returns how many it deleted (rbac.Store). f.Type must be set, else the
// error matches rbac.ErrInvalidRule.
func (a *Adapter) Remove(ctx context.Context, f rbac.Filter, by string, now time.Time) (int, error) {
	if f.Type == "" {
		return 0, fmt.Errorf("gormadapter: remove: %w: filter without a rule type", rbac.ErrInvalidRule)
	}
	if err := rbac.ValidActor(by); err != nil {
		return 0, fmt.Errorf("gormadapter: remove: %w", err)
	}
	return a.change(ctx, "remove", by, func(tx *gorm.DB) (int, error) {
		deleted, err := removeMatching(tx, f)
		return len(deleted), err
	})
}

// SetActive sets is_active of the rule with id (updated_by = by,
// updated_at = now) and returns it as stored (rbac.Store). Setting it to
// what it already is changes nothing and returns the rule. A NULL
// is_active (a row of the original system) is inactive. The error
// matches rbac.ErrNotFound when no rule has id, rbac.ErrInvalidRule for
// an invalid actor.
func (a *Adapter) SetActive(ctx context.Context, id int64, active bool, by string, now time.Time) (rbac.Rule, error) {
	if err := rbac.ValidActor(by); err != nil {
		return rbac.Rule{}, fmt.Errorf("gormadapter: set active: %w", err)
	}
	var out rbac.Rule
	_, err := a.change(ctx, "set_active", by, func(tx *gorm.DB) (int, error) {
		var rows []row
		if err := tx.Raw(selectRows+" WHERE id = ?::bigint FOR UPDATE", id).Scan(&rows).Error; err != nil {
			return 0, err
		}
		if len(rows) == 0 {
			return 0, fmt.Errorf("%w (id %d)", rbac.ErrNotFound, id)
		}
		if out = rows[0].rule(); out.Active == active {
			return 0, nil
		}
		rows = rows[:0]
		err := tx.Raw(`UPDATE `+table+` SET is_active = ?, updated_by = ?, updated_at = ? WHERE id = ?
			RETURNING id, ptype, v0, v1, v2, v3, v4, v5, created_at, updated_at, created_by, updated_by, is_active`,
			active, actor(by), stamp(now), id).Scan(&rows).Error
		if err != nil {
			return 0, err
		}
		out = rows[0].rule()
		return 1, nil
	})
	if err != nil {
		return rbac.Rule{}, err
	}
	return out, nil
}

// Replace makes rules the complete set of active rules, in one
// transaction (rbac.Store, Casbin's SavePolicy): active rules not among
// them are deleted, rules not yet active are added as Add would, inactive
// rules stay. Errors match rbac.ErrInvalidRule for an invalid rule or
// actor, and nothing is written.
func (a *Adapter) Replace(ctx context.Context, rules []rbac.Rule, by string, now time.Time) error {
	if err := check(rules, by); err != nil {
		return fmt.Errorf("gormadapter: replace: %w", err)
	}
	_, err := a.change(ctx, "replace", by, func(tx *gorm.DB) (int, error) {
		return replace(tx, rules, by, now)
	})
	return err
}

// check validates rules and the actor.
func check(rules []rbac.Rule, by string) error {
	for _, r := range rules {
		if err := r.Validate(); err != nil {
			return fmt.Errorf("%w (rule %q)", err, r.Line())
		}
	}
	return rbac.ValidActor(by)
}

// change runs fn in one transaction that first takes the rules' advisory
// lock and, when fn reports that it changed n > 0 rules of the active
// set, ends with a NOTIFY on the adapter's channel (delivered at commit,
// never for a rollback) with the payload {"op":op,"rules":n}.
func (a *Adapter) change(ctx context.Context, op, by string, fn func(tx *gorm.DB) (int, error)) (int, error) {
	var n int
	err := a.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Exec(lockSQL).Error; err != nil {
			return err
		}
		var err error
		if n, err = fn(tx); err != nil || n == 0 {
			return err
		}
		return tx.Exec("SELECT pg_notify(?, ?)", a.channel, fmt.Sprintf(`{"op":%q,"rules":%d}`, op, n)).Error
	})
	if err != nil {
		return 0, fmt.Errorf("gormadapter: %s: %w", op, translate(ctx, err))
	}
	if n > 0 {
		a.log.DebugContext(ctx, "gormadapter: rules changed", "op", op, "rules", n, "by", by)
	}
	return n, nil
}

// add is Add inside a transaction that holds the lock.
func add(tx *gorm.DB, rules []rbac.Rule, by string, now time.Time) (int, error) {
	now = stamp(now)
	// Distinct lines, in order.
	seen := make(map[string]bool, len(rules))
	var lines []rbac.Rule
	for _, r := range rules {
		if k := lineKey(r.Type, r.Values); !seen[k] {
			seen[k] = true
			lines = append(lines, r)
		}
	}
	// What the table holds of them: active, or the lowest inactive id.
	active := make(map[string]bool)
	inactive := make(map[string]int64)
	for part := range slices.Chunk(lines, chunk) {
		tuples := make([]any, len(part))
		for i, r := range part {
			tuples[i] = lineArgs(r.Type, r.Values)
		}
		var rows []row
		if err := tx.Raw(`SELECT id, ptype, v0, v1, v2, v3, v4, v5, is_active FROM `+table+
			` WHERE `+lineMatch+` IN ? ORDER BY id`, tuples).Scan(&rows).Error; err != nil {
			return 0, err
		}
		for _, r := range rows {
			k := r.key()
			switch {
			case r.IsActive.Valid && r.IsActive.Bool:
				active[k] = true
			case inactive[k] == 0:
				inactive[k] = r.ID
			}
		}
	}
	var revive []int64
	var insert []row
	for _, r := range lines {
		k := lineKey(r.Type, r.Values)
		switch {
		case active[k]:
		case inactive[k] != 0:
			revive = append(revive, inactive[k])
		default:
			insert = append(insert, newRow(r, by, now))
		}
	}
	for part := range slices.Chunk(revive, chunk) {
		err := tx.Exec(`UPDATE `+table+` SET is_active = TRUE, updated_by = ?, updated_at = ? WHERE id IN ?`,
			actor(by), now, part).Error
		if err != nil {
			return 0, err
		}
	}
	if len(insert) > 0 {
		if err := tx.Table(table).CreateInBatches(insert, chunk).Error; err != nil {
			return 0, err
		}
	}
	return len(revive) + len(insert), nil
}

// lineArgs is a row's line as lineMatch compares it.
func lineArgs(typ string, values []string) []any {
	args := make([]any, 1+rbac.MaxValues)
	args[0] = typ
	for i := range rbac.MaxValues {
		args[1+i] = ""
		if i < len(values) {
			args[1+i] = values[i]
		}
	}
	return args
}

// removeMatching deletes the active rows of f (f.Inactive ignored) in one
// statement and returns them.
func removeMatching(tx *gorm.DB, f rbac.Filter) ([]row, error) {
	f.Inactive = false
	cond, args, ok := where(f)
	if !ok {
		return nil, nil
	}
	var rows []row
	err := tx.Raw(`DELETE FROM `+table+` WHERE `+cond+
		` RETURNING id, ptype, v0, v1, v2, v3, v4, v5, created_at, updated_at, created_by, updated_by, is_active`,
		args...).Scan(&rows).Error
	slices.SortFunc(rows, func(x, y row) int { return cmp.Compare(x.ID, y.ID) })
	return rows, err
}

// removeLines deletes the active rows of exactly the lines of rules and
// returns how many it deleted.
func removeLines(tx *gorm.DB, rules []rbac.Rule) (int, error) {
	var n int
	for part := range slices.Chunk(rules, chunk) {
		tuples := make([]any, len(part))
		for i, r := range part {
			tuples[i] = lineArgs(r.Type, r.Values)
		}
		res := tx.Exec(`DELETE FROM `+table+` WHERE is_active AND `+lineMatch+` IN ?`, tuples)
		if res.Error != nil {
			return 0, res.Error
		}
		n += int(res.RowsAffected)
	}
	return n, nil
}

// replace is Replace inside a transaction that holds the lock.
func replace(tx *gorm.DB, rules []rbac.Rule, by string, now time.Time) (int, error) {
	keep := make(map[string]bool, len(rules))
	for _, r := range rules {
		keep[lineKey(r.Type, r.Values)] = true
	}
	var rows []row
	if err := tx.Raw(`SELECT id, ptype, v0, v1, v2, v3, v4, v5 FROM ` + table + ` WHERE is_active ORDER BY id`).
		Scan(&rows).Error; err != nil {
		return 0, err
	}
	var drop []int64
	for _, r := range rows {
		if !keep[r.key()] {
			drop = append(drop, r.ID)
		}
	}
	for part := range slices.Chunk(drop, chunk) {
		if err := tx.Exec(`DELETE FROM `+table+` WHERE id IN ?`, part).Error; err != nil {
			return 0, err
		}
	}
	n, err := add(tx, rules, by, now)
	return len(drop) + n, err
}
