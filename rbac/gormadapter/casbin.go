package gormadapter

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/casbin/casbin/v2/model"
	"github.com/casbin/casbin/v2/persist"
	casbingorm "github.com/casbin/gorm-adapter/v3"
	"gorm.io/gorm"

	"github.com/cedrina/cedrina/audit"
	"github.com/cedrina/cedrina/rbac"
)

// The Casbin interfaces the adapter implements. Casbin's Enforcer and
// ContextEnforcer assert the batch and update interfaces without
// checking, and panic on an adapter that lacks them.
var (
	_ persist.Adapter                 = (*Adapter)(nil)
	_ persist.ContextAdapter          = (*Adapter)(nil)
	_ persist.BatchAdapter            = (*Adapter)(nil)
	_ persist.ContextBatchAdapter     = (*Adapter)(nil)
	_ persist.UpdatableAdapter        = (*Adapter)(nil)
	_ persist.ContextUpdatableAdapter = (*Adapter)(nil)
	_ persist.FilteredAdapter         = (*Adapter)(nil)
	_ persist.ContextFilteredAdapter  = (*Adapter)(nil)
)

// actorOf is the actor of ctx as created_by / updated_by record it.
func actorOf(ctx context.Context) string {
	a, _ := audit.ActorFromContext(ctx)
	return a.String()
}

// LoadPolicy is LoadPolicyCtx without a context.
func (a *Adapter) LoadPolicy(m model.Model) error { return a.LoadPolicyCtx(context.Background(), m) }

// LoadPolicyCtx loads the active rules (is_active = true), in id order,
// into m. A rule with fewer values than its type's definition in m gets
// "" for the missing ones (the table keeps unused values NULL). A rule
// of a type m does not define, or with more values than its definition,
// fails the whole load with an error matching rbac.ErrInvalidRule; m is
// then partly filled (Casbin's Enforcer loads into a copy and keeps its
// policy).
func (a *Adapter) LoadPolicyCtx(ctx context.Context, m model.Model) error {
	rules, err := a.Rules(ctx, rbac.Filter{})
	if err != nil {
		return err
	}
	if err := load(m, rules); err != nil {
		return fmt.Errorf("gormadapter: load policy: %w", err)
	}
	a.filtered.Store(false)
	return nil
}

// load adds rules to m, each padded with "" to its definition's number
// of fields. A rule of a type the model lacks (an empty one included), or
// with more values than its definition, fails the load with an error
// matching rbac.ErrInvalidRule: Casbin would fail every decision on it.
func load(m model.Model, rules []rbac.Rule) error {
	for _, r := range rules {
		var ast *model.Assertion
		if r.Type != "" {
			ast = m[r.Type[:1]][r.Type]
		}
		if ast == nil {
			return fmt.Errorf("%w: rule %d: the model has no type %q", rbac.ErrInvalidRule, r.ID, r.Type)
		}
		n := len(ast.Tokens)
		if len(r.Values) > n {
			return fmt.Errorf("%w: rule %d: %d values for %d fields", rbac.ErrInvalidRule, r.ID, len(r.Values), n)
		}
		line := make([]string, 1+n)
		line[0] = r.Type
		copy(line[1:], r.Values)
		if err := persist.LoadPolicyArray(line, m); err != nil {
			return fmt.Errorf("rule %d (%s): %w", r.ID, r.Line(), err)
		}
	}
	return nil
}

// LoadFilteredPolicy is LoadFilteredPolicyCtx without a context.
func (a *Adapter) LoadFilteredPolicy(m model.Model, filter any) error {
	return a.LoadFilteredPolicyCtx(context.Background(), m, filter)
}

