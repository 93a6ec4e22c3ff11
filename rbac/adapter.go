package rbac

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/casbin/casbin/v2/model"
	"github.com/casbin/casbin/v2/persist"

	"github.com/cedrina/cedrina/audit"
)

// Adapter is a Casbin adapter over a [Store], for hosts that drive a
// Casbin enforcer of their own on the rules the Authorizer keeps. It
// loads active rules only; AddPolicy, RemovePolicy and the rest write
// through the Store (and so notify its watchers), recording as actor the
// audit.Actor of the context in the ...Ctx variants, and nobody in the
// others. SavePolicy is Store.Replace: one transaction, inactive rules
// kept. It implements Casbin's persist.Adapter, persist.ContextAdapter,
// persist.BatchAdapter and persist.ContextBatchAdapter.
type Adapter struct {
	st  Store
	now func() time.Time
}

// NewAdapter returns a Casbin adapter over st.
func NewAdapter(st Store) *Adapter { return &Adapter{st: st, now: time.Now} }

var (
	_ persist.Adapter             = (*Adapter)(nil)
	_ persist.ContextAdapter      = (*Adapter)(nil)
	_ persist.BatchAdapter        = (*Adapter)(nil)
	_ persist.ContextBatchAdapter = (*Adapter)(nil)
)

func actor(ctx context.Context) string {
	a, _ := audit.ActorFromContext(ctx)
	return a.String()
}

// LoadPolicy loads the active rules into m.
func (a *Adapter) LoadPolicy(m model.Model) error { return a.LoadPolicyCtx(context.Background(), m) }

// LoadPolicyCtx loads the active rules into m.
func (a *Adapter) LoadPolicyCtx(ctx context.Context, m model.Model) error {
	rules, err := a.st.Rules(ctx, Filter{})
	if err != nil {
		return err
	}
	return loadRules(m, rules)
}

// loadRules adds rules to m, each padded with "" to its definition's
// number of fields. A rule whose type the model lacks, or that has more
// values than its definition, fails the load: Casbin would fail every
// decision on it.
func loadRules(m model.Model, rules []Rule) error {
	for _, r := range rules {
		sec := r.Type[:1]
		ast, ok := m[sec][r.Type]
		if !ok {
			return fmt.Errorf("%w: rule %d: the model has no %q", ErrInvalidRule, r.ID, r.Type)
		}
		n := len(ast.Tokens)
		if len(r.Values) > n {
			return fmt.Errorf("%w: rule %d: %d values for %d fields", ErrInvalidRule, r.ID, len(r.Values), n)
		}
		line := make([]string, 1+n)
		line[0] = r.Type
		copy(line[1:], r.Values)
		if err := persist.LoadPolicyArray(line, m); err != nil {
			return fmt.Errorf("rbac: rule %d: %w", r.ID, err)
		}
	}
	return nil
}

// SavePolicy makes the model's rules the active set (Store.Replace).
func (a *Adapter) SavePolicy(m model.Model) error { return a.SavePolicyCtx(context.Background(), m) }

// SavePolicyCtx makes the model's rules the active set (Store.Replace).
func (a *Adapter) SavePolicyCtx(ctx context.Context, m model.Model) error {
	var rules []Rule
	for _, sec := range []string{"p", "g"} {
		for ptype, ast := range m[sec] {
			for _, v := range ast.Policy {
				r, err := NewRule(ptype, v...)
				if err != nil {
					return err
				}
				rules = append(rules, r)
			}
		}
	}
	return a.st.Replace(ctx, rules, actor(ctx), a.now())
}

// AddPolicy adds one rule.
func (a *Adapter) AddPolicy(sec, ptype string, rule []string) error {
	return a.AddPoliciesCtx(context.Background(), sec, ptype, [][]string{rule})
}

// AddPolicyCtx adds one rule.
func (a *Adapter) AddPolicyCtx(ctx context.Context, sec, ptype string, rule []string) error {
	return a.AddPoliciesCtx(ctx, sec, ptype, [][]string{rule})
}

// AddPolicies adds rules in one transaction.
func (a *Adapter) AddPolicies(sec, ptype string, rules [][]string) error {
	return a.AddPoliciesCtx(context.Background(), sec, ptype, rules)
}

// AddPoliciesCtx adds rules in one transaction.
func (a *Adapter) AddPoliciesCtx(ctx context.Context, _, ptype string, rules [][]string) error {
	rs := make([]Rule, 0, len(rules))
	for _, v := range rules {
		r, err := NewRule(ptype, v...)
		if err != nil {
			return err
		}
		rs = append(rs, r)
	}
	_, err := a.st.Add(ctx, rs, actor(ctx), a.now())
	return err
}

// RemovePolicy deletes the active rule.
func (a *Adapter) RemovePolicy(sec, ptype string, rule []string) error {
	return a.RemovePoliciesCtx(context.Background(), sec, ptype, [][]string{rule})
}

// RemovePolicyCtx deletes the active rule.
func (a *Adapter) RemovePolicyCtx(ctx context.Context, sec, ptype string, rule []string) error {
	return a.RemovePoliciesCtx(ctx, sec, ptype, [][]string{rule})
}

// RemovePolicies deletes the active rules.
func (a *Adapter) RemovePolicies(sec, ptype string, rules [][]string) error {
	return a.RemovePoliciesCtx(context.Background(), sec, ptype, rules)
}

// RemovePoliciesCtx deletes the active rules identical to rules, one
// statement each: a failure part way leaves the earlier ones removed.
func (a *Adapter) RemovePoliciesCtx(ctx context.Context, _, ptype string, rules [][]string) error {
	for _, v := range rules {
		r, err := NewRule(ptype, v...)
		if err != nil {
			return err
		}
		if err := a.removeExact(ctx, r); err != nil {
			return err
		}
	}
	return nil
}

// removeExact removes the active rules identical to r.
func (a *Adapter) removeExact(ctx context.Context, r Rule) error {
	_, err := a.st.Remove(ctx, Filter{Type: r.Type, Values: r.Values, Exact: true}, actor(ctx), a.now())
	return err
}

// RemoveFilteredPolicy deletes the active rules whose values from
// fieldIndex on match fieldValues ("" matches anything).
func (a *Adapter) RemoveFilteredPolicy(sec, ptype string, fieldIndex int, fieldValues ...string) error {
	return a.RemoveFilteredPolicyCtx(context.Background(), sec, ptype, fieldIndex, fieldValues...)
}

// RemoveFilteredPolicyCtx deletes the active rules whose values from
// fieldIndex on match fieldValues ("" matches anything).
func (a *Adapter) RemoveFilteredPolicyCtx(ctx context.Context, _, ptype string, fieldIndex int, fieldValues ...string) error {
	if fieldIndex < 0 || fieldIndex+len(fieldValues) > MaxValues {
		return fmt.Errorf("%w: field %d and %d values", ErrInvalidRule, fieldIndex, len(fieldValues))
	}
	vals := append(make([]string, fieldIndex), fieldValues...)
	if strings.Join(vals, "") == "" {
		// Casbin's "remove everything of this type": allowed, and explicit.
		vals = nil
	}
	_, err := a.st.Remove(ctx, Filter{Type: ptype, Values: vals}, actor(ctx), a.now())
	return err
}
