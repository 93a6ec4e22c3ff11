package rbac

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/casbin/casbin/v2"
)

// The differential tests prove that the decision index decides exactly as
// Casbin's Enforce does with the same model and rules: random policies
// (hierarchies with cycles and chains past Casbin's 10-link limit,
// patterns, wildcards, duplicates) and random requests, thousands of
// cases per model.

// casbinEnforcer returns Casbin's enforcer for model m holding rules.
func casbinEnforcer(t testing.TB, m Model, rules []Rule) *casbin.Enforcer {
	t.Helper()
	cm, err := m.casbin()
	if err != nil {
		t.Fatal(err)
	}
	e, err := casbin.NewEnforcer(cm)
	if err != nil {
		t.Fatal(err)
	}
	if err := loadRules(e.GetModel(), rules); err != nil {
		t.Fatal(err)
	}
	if err := e.BuildRoleLinks(); err != nil {
		t.Fatal(err)
	}
	return e
}

// request is one differential case.
type request struct {
	sub, obj, act string
	attrs         []string
}

func pick[T any](r *rand.Rand, s []T) T { return s[r.IntN(len(s))] }

var (
	diffRoles    = []string{"admin", "user", "editor", "viewer", "r4", "r5", "r6", "r7"}
	diffUsers    = []string{"user:1", "user:2", "user:3", "user:4"}
	diffPatterns = []string{
		"/a", "/a/b", "/a/:id", "/a/*", "/*", "/b/:x/c", "/c/:id/*", "/a.b", "/docs/:id/edit",
		"/x|y", "/a/b*", "/:x", "/e/:x.json", "/caf\u00e9/*", "/q?", "/a/b/", "",
	}
	diffPaths = []string{
		"/a", "/a/b", "/a/1", "/a/1/2", "/a/", "/b/1/c", "/b//c", "/b/1/2/c", "/c/9", "/c/9/", "/c/9/z/w",
		"/a.b", "/aXb", "/docs/7/edit", "/docs//edit", "/x", "/y", "/x|y", "/a/bbb", "/a/b/c", "/e/1.json",
		"/e/1xjson", "/caf\u00e9/1", "/cafe/1", "/q", "/", "", ":id", "/a/:id", "/a/*", "*",
	}
	diffActions = []string{"GET", "POST", "read", "write", "*"}
)

// randomRBAC returns random rules for the rbac (domains == nil) or the
// domains model.
func randomRBAC(r *rand.Rand, domains []string) []Rule {
	var rules []Rule
	subjects := append(append([]string(nil), diffRoles...), diffUsers...)
	dom := func() []string {
		if domains == nil {
			return nil
		}
		return []string{pick(r, domains)}
	}
	for range 2 + r.IntN(25) {
		v := []string{pick(r, subjects)}
		if domains != nil {
			v = append(v, pick(r, domains))
		}
		v = append(v, pick(r, diffPatterns), pick(r, diffActions))
		rules = append(rules, Rule{Type: "p", Values: v, Active: true})
	}
	for range r.IntN(15) {
		v := append([]string{pick(r, subjects), pick(r, diffRoles)}, dom()...)
		rules = append(rules, Rule{Type: "g", Values: v, Active: true})
	}
	if r.IntN(4) == 0 {
		// A chain longer than Casbin's 10 links: c0 -> c1 -> ... -> c12,
		// permissions on several of its roles.
		d := dom()
		for i := range 12 {
			rules = append(rules, Rule{Type: "g", Values: append([]string{fmt.Sprintf("c%d", i), fmt.Sprintf("c%d", i+1)}, d...), Active: true})
		}
		for _, i := range []int{9 + r.IntN(4)} {
			v := []string{fmt.Sprintf("c%d", i)}
			v = append(v, d...)
			v = append(v, "/chain", "GET")
			rules = append(rules, Rule{Type: "p", Values: v, Active: true})
		}
	}
	if len(rules) > 0 && r.IntN(3) == 0 {
		rules = append(rules, rules[r.IntN(len(rules))]) // a duplicate
	}
	return rules
}

func randomRBACRequest(r *rand.Rand, domains []string) request {
	subs := append(append([]string{"nobody", "c0", "c1", "c2", ""}, diffRoles...), diffUsers...)
	q := request{sub: pick(r, subs), obj: pick(r, diffPaths), act: pick(r, diffActions)}
	if r.IntN(8) == 0 {
		q.obj = "/chain"
		q.act = "GET"
	}
	if domains != nil {
		q.attrs = []string{pick(r, append([]string{"other", ""}, domains...))}
	}
	return q
}

var (
	diffDepts = []string{"*", "sales", "eng", "finance"}
	diffLocs  = []string{"*", "us", "eu"}
	diffTimes = []string{"*", "business_hours", "night"}
	diffObjs  = []string{"/admin/users", "/reports", "/reports/*", "/a/:id", "/me"}
)