// LoadFilteredPolicyCtx loads the active rules that match filter into m,
// after which IsFiltered reports true (and Casbin refuses SavePolicy)
// until the next LoadPolicy. filter is either
//
//   - an rbac.Filter or *rbac.Filter: the rules Rules returns for it,
//     loaded as LoadPolicy loads them (f.Inactive is ignored: inactive
//     rules are never loaded); or
//   - gorm-adapter's own filter (a gormadapter.Filter, *Filter or
//     []Filter of github.com/casbin/gorm-adapter/v3), loaded by
//     gorm-adapter's LoadFilteredPolicy with its semantics: within one
//     Filter, every non-empty field is an IN list and the fields are
//     ANDed; the filters of a []Filter are loaded one after another (a
//     rule that matches several loads once). gorm-adapter reads only
//     active rules here, because the adapter gives it a *gorm.DB
//     restricted to them; but it does not fill in values missing from a
//     rule (see LoadPolicyCtx): such a rule fails the load with Casbin's
//     "invalid policy rule size".
func (a *Adapter) LoadFilteredPolicyCtx(ctx context.Context, m model.Model, filter any) error {
	var f *rbac.Filter
	switch v := filter.(type) {
	case rbac.Filter:
		f = &v
	case *rbac.Filter:
		if v == nil {
			return errors.New("gormadapter: load filtered policy: nil *rbac.Filter")
		}
		f = v
	}
	if f != nil {
		active := *f
		active.Inactive = false
		rules, err := a.Rules(ctx, active)
		if err != nil {
			return err
		}
		if err := load(m, rules); err != nil {
			return fmt.Errorf("gormadapter: load filtered policy: %w", err)
		}
	} else {
		// NewFilteredAdapterByDB is the one gorm-adapter constructor
		// that never migrates: the others do unless the *gorm.DB's
		// context carries TurnOffAutoMigrate's value, which ctx does
		// not.
		up, err := casbingorm.NewFilteredAdapterByDB(a.active.WithContext(ctx), "", table)
		if err != nil {
			return fmt.Errorf("gormadapter: load filtered policy: %w", translate(ctx, err))
		}
		if err := up.LoadFilteredPolicy(m, filter); err != nil {
			return fmt.Errorf("gormadapter: load filtered policy: %w", translate(ctx, err))
		}
	}
	a.filtered.Store(true)
	return nil
}

// IsFiltered reports whether the adapter's last successful load was a
// filtered one.
func (a *Adapter) IsFiltered() bool { return a.filtered.Load() }

// IsFilteredCtx is IsFiltered.
func (a *Adapter) IsFilteredCtx(context.Context) bool { return a.IsFiltered() }

// SavePolicy is SavePolicyCtx without a context (and so without an
// actor).
func (a *Adapter) SavePolicy(m model.Model) error { return a.SavePolicyCtx(context.Background(), m) }

// SavePolicyCtx makes the policy of m (its "p" and "g" sections) the
// complete set of active rules: Replace, in one transaction, with the
// actor of ctx (audit.ActorFromContext) as created_by / updated_by.
// Inactive rules, ids and the history of unchanged rules stay. An invalid
// rule in m fails it before anything is written (errors match
// rbac.ErrInvalidRule). It refuses while IsFiltered: saving a filtered
// policy would delete every rule the filter left out.
func (a *Adapter) SavePolicyCtx(ctx context.Context, m model.Model) error {
	if a.IsFiltered() {
		return errors.New("gormadapter: save policy: cannot save a filtered policy")
	}
	var rules []rbac.Rule
	for _, sec := range []string{"p", "g"} {
		for _, ptype := range slices.Sorted(maps.Keys(m[sec])) {
			for _, values := range m[sec][ptype].Policy {
				r, err := rbac.NewRule(ptype, values...)
				if err != nil {
					return fmt.Errorf("gormadapter: save policy: %w", err)
				}
				rules = append(rules, r)
			}
		}
	}
	return a.Replace(ctx, rules, actorOf(ctx), a.now())
}

// AddPolicy is AddPolicyCtx without a context (and so without an actor).
func (a *Adapter) AddPolicy(sec, ptype string, rule []string) error {
	return a.AddPolicyCtx(context.Background(), sec, ptype, rule)
}

// AddPolicyCtx makes rule an active rule of type ptype: Add, with the
// actor of ctx. Trailing empty values are not stored.
func (a *Adapter) AddPolicyCtx(ctx context.Context, sec, ptype string, rule []string) error {
	return a.AddPoliciesCtx(ctx, sec, ptype, [][]string{rule})
}

// AddPolicies is AddPoliciesCtx without a context (and so without an
// actor).
func (a *Adapter) AddPolicies(sec, ptype string, rules [][]string) error {
	return a.AddPoliciesCtx(context.Background(), sec, ptype, rules)
}

