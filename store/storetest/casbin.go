package storetest

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/casbin/casbin/v2"
	"github.com/casbin/casbin/v2/model"
	"github.com/casbin/casbin/v2/persist"

	"github.com/cedrina/cedrina/audit"
	"github.com/cedrina/cedrina/rbac"
)

// CasbinAdapter is a Casbin adapter with context variants, as
// rbac.NewAdapter and rbac/gormadapter's Adapter are.
type CasbinAdapter interface {
	persist.Adapter
	persist.ContextAdapter
}

// CasbinAdapterFactory returns a fresh, empty Casbin adapter and a
// rbac.Store on the same rules, which the suite seeds and inspects them
// through.
type CasbinAdapterFactory func(t *testing.T) (CasbinAdapter, rbac.Store)

// casbinModel is the model the suite loads rules into: rbac's default.
var casbinModel = rbac.RBAC().Text()

// RunCasbinAdapter checks a Casbin adapter over the casbin_rules table:
// it loads active rules only, records the context's actor, removes only
// what it is asked to, and saves the whole policy atomically, keeping
// inactive rules.
func RunCasbinAdapter(t *testing.T, newAdapter CasbinAdapterFactory) {
	ctx := context.Background()
	at := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	seed := func(t *testing.T, st rbac.Store, lines ...string) []rbac.Rule {
		t.Helper()
		var rules []rbac.Rule
		for _, l := range lines {
			f := strings.Split(l, ", ")
			r, err := rbac.NewRule(f[0], f[1:]...)
			if err != nil {
				t.Fatal(err)
			}
			rules = append(rules, r)
		}
		if _, err := st.Add(ctx, rules, "seed", at); err != nil {
			t.Fatal(err)
		}
		all, err := st.Rules(ctx, rbac.Filter{Inactive: true})
		if err != nil {
			t.Fatal(err)
		}
		return all
	}
	active := func(t *testing.T, st rbac.Store) []string {
		t.Helper()
		rules, err := st.Rules(ctx, rbac.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, r := range rules {
			out = append(out, r.Line())
		}
		slices.Sort(out)
		return out
	}
	enforcer := func(t *testing.T, a persist.Adapter) *casbin.Enforcer {
		t.Helper()
		m, err := model.NewModelFromString(casbinModel)
		if err != nil {
			t.Fatal(err)
		}
		e, err := casbin.NewEnforcer(m, a)
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	cases := map[string]func(t *testing.T, a CasbinAdapter, st rbac.Store){
		"LoadActiveOnly": func(t *testing.T, a CasbinAdapter, st rbac.Store) {
			rules := seed(t, st, "p, admin, /admin/*, GET", "p, user, /me, GET", "g, alice, admin", "g, bob, user")
			for _, r := range rules {
				if r.Line() == "p, user, /me, GET" || r.Line() == "g, alice, admin" {
					if _, err := st.SetActive(ctx, r.ID, false, "seed", at); err != nil {
						t.Fatal(err)
					}
				}
			}
			e := enforcer(t, a)
			p, _ := e.GetPolicy()
			g, _ := e.GetGroupingPolicy()
			if !slices.EqualFunc(p, [][]string{{"admin", "/admin/*", "GET"}}, slices.Equal) ||
				!slices.EqualFunc(g, [][]string{{"bob", "user"}}, slices.Equal) {
				t.Fatalf("loaded p %q, g %q; want only the active rules", p, g)
			}
			if ok, _ := e.Enforce("alice", "/admin/x", "GET"); ok {
				t.Error("an inactive role link was enforced")
			}
			if ok, _ := e.Enforce("bob", "/me", "GET"); ok {
				t.Error("an inactive policy was enforced")
			}
		},
		"AddRecordsActor": func(t *testing.T, a CasbinAdapter, st rbac.Store) {
			actx := audit.ContextWithActor(ctx, audit.Actor{UserID: 42})
			if err := a.AddPolicyCtx(actx, "p", "p", []string{"editor", "/docs/:id", "PUT"}); err != nil {
				t.Fatal(err)
			}
			if err := a.AddPolicy("g", "g", []string{"carol", "editor"}); err != nil {
				t.Fatal(err)
			}
			rules, err := st.Rules(ctx, rbac.Filter{})
			if err != nil {
				t.Fatal(err)
			}
			if len(rules) != 2 {
				t.Fatalf("%d rules, want 2", len(rules))
			}
			for _, r := range rules {
				want := ""
				if r.Type == "p" {
					want = "42"
				}
				if r.CreatedBy != want || r.UpdatedBy != want || !r.Active {
					t.Errorf("%s: created_by %q, updated_by %q, active %v; want %q, active", r.Line(), r.CreatedBy, r.UpdatedBy, r.Active, want)
				}
			}
			e := enforcer(t, a)
			if ok, _ := e.Enforce("carol", "/docs/7", "PUT"); !ok {
				t.Error("added rules not enforced after a load")
			}
		},
		"AddInvalid": func(t *testing.T, a CasbinAdapter, st rbac.Store) {
			err := a.AddPolicyCtx(ctx, "p", "p", []string{"x", strings.Repeat("a", rbac.MaxValueLen+1), "GET"})
			if !errors.Is(err, rbac.ErrInvalidRule) {
				t.Fatalf("a %d-byte value: %v, want ErrInvalidRule", rbac.MaxValueLen+1, err)
			}
			if got := active(t, st); len(got) != 0 {
				t.Fatalf("stored %q", got)
			}
		},
		"RemoveExact": func(t *testing.T, a CasbinAdapter, st rbac.Store) {
			seed(t, st, "p, user, /me, GET", "p, user, /me, POST", "p, admin, /me, GET")
			if err := a.RemovePolicyCtx(ctx, "p", "p", []string{"user", "/me", "GET"}); err != nil {
				t.Fatal(err)
			}
			want := []string{"p, admin, /me, GET", "p, user, /me, POST"}
			if got := active(t, st); !slices.Equal(got, want) {
				t.Fatalf("after RemovePolicy: %q, want %q", got, want)
			}
		},
		"RemoveFiltered": func(t *testing.T, a CasbinAdapter, st rbac.Store) {
			rules := seed(t, st, "p, user, /me, GET", "p, user, /me, POST", "p, admin, /me, GET", "p, user, /docs, GET")
			var inactive rbac.Rule
			for _, r := range rules {
				if r.Line() == "p, admin, /me, GET" {
					var err error
					if inactive, err = st.SetActive(ctx, r.ID, false, "seed", at); err != nil {
						t.Fatal(err)
					}
				}
			}
			if err := a.RemoveFilteredPolicyCtx(ctx, "p", "p", 1, "/me"); err != nil {
				t.Fatal(err)
			}
			if got, want := active(t, st), []string{"p, user, /docs, GET"}; !slices.Equal(got, want) {
				t.Fatalf("after RemoveFilteredPolicy(1, /me): %q, want %q", got, want)
			}
			all, err := st.Rules(ctx, rbac.Filter{Inactive: true})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.ContainsFunc(all, func(r rbac.Rule) bool { return r.ID == inactive.ID && !r.Active }) {
				t.Error("an inactive rule was removed: removal must leave inactive rules alone")
			}
		},
		"SaveKeepsInactive": func(t *testing.T, a CasbinAdapter, st rbac.Store) {
			rules := seed(t, st, "p, old, /x, GET", "p, gone, /y, GET")
			if _, err := st.SetActive(ctx, rules[1].ID, false, "seed", at); err != nil {
				t.Fatal(err)
			}
			m, _ := model.NewModelFromString(casbinModel)
			m.AddPolicy("p", "p", []string{"new", "/z", "GET"})
			m.AddPolicy("g", "g", []string{"dave", "new"})
			actx := audit.ContextWithActor(ctx, audit.Actor{Name: "saver"})
			if err := a.SavePolicyCtx(actx, m); err != nil {
				t.Fatal(err)
			}
			if got, want := active(t, st), []string{"g, dave, new", "p, new, /z, GET"}; !slices.Equal(got, want) {
				t.Fatalf("after SavePolicy: %q, want %q", got, want)
			}
			all, err := st.Rules(ctx, rbac.Filter{Inactive: true})
			if err != nil {
				t.Fatal(err)
			}
			kept := false
			for _, r := range all {
				if r.ID == rules[1].ID && !r.Active {
					kept = true
				}
				if r.Active && r.CreatedBy != "saver" {
					t.Errorf("%s: created_by %q, want saver", r.Line(), r.CreatedBy)
				}
			}
			if !kept {
				t.Error("SavePolicy removed an inactive rule")
			}
		},
		"SaveAtomic": func(t *testing.T, a CasbinAdapter, st rbac.Store) {
			seed(t, st, "p, old, /x, GET")
			m, _ := model.NewModelFromString(casbinModel)
			m.AddPolicy("p", "p", []string{"new", "/z", "GET"})
			m.AddPolicy("p", "p", []string{"bad", strings.Repeat("é", 200), "GET"}) // 400 bytes
			if err := a.SavePolicyCtx(ctx, m); err == nil {
				t.Fatal("SavePolicy with an over-long value succeeded")
			}
			if got, want := active(t, st), []string{"p, old, /x, GET"}; !slices.Equal(got, want) {
				t.Fatalf("after a failed SavePolicy: %q, want the old policy %q", got, want)
			}
		},
		"EnforcerAutoSave": func(t *testing.T, a CasbinAdapter, st rbac.Store) {
			e := enforcer(t, a)
			if _, err := e.AddPolicy("viewer", "/reports", "GET"); err != nil {
				t.Fatal(err)
			}
			if _, err := e.AddGroupingPolicy("erin", "viewer"); err != nil {
				t.Fatal(err)
			}
			e2 := enforcer(t, a)
			if ok, _ := e2.Enforce("erin", "/reports", "GET"); !ok {
				t.Fatal("a second enforcer does not see the first one's changes")
			}
			if _, err := e.RemoveGroupingPolicy("erin", "viewer"); err != nil {
				t.Fatal(err)
			}
			if err := e2.LoadPolicy(); err != nil {
				t.Fatal(err)
			}
			if ok, _ := e2.Enforce("erin", "/reports", "GET"); ok {
				t.Fatal("a removed role link is still enforced after a reload")
			}
		},
	}
	for name, fn := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			a, st := newAdapter(t)
			fn(t, a, st)
		})
	}
}