func randomABAC(r *rand.Rand) []Rule {
	var rules []Rule
	subjects := append(append([]string(nil), diffRoles...), diffUsers...)
	for range 2 + r.IntN(25) {
		rules = append(rules, Rule{Type: "p", Active: true, Values: []string{
			pick(r, subjects), pick(r, diffObjs), pick(r, diffActions), pick(r, diffDepts), pick(r, diffLocs), pick(r, diffTimes)}})
	}
	for range r.IntN(12) {
		rules = append(rules, Rule{Type: "g", Active: true, Values: []string{pick(r, subjects), pick(r, diffRoles)}})
	}
	return rules
}

func randomABACRequest(r *rand.Rand) request {
	subs := append(append([]string{"nobody"}, diffRoles...), diffUsers...)
	return request{sub: pick(r, subs), obj: pick(r, diffObjs), act: pick(r, diffActions),
		attrs: []string{pick(r, diffDepts), pick(r, diffLocs), pick(r, diffTimes)}}
}

func TestIndexAgreesWithCasbin(t *testing.T) {
	domains := []string{"acme", "globex"}
	models := []struct {
		model    Model
		policies func(*rand.Rand) []Rule
		request  func(*rand.Rand) request
	}{
		{RBAC(), func(r *rand.Rand) []Rule { return randomRBAC(r, nil) }, func(r *rand.Rand) request { return randomRBACRequest(r, nil) }},
		{Domains(), func(r *rand.Rand) []Rule { return randomRBAC(r, domains) }, func(r *rand.Rand) request { return randomRBACRequest(r, domains) }},
		{Attributes(), randomABAC, randomABACRequest},
	}
	const policies, requests = 300, 40 // 12,000 cases per model
	for _, tc := range models {
		t.Run(tc.model.Name(), func(t *testing.T) {
			t.Parallel()
			r := rand.New(rand.NewPCG(uint64(len(tc.model.Name())), 2026))
			allowed, cases := 0, 0
			for pi := range policies {
				rules := tc.policies(r)
				for i := range rules {
					rules[i].ID = int64(i + 1)
				}
				e := casbinEnforcer(t, tc.model, rules)
				a := &Authorizer{model: tc.model}
				a.state.Store(&decider{ix: buildIndex(tc.model.kind, rules, nil, func(r Rule, err error) { t.Fatalf("rule %v skipped: %v", r, err) })})
				for range requests {
					q := tc.request(r)
					if r.IntN(2) == 0 {
						q = nearRule(r, tc.model.kind, rules, q)
					}
					req, ok := tc.model.request(q.sub, q.obj, q.act, q.attrs)
					if !ok {
						t.Fatalf("request %+v does not fit", q)
					}
					want, err := e.Enforce(req...)
					if err != nil {
						t.Fatalf("casbin: %v", err)
					}
					got := a.decide(q.sub, q.obj, q.act, q.attrs)
					cases++
					if want {
						allowed++
					}
					if got != want {
						t.Fatalf("policy %d, request %q: index %v, Casbin %v\nrules:\n%s", pi, req, got, want, lines(rules))
					}
				}
			}
			// Both outcomes must be well represented, or the test proves little.
			if allowed < cases/20 || allowed > cases*19/20 {
				t.Fatalf("%d of %d cases allowed: the generator is lopsided", allowed, cases)
			}
			t.Logf("%d cases, %d allowed", cases, allowed)
		})
	}
}

// nearRule returns a request aimed at one of rules' p rules (its subject
// or a member of it, its object or action where they are literal, its
// attributes or the request's own), so that both outcomes are common.
func nearRule(r *rand.Rand, k kind, rules []Rule, q request) request {
	var ps []Rule
	for _, ru := range rules {
		if ru.Type == "p" {
			ps = append(ps, ru)
		}
	}
	if len(ps) == 0 {
		return q
	}
	p := pick(r, ps).Values
	q.sub = p[0]
	for _, ru := range rules {
		if ru.Type == "g" && ru.Values[1] == p[0] && r.IntN(2) == 0 {
			q.sub = ru.Values[0]
		}
	}
	obj, act, rest := p[1], p[2], p[3:]
	if k == kindDomains {
		q.attrs = []string{p[1]}
		obj, act, rest = p[2], p[3], nil
	}
	if r.IntN(3) > 0 {
		q.obj = obj
	}
	if act != "*" && r.IntN(4) > 0 {
		q.act = act
	}
	if k == kindABAC {
		for i, v := range rest {
			if v != "*" && r.IntN(4) > 0 {
				q.attrs[i] = v
			}
		}
	}
	return q
}

func lines(rules []Rule) string {
	s := ""
	for _, r := range rules {
		s += r.Line() + "\n"
	}
	return s
}