// AddPoliciesCtx makes rules active rules of type ptype, in one
// transaction: Add, with the actor of ctx.
func (a *Adapter) AddPoliciesCtx(ctx context.Context, sec, ptype string, rules [][]string) error {
	rs, err := toRules(ptype, rules)
	if err != nil {
		return fmt.Errorf("gormadapter: add policies: %w", err)
	}
	_, err = a.Add(ctx, rs, actorOf(ctx), a.now())
	return err
}

func toRules(ptype string, rules [][]string) ([]rbac.Rule, error) {
	rs := make([]rbac.Rule, len(rules))
	for i, values := range rules {
		r, err := rbac.NewRule(ptype, values...)
		if err != nil {
			return nil, err
		}
		rs[i] = r
	}
	return rs, nil
}

// lines are rules to find, not to store: they are not validated (a row of
// the original system may hold what Validate refuses), and a line no row
// can hold (more than rbac.MaxValues values, NUL, invalid UTF-8) is left
// out.
func lines(ptype string, rules [][]string) []rbac.Rule {
	var rs []rbac.Rule
	for _, values := range rules {
		if v := rbac.Trim(values); len(v) <= rbac.MaxValues && storable(ptype) && all(v, storable) {
			rs = append(rs, rbac.Rule{Type: ptype, Values: v})
		}
	}
	return rs
}

// RemovePolicy is RemovePolicyCtx without a context.
func (a *Adapter) RemovePolicy(sec, ptype string, rule []string) error {
	return a.RemovePolicyCtx(context.Background(), sec, ptype, rule)
}

// RemovePolicyCtx deletes the active rules that are exactly rule (every
// value, unused ones included; NULL and "" alike), in one transaction.
// Inactive rules are kept.
func (a *Adapter) RemovePolicyCtx(ctx context.Context, sec, ptype string, rule []string) error {
	return a.RemovePoliciesCtx(ctx, sec, ptype, [][]string{rule})
}

// RemovePolicies is RemovePoliciesCtx without a context.
func (a *Adapter) RemovePolicies(sec, ptype string, rules [][]string) error {
	return a.RemovePoliciesCtx(context.Background(), sec, ptype, rules)
}

// RemovePoliciesCtx is RemovePolicyCtx for several rules, in one
// transaction.
func (a *Adapter) RemovePoliciesCtx(ctx context.Context, sec, ptype string, rules [][]string) error {
	by := actorOf(ctx)
	if err := rbac.ValidActor(by); err != nil {
		return fmt.Errorf("gormadapter: remove policies: %w", err)
	}
	rs := lines(ptype, rules)
	_, err := a.change(ctx, "remove", by, func(tx *gorm.DB) (int, error) {
		return removeLines(tx, rs)
	})
	return err
}

// RemoveFilteredPolicy is RemoveFilteredPolicyCtx without a context.
func (a *Adapter) RemoveFilteredPolicy(sec, ptype string, fieldIndex int, fieldValues ...string) error {
	return a.RemoveFilteredPolicyCtx(context.Background(), sec, ptype, fieldIndex, fieldValues...)
}

// RemoveFilteredPolicyCtx deletes the active rules of type ptype whose
// values from position fieldIndex on equal fieldValues ("" matches
// anything), in one transaction: Remove. As in Casbin's model, all-empty
// fieldValues match every rule of ptype.
func (a *Adapter) RemoveFilteredPolicyCtx(ctx context.Context, sec, ptype string, fieldIndex int, fieldValues ...string) error {
	f, err := fieldFilter(ptype, fieldIndex, fieldValues)
	if err != nil {
		return fmt.Errorf("gormadapter: remove filtered policy: %w", err)
	}
	_, err = a.Remove(ctx, f, actorOf(ctx), a.now())
	return err
}

// fieldFilter is Casbin's field filter as an rbac.Filter: fieldIndex and
// fieldValues must lie within v0 to v5, else the error matches
// rbac.ErrInvalidRule.
func fieldFilter(ptype string, fieldIndex int, fieldValues []string) (rbac.Filter, error) {
	if fieldIndex < 0 || fieldIndex+len(fieldValues) > rbac.MaxValues {
		return rbac.Filter{}, fmt.Errorf("%w: field %d and %d values, beyond v0 to v%d", rbac.ErrInvalidRule, fieldIndex, len(fieldValues), rbac.MaxValues-1)
	}
	return rbac.Filter{Type: ptype, Values: append(make([]string, fieldIndex), fieldValues...)}, nil
}

