package rbac_test

import (
	"context"
	"testing"
	"time"

	"github.com/cedrina/cedrina/rbac"
	"github.com/cedrina/cedrina/store/storetest"
)

func TestMemoryRuleStoreConformance(t *testing.T) {
	storetest.RunRuleStore(t, func(t *testing.T) rbac.Store { return rbac.NewMemoryStore() })
}

// TestMemoryRuleStoreSubscribers: a MemoryStore calls its subscribers
// synchronously, so what the conformance suite cannot check of every
// Watcher holds exactly here: one call per change of the active set, none
// for a change that alters nothing, none after cancel.
func TestMemoryRuleStoreSubscribers(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)
	m := rbac.NewMemoryStore()
	var a, b int
	cancelA := m.Subscribe(func() { a++ })
	cancelB := m.Subscribe(func() { b++ })
	r, err := rbac.NewRule("p", "alice", "data1", "read")
	if err != nil {
		t.Fatal(err)
	}
	must := func(n int, err error) int {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	check := func(what string, wantA, wantB int) {
		t.Helper()
		if a != wantA || b != wantB {
			t.Errorf("after %s: calls %d and %d, want %d and %d", what, a, b, wantA, wantB)
		}
	}
	must(m.Add(ctx, []rbac.Rule{r}, "x", now))
	check("Add", 1, 1)
	must(m.Add(ctx, []rbac.Rule{r, r}, "x", now))
	check("an Add of an active rule", 1, 1)
	got, err := m.SetActive(ctx, 1, true, "x", now)
	if err != nil || got.ID != 1 {
		t.Fatalf("SetActive(1, true) = %+v, %v", got, err)
	}
	check("SetActive of an active rule to active", 1, 1)
	must(m.Remove(ctx, rbac.Filter{Type: "g"}, "x", now))
	check("a Remove of nothing", 1, 1)
	if err := m.Replace(ctx, []rbac.Rule{r}, "x", now); err != nil {
		t.Fatal(err)
	}
	check("a Replace with the same set", 1, 1)
	if _, err := m.Add(ctx, []rbac.Rule{{Type: "P"}}, "x", now); err == nil {
		t.Fatal("Add of an invalid rule succeeded")
	}
	check("a refused Add", 1, 1)

	cancelA()
	cancelA() // twice is harmless
	if _, err := m.SetActive(ctx, 1, false, "x", now); err != nil {
		t.Fatal(err)
	}
	check("SetActive after cancelling the first subscriber", 1, 2)
	if err := m.Replace(ctx, []rbac.Rule{r}, "x", now); err != nil {
		t.Fatal(err)
	}
	check("a Replace that reactivates", 1, 3)
	if n := must(m.Remove(ctx, rbac.Filter{Type: "p"}, "x", now)); n != 1 {
		t.Fatalf("Remove = %d, want 1", n)
	}
	check("Remove", 1, 4)
	cancelB()
	must(m.Add(ctx, []rbac.Rule{r}, "x", now))
	check("Add after cancelling both", 1, 4)
}

// TestMemoryRuleStoreIDs: ids count from 1 and are never reused.
func TestMemoryRuleStoreIDs(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)
	m := rbac.NewMemoryStore()
	for i, v := range []string{"a", "b", "c"} {
		r, _ := rbac.NewRule("g", v, "admin")
		if _, err := m.Add(ctx, []rbac.Rule{r}, "", now); err != nil {
			t.Fatal(err)
		}
		if i == 1 {
			if _, err := m.Remove(ctx, rbac.Filter{Type: "g"}, "", now); err != nil {
				t.Fatal(err)
			}
		}
	}
	got, err := m.Rules(ctx, rbac.Filter{Inactive: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].ID != 3 {
		t.Fatalf("rules %+v, want one with id 3", got)
	}
}

func TestMemoryCasbinAdapterConformance(t *testing.T) {
	storetest.RunCasbinAdapter(t, func(t *testing.T) (storetest.CasbinAdapter, rbac.Store) {
		st := rbac.NewMemoryStore()
		return rbac.NewAdapter(st), st
	})
}
