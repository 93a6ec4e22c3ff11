package rbac

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/casbin/casbin/v2"
)

// The benchmark policy: 1,000 users, 100 roles, 10,000 rules.
//   - 100 roles in a tree: role i inherits role i/10 (depth 2);
//   - each role has 88 p rules: 70 on literal objects ("/res/r7/12"), 9 on
//     segment patterns ("/res/r7/p3/:id") and 9 on prefix patterns
//     ("/api/r7/3/*"), actions GET, POST, PUT, DELETE;
//   - every user holds one or two roles through g rules (1,100 of them)
//     and users.role is not needed: requests check as the user.
const (
	benchUsers = 1000
	benchRoles = 100
)

func benchRules() []Rule {
	acts := []string{"GET", "POST", "PUT", "DELETE"}
	var rules []Rule
	add := func(typ string, v ...string) {
		rules = append(rules, Rule{ID: int64(len(rules) + 1), Type: typ, Values: v, Active: true})
	}
	for i := 1; i < benchRoles; i++ {
		add("g", fmt.Sprintf("r%d", i), fmt.Sprintf("r%d", i/10))
	}
	for i := range benchRoles {
		role := fmt.Sprintf("r%d", i)
		for k := range 70 {
			add("p", role, fmt.Sprintf("/res/%s/%d", role, k), acts[k%4])
		}
		for k := range 9 {
			add("p", role, fmt.Sprintf("/res/%s/p%d/:id", role, k), acts[k%4])
			add("p", role, fmt.Sprintf("/api/%s/%d/*", role, k), "*")
		}
	}
	for u := range benchUsers {
		add("g", UserSubject(int64(u)), fmt.Sprintf("r%d", u%benchRoles))
		if u%10 == 0 {
			add("g", UserSubject(int64(u)), fmt.Sprintf("r%d", (u/10)%benchRoles))
		}
	}
	for len(rules) < 10000 {
		add("p", "r99", fmt.Sprintf("/extra/%d", len(rules)), "GET")
	}
	return rules
}

// benchRequests: user 57 holds r57, which inherits r5 and r0.
var benchRequests = []struct {
	name          string
	sub, obj, act string
	want          bool
}{
	{"literal", "user:57", "/res/r57/13", "POST", true},
	{"inherited", "user:57", "/res/r0/2", "PUT", true},
	{"pattern", "user:57", "/api/r5/3/x/y", "DELETE", true},
	{"denied", "user:57", "/res/r58/13", "POST", false},
}

func benchAuthorizer(b *testing.B, rules []Rule) *Authorizer {
	a := &Authorizer{model: RBAC(), log: slog.New(slog.DiscardHandler)}
	a.state.Store(&decider{ix: buildIndex(kindRBAC, rules, nil, func(r Rule, err error) { b.Fatal(r, err) })})
	return a
}

// BenchmarkDecision compares the Authorizer's decision with Casbin's plain
// and cached enforcers on the same policy. The cached enforcer is fast
// only because it answers from a cache that removing a rule does not
// clear (it stays stale); the Authorizer is rebuilt on every change.
func BenchmarkDecision(b *testing.B) {
	rules := benchRules()
	ctx := context.Background()
	a := benchAuthorizer(b, rules)
	m, _ := RBAC().casbin()
	plain, err := casbin.NewEnforcer(m)
	if err != nil {
		b.Fatal(err)
	}
	if err := loadRules(plain.GetModel(), rules); err != nil {
		b.Fatal(err)
	}
	plain.BuildRoleLinks()
	m2, _ := RBAC().casbin()
	cached, err := casbin.NewCachedEnforcer(m2)
	if err != nil {
		b.Fatal(err)
	}
	if err := loadRules(cached.GetModel(), rules); err != nil {
		b.Fatal(err)
	}
	cached.BuildRoleLinks()
	for _, q := range benchRequests {
		if got := a.Allowed(ctx, q.sub, q.obj, q.act); got != q.want {
			b.Fatalf("%s: Allowed = %v", q.name, got)
		}
		if got, _ := plain.Enforce(q.sub, q.obj, q.act); got != q.want {
			b.Fatalf("%s: Casbin = %v", q.name, got)
		}
	}
	for _, q := range benchRequests {
		b.Run("cedrina/"+q.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				a.Allowed(ctx, q.sub, q.obj, q.act)
			}
		})
		b.Run("casbin/"+q.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				plain.Enforce(q.sub, q.obj, q.act)
			}
		})
		b.Run("casbin-cached/"+q.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				cached.Enforce(q.sub, q.obj, q.act)
			}
		})
	}
	b.Run("cedrina/parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				a.Allowed(ctx, "user:57", "/res/r57/13", "POST")
			}
		})
	})
}

// BenchmarkRebuild is the cost of a policy change beyond the store's
// write and read: rebuilding the index from 10,000 rules, from nothing
// (cold: every pattern compiled) and after a change (the previous
// index's compiled patterns reused).
func BenchmarkRebuild(b *testing.B) {
	rules := benchRules()
	b.Run("cold", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			buildIndex(kindRBAC, rules, nil, func(Rule, error) {})
		}
	})
	b.Run("change", func(b *testing.B) {
		prev := buildIndex(kindRBAC, rules, nil, func(Rule, error) {})
		b.ReportAllocs()
		for b.Loop() {
			prev = buildIndex(kindRBAC, rules, prev, func(Rule, error) {})
		}
	})
}

// BenchmarkChange is the whole cost of a policy change on the memory
// store with the benchmark policy loaded: the write, the reload of 10,000
// rules and the rebuild, before the change returns (a grant and its
// revocation per iteration, so two changes).
func BenchmarkChange(b *testing.B) {
	ctx := context.Background()
	st := NewMemoryStore()
	rules := benchRules()
	for i := range rules {
		rules[i] = Rule{Type: rules[i].Type, Values: rules[i].Values}
	}
	if _, err := st.Add(ctx, rules, "bench", time.Now()); err != nil {
		b.Fatal(err)
	}
	a, err := New(ctx, Config{Store: st, Watcher: nopWatcher{}})
	if err != nil {
		b.Fatal(err)
	}
	defer a.Close(ctx)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.Grant(ctx, "r1", "/bench", "GET"); err != nil {
			b.Fatal(err)
		}
		if _, err := a.Revoke(ctx, "r1", "/bench", "GET"); err != nil {
			b.Fatal(err)
		}
	}
}

type nopWatcher struct{}

func (nopWatcher) Subscribe(func()) func() { return func() {} }