// UpdatePolicy is UpdatePolicyCtx without a context.
func (a *Adapter) UpdatePolicy(sec, ptype string, oldRule, newRule []string) error {
	return a.UpdatePolicyCtx(context.Background(), sec, ptype, oldRule, newRule)
}

// UpdatePolicyCtx replaces the active rule oldRule by newRule, in one
// transaction: RemovePolicy of oldRule, then AddPolicy of newRule (a new
// row, or the reactivation of an inactive one), with the actor of ctx.
func (a *Adapter) UpdatePolicyCtx(ctx context.Context, sec, ptype string, oldRule, newRule []string) error {
	return a.UpdatePoliciesCtx(ctx, sec, ptype, [][]string{oldRule}, [][]string{newRule})
}

// UpdatePolicies is UpdatePoliciesCtx without a context.
func (a *Adapter) UpdatePolicies(sec, ptype string, oldRules, newRules [][]string) error {
	return a.UpdatePoliciesCtx(context.Background(), sec, ptype, oldRules, newRules)
}

// UpdatePoliciesCtx is UpdatePolicyCtx for pairs of rules, in one
// transaction. A pair whose two rules are the same line changes nothing.
func (a *Adapter) UpdatePoliciesCtx(ctx context.Context, sec, ptype string, oldRules, newRules [][]string) error {
	if len(oldRules) != len(newRules) {
		return fmt.Errorf("gormadapter: update policies: %d old rules, %d new ones", len(oldRules), len(newRules))
	}
	var olds, news [][]string
	for i := range oldRules {
		if !slices.Equal(rbac.Trim(oldRules[i]), rbac.Trim(newRules[i])) {
			olds, news = append(olds, oldRules[i]), append(news, newRules[i])
		}
	}
	adds, err := toRules(ptype, news)
	if err != nil {
		return fmt.Errorf("gormadapter: update policies: %w", err)
	}
	_, err = a.update(ctx, lines(ptype, olds), nil, adds)
	return err
}

// UpdateFilteredPolicies is UpdateFilteredPoliciesCtx without a context.
func (a *Adapter) UpdateFilteredPolicies(sec, ptype string, newRules [][]string, fieldIndex int, fieldValues ...string) ([][]string, error) {
	return a.UpdateFilteredPoliciesCtx(context.Background(), sec, ptype, newRules, fieldIndex, fieldValues...)
}

// UpdateFilteredPoliciesCtx deletes the active rules RemoveFilteredPolicy
// would delete and adds newRules, in one transaction, and returns the
// deleted rules' values (without trailing empty values) in id order.
func (a *Adapter) UpdateFilteredPoliciesCtx(ctx context.Context, sec, ptype string, newRules [][]string, fieldIndex int, fieldValues ...string) ([][]string, error) {
	f, err := fieldFilter(ptype, fieldIndex, fieldValues)
	if err != nil {
		return nil, fmt.Errorf("gormadapter: update filtered policies: %w", err)
	}
	adds, err := toRules(ptype, newRules)
	if err != nil {
		return nil, fmt.Errorf("gormadapter: update filtered policies: %w", err)
	}
	return a.update(ctx, nil, &f, adds)
}

// update deletes the active rows of exactly lines and of f (when not
// nil), then adds rules, in one transaction, and returns the values of
// the rows f deleted.
func (a *Adapter) update(ctx context.Context, lines []rbac.Rule, f *rbac.Filter, rules []rbac.Rule) ([][]string, error) {
	by := actorOf(ctx)
	if err := rbac.ValidActor(by); err != nil {
		return nil, fmt.Errorf("gormadapter: update: %w", err)
	}
	now := a.now()
	var old [][]string
	_, err := a.change(ctx, "update", by, func(tx *gorm.DB) (int, error) {
		removed, err := removeLines(tx, lines)
		if err != nil {
			return 0, err
		}
		if f != nil {
			rows, err := removeMatching(tx, *f)
			if err != nil {
				return 0, err
			}
			removed += len(rows)
			for _, r := range rows {
				old = append(old, r.values())
			}
		}
		added, err := add(tx, rules, by, now)
		return removed + added, err
	})
	if err != nil {
		return nil, err
	}
	return old, nil
}
